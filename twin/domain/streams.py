"""Every random stream of a run, derived in one place from the scenario's one seed.

A run draws from many generators - the patient flow of each hospital, the OR schedules, the
transport's latency, each fault, the data steward, the integration's retry jitter - and each has
its own stream, so adding draws to one never shifts another's (Ciw and Mesa keep one seeded
generator per model for the same reason). Streams are named by a path (``("flow", "H01")``) and
seeded with the text ``"{seed}/flow/H01"``: the same scenario and seed give the same draws,
whichever process or machine makes them.
"""

from __future__ import annotations

import random

FAKER_SALTS = {"network": 0, "patients": 1, "workforce": 4099}  # Faker instances are seeded with seed + salt


class RandomStreams:
    """The random streams of one run (``seed``: the scenario's)."""

    __slots__ = ("seed",)

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __repr__(self) -> str:
        return f"RandomStreams({self.seed})"

    def stream(self, *path: str) -> random.Random:
        """A fresh generator for the stream named by ``path`` (the same path: the same draws)."""
        return random.Random("/".join((str(self.seed), *path)))

    def faker_seed(self, purpose: str) -> int:
        """The seed of the Faker instance that makes ``purpose``'s names (``FAKER_SALTS``)."""
        return self.seed + FAKER_SALTS[purpose]
