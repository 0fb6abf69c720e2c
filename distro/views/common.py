"""What every view's JSON shares: camelCase keys, and ratios that never divide by zero."""

from __future__ import annotations

from typing import Any


def camel(value: Any) -> Any:
    """*value* (dicts, lists, tuples, scalars) with every dict key in camelCase."""
    if isinstance(value, dict):
        return {_camel_key(k): camel(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [camel(v) for v in value]
    return value


def _camel_key(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


def ratio(part: float, whole: float) -> float:
    """*part* / *whole*, or 0.0 when *whole* is 0."""
    return part / whole if whole else 0.0
