"""The integration twin: a digital twin and conformance harness for healthcare ERP-EHR integration."""

__version__ = "0.1.0"
