"""Tests against the live driver's servers (uvicorn on 127.0.0.1, free ports)."""
