"""Printed figures in the docs come from the code: a fenced block preceded by
``<!-- output-of: EXPR -->`` must equal the lines EXPR gives (EXPR a Python expression, with
``lc`` = llmcatalog, evaluating to a list of lines). When a change of data or formula moves a
figure, this test names the page and shows the new block to paste.

Command-line examples use ``cli(ARGS, *keep)``: the ``$ llmcatalog ARGS`` line, then what the command
prints (only the lines containing one of ``keep``, after a ``...``, when ``keep`` is given); blocks
of several commands add lists (``cli(...) + cli(...)``). Every ``$ llmcatalog`` example in
:data:`CLI_PAGES` must be marked so."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import warnings
from pathlib import Path

import pytest

import llmcatalog as lc

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_MARKED = re.compile(r"<!-- output-of: (.+?) -->\n```[a-z]*\n(.*?)```", re.S)
BLOCKS = [(p, expr, body) for p in PAGES for expr, body in _MARKED.findall(p.read_text())]
#: Pages whose command-line examples must all be marked (so they cannot drift from the real output).
CLI_PAGES = [ROOT / "docs" / "cli.md", ROOT / "docs" / "speed.md"]


def cli(args: str, *keep: str) -> list[str]:
    """``$ llmcatalog ARGS`` and its printed lines (those containing one of ``keep``, if given)."""
    from llmcatalog.cli.main import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(shlex.split(args))
    lines = buf.getvalue().splitlines()
    if keep:
        lines = ["...", *(line for line in lines if any(k in line for k in keep))]
    return [f"$ llmcatalog {args}", *lines]


def test_marked_blocks_exist() -> None:
    """The engine pages' start-up figures are marked (so their drift is caught)."""
    names = {p.name for p, _, _ in BLOCKS}
    assert {"vllm.md", "sglang.md", "cli.md", "speed.md"} <= names


@pytest.mark.parametrize("page", CLI_PAGES, ids=[p.name for p in CLI_PAGES])
def test_cli_examples_are_marked(page: Path) -> None:
    """Every fenced block showing a `$ llmcatalog` command is an output-of block."""
    text = page.read_text()
    examples = [m.start() for m in re.finditer(r"```[a-z]*\n\$ llmcatalog ", text)]
    assert examples, f"{page.name} has no command-line example"
    unmarked = [text[i : i + 60] for i in examples if not re.search(r"<!-- output-of: [^\n]+ -->\n$", text[:i])]
    assert not unmarked, f"{page.name}: mark these examples with <!-- output-of: cli(...) -->: {unmarked}"


@pytest.mark.parametrize(("page", "expr", "body"), BLOCKS, ids=[f"{p.name}:{e[:40]}" for p, e, _ in BLOCKS])
def test_printed_output_is_current(page: Path, expr: str, body: str) -> None:
    """Each marked block equals what its expression prints today."""
    lines = eval(expr, {"lc": lc, "cli": cli})  # the docs' own expression, written by us
    expected = "\n".join(str(line) for line in lines)
    assert body.rstrip("\n") == expected, (
        f"{page.name}: replace the block after <!-- output-of: {expr} --> with:\n{expected}"
    )
