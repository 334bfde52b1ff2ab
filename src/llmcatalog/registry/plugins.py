"""Entry-point plugins and the default, cached catalog.

Plugins are zero-argument callables registered under the entry-point groups
``llmcatalog.models``, ``llmcatalog.gpus`` and ``llmcatalog.tools``; each returns an iterable of
:class:`Model` / :class:`GPU` / :class:`Tool`. The built-in domains register through the very
same groups (see ``pyproject.toml``), so a third-party package is loaded exactly like ours.

Nothing is scanned at import time: :func:`catalog` builds the catalog on first use and caches
it; :func:`clear_cache` forgets it. A plugin that raises, returns something that is not an
entry, or conflicts with an entry already loaded is skipped with a :class:`PluginWarning` and
recorded in ``catalog().plugin_errors`` with its distribution and version; the rest keeps
working. ``strict=True`` (or ``LLMCATALOG_STRICT=1``) raises :class:`PluginError` instead.
``LLMCATALOG_DISABLE_PLUGINS=1`` loads only llmcatalog's own plugins (the kill switch for a
broken third-party package). Built-ins load first, then third parties sorted by name.
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import CatalogDataError, PluginError, PluginWarning
from ..values.gpu import GPU
from ..values.model import Model
from ..values.tool import Tool
from .catalog import Catalog, PluginInfo

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "DISABLE_ENV",
    "GROUPS",
    "STRICT_ENV",
    "catalog",
    "clear_cache",
    "load_toml",
]

#: Entry-point group per kind of entry.
GROUPS: dict[str, type] = {"llmcatalog.models": Model, "llmcatalog.gpus": GPU, "llmcatalog.tools": Tool}
#: Set to 1/true/yes to load only llmcatalog's built-in plugins.
DISABLE_ENV = "LLMCATALOG_DISABLE_PLUGINS"
#: Set to 1/true/yes to make plugin problems raise instead of warn.
STRICT_ENV = "LLMCATALOG_STRICT"
_SELF = "llmcatalog"
_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


#: Largest data file :func:`load_toml` reads (the bundled files are well under 1 MiB each).
MAX_DATA_FILE_BYTES = 16 * 2**20


def _read_regular_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most :data:`MAX_DATA_FILE_BYTES`.

    ``/dev/zero`` would never end, a FIFO would block for ever and a directory cannot be read:
    the file is opened without blocking, checked with ``fstat`` (so it cannot be swapped between
    check and read) and read up to the bound.
    """
    import stat

    name = os.fspath(path)

    def fail(why: str) -> CatalogDataError:
        return CatalogDataError(str(name), [f"{name}: {why}"])

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a pipe" if stat.S_ISFIFO(st.st_mode) else "a device"
            raise fail(f"is {kind}, not a regular file: llmcatalog reads data only from regular files")
        if st.st_size > MAX_DATA_FILE_BYTES:
            raise fail(f"is {st.st_size:,} bytes; a data file may have at most {MAX_DATA_FILE_BYTES:,} (split it)")
        chunks, total = [], 0
        while total <= MAX_DATA_FILE_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if total > MAX_DATA_FILE_BYTES:  # it grew while we read
        raise fail(f"is over {MAX_DATA_FILE_BYTES:,} bytes; a data file may have at most that (split it)")
    return b"".join(chunks)


def load_toml(path: str | os.PathLike[str] | Traversable) -> dict[str, tuple[Any, ...]]:
    """Read a data file in llmcatalog's TOML format (see ``docs/data-format.md``).

    Returns ``{"models": (...), "gpus": (...), "tools": (...)}``. Raises
    :class:`CatalogDataError` with the path of every problem. A path must name a regular file
    of at most :data:`MAX_DATA_FILE_BYTES` (not a pipe, device or directory). Plugins use this to ship their
    own data files, e.g. ``load_toml(importlib.resources.files(__package__) / "models.toml")``.
    """
    from .converter import load_entries  # cattrs is imported on first use

    if isinstance(path, (str, os.PathLike)):
        return load_entries(_read_regular_file(path), source=os.fspath(path))
    source = str(getattr(path, "name", path))
    try:
        data = path.read_bytes()  # a package resource (importlib.resources), not a user's path
    except OSError as exc:
        raise CatalogDataError(source, [f"{source}: cannot read: {exc.strerror or exc}"]) from exc
    return load_entries(data, source=source)


