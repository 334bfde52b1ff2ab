"""The command line's --format table|json|markdown|csv on every command (llmcatalog.cli.output)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main
from llmcatalog.cli.output import Column, render, render_sections

#: One invocation of every command (estimate twice: inference with a GPU, a fine-tune without).
COMMANDS = {
    "list-models": ["list", "models", "--domain", "legal"],
    "list-gpus": ["list", "gpus"],
    "list-tools": ["list", "tools"],
    "list-domains": ["list", "domains"],
    "search": ["search", "本草"],
    "show-model": ["show", "llama-2-7b"],
    "show-gpu": ["show", "RTX 4090"],
    "show-tool": ["show", "DeepKE"],
    "lineage": ["lineage", "llama-7b"],
    "estimate": ["estimate", "llama-2-7b", "--gpu", "RTX 4090"],
    "estimate-finetune": ["estimate", "llama-2-7b", "--finetune", "lora", "--seq-len", "512"],
    "plugins": ["plugins"],
    "figures": ["figures", "llama-2-7b"],
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_default_is_table(capsys, name: str) -> None:
    """Without --format, and with --format table, a command prints the same text."""
    code, plain = run(capsys, *COMMANDS[name])
    code2, table = run(capsys, *COMMANDS[name], "--format", "table")
    assert code == code2 == 0
    assert plain == table


def _numbers_are_numbers(obj: object) -> None:
    """Counts, sizes and figures are JSON numbers (not strings such as "12.55"), wherever they are."""
    numeric = ("_bytes", "n_params", "_tflops", "entries", "_gb_s", "batch_size", "seq_len", "n_gpus", "memory_value")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith(numeric) and v is not None:
                assert isinstance(v, (int, float)), (k, v)
                assert not isinstance(v, bool), (k, v)
            _numbers_are_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            _numbers_are_numbers(v)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_is_valid_and_typed(capsys, name: str) -> None:
    """--format json parses, is not empty, and numbers are JSON numbers."""
    code, out = run(capsys, *COMMANDS[name], "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data
    _numbers_are_numbers(data)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_csv_parses_with_a_header(capsys, name: str) -> None:
    """--format csv is one table: a header and rows of as many fields."""
    code, out = run(capsys, *COMMANDS[name], "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) >= 2
    assert {len(r) for r in rows} == {len(rows[0])}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_markdown_tables_are_well_formed(capsys, name: str) -> None:
    """--format markdown: every table has a header, an alignment row and rows of as many cells."""
    code, out = run(capsys, *COMMANDS[name], "--format", "markdown")
    assert code == 0
    tables = re.findall(r"(?:^\|.*\|$\n?)+", out, re.M)
    assert tables
    for t in tables:
        lines = t.strip().splitlines()
        counts = {len(re.split(r"(?<!\\)\|", line)) for line in lines}
        assert len(counts) == 1, t
        assert re.fullmatch(r"\|(?:-{3}:?\|)+", lines[1]), lines[1]


def test_json_figures_match_the_library(capsys) -> None:
    """The JSON of list gpus and estimate carries the library's own numbers."""
    _, out = run(capsys, "list", "gpus", "--format", "json")
    gpus = {g["id"]: g for g in json.loads(out)}
    g = lc.get_gpu("RTX 4090")
    assert gpus["rtx-4090"]["memory_bytes"] == g.memory_bytes
    assert gpus["rtx-4090"]["available_bytes"] == g.available_bytes
    _, out = run(capsys, "estimate", "llama-2-7b", "--gpu", "RTX 4090", "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    est = lc.estimate_vram(lc.get_model("llama-2-7b"), lc.Inference())
    assert int(row["total_bytes"]) == est.total_bytes
    assert int(row["components.weights.model"]) == est.components["weights.model"]
    assert row["fits"] == "true"


def test_exit_status_kept_in_every_format(capsys) -> None:
    """A job that does not fit exits 1 whatever the format; a search without hits too."""
    for fmt in ("json", "markdown", "csv"):
        code, _ = run(capsys, "estimate", "llama-2-70b", "--gpu", "RTX 4090", "--format", fmt)
        assert code == 1
        code, out = run(capsys, "search", "zzzz-no-such", "--format", fmt)
        assert code == 1
    code, out = run(capsys, "search", "zzzz-no-such", "--format", "json")
    assert json.loads(out) == {"models": [], "tools": []}


def test_json_flag_is_format_json(capsys) -> None:
    """--json still works, equals --format json, and conflicts with another --format."""
    _, a = run(capsys, "list", "models", "--domain", "legal", "--json")
    _, b = run(capsys, "list", "models", "--domain", "legal", "--format", "json")
    assert a == b
    code = main(["list", "models", "--json", "--format", "csv"])
    assert code == 2
    assert "--json is --format json" in capsys.readouterr().err


def test_validate_formats(capsys, tmp_path) -> None:
    """validate reports each file, a bad one with its error, in every format (exit 2 when one is bad)."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[[models]]\nid = 3\n")
    good = "src/llmcatalog/registry/data/legal/models.toml"
    code, out = run(capsys, "validate", good, str(bad), "--format", "json")
    assert code == 2
    data = json.loads(out)
    assert [d["ok"] for d in data] == [True, False]
    assert data[0]["models"] > 0
    assert "bad.toml" in data[1]["error"]


def test_render_escapes_control_characters() -> None:
    """Plugin text with an ESC or a newline cannot forge output in any format."""
    rows = [{"name": "evil\x1b[2Jname\nforged | row", "n": 3}]
    cols = [Column("name"), Column("n", right=True)]
    for fmt in ("table", "markdown", "csv"):
        text = render(rows, cols, fmt)
        assert "\x1b" not in text
    md = render(rows, cols, "markdown").splitlines()
    assert len(md) == 3
    assert "\\|" in md[2]
    assert "\\u001b" in render(rows, cols, "json")
    with pytest.raises(lc.QueryError, match="format must be one of"):
        render(rows, cols, "xml")


def test_sections() -> None:
    """Several tables: a JSON object of lists, one CSV with a section column."""
    sections = [("a", [{"x": 1}], [Column("x")]), ("b", [{"y": True}], [Column("y")])]
    assert json.loads(render_sections(sections, "json")) == {"a": [{"x": 1}], "b": [{"y": True}]}
    rows = list(csv.reader(io.StringIO(render_sections(sections, "csv"))))
    assert rows == [["section", "x", "y"], ["a", "1", ""], ["b", "", "true"]]
    md = render_sections(sections, "markdown")
    assert "### a" in md
    assert "### b" in md
    assert "| yes |" in md
