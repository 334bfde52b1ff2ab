"""Reading checkpoint files safely: regular files only, bounded reads, typed errors.

Every importer opens files through :func:`open_regular`: it refuses FIFOs, devices
(``/dev/zero``), sockets and directories *before* reading a byte (the file is opened with
``O_NONBLOCK``, so even opening a FIFO cannot hang), and reads are exact and bounded by the
file's size, so a corrupt length field is an error naming the file, never a hang or a huge
allocation.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import FileIO
from typing import Any

from ..errors import CheckpointError

__all__ = ["MAX_JSON_BYTES", "open_regular", "read_exact", "read_json"]

#: The largest JSON side file (``config.json``, ``model.safetensors.index.json``) read; real
#: ones are kilobytes (a 1T-parameter index is a few MB).
MAX_JSON_BYTES = 64 * 2**20

_READ_CHUNK_BYTES = 16 * 2**20


@contextmanager
def open_regular(path: str | os.PathLike[str]) -> Iterator[tuple[FileIO, int]]:
    """Open ``path`` for unbuffered binary reading; yields the file and its size in bytes.

    Raises :class:`CheckpointError` when the path does not exist, cannot be opened, or is not a
    regular file. Unbuffered, so every byte read is a byte asked for (the benchmark counts them).
    """
    name = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(name, flags)
    except FileNotFoundError:
        raise CheckpointError(name, "no such file") from None
    except OSError as exc:
        raise CheckpointError(name, f"cannot open it ({exc.strerror or exc})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file (a FIFO, device or socket)"
            raise CheckpointError(name, f"is {kind}; only regular files are read")
        f = FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f, info.st_size


def read_exact(f: FileIO, n_bytes: int, name: str, what: str) -> bytes:
    """Exactly ``n_bytes`` from ``f``; a short read is a :class:`CheckpointError` (truncated file).

    Callers check ``n_bytes`` against the file size first, so this never allocates more than
    the file holds."""
    parts = []
    left = n_bytes
    while left:
        chunk = f.read(min(left, _READ_CHUNK_BYTES))
        if not chunk:
            raise CheckpointError(name, f"truncated: the file ends inside the {what}")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_json(path: str | os.PathLike[str], *, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The JSON object in ``path`` (a regular file of at most ``max_bytes``)."""
    name = os.fspath(path)
    with open_regular(name) as (f, size):
        if size > max_bytes:
            raise CheckpointError(name, f"is {size:,} bytes, more than the {max_bytes:,} a JSON side file may be")
        raw = read_exact(f, size, name, "JSON")
    return json_object(raw, lambda reason: CheckpointError(name, reason), invalid="is not valid JSON")


def json_object(raw: bytes, fail: Callable[[str], CheckpointError], *, invalid: str) -> dict[str, Any]:
    """The JSON object ``raw`` holds; anything else (not UTF-8, not JSON, integers past Python's digit
    limit, nesting past the recursion limit, not an object) raises ``fail(reason)``."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # bad text, bad JSON, digits, nesting
        raise fail(f"{invalid} ({exc})") from exc
    if not isinstance(value, dict):
        raise fail(f"expected a JSON object, got {type(value).__name__}")
    return value
