"""The one private cattrs converter that turns TOML/JSON data into typed entries and back.

Rules: unknown keys are errors (a typo must not silently drop a fact); primitives are strict
(``"yes"`` is not a bool, ``7.5`` is not an int); ``None`` fields and fields equal to their
default are left out when unstructuring, so the output is valid TOML (which has no null).
Errors are reported as paths into the file, e.g.
``medical/models.toml: models[3].architecture.n_layers: 'n_layers' must be a positive integer``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.v import format_exception

from ..errors import CatalogDataError
from ..values.gpu import GPU
from ..values.model import Architecture, Component, Links, Model, PublishedFigure
from ..values.tool import Tool

__all__ = ["converter", "load_entries", "structure", "unstructure"]

T = TypeVar("T")

#: Version of the data-file format; files may state ``format = 1``.
FORMAT_VERSION = 1


def _strict(kind: type, accept: Callable[[Any], bool], what: str) -> Callable[[Any, type], Any]:
    def hook(value: Any, _type: type) -> Any:
        if not accept(value):
            raise TypeError(f"expected {what}, got {type(value).__name__} {value!r}")
        return kind(value)

    return hook


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, omit_if_default=True)
    conv.register_structure_hook(str, _strict(str, lambda x: isinstance(x, str), "a string"))
    conv.register_structure_hook(
        int, _strict(int, lambda x: isinstance(x, int) and not isinstance(x, bool), "an integer")
    )
    conv.register_structure_hook(
        float,
        _strict(float, lambda x: isinstance(x, (int, float)) and not isinstance(x, bool), "a number"),
    )
    conv.register_structure_hook(bool, _strict(bool, lambda x: isinstance(x, bool), "true or false"))
    return conv


converter = _make_converter()

_KINDS: dict[str, type] = {"models": Model, "gpus": GPU, "tools": Tool}
_TYPES = (Model, GPU, Tool, Architecture, Links, Component, PublishedFigure)


def _format(exc: BaseException, type_: Any) -> str:
    # Our validators and strict hooks write messages that name the field and the fix: keep them.
    if isinstance(exc, (ValueError, TypeError)) and not isinstance(exc, ForbiddenExtraKeysError):
        text = str(exc)
        if text:
            return text
    return format_exception(exc, type_)


def _messages(exc: BaseException, source: str, root: str) -> list[str]:
    out = []
    for line in cattrs.transform_error(exc, path=root, format_exception=_format):
        # transform_error yields "<message> @ <path>"; we want "<source>: <path>: <message>".
        msg, _, path = line.rpartition(" @ ")
        path = path.removeprefix("$.").removeprefix("$")
        out.append(f"{source}: {path}: {msg}" if path else f"{source}: {msg}")
    return out


def structure(data: Any, cls: type[T], *, source: str = "<data>", path: str = "$") -> T:
    """Structure ``data`` into ``cls``; any problem raises :class:`CatalogDataError` with paths."""
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        raise CatalogDataError(source, _messages(exc, source, path)) from exc
    except (TypeError, ValueError) as exc:
        raise CatalogDataError(source, [f"{source}: {path.removeprefix('$.')}: {exc}"]) from exc


def unstructure(entry: Any) -> dict[str, Any]:
    """A plain dict of ``entry`` (JSON- and TOML-compatible: no ``None`` values)."""
    if not isinstance(entry, _TYPES):
        raise TypeError(f"cannot unstructure {type(entry).__name__}")
    result: dict[str, Any] = converter.unstructure(entry)
    return result


#: Set to 1 to parse TOML every time (no parse cache).
NO_CACHE_ENV = "LLMCATALOG_NO_CACHE"
#: Where parsed TOML is cached (default: $XDG_CACHE_HOME/llmcatalog or ~/.cache/llmcatalog).
CACHE_DIR_ENV = "LLMCATALOG_CACHE_DIR"


def _cache_dir() -> Path | None:
    if os.environ.get(NO_CACHE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        return None
    base = os.environ.get(CACHE_DIR_ENV)
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llmcatalog"


def parse_toml(data: bytes) -> dict[str, Any]:
    """``tomllib.loads``, memoised on disk by content hash.

    The pure-Python TOML parser needs ~0.2 s for the bundled 1 MB of data; the parsed document is
    kept as JSON under the cache directory, named by the BLAKE2 hash of the file's bytes, so an
    edited file is parsed afresh and a stale entry is never read. A cache that cannot be read or
    written is ignored (the file is parsed). Raises ``UnicodeDecodeError``/``TOMLDecodeError``.
    """
    directory = _cache_dir()
    path = None
    if directory is not None:
        path = directory / f"toml-{hashlib.blake2b(data, digest_size=16).hexdigest()}.json"
        try:
            cached = json.loads(path.read_bytes())
        except (OSError, ValueError):
            pass
        else:
            if isinstance(cached, dict):
                return cached
    doc = tomllib.loads(data.decode("utf-8"))
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        except (OSError, TypeError, ValueError):  # read-only home, or TOML dates (not JSON)
            pass
    return doc


def load_entries(text: str | bytes, *, source: str) -> dict[str, tuple[Any, ...]]:
    """Parse a TOML data file into ``{"models": (...), "gpus": (...), "tools": (...)}``.

    The file may hold ``[[models]]``, ``[[gpus]]`` and ``[[tools]]`` arrays of tables, an
    optional ``format = 1`` and an optional ``data_version`` string; anything else is an error.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        doc = parse_toml(data)
    except UnicodeDecodeError as exc:
        raise CatalogDataError(source, [f"{source}: not UTF-8 text ({exc})"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogDataError(source, [f"{source}: not valid TOML: {exc}"]) from exc
    errors: list[str] = []
    extra = sorted(set(doc) - set(_KINDS) - {"format", "data_version"})
    if extra:
        errors.append(f"{source}: unknown top-level key(s) {extra}; expected [[models]], [[gpus]] or [[tools]]")
    fmt = doc.get("format", FORMAT_VERSION)
    if fmt != FORMAT_VERSION:
        errors.append(f"{source}: format = {fmt!r} is not supported (this llmcatalog reads format {FORMAT_VERSION})")
    result: dict[str, tuple[Any, ...]] = {}
    for key, cls in _KINDS.items():
        items = doc.get(key, [])
        if not isinstance(items, list):
            errors.append(f"{source}: {key}: must be an array of tables ([[{key}]])")
            continue
        entries: list[Any] = []
        for i, item in enumerate(items):
            try:
                entry: Any = structure(item, cls, source=source, path=f"$.{key}[{i}]")
            except CatalogDataError as exc:
                errors.extend(exc.errors)
                continue
            if not entry.sources:
                errors.append(f"{source}: {key}[{i}] ({entry.id}): 'sources' must list the URL(s) the facts come from")
            entries.append(entry)
        result[key] = tuple(entries)
    if errors:
        raise CatalogDataError(source, errors)
    return result
