"""Observation: the truth ledger, expectations derived from it, the synchronization checker, reports.

Reads what the drivers hand it; the integration never reads the truth it is judged by.
"""
