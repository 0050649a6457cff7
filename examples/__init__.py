"""Integrations other than the reference one, implementing the same plug-in contract.

See ``twin/integration/contract.py`` and ``conformance/README.md``.
"""
