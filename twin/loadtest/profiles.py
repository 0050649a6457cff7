"""Load profiles (``load/profiles.toml``): what Locust runs, the world's speed, and the SLOs.

A profile is data, read and checked here once: a wrong key or value is an error naming the file,
the profile and the key, before anything starts.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOAD_DIR = Path(__file__).resolve().parents[2] / "load"
PROFILES_FILE = LOAD_DIR / "profiles.toml"
ACTORS = ("clinician", "erp", "vendor", "reporting")
EVERY = "*"  # an SLO key for every request name


class ProfileError(ValueError):
    """A profile file or profile that cannot be used: says which file, profile and key."""


@dataclass(frozen=True, slots=True)
class Slo:
    failure_ratio: float = 0.01
    e2e_p95_seconds: float | None = None
    p95_ms: dict[str, float] = field(default_factory=dict)
    p99_ms: dict[str, float] = field(default_factory=dict)

    def threshold(self, percentile: str, name: str) -> float | None:
        """The p95/p99 limit for a request ``name`` ("Type Name"), or the profile's ``*``."""
        table = self.p95_ms if percentile == "p95" else self.p99_ms
        return table.get(name, table.get(EVERY))


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    locustfile: Path
    scenario: Path
    speed: float
    users: int
    spawn_rate: float
    duration: float  # wall seconds
    feed_users: int
    weights: dict[str, int]
    pace: dict[str, float]
    slo: Slo

    def environment(self) -> dict[str, str]:
        """How the locustfiles learn the profile's mix and pace (``load/actors.py``)."""
        return {
            "TWIN_LOAD_WEIGHTS": ",".join(f"{actor}={weight}" for actor, weight in self.weights.items()),
            "TWIN_LOAD_PACE": ",".join(f"{actor}={rate:g}" for actor, rate in self.pace.items()),
            "TWIN_LOAD_FEED_USERS": str(self.feed_users),
        }


def duration_seconds(text: str | float) -> float:
    """``30s``, ``2m``, ``1h30m`` or a number of seconds -> seconds (Locust's ``--run-time`` spelling)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        parts = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", str(text))
        if not parts or not any(parts.groups()):
            raise ValueError(f"expected a duration like 30s, 2m or 1h30m, got {text!r}")
        hours, minutes, secs = (float(g) if g else 0.0 for g in parts.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if not seconds > 0:
        raise ValueError(f"expected a duration > 0, got {text!r}")
    return seconds


def load_profiles(path: Path = PROFILES_FILE) -> dict[str, Profile]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ProfileError(f"{path}: cannot read the profiles ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{path}: not valid TOML: {error}") from None
    return {name: _profile(path, name, spec) for name, spec in data.items()}


def load_profile(name: str, path: Path = PROFILES_FILE) -> Profile:
    profiles = load_profiles(path)
    if name not in profiles:
        raise ProfileError(f"{path}: no profile {name!r}; profiles: {', '.join(sorted(profiles))}")
    return profiles[name]


KEYS = {"locustfile", "scenario", "speed", "users", "spawn_rate", "duration", "feed_users", "weights", "pace", "slo"}
SLO_KEYS = {"failure_ratio", "e2e_p95_seconds", "p95_ms", "p99_ms"}


def _profile(path: Path, name: str, spec: Any) -> Profile:
    where = f"{path}: profile {name!r}"
    if not isinstance(spec, dict):
        raise ProfileError(f"{where}: expected a table of settings")
    unknown = set(spec) - KEYS
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(KEYS))}")

    def number(key: str, default: float | None = None, *, whole: bool = False) -> float:
        value = spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ProfileError(f"{where}: {key} must be a number > 0, got {value!r}")
        if whole and int(value) != value:
            raise ProfileError(f"{where}: {key} must be a whole number, got {value!r}")
        return float(value)

    locustfile = LOAD_DIR / str(spec.get("locustfile", ""))
    if not spec.get("locustfile") or not locustfile.is_file():
        raise ProfileError(f"{where}: locustfile {spec.get('locustfile')!r} is not a file in {LOAD_DIR}")
    try:
        duration = duration_seconds(spec.get("duration", "60s"))
    except ValueError as error:
        raise ProfileError(f"{where}: duration: {error}") from None
    weights = _table(where, spec, "weights", {actor: 1 for actor in ACTORS}, whole=True)
    pace = _table(where, spec, "pace", {actor: 1.0 for actor in ACTORS})
    return Profile(
        name=name,
        locustfile=locustfile,
        scenario=Path(str(spec.get("scenario", "scenarios/default.yaml"))),
        speed=number("speed", 60),
        users=int(number("users", 1, whole=True)),
        spawn_rate=number("spawn_rate", 1),
        duration=duration,
        feed_users=int(number("feed_users", 1, whole=True)),
        weights={actor: int(weight) for actor, weight in weights.items()},
        pace=pace,
        slo=_slo(where, spec.get("slo", {})),
    )


def _table(where: str, spec: dict[str, Any], key: str, default: dict[str, float], *, whole: bool = False
           ) -> dict[str, float]:  # fmt: skip
    table = spec.get(key, default)
    if not isinstance(table, dict) or set(table) - set(ACTORS):
        raise ProfileError(f"{where}: {key} must map actors ({', '.join(ACTORS)}) to numbers, got {table!r}")
    for actor, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ProfileError(f"{where}: {key}.{actor} must be a number >= 0, got {value!r}")
        if whole and int(value) != value:
            raise ProfileError(f"{where}: {key}.{actor} must be a whole number, got {value!r}")
    return {actor: float(table.get(actor, 0)) for actor in ACTORS}


def _slo(where: str, spec: Any) -> Slo:
    if not isinstance(spec, dict) or set(spec) - SLO_KEYS:
        raise ProfileError(f"{where}: slo must be a table of {', '.join(sorted(SLO_KEYS))}, got {spec!r}")
    limits: dict[str, dict[str, float]] = {}
    for key in ("p95_ms", "p99_ms"):
        table = spec.get(key, {})
        if not isinstance(table, dict) or any(
            isinstance(v, bool) or not isinstance(v, int | float) or v <= 0 for v in table.values()
        ):
            raise ProfileError(f"{where}: slo.{key} must map request names (or '*') to milliseconds > 0")
        limits[key] = {str(k): float(v) for k, v in table.items()}
    ratio = spec.get("failure_ratio", 0.01)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise ProfileError(f"{where}: slo.failure_ratio must be between 0 and 1, got {ratio!r}")
    e2e = spec.get("e2e_p95_seconds")
    if e2e is not None and (isinstance(e2e, bool) or not isinstance(e2e, int | float) or e2e <= 0):
        raise ProfileError(f"{where}: slo.e2e_p95_seconds must be seconds > 0, got {e2e!r}")
    return Slo(float(ratio), None if e2e is None else float(e2e), limits["p95_ms"], limits["p99_ms"])
