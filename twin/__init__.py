"""The integration twin: a digital twin and conformance harness for healthcare ERP-EHR integration.

For notebooks and scripts: ``twin.run``, ``twin.compare``, ``twin.sweep`` (``twin/api.py``), imported
on first use so that ``import twin`` stays cheap for the command line and the drivers.
"""

from typing import Any

__version__ = "0.1.0"

_API = ("run", "compare", "sweep", "load_scenario", "load_run", "load_sweep", "Run", "Sweep")


def __getattr__(name: str) -> Any:
    if name in _API:
        from twin import api

        return getattr(api, name)
    raise AttributeError(f"module 'twin' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
