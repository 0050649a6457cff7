"""The sans-IO rule, enforced while the core runs: no wall clock, no sleep, no socket, no file, no
unseeded randomness inside an integration, a mock system or the EHR's writer.

A static scan of the source (``tests/test_architecture.py``) can be talked around - an alias, a
dynamic import, a function fetched by name - so a run can also be made under a trap: every call
into the core (``trap_core``) runs with a profile hook that refuses calls of the clock, sleep and
global-random functions *whatever name they were reached by* (it sees the function objects
themselves), and an audit hook that refuses opening files, sockets and subprocesses. A refusal is a
``SansIoViolation`` naming what was called; the run stops there.

For tests and for a user who wants to know their integration is sans-IO (it must be, to run in
simulated time): ``Twin(...)`` then ``trap_core(twin)`` before ``twin.run()``.
"""

from __future__ import annotations

import datetime
import os
import random
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twin.sim.driver import Twin

CLOCKS: frozenset[Any] = frozenset(
    {
        time.time,
        time.time_ns,
        time.monotonic,
        time.monotonic_ns,
        time.perf_counter,
        time.perf_counter_ns,
        time.process_time,
        time.process_time_ns,
        time.thread_time,
        time.thread_time_ns,
        time.clock_gettime,
        time.clock_gettime_ns,
        time.strftime,  # with no time tuple it reads the clock; the core formats with its timebase instead
        time.localtime,
        time.gmtime,
        time.ctime,
        time.asctime,
        time.sleep,
        os.urandom,
        os.getrandom if hasattr(os, "getrandom") else os.urandom,
    }
)
DATE_NOW = frozenset({"now", "utcnow", "today"})  # reading the clock through the datetime types
AUDITED: tuple[str, ...] = (  # audit events (sys.addaudithook) the core may not raise
    "open", "socket.", "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork",
    "sqlite3.connect", "urllib.Request", "ctypes.", "time.sleep", "webbrowser.open", "http.client.",
)  # fmt: skip
MODULE_FILES = (".py", ".pyc", ".so", ".pth")
_global_random = getattr(random.random, "__self__")  # noqa: B009 - the unseeded instance behind random.random()


class SansIoViolation(RuntimeError):
    """The core did IO or read the clock: it cannot run the same in simulated time and live."""


class _Trap:
    """Counts how deep the run is inside the core; the hooks act only there."""

    depth = 0
    installed = False
    violations: list[str] = []

    @classmethod
    def install(cls) -> None:
        if not cls.installed:  # an audit hook cannot be removed: one per process, idle outside the core
            sys.addaudithook(_audit)
            cls.installed = True


def _refuse(what: str) -> None:
    _Trap.violations.append(what)
    raise SansIoViolation(f"the core {what}: nothing in it may do IO, sleep or read the wall clock")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _Trap.depth or not event.startswith(AUDITED):
        return
    if event == "open" and str(args[0]).endswith(MODULE_FILES) and not _writes(args):
        return  # Python loading a module the core imports on first use: not the core's IO
    _refuse(f"did {event} {str(args[:1])[:80]}")


def _writes(args: tuple[Any, ...]) -> bool:
    """Whether an ``open`` audit event opens its file for writing (mode text or ``os.open`` flags)."""
    mode = args[1] if len(args) > 1 else None
    flags = args[2] if len(args) > 2 else 0
    if isinstance(mode, str) and any(letter in mode for letter in "wax+"):
        return True
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    return isinstance(flags, int) and bool(flags & writing)


def _reads_dates(owner: Any) -> bool:
    return isinstance(owner, type) and issubclass(owner, datetime.date)  # datetime.datetime and any subclass


def _profile(frame: FrameType, event: str, arg: Any) -> None:
    if event == "c_call":
        owner = getattr(arg, "__self__", None)
        if arg in CLOCKS:
            _refuse(f"called {getattr(arg, '__qualname__', arg)}")
        elif _reads_dates(owner) and getattr(arg, "__name__", "") in DATE_NOW:
            _refuse(f"read the clock with {getattr(owner, '__name__', owner)}.{arg.__name__}")
        elif owner is _global_random:
            _refuse(f"drew from the unseeded global random ({arg.__name__})")
    elif event == "call" and frame.f_locals.get("self") is _global_random:
        _refuse(f"drew from the unseeded global random ({frame.f_code.co_name})")


def trapped(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, run under the trap (re-entrant: a core call inside a core call stays trapped)."""
    _Trap.install()

    def call(*args: Any, **kwargs: Any) -> Any:
        outer = sys.getprofile()
        _Trap.depth += 1
        sys.setprofile(_profile)
        try:
            return function(*args, **kwargs)
        finally:
            _Trap.depth -= 1
            sys.setprofile(outer if _Trap.depth == 0 else _profile)

    return call


class _Guarded:
    """An integration whose every method runs under the trap."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        return trapped(found) if callable(found) else found


def trap_core(twin: Twin) -> None:
    """Put every call into the core of ``twin`` under the trap: the integration's contract, the
    target systems' handlers and the EHR's writer (before ``twin.run()``)."""
    guarded = _Guarded(twin.integration)
    twin.integration = guarded  # type: ignore[assignment]  # start, exceptions, dead letters, health too
    twin.transport.integration = guarded  # type: ignore[assignment]
    if twin.support is not None:
        twin.support.integration = guarded  # type: ignore[assignment]
    twin.steward.exceptions = trapped(twin.integration.exceptions)
    targets = twin.systems.targets
    for name, handler in list(targets.items()):
        targets[name] = trapped(handler)
    ehr = twin.systems.ehr
    ehr.record = trapped(ehr.record)  # type: ignore[method-assign]
