"""Patient names drawn the way Faker draws them, with each name list's weights summed once."""

from __future__ import annotations

import itertools
import random
from collections import OrderedDict
from collections.abc import Callable

from faker import Faker


class NameDraws:
    """Faker's weighted name draws, with each name list's cumulative weights summed once.

    ``Faker.last_name()`` (en_US) ends in ``random.choices(names, weights=...)`` over a thousand
    names, which re-sums the weights on every call. ``random.choices`` turns weights into
    cumulative weights before it draws, so drawing with cumulative weights summed once is the
    same draw from the same generator: the names, and so the seed's whole run, are unchanged.
    Where Faker would draw differently (several locales, unweighted or unknown name lists) the
    draws are left to Faker itself. This mirrors Faker's internals (``random_elements``), which
    the pinned Faker version in ``pyproject.toml`` keeps fixed.
    """

    def __init__(self, fake: Faker) -> None:
        self.fake = fake
        provider = getattr(fake.last_name, "__self__", None) if len(fake.locales) == 1 else None
        self._provider = provider
        self._last = self._table(provider, "last_names")
        self._female = self._table(provider, "first_names_female")
        self._male = self._table(provider, "first_names_male")

    @staticmethod
    def _table(provider: object, name: str) -> tuple[tuple[str, ...], list[float]] | None:
        elements = getattr(provider, name, None)
        if not isinstance(elements, OrderedDict) or not getattr(provider, "__use_weighting__", False):
            return None
        return tuple(elements), list(itertools.accumulate(elements.values()))

    def _draw(self, table: tuple[tuple[str, ...], list[float]] | None, fallback: Callable[[], str]) -> str:
        if table is None:
            return fallback()
        names, cum_weights = table
        generator: random.Random = self._provider.generator.random  # type: ignore[union-attr]
        return generator.choices(names, cum_weights=cum_weights)[0]

    def last_name(self) -> str:
        return self._draw(self._last, self.fake.last_name)

    def first_name(self, female: bool) -> str:
        if female:
            return self._draw(self._female, self.fake.first_name_female)
        return self._draw(self._male, self.fake.first_name_male)
