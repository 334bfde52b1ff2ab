"""The example notebook examples/planning.ipynb runs headless, as Jupyter would run it.

Its code cells run in order in one namespace in this process (no kernel to start, no network),
and each cell's last expression is displayed the way Jupyter does: through ``_repr_html_`` when
the value has one. Plots use matplotlib's Agg backend.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "planning.ipynb"


def _cells() -> list[str]:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    for cell in nb["cells"]:
        assert cell["cell_type"] in ("code", "markdown")
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], "commit the notebook without outputs"
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_notebook_runs_and_displays() -> None:
    """Every code cell runs; the displayed values render as HTML with their numbers."""
    pytest.importorskip("pandas")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace: dict[str, object] = {"__name__": "__notebook__"}
    shown: list[str] = []
    for index, source in enumerate(_cells()):
        tree = ast.parse(source, f"cell {index}")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, f"cell {index}", "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), f"cell {index}", "eval"), namespace)
            html = getattr(value, "_repr_html_", None)
            shown.append(html() if html is not None else repr(value))
    plt.close("all")
    sweep = namespace["s"]
    assert len(sweep) == 5 * 3 * 4
    html = shown[0]
    assert html.count("<svg") == len(sweep)
    assert f"{sweep[0].total_bytes / 2**30:.2f}" in html
    est = namespace["est"]
    assert any(f"{est.total_bytes / 2**30:.2f}" in h for h in shown)
    assert "llama-2-7b" in shown[-1]
