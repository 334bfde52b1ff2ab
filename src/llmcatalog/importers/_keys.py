"""Typed reading of ``config.json`` keys: every malformed value names its key.

A config key that is absent or ``null`` takes the default of the model type's own transformers
configuration class (passed in by the family reader); a key that is present must have the JSON
type the configuration class expects. Errors are :class:`~llmcatalog.CatalogDataError` naming
the key, the value and the expected type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..errors import CatalogDataError

__all__ = ["REQUIRED", "HFConfigWarning", "bad", "bool_", "float_", "int_", "str_"]


class HFConfigWarning(UserWarning):
    """A config was read with stated assumptions (unknown ``model_type``, missing context keys)."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Default meaning "the key must be present".
REQUIRED: Any = _Required()


def bad(key: str, message: str) -> CatalogDataError:
    """The error for key ``key`` of a config."""
    return CatalogDataError("config", [f"config: key {key!r}: {message}"])


def _lookup(cfg: Mapping[str, Any], keys: str | tuple[str, ...]) -> tuple[str, Any]:
    names = (keys,) if isinstance(keys, str) else keys
    for key in names:
        value = cfg.get(key)
        if value is not None:
            return key, value
    return names[0], None


#: The largest integer a config key may hold: int64, the widest integer of JSON readers and checkpoint
#: formats (safetensors, GGUF). Larger values are corrupt or hostile, and would overflow float arithmetic.
MAX_CONFIG_INT = 2**63 - 1


def int_(cfg: Mapping[str, Any], keys: str | tuple[str, ...], default: Any = REQUIRED, *, minimum: int = 1) -> Any:
    """The integer at the first present key of ``keys`` (>= ``minimum``), else ``default``."""
    key, value = _lookup(cfg, keys)
    if value is None:
        if default is REQUIRED:
            raise bad(key, "missing; the config must give it (an integer)")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(key, f"expected an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise bad(key, f"expected an integer >= {minimum}, got {value!r}")
    if value > MAX_CONFIG_INT:
        raise bad(
            key,
            f"expected an integer <= 2**63 - 1 (int64), got an integer of {value.bit_length()} bits",
        )
    return value


def float_(cfg: Mapping[str, Any], keys: str | tuple[str, ...], default: Any = REQUIRED) -> Any:
    """The finite number at the first present key of ``keys``, else ``default``."""
    key, value = _lookup(cfg, keys)
    if value is None:
        if default is REQUIRED:
            raise bad(key, "missing; the config must give it (a number)")
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad(key, f"expected a finite number, got {value!r} ({type(value).__name__})")
    return float(value)


def bool_(cfg: Mapping[str, Any], keys: str | tuple[str, ...], default: Any = REQUIRED) -> Any:
    """The boolean at the first present key of ``keys``, else ``default`` (``"false"`` is an error)."""
    key, value = _lookup(cfg, keys)
    if value is None:
        if default is REQUIRED:
            raise bad(key, "missing; the config must give it (true or false)")
        return default
    if not isinstance(value, bool):
        raise bad(key, f"expected a JSON boolean (true/false), got {value!r} ({type(value).__name__})")
    return value


def str_(cfg: Mapping[str, Any], keys: str | tuple[str, ...], default: Any = REQUIRED) -> Any:
    """The non-empty string at the first present key of ``keys``, else ``default``."""
    key, value = _lookup(cfg, keys)
    if value is None:
        if default is REQUIRED:
            raise bad(key, "missing; the config must give it (a string)")
        return default
    if not isinstance(value, str) or not value.strip():
        raise bad(key, f"expected a non-empty string, got {value!r} ({type(value).__name__})")
    return value


def int_list(cfg: Mapping[str, Any], key: str, *, below: int) -> tuple[int, ...]:
    """A list of layer indices in ``[0, below)`` (absent or null: empty)."""
    value = cfg.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        raise bad(key, f"expected a list of layer indices, got {value!r}")
    if any(not 0 <= i < below for i in value):
        raise bad(key, f"layer indices must be in [0, {below}), got {value!r}")
    return tuple(sorted(set(value)))


def mapping(cfg: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """The nested object at ``key`` (``rope_scaling``, ``text_config``), or None when absent."""
    value = cfg.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise bad(key, f"expected a JSON object, got {value!r} ({type(value).__name__})")
    return value
