"""Answers you can look at: short reprs, HTML reprs, markdown tables and plots (llmcatalog.values.render)."""

from __future__ import annotations

import re
import sys

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.values.render import bar_svg, html_table, markdown_table

LLAMA = lc.get_model("llama-2-7b")
GPU = lc.get_gpu("RTX 4090")
EST = lc.estimate_vram(LLAMA, lc.Inference(precision="bf16"))


def test_short_reprs_keep_equality() -> None:
    """Model and GPU reprs are short and name the entry; equality and hashing still use every field."""
    assert len(repr(LLAMA)) < 200
    assert "'llama-2-7b'" in repr(LLAMA)
    assert len(repr(GPU)) < 200
    assert "'rtx-4090'" in repr(GPU)
    other = attrs.evolve(LLAMA, description="changed")
    assert repr(other) == repr(LLAMA)
    assert other != LLAMA
    assert hash(attrs.evolve(LLAMA)) == hash(LLAMA)
    for m in lc.catalog().models:
        assert len(repr(m)) < 400, m.id


def test_estimate_html_has_the_numbers_and_the_bar() -> None:
    """The estimate's HTML lists every non-zero component in GiB and draws a bar against the GPU."""
    html = EST.to_html(GPU)
    for name, value in EST.components.items():
        if value:
            assert name in html
            assert f"{value / 2**30:.2f}" in html
    assert f"{EST.total_bytes / 2**30:.2f}" in html
    assert html.count("<svg") == 1
    assert html.count("<rect") == sum(1 for _, v in EST.parts if v)
    assert "fits" in html
    assert f"{GPU.available_bytes / 2**30:.2f} GiB" in html
    assert EST._repr_html_().count("<line") == 0  # no GPU: no capacity line


def test_model_and_gpu_html() -> None:
    """Model and GPU HTML tables hold their key facts."""
    html = LLAMA._repr_html_()
    assert "6,738,415,616" in html
    assert "4,096 tokens" in html
    html = GPU._repr_html_()
    assert "1008 GB/s" in html
    assert "24 GiB" in html


def test_bar_scales_against_capacity() -> None:
    """A bar that does not fit runs past the GPU line; one that fits ends before it."""

    def geometry(svg: str) -> tuple[float, float]:
        rects = [(float(x), float(w)) for x, w in re.findall(r'<rect x="([\d.]+)" y="2" width="([\d.]+)"', svg)]
        line = float(re.search(r'<line x1="([\d.]+)"', svg).group(1))
        return rects[-1][0] + rects[-1][1], line

    end, line = geometry(bar_svg([("weights", 30), ("kv_cache", 10)], 80, width=400))
    assert end == pytest.approx(200)
    assert line == pytest.approx(400)
    end, line = geometry(bar_svg([("weights", 60), ("kv_cache", 40)], 80, width=400))
    assert end == pytest.approx(400)
    assert line == pytest.approx(320)


def test_html_is_escaped() -> None:
    """Text from plugins cannot inject markup."""
    evil = attrs.evolve(LLAMA, name="<script>alert(1)</script>")
    assert "<script>" not in evil._repr_html_()
    assert "&lt;script&gt;" in evil._repr_html_()
    assert "<b>" not in html_table(["a"], [["<b>"]])


def test_markdown_tables() -> None:
    """Markdown: escaped pipes, right-aligned columns, rows of the header's width."""
    md = markdown_table(["a", "b"], [["x|y", 1], ["line\nbreak", None]], right=(1,))
    lines = md.splitlines()
    assert lines[1] == "|---|---:|"
    assert lines[2] == "| x\\|y | 1 |"
    assert lines[3] == "| line break |  |"
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        markdown_table(["a", "b"], [["x"]])
    md = EST.to_markdown(GPU)
    assert "| weights.model | 12.55 |" in md
    assert "fits" in md.splitlines()[-1]
    assert LLAMA.to_markdown().startswith("| field | value |")


def test_estimate_plot_renders_png(tmp_path) -> None:
    """estimate.plot() draws the stacked bar with the GPU tick and saves a PNG (Agg backend)."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = EST.plot(GPU)
    widths = [p.get_width() for p in ax.patches]
    assert sum(widths) == pytest.approx(EST.total_bytes / 2**30)
    path = tmp_path / "estimate.png"
    ax.figure.savefig(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5000
    plt.close(ax.figure)


def test_missing_extras_name_the_extra(monkeypatch) -> None:
    """Without matplotlib or pandas the error names the extra to install."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(lc.MissingDependencyError, match=r"llmcatalog\[plot\]"):
        EST.plot()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(lc.MissingDependencyError, match=r"llmcatalog\[pandas\]"):
        lc.sweep(LLAMA, GPU, lc.Inference()).to_pandas()
