"""The one private cattrs converter that turns TOML/JSON data into typed entries and back.

Rules: unknown keys are errors (a typo must not silently drop a fact); primitives are strict
(``"yes"`` is not a bool, ``7.5`` is not an int); ``None`` fields and fields equal to their
default are left out when unstructuring, so the output is valid TOML (which has no null).
Errors are reported as paths into the file, e.g.
``medical/models.toml: models[3].architecture.n_layers: 'n_layers' must be a positive integer``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import stat
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.gen import make_dict_structure_fn
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
    # Hooks for the entry classes are generated on first use (as cattrs does), wrapped by _table.
    conv.register_structure_hook_factory(
        lambda t: t in _TYPES, lambda t: _table(t, make_dict_structure_fn(t, conv, _cattrs_use_linecache=False))
    )
    return conv


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _table(cls: type, structure_fn: Callable[[Any, type], Any]) -> Callable[[Any, type], Any]:
    """A hook that says "expected a table" for a non-table (an array entry ``models = [1]``)."""

    def hook(value: Any, type_: type) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"expected a table ({cls.__name__}), got {type(value).__name__} {_short(value)}")
        return structure_fn(value, type_)

    return hook


_KINDS: dict[str, type] = {"models": Model, "gpus": GPU, "tools": Tool}
_TYPES = (Model, GPU, Tool, Architecture, Links, Component, PublishedFigure)

converter = _make_converter()


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
#: Largest cache file read back, and largest parsed document written (bytes of JSON).
MAX_CACHE_BYTES = 32 * 2**20
#: Deepest nesting of tables and arrays a data file (or a cache file) may have.
MAX_DEPTH = 32
_MAGIC = b"llmcatalog-toml-cache 3"
#: Bytes of the per-directory secret that authenticates cache files (a BLAKE2b key).
_KEY_BYTES = 32


def _cache_dir() -> Path | None:
    if os.environ.get(NO_CACHE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        return None
    base = os.environ.get(CACHE_DIR_ENV)
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llmcatalog"


def _private(st: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else (what ssh asks of ~/.ssh)."""
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _usable_dir(directory: Path, *, create: bool) -> bool:
    """The cache directory is a real directory (not a symlink), owned by us, not writable by others."""
    try:
        if create:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and _private(st)


