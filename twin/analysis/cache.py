"""The results cache: a re-executed notebook reads yesterday's runs instead of simulating them again.

A run is a pure function of the scenario (overrides applied, seed included), the integration and
the twin's own code, so those make the key: the validated scenario as JSON, the integration's name,
what was kept, and a digest of every source file of ``twin`` and ``mocks`` (a changed line anywhere
in the twin is a new version, so an edited checkout never reads a stale result). A user's own
integration (``--sut``) is never cached: its code is not the twin's to fingerprint.

Where: ``$TWIN_CACHE`` or ``~/.cache/integration-twin``; ``cache=False`` turns it off, a path moves it.
Writes go to a temporary name and are renamed into place, so two processes filling the same key
(a sweep's workers) never leave half a result behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twin.analysis.result import Run

PACKAGES = ("twin", "mocks")


@functools.cache
def code_version() -> str:
    """The twin's version and a digest of its source: what a cached result was computed by."""
    import twin

    digest = hashlib.blake2b(digest_size=8)
    root = Path(twin.__file__).resolve().parent.parent
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return f"{twin.__version__}+{digest.hexdigest()}"


class Cache:
    """Runs and sweep figures by key under ``root``; ``root`` None: nothing is kept or found."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    @classmethod
    def of(cls, option: bool | str | Path | Cache | None) -> Cache:
        """``True``/``None``: the default place; ``False``: off; a path: there."""
        if isinstance(option, Cache):
            return option
        if option is False:
            return cls(None)
        if option is True or option is None:
            default = os.environ.get("TWIN_CACHE") or Path.home() / ".cache" / "integration-twin"
            return cls(Path(default))
        return cls(Path(option))

    @property
    def enabled(self) -> bool:
        return self.root is not None

    @staticmethod
    def key(kind: str, scenario_json: str, integration: str) -> str:
        parts = json.dumps([kind, json.loads(scenario_json), integration, code_version()], sort_keys=True)
        return hashlib.sha256(parts.encode()).hexdigest()[:32]

    # -- whole runs -----------------------------------------------------------------------------------
    def load_run(self, key: str) -> Run | None:
        if self.root is None or not (self.root / "runs" / key / "run.json").exists():
            return None
        from twin.analysis.result import Run

        run = Run.load(self.root / "runs" / key)
        run.from_cache = True
        return run

    def save_run(self, key: str, run: Run) -> None:
        if self.root is None:
            return
        final = self.root / "runs" / key
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
        run.save(staging)
        try:
            staging.rename(final)
        except OSError:  # another process got there first with the same result
            shutil.rmtree(staging, ignore_errors=True)

    # -- a sweep's figures ----------------------------------------------------------------------------
    def load_metrics(self, key: str) -> dict[str, Any] | None:
        if self.root is None:
            return None
        path = self.root / "metrics" / f"{key}.json"
        if not path.exists():
            return None
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded

    def save_metrics(self, key: str, metrics: dict[str, Any]) -> None:
        if self.root is None:
            return
        folder = self.root / "metrics"
        folder.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(prefix=f".{key}.", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(metrics, file)  # in the order measured: a cached row reads as a fresh one
        os.replace(staging, folder / f"{key}.json")
