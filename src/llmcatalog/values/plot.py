"""Stacked-bar plots of memory breakdowns with matplotlib (the optional ``plot`` extra).

matplotlib is imported on first use, inside :func:`plot_bars`; without it the call raises
:class:`~llmcatalog.MissingDependencyError` naming the extra. The colours are those of the HTML
bars (:data:`llmcatalog.values.render.COLOURS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import MissingDependencyError
from .render import GIB, colour

__all__ = ["Bar", "plot_bars"]

#: One bar: its label, its ``(part, bytes)`` segments, and the capacity it is drawn against (or None).
Bar = tuple[str, Sequence[tuple[str, int]], int | None]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("plotting (estimate.plot(), sweep.plot())", "matplotlib", "plot") from exc
    return plt


def plot_bars(bars: Sequence[Bar], *, ax: Any = None, title: str | None = None) -> Any:
    """Horizontal stacked bars in GiB, one per entry of ``bars``, each with its capacity marked by a
    black tick; returns the matplotlib ``Axes`` (a new figure's when ``ax`` is None)."""
    plt = _pyplot()
    labels = [_wrap(b[0], LABEL_CHARS) for b in bars]
    if ax is None:
        # Constrained layout makes room for the title, the tick labels and the legend placed outside
        # the axes, so savefig() without bbox_inches="tight" keeps every label (issue 11's user trial).
        lines = sum(max(label.count("\n") + 1, 1) for label in labels)
        height = 1.6 + 0.3 * lines + 0.2 * max(len(bars), 1)
        _fig, ax = plt.subplots(figsize=(10, height), layout="constrained")
    seen: set[str] = set()
    for i, (_label, segments, capacity) in enumerate(bars):
        left = 0.0
        for part, n in segments:
            if n <= 0:
                continue
            top = part.split(".", 1)[0]
            ax.barh(
                i, n / GIB, left=left, color=colour(part), edgecolor="white", linewidth=0.5,
                label=top if top not in seen else None,
            )  # fmt: skip
            seen.add(top)
            left += n / GIB
        if capacity:
            ax.plot([capacity / GIB] * 2, [i - 0.45, i + 0.45], color="black", linewidth=2)
    ax.set_yticks(range(len(bars)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("GiB per GPU (black tick: the GPU's memory)")
    if title:
        ax.set_title(_wrap(title, 80))
    if seen:  # beside the bars, not over them
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")
    return ax


#: Longer bar labels are wrapped onto several lines (at spaces and " | "), so the bars keep their width.
LABEL_CHARS = 40


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False)) or text
