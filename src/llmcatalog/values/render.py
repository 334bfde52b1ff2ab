"""Answers you can look at: markdown tables, HTML tables and inline-SVG stacked bars.

Pure string building over plain figures (labels and byte counts), no dependency: the values'
``_repr_html_`` (Jupyter shows it), ``to_markdown()`` and the command line's markdown output all
come from here, so they look alike. Every piece of text is escaped for its target (:func:`escape`
for HTML and SVG; ``|``, newlines and control characters for markdown), since catalog text can
come from any installed plugin.

A *bar* is a sequence of ``(label, bytes)`` segments drawn left to right, scaled against the
larger of its total and a capacity (a GPU's memory), which is marked by a vertical line: the
bar ends past the line exactly when the estimate does not fit.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "COLOURS",
    "bar_svg",
    "colour",
    "escape",
    "gib",
    "html_table",
    "legend_html",
    "markdown_table",
]

GIB = 2**30

#: One colour per top-level memory part (colour-blind-safe Okabe-Ito palette), in drawing order.
COLOURS = {
    "weights": "#0072B2",
    "kv_cache": "#E69F00",
    "activations": "#009E73",
    "gradients": "#CC79A7",
    "optimizer": "#D55E00",
    "overhead": "#999999",
}
_OTHER = "#56B4E9"

#: Markdown cells: C0/C1 controls and DEL shown as ``\xNN``; bidirectional controls dropped (they
#: would reorder the rest of the line on screen); a translation table, cheaper to import than a regex.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_MD_CONTROL: dict[int, str] = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))} | dict.fromkeys(_BIDI, "")


def gib(n_bytes: float | None, digits: int = 2) -> str:
    """Bytes as GiB (2**30) with ``digits`` decimals; empty for None."""
    return "" if n_bytes is None else f"{n_bytes / GIB:.{digits}f}"


def share(part: float, whole: float) -> str:
    """``part / whole`` as a percentage that never rounds across 100%: whole percents, with as many
    decimals as it takes (up to 3) to show that 23.70 of 23.60 GiB is over ("100.4%") and 23.58 of
    23.60 GiB is under ("99.9%"); exactly 100% when equal."""
    if whole <= 0:
        raise ValueError(f"share: whole must be positive, got {whole!r}")
    ratio = part / whole
    for digits in range(4):
        text = f"{ratio * 100:.{digits}f}"
        shown = float(text)
        if ratio == 1 or (shown != 100 and (shown > 100) == (ratio > 1)):
            return text + "%"
    return "100.001%" if ratio > 1 else "99.999%"


def _md_cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return text.replace("\\", "\\\\").replace("|", "\\|").translate(_MD_CONTROL)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> str:
    """A GitHub-flavoured markdown table: a header row, an alignment row (``---:`` for the
    columns in ``right``), one line per row; ``|`` in a cell is escaped, line breaks become spaces."""
    n = len(headers)
    for i, row in enumerate(rows):
        if len(row) != n:
            raise ValueError(f"row {i} has {len(row)} cells for {n} headers")
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---:" if i in right else "---" for i in range(n)) + "|")
    lines.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def escape(value: object) -> str:
    """``value`` as HTML text, quotes included (``html.escape``'s table; ``None`` is empty).
    Not ``html.escape`` itself: importing :mod:`html` loads its entity tables on ``import llmcatalog``."""
    return ("" if value is None else str(value)).translate(_HTML)


_h = escape


def html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    right: Sequence[int] = (),
    *,
    raw: Sequence[int] = (),
    caption: str | None = None,
) -> str:
    """An HTML table; cells are escaped except the columns in ``raw`` (already HTML, e.g. an SVG bar)."""
    style = ' style="text-align:right"'
    head = "".join(f"<th{style if i in right else ''}>{_h(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>"
        + "".join(f"<td{style if i in right else ''}>{c if i in raw else _h(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    cap = f"<caption>{_h(caption)}</caption>" if caption else ""
    return f'<table class="llmcatalog">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def colour(label: str) -> str:
    """The colour of a segment: its top-level part's (``weights.frozen`` is drawn as ``weights``)."""
    return COLOURS.get(label.split(".", 1)[0], _OTHER)


def bar_svg(
    segments: Sequence[tuple[str, int]],
    capacity_bytes: int | None = None,
    *,
    capacity_label: str = "GPU memory",
    width: int = 360,
    height: int = 18,
) -> str:
    """An inline SVG stacked bar of ``segments`` against ``capacity_bytes`` (a dashed line).

    The scale is the larger of the total and the capacity, so a bar that does not fit runs past
    the line. Each segment has a tooltip (``<title>``) with its label and GiB.
    """
    total = sum(max(b, 0) for _, b in segments)
    scale = max(total, capacity_bytes or 0, 1)
    parts = []
    x = 0.0
    for label, n in segments:
        if n <= 0:
            continue
        w = width * n / scale
        parts.append(
            f'<rect x="{x:.2f}" y="2" width="{w:.2f}" height="{height - 4}" fill="{colour(label)}">'
            f"<title>{_h(label)}: {gib(n)} GiB</title></rect>"
        )
        x += w
    if capacity_bytes:
        cx = width * capacity_bytes / scale
        parts.append(
            f'<line x1="{cx:.2f}" y1="0" x2="{cx:.2f}" y2="{height}" stroke="#000" stroke-width="2" '
            f'stroke-dasharray="3,2"><title>{_h(capacity_label)}: {gib(capacity_bytes)} GiB</title></line>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">{"".join(parts)}</svg>'
    )


def legend_html(labels: Sequence[str]) -> str:
    """A one-line legend of coloured squares for ``labels`` (top-level part names)."""
    items = "".join(
        f'<span style="margin-right:1em"><span style="display:inline-block;width:0.8em;height:0.8em;'
        f'background:{colour(label)};margin-right:0.3em"></span>{_h(label)}</span>'
        for label in labels
    )
    return f"<div>{items}</div>"