def _cache_key(directory: Path, *, create: bool) -> bytes | None:
    """The secret key of this cache directory (``key``: 32 random bytes, private, never a symlink),
    created on first write; ``None`` when it cannot be read (or made) safely -- then nothing is cached."""
    path = directory / "key"
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    for _ in range(2):
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            if not create:
                return None
            try:  # O_EXCL: of two processes creating it, one wins and the other reads the winner's key
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            except FileExistsError:
                continue
            except OSError:
                return None
            key = os.urandom(_KEY_BYTES)
            try:
                os.write(fd, key)
            except OSError:
                return None
            finally:
                os.close(fd)
            return key
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or not _private(st) or st.st_mode & (stat.S_IRGRP | stat.S_IROTH):
                return None
            key = os.read(fd, _KEY_BYTES + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        return key if len(key) == _KEY_BYTES else None
    return None


def _mac(key: bytes, source_hash: bytes, payload: bytes) -> bytes:
    """Keyed BLAKE2b over the source hash and the payload (so a file is bound to its source too)."""
    return hashlib.blake2b(source_hash + payload, key=key, digest_size=16).hexdigest().encode()


def _well_formed(node: Any, depth: int = 0, *, json_leaves: bool = True) -> bool:
    """``node`` has the shape of a parsed TOML document: tables with string keys and arrays,
    nested at most :data:`MAX_DEPTH` deep; with ``json_leaves`` every leaf is a string, number or
    bool (a cache file holds no JSON ``null``: TOML has none)."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(node, dict):
        return all(isinstance(k, str) and _well_formed(v, depth + 1, json_leaves=json_leaves) for k, v in node.items())
    if isinstance(node, list):
        return all(_well_formed(v, depth + 1, json_leaves=json_leaves) for v in node)
    return not json_leaves or isinstance(node, (str, int, float, bool))


def _json_well_formed(doc: Any) -> bool:
    """:func:`_well_formed` with ``json_leaves`` for a document ``json.loads`` made, where keys are
    strings and leaves strings, numbers, bools or null by construction: only nulls and the depth
    remain to check, without recursion (the catalog's cache is about 1 MB of JSON, read on every start)."""
    if type(doc) is not dict:
        return False
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        values = node.values() if type(node) is dict else node
        for value in values:
            if depth + 1 > MAX_DEPTH:
                return False
            kind = type(value)
            if kind is dict or kind is list:
                stack.append((value, depth + 1))
            elif value is None:
                return False
    return True


def _read_cache(path: Path, source_hash: bytes, key: bytes) -> dict[str, Any] | None:
    """The cached document for ``source_hash``, or ``None`` if the file is missing or not trusted."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # missing, or a symlink (O_NOFOLLOW)
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _private(st) or st.st_size > MAX_CACHE_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_CACHE_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    header, sep, payload = raw.partition(b"\n")
    parts = header.split(b" ")
    if not sep or len(parts) != 4 or b" ".join(parts[:2]) != _MAGIC:
        return None
    if parts[2] != source_hash.hex().encode() or not hmac.compare_digest(parts[3], _mac(key, source_hash, payload)):
        return None
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    return doc if _json_well_formed(doc) else None


def _write_cache(directory: Path, path: Path, source_hash: bytes, doc: dict[str, Any]) -> None:
    """Write atomically: a fresh temporary file (O_EXCL, never through a symlink), then rename."""
    try:
        payload = json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError):  # TOML dates and times are not JSON: not cached
        return
    if len(payload) > MAX_CACHE_BYTES or not _usable_dir(directory, create=True):
        return
    key = _cache_key(directory, create=True)
    if key is None:
        return
    header = b"%s %s %s\n" % (_MAGIC, source_hash.hex().encode(), _mac(key, source_hash, payload))
    tmp = directory / f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(payload)
        os.replace(tmp, path)  # rename replaces a planted symlink itself, never its target
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def parse_toml(data: bytes) -> dict[str, Any]:
    """``tomllib.loads``, memoised on disk by content hash.

    The pure-Python TOML parser needs ~0.2 s for the bundled 1 MB of data; the parsed document is
    kept as JSON under the cache directory, named by the BLAKE2 hash of the file's bytes, so an
    edited file is parsed afresh and a stale entry is never read. Raises
    ``UnicodeDecodeError``/``TOMLDecodeError``, and ``RecursionError`` for a document nested
    deeper than :data:`MAX_DEPTH` (whether tomllib's own recursion ran out or not).

    What the cache trusts, and why. A cache file is used only if all of these hold, else the TOML
    is parsed again (and the file rewritten): the directory is a real directory (not a symlink)
    owned by this user and writable by no one else; the file is a regular file (opened with
    ``O_NOFOLLOW``), likewise owned and private, at most :data:`MAX_CACHE_BYTES`; its header names
    this format version, the BLAKE2 hash of *these source bytes* and a keyed BLAKE2 MAC of that hash
    and the JSON payload that follows, under the directory's secret ``key`` (32 random bytes made on
    first use, private, never a symlink), and both match; the payload parses to a TOML-shaped document (tables,
    arrays, strings, numbers, bools; no ``null``; at most :data:`MAX_DEPTH` deep). That defends
    against truncated or corrupted files, files left by another version or for another source,
    files planted or copied from elsewhere (another user, another machine, a container image: they
    were made under another key, or none), and symlink tricks. It does not defend against someone
    who can read your files and write them as *you*: they can read the key, and they could equally
    edit your site-packages or ``~/.bashrc``. Set ``LLMCATALOG_NO_CACHE=1`` to
    never read the cache. Writes go to a fresh ``O_EXCL`` temporary file renamed into place, so a
    reader never sees half a file; documents over :data:`MAX_CACHE_BYTES` are not cached.
    """
    directory = _cache_dir()
    source_hash = hashlib.blake2b(data, digest_size=16).digest()
    path = None
    if directory is not None and _usable_dir(directory, create=False):
        path = directory / f"toml-{source_hash.hex()}.json"
        key = _cache_key(directory, create=False)
        cached = _read_cache(path, source_hash, key) if key is not None else None
        if cached is not None:
            return cached
    doc = tomllib.loads(data.decode("utf-8"))
    if not _well_formed(doc, json_leaves=False):
        raise RecursionError(f"nested deeper than {MAX_DEPTH} levels")
    if directory is not None:
        _write_cache(directory, path or directory / f"toml-{source_hash.hex()}.json", source_hash, doc)
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
    except RecursionError as exc:
        raise CatalogDataError(source, [f"{source}: nested too deeply (at most {MAX_DEPTH} levels)"]) from exc
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
            if not isinstance(item, dict):
                errors.append(f"{source}: {key}[{i}]: must be a table ([[{key}]]), got {type(item).__name__}")
                continue
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
