"""Scenario overrides by dotted path: ``{"revenue_cycle.coders_per_100_beds": 2, "faults.erp_outage.hours": 4}``.

A sweep varies a few knobs of one scenario file; writing a file per grid point would hide what
changed. An override names a field the way the scenario file nests it, and the result is validated
exactly like the file (``ScenarioError`` naming the override), so a typo or an out-of-range value
fails before anything runs - never silently ignored.

Paths: mapping keys separated by dots; a list item (``faults``) by its index (``faults.0.to_day``)
or by the ``name`` the scenario gave it (``faults.erp_outage.hours``). A whole sub-tree may be set
too (``"acquisition": {"day": 2}``, ``"faults": [...]``). A fault's end is said one of two ways,
``to_day`` or ``hours``: overriding one drops the other, since they would disagree.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from twin.scenario import Scenario, ScenarioError, _explain

# Two fields that say one thing: setting one of them clears the other in the same mapping.
ALTERNATIVES = {"to_day": "hours", "hours": "to_day"}


class OverrideError(ScenarioError):
    """An override whose path does not name a scenario field (the message says which part and what is there)."""


def apply_overrides(scenario: Scenario, overrides: Mapping[str, Any] | None) -> Scenario:
    """``scenario`` with every override applied, validated like a scenario file."""
    if not overrides:
        return scenario
    data = scenario.model_dump(exclude_none=False)
    for path, value in overrides.items():
        _set(data, str(path), value)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        shown = ", ".join(f"{path}={value!r}" for path, value in overrides.items())
        raise ScenarioError(_explain(exc, f"{scenario.name!r} with overrides {shown}", None)) from None


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if not path or any(not part for part in parts):
        raise OverrideError(f"override {path!r} is not a dotted path of scenario fields (e.g. workload.transfer_share)")
    node: Any = data
    walked: list[str] = []
    for part in parts[:-1]:
        node = _child(node, part, path, walked)
        walked.append(part)
    last = parts[-1]
    if isinstance(node, list):
        node[_index(node, last, path, walked)] = copy.deepcopy(value)
        return
    if not isinstance(node, dict):
        raise OverrideError(f"override {path!r}: {'.'.join(walked)} is a value, not a group of fields")
    if last not in node:
        raise _unknown(path, last, walked, node)
    node[last] = copy.deepcopy(value)
    other = ALTERNATIVES.get(last)
    if other is not None and other in node and value is not None:
        node[other] = None


def _child(node: Any, part: str, path: str, walked: list[str]) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, path, walked)]
    if not isinstance(node, dict):
        raise OverrideError(f"override {path!r}: {'.'.join(walked)} is a value, not a group of fields")
    if part not in node:
        raise _unknown(path, part, walked, node)
    child = node[part]
    if child is None:  # an optional group the scenario leaves out (acquisition): set it whole instead
        raise OverrideError(
            f"override {path!r}: {'.'.join([*walked, part])} is not set in this scenario; "
            f"override it whole ({'.'.join([*walked, part])}={{...}})"
        )
    return child


def _index(items: list[Any], part: str, path: str, walked: list[str]) -> int:
    """A list item by position or by the ``name`` its entry carries."""
    if part.isdigit():
        index = int(part)
        if index >= len(items):
            raise OverrideError(f"override {path!r}: {'.'.join(walked)} has {len(items)} item(s), no item {index}")
        return index
    named = [i for i, item in enumerate(items) if isinstance(item, dict) and item.get("name") == part]
    if not named:
        names = [str(item["name"]) for item in items if isinstance(item, dict) and item.get("name")]
        listed = ", ".join(names) if names else "none has a name"
        raise OverrideError(
            f"override {path!r}: no item named {part!r} in {'.'.join(walked)} ({listed}); "
            "give the item a name: in the scenario file or address it by index"
        )
    return named[0]


def _unknown(path: str, name: str, walked: list[str], node: Mapping[str, Any]) -> OverrideError:
    where = f"in {'.'.join(walked)}" if walked else "at the top of a scenario"
    fields = ", ".join(sorted(node))
    return OverrideError(f"override {path!r}: no field {name!r} {where}; the fields there are {fields}")


def parse_value(text: str) -> Any:
    """A command-line value as YAML reads it (``4`` an int, ``0.5`` a float, ``true``, ``[a, b]``, text)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text