def _dist_of(ep: Any) -> tuple[str | None, str | None, str | None]:
    """``(distribution name, version, problem)`` of an entry point's distribution.

    Reading a distribution's metadata can fail: an interrupted install leaves a ``.dist-info``
    with ``entry_points.txt`` but no ``METADATA`` (``MetadataNotFound``), or a METADATA without a
    ``Name``. That must not take every look-up down, so any failure is returned as ``problem``
    (the entry point is then treated as third-party: skipped with a warning, or by the kill switch).
    """
    try:
        dist = getattr(ep, "dist", None)
        if dist is None:
            return None, None, None
        name = dist.metadata["Name"]
        version = dist.version
    except Exception as exc:  # any error reading a neighbour's metadata
        where = getattr(getattr(ep, "dist", None), "_path", None)
        at = f" at {where}" if where is not None else ""
        return None, None, f"its distribution's metadata{at} cannot be read ({type(exc).__name__}: {exc})"
    if not isinstance(name, str) or not name:
        return None, None, "its distribution's metadata has no 'Name' (an interrupted install? reinstall or remove it)"
    return name, (version if isinstance(version, str) else None), None


def _call_plugin(ep: Any, kind: type[Model | GPU | Tool], dist: str | None, version: str | None) -> tuple[Any, ...]:
    group = ep.group

    def fail(reason: str) -> PluginError:
        return PluginError(group=group, name=ep.name, distribution=dist, version=version, reason=reason)

    try:
        factory = ep.load()
    except Exception as exc:
        raise fail(f"cannot import {ep.value!r}: {type(exc).__name__}: {exc}") from exc
    if not callable(factory):
        raise fail(f"{ep.value!r} is not callable; a plugin is a zero-argument function returning entries")
    previous = _building.plugin
    _building.plugin = (group, ep.name, dist, version)
    try:
        result = factory()
    except PluginError as exc:  # e.g. re-entry: keep the reason, not a wrapped repr
        raise fail(exc.reason) from exc
    except CatalogDataError as exc:
        raise fail(str(exc)) from exc
    except Exception as exc:
        raise fail(f"raised {type(exc).__name__}: {exc}") from exc
    finally:
        _building.plugin = previous
    if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
        raise fail(f"returned {type(result).__name__}, expected an iterable of {kind.__name__}")
    _building.plugin = (group, ep.name, dist, version)
    try:
        items = tuple(result)  # a generator runs the plugin's code here
    except PluginError as exc:
        raise fail(exc.reason) from exc
    except Exception as exc:
        raise fail(f"iterating its result raised {type(exc).__name__}: {exc}") from exc
    finally:
        _building.plugin = previous
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise fail(f"item {i} is a {type(item).__name__}, expected llmcatalog.{kind.__name__}")
        if not item.sources:
            raise fail(f"{kind.__name__} {item.id!r} has no sources: every catalog entry needs a source URL")
    return items


def _entry_points(group: str) -> list[tuple[Any, str | None, str | None, str | None]]:
    """The entry points of ``group`` with ``(ep, distribution, version, problem)`` each."""
    import importlib_metadata  # imported on first catalog build, not at `import llmcatalog`

    # One distribution provides many entry points (llmcatalog itself: 22 domains): read each one's
    # METADATA once per look-up, not once per entry point.
    seen: dict[object, tuple[str | None, str | None, str | None]] = {}
    eps = []
    for ep in importlib_metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        where = getattr(dist, "_path", None) if dist is not None else None
        key: object = str(where) if where is not None else id(ep)
        if key not in seen:
            seen[key] = _dist_of(ep)
        eps.append((ep, *seen[key]))
    # Built-ins first (stable order), then third parties by distribution and name.
    return sorted(eps, key=lambda e: (e[1] != _SELF, e[1] or "", e[0].name))


