"""Printed figures in the docs come from the code: a fenced block preceded by
``<!-- output-of: EXPR -->`` must equal the lines EXPR gives (EXPR a Python expression, with
``lc`` = llmcatalog, evaluating to a list of lines). When a change of data or formula moves a
figure, this test names the page and shows the new block to paste."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import llmcatalog as lc

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_MARKED = re.compile(r"<!-- output-of: (.+?) -->\n```[a-z]*\n(.*?)```", re.S)
BLOCKS = [(p, expr, body) for p in PAGES for expr, body in _MARKED.findall(p.read_text())]


def test_marked_blocks_exist() -> None:
    """The engine pages' start-up figures are marked (so their drift is caught)."""
    names = {p.name for p, _, _ in BLOCKS}
    assert {"vllm.md", "sglang.md"} <= names


@pytest.mark.parametrize(("page", "expr", "body"), BLOCKS, ids=[f"{p.name}:{e[:40]}" for p, e, _ in BLOCKS])
def test_printed_output_is_current(page: Path, expr: str, body: str) -> None:
    """Each marked block equals what its expression prints today."""
    lines = eval(expr, {"lc": lc})  # the docs' own expression, written by us
    expected = "\n".join(str(line) for line in lines)
    assert body.rstrip("\n") == expected, (
        f"{page.name}: replace the block after <!-- output-of: {expr} --> with:\n{expected}"
    )
