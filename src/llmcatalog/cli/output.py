"""The command line's output layer: rows and columns in, ``table``, ``json``, ``markdown`` or ``csv`` out.

Every command builds its answer as *rows* (dicts of typed values: ints, floats, bools, None, str,
lists) and *columns* (which keys to show, under which header, formatted how), then calls
:func:`render` with the format the user chose (``--format``, added by :func:`add_format_option`):

- ``table`` (the default): aligned plain text, each cell through its column's ``show``;
- ``json``: the rows as given, every key, values typed (numbers stay numbers);
- ``markdown``: a GitHub table of the shown cells;
- ``csv``: raw values of the columns' keys, then of every other key of the rows (``true``/``false``,
  empty for None, lists joined by ``;``).

Several tables in one answer are *sections* (:func:`render_sections`): JSON gives an object of
lists, CSV one table with a leading ``section`` column, markdown and text one table per section.

Catalog text can come from any installed plugin, so every format escapes control characters
(:func:`clean`): a raw ESC or bidirectional override could rewrite the terminal.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import QueryError
from ..values.render import markdown_table

__all__ = [
    "FORMATS",
    "Column",
    "add_format_option",
    "chosen_format",
    "clean",
    "render",
    "render_sections",
    "table",
    "to_json",
]

#: The output formats of ``--format``; ``table`` is the default.
FORMATS = ("table", "json", "markdown", "csv")

Row = Mapping[str, Any]

# C0 controls, DEL and C1 controls (U+0080-U+009F; U+009B is a one-character CSI). Catalog text
# can come from any installed plugin: an ESC or CSI printed as-is could retitle the terminal,
# hide lines or forge output, so every control character is shown as a visible escape instead.
# Bidirectional controls (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069) reorder what follows them on
# screen ("Trojan Source", CVE-2021-42574): escaped as well.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}]")
_CONTROL_KEEP_LINES = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: object, *, lines: bool = False) -> str:
    """``text`` safe to print on a terminal: control characters become visible ``\\xNN`` escapes.

    ``lines=True`` keeps newlines and tabs (multi-line descriptions); table cells get them escaped.
    """
    return (_CONTROL_KEEP_LINES if lines else _CONTROL).sub(_escape, str(text))


def to_json(obj: object) -> str:
    """Indented JSON; non-ASCII kept readable, DEL and C1 controls escaped (json leaves them raw)."""
    return re.sub(r"[\x7f-\x9f]", lambda m: f"\\u{ord(m.group()):04x}", json.dumps(obj, ensure_ascii=False, indent=2))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(width - _width(text), 0)
    return fill + text if right else text + fill


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> str:
    """A plain-text table; CJK characters count as two columns."""
    headers = [clean(h) for h in headers]
    cells = [[("" if c is None else clean(c)) for c in row] for row in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(_pad(h, w, i in right) for i, (h, w) in enumerate(zip(headers, widths, strict=True))).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in cells:
        lines.append("  ".join(_pad(c, w, i in right) for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    return "\n".join(lines)


@attrs.frozen
class Column:
    """One column of an answer: the row ``key`` it reads, its ``header`` (default: the key), how a
    cell is shown in text and markdown (``show(row)``; default: the raw value) and its alignment."""

    key: str
    header: str | None = None
    show: Callable[[Row], object] | None = None
    right: bool = False

    @property
    def title(self) -> str:
        return self.key if self.header is None else self.header

    def text(self, row: Row) -> object:
        """The cell as text and markdown show it (a bool is yes/no, None empty)."""
        value = self.show(row) if self.show is not None else row.get(self.key)
        if isinstance(value, bool):
            return "yes" if value else "no"
        return "" if value is None else value


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ";".join(str(_csv_value(v)) for v in value)
    if isinstance(value, str):
        return clean(value, lines=True)
    return value


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_csv_value(v) for v in row] for row in rows])
    return buf.getvalue().rstrip("\n")


def render(rows: Sequence[Row], columns: Sequence[Column], fmt: str) -> str:
    """``rows`` in format ``fmt`` (:data:`FORMATS`); see the module docstring for what each gives."""
    _check(fmt)
    if fmt == "json":
        return to_json([dict(r) for r in rows])
    if fmt == "csv":
        keys = _keys(rows, columns)
        return _csv(keys, [[r.get(k) for k in keys] for r in rows])
    right = [i for i, c in enumerate(columns) if c.right]
    cells = [[c.text(r) for c in columns] for r in rows]
    if fmt == "markdown":
        return markdown_table([c.title for c in columns], cells, right=right)
    return table([c.title for c in columns], cells, right=right)


def render_sections(sections: Sequence[tuple[str, Sequence[Row], Sequence[Column]]], fmt: str) -> str:
    """Several tables in one answer, each ``(name, rows, columns)``."""
    _check(fmt)
    if fmt == "json":
        return to_json({name: [dict(r) for r in rows] for name, rows, _ in sections})
    if fmt == "csv":
        keys: list[str] = []
        for _, rows, columns in sections:
            keys += [k for k in _keys(rows, columns) if k not in keys]
        body = [[name, *(r.get(k) for k in keys)] for name, rows, _ in sections for r in rows]
        return _csv(["section", *keys], body)
    parts = []
    for name, rows, columns in sections:
        if not rows:
            continue
        text = render(rows, columns, fmt)
        parts.append(f"### {name}\n\n{text}" if fmt == "markdown" else text)
    return "\n\n".join(parts)


def _keys(rows: Sequence[Row], columns: Sequence[Column]) -> list[str]:
    """The CSV header: the columns' keys, then every other key of the rows in first-seen order."""
    keys = [c.key for c in columns]
    seen = set(keys)
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                keys.append(k)
    return keys


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise QueryError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def add_format_option(parser: argparse.ArgumentParser, *, json_flag: bool = False) -> None:
    """Add ``--format {table,json,markdown,csv}`` to a subcommand (and the older ``--json`` flag,
    the same as ``--format json``, where the command had it)."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: table, the aligned text)",
    )
    if json_flag:
        parser.add_argument("--json", action="store_true", help="the same as --format json")


def chosen_format(args: argparse.Namespace) -> str:
    """The format asked for: ``--format``, or ``json`` for ``--json``; ``table`` by default."""
    fmt: str | None = getattr(args, "format", None)
    if getattr(args, "json", False):
        if fmt not in (None, "json"):
            raise QueryError(f"--json is --format json: give one of --json and --format {fmt}")
        return "json"
    return fmt or "table"
