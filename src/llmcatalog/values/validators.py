"""Shared attrs validators. Each error message names the field and says what to fix."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

import attrs

__all__ = [
    "MAX_INT",
    "date_str",
    "nonneg_int",
    "one_of",
    "optional",
    "pos_float",
    "pos_int",
    "slug",
    "str_tuple",
    "url",
    "urls",
]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")
_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_URL = re.compile(r"^https?://[^\s]+$")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: The largest integer a value field holds: int64. Real sizes are far below it; larger ones are corrupt or
#: hostile input and would overflow the float arithmetic of formatting and ratios.
MAX_INT = 2**63 - 1


def _show(value: object) -> str:
    """``repr`` of a value, without printing (or failing on) integers of thousands of digits."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    return repr(value)


def pos_int(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """A positive int of at most :data:`MAX_INT` (bools are rejected although Python counts them as ints)."""
    if not _is_int(value) or not 0 < value <= MAX_INT:  # type: ignore[operator]
        raise ValueError(f"{attr.name!r} must be a positive integer of at most 2**63 - 1, got {_show(value)}")


def nonneg_int(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """An int from 0 to :data:`MAX_INT`."""
    if not _is_int(value) or not 0 <= value <= MAX_INT:  # type: ignore[operator]
        raise ValueError(f"{attr.name!r} must be an integer from 0 to 2**63 - 1, got {_show(value)}")


def pos_float(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """A finite number > 0 (ints are accepted)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (0 < value < float("inf")):  # type: ignore[operator]
        raise ValueError(f"{attr.name!r} must be a positive number, got {value!r}")


def optional(inner: Validator) -> Validator:
    """``None`` or whatever ``inner`` accepts."""

    def check(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            inner(inst, attr, value)

    return check


def one_of(allowed: Collection[str]) -> Validator:
    """A string from a fixed vocabulary; the error lists the allowed values."""
    choices = sorted(allowed)

    def check(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if value not in allowed:
            raise ValueError(f"{attr.name!r} must be one of {choices}, got {value!r}")

    return check


def slug(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """A lower-case id: letters, digits and ``. _ + -``, starting with a letter or digit."""
    if not isinstance(value, str) or not _SLUG.match(value):
        raise ValueError(
            f"{attr.name!r} must be a lower-case id of letters, digits and '.-_+' (e.g. 'llama-2-7b'), got {value!r}"
        )


def date_str(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (partial dates are common in the sources)."""
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError(f"{attr.name!r} must look like 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD', got {value!r}")


def url(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """An http(s) URL without whitespace."""
    if not isinstance(value, str) or not _URL.match(value):
        raise ValueError(f"{attr.name!r} must be an http(s) URL, got {value!r}")


def urls(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """A tuple of http(s) URLs (catalog entries must have at least one: the registry checks)."""
    if not isinstance(value, tuple):
        raise ValueError(f"{attr.name!r} must be a list of URLs, got {value!r}")
    for item in value:
        url(inst, attr, item)


def str_tuple(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    """A tuple of non-empty strings."""
    if not isinstance(value, tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{attr.name!r} must be a list of non-empty strings, got {value!r}")
