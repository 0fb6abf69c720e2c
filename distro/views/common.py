"""What every view's JSON shares: camelCase keys, one serializer, ratios that never divide by 0.

``document`` turns a view's dataclasses into JSON-ready data: each field under
its name in camelCase, unless its metadata says otherwise (``key``): another
key, a dotted path that nests it (``uploads.done``), or no key at all, with a
reason; and ``shape`` turns a value into the form its readers expect.
``tests/test_json_fields.py`` holds every field of the views to a key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from distro.settings import timestamp

JSON_KEY = "json"  # a field's metadata: its key (a dotted path nests it), or None: left out
JSON_SHAPE = "json-shape"  # a field's metadata: what turns its value into its JSON


def key(name: str, shape: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """A field's metadata: its JSON key *name*, and its *shape*, if any."""
    return {JSON_KEY: name, JSON_SHAPE: shape} if shape else {JSON_KEY: name}


def left_out(why: str) -> dict[str, Any]:
    """A field's metadata: no JSON key, for the reason *why*."""
    return {JSON_KEY: None, "json-why": why}


def shaped(shape: Callable[[Any], Any]) -> dict[str, Any]:
    """A field's metadata: its usual key, its value in the form *shape* makes."""
    return {JSON_SHAPE: shape}


def document(value: Any) -> Any:
    """*value* as JSON-ready data: a dataclass as a dict of its fields (see the module),
    times as ISO-8601 UTC, a span of time in minutes, an enum as its value, tuples as lists;
    a mapping keeps its keys as they are (DIDs, reasons)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, Mapping):
        return {k: document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [document(v) for v in value]
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, timedelta):
        return value.total_seconds() / 60
    return value.value if isinstance(value, Enum) else value


def _fields(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        name = field.metadata.get(JSON_KEY, _camel_key(field.name))
        if name is None:
            continue
        held = getattr(value, field.name)
        shape = field.metadata.get(JSON_SHAPE)
        _put(out, name.split("."), shape(held) if shape else document(held))
    return out


def _put(out: dict[str, Any], path: list[str], value: Any) -> None:
    for step in path[:-1]:
        out = out.setdefault(step, {})
    out[path[-1]] = value


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