class _Building(threading.local):
    """The plugin this thread is calling while it builds a catalog (``None`` when not building)."""

    plugin: tuple[str, str, str | None, str | None] | None = None


_building = _Building()


def _refuse_reentry(what: str) -> None:
    """Raise :class:`PluginError` naming the plugin if this thread is in the middle of a build.

    A plugin that calls ``llmcatalog.get_model()`` (or :func:`catalog`, :func:`clear_cache`,
    :func:`build_catalog`) from its ``models()`` asks for the catalog it is helping to build:
    with the build lock held that would wait for ever, and without it recurse for ever.
    Other threads are unaffected: they wait for the lock as usual.
    """
    current = _building.plugin
    if current is not None:
        group, name, dist, version = current
        raise PluginError(
            group=group,
            name=name,
            distribution=dist,
            version=version,
            reason=(
                f"called llmcatalog.{what}() (e.g. through get_model) while the catalog is being built; "
                "a plugin must return its entries without looking up the catalog"
            ),
        )


def build_catalog(*, strict: bool | None = None, third_party: bool | None = None) -> Catalog:
    """Build a fresh catalog from the installed entry points (uncached; see :func:`catalog`)."""
    _refuse_reentry("build_catalog")
    strict = _env_flag(STRICT_ENV) if strict is None else strict
    third_party = (not _env_flag(DISABLE_ENV)) if third_party is None else third_party
    cat = Catalog()
    infos: list[PluginInfo] = []
    errors: list[PluginError] = []
    for group, kind in GROUPS.items():
        for ep, dist, version, problem in _entry_points(group):
            builtin = dist == _SELF
            if not builtin and not third_party:
                continue
            try:
                if problem is not None:
                    raise PluginError(group=group, name=ep.name, distribution=dist, version=version, reason=problem)
                items = _call_plugin(ep, kind, dist, version)
                provider = f"plugin {ep.name!r} ({dist or 'unknown distribution'})"
                problems = cat._try_add(
                    tuple(i for i in items if isinstance(i, Model)),
                    tuple(i for i in items if isinstance(i, GPU)),
                    tuple(i for i in items if isinstance(i, Tool)),
                    provider,
                )
                if problems:
                    raise PluginError(
                        group=group, name=ep.name, distribution=dist, version=version, reason="; ".join(problems)
                    )
            except PluginError as exc:
                if strict:
                    raise
                warnings.warn(f"{exc} (skipped; set {STRICT_ENV}=1 to raise)", PluginWarning, stacklevel=3)
                errors.append(exc)
                continue
            infos.append(
                PluginInfo(
                    group=group,
                    name=ep.name,
                    value=ep.value,
                    distribution=dist,
                    version=version,
                    builtin=builtin,
                    count=len(items),
                )
            )
    cat._seal(infos, errors, strict=strict)
    for cycle in cat.lineage_cycles:
        warnings.warn(
            f"base_model cycle {cycle}: those models keep no inherited architecture", PluginWarning, stacklevel=3
        )
    return cat


_lock = threading.Lock()


@functools.cache
def _cached(strict: bool, third_party: bool) -> Catalog:
    return build_catalog(strict=strict, third_party=third_party)


def catalog(*, strict: bool | None = None) -> Catalog:
    """The catalog of every installed plugin, built on first use and cached.

    ``strict`` defaults to the ``LLMCATALOG_STRICT`` environment variable. Third-party
    plugins are skipped when ``LLMCATALOG_DISABLE_PLUGINS`` is set.
    """
    _refuse_reentry("catalog")
    strict_flag = _env_flag(STRICT_ENV) if strict is None else strict
    with _lock:
        return _cached(strict_flag, not _env_flag(DISABLE_ENV))


def clear_cache() -> None:
    """Forget the cached catalog, e.g. after installing a plugin or changing the env switches."""
    _refuse_reentry("clear_cache")
    with _lock:
        _cached.cache_clear()
