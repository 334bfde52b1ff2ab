"""A fresh-eyes user trial of issue 11 (plan, fit, estimate, --format, plots, names everywhere):
each problem it found, pinned by a test that failed before the fix."""

from __future__ import annotations

import json

import pytest

import llmcatalog as lc
from cli_run import run


# -- 1, 2: --gpus must be a positive whole number ------------------------------------------------
@pytest.mark.parametrize("count", ["0", "-3", "99999999", "two"])
@pytest.mark.parametrize(
    "command",
    [
        ("plan", "qwen3-8b", "--gpu", "RTX 4090"),
        ("plan", "qwen3-8b", "--gpu-memory", "12GiB"),
        ("fit", "--gpu", "RTX 4090"),
    ],
)
def test_gpus_below_one_or_absurd_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...], count: str
) -> None:
    code, out, err = run(capsys, *command, "--gpus", count)
    assert code == 2
    assert "error:" in err
    assert "--gpus" in err
    assert "Traceback" not in err
    assert not out


# -- 20: estimate --gpu-memory, and an empty --gpu ------------------------------------------------
def test_estimate_takes_gpu_memory_like_plan_and_fit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "qwen3-8b", "--gpu-memory", "12GiB")
    assert code == 1  # 16 GB of bf16 weights do not fit 12 GiB
    assert "custom 12.00 GiB GPU" in out
    assert "the a " not in out
    assert "fewest a " not in out
    assert "does NOT fit" in out
    code, out, _ = run(capsys, "estimate", "qwen3-8b", "--gpu-memory", "12GiB", "--precision", "awq-int4")
    assert code == 0
    assert "-> fits" in out
    code, out, _ = run(capsys, "estimate", "qwen3-8b", "--gpu-memory", "12GiB", "--json")
    assert json.loads(out)["gpu_available_bytes"] < 12 * 2**30
    code, _, err = run(capsys, "estimate", "qwen3-8b", "--gpu-memory", "12GiB", "--gpu", "RTX 4090")
    assert code == 2
    assert "not both" in err


@pytest.mark.parametrize("extra", [(), ("--engine", "llama.cpp"), ("--engine", "vllm")])
def test_empty_gpu_is_an_error_not_no_gpu(capsys: pytest.CaptureFixture[str], extra: tuple[str, ...]) -> None:
    code, out, err = run(capsys, "estimate", "qwen3-8b", "--gpu", "", *extra)
    assert code == 2
    assert "--gpu is empty" in err
    assert not out
    assert run(capsys, "plan", "qwen3-8b", "--gpu", " ")[0] == 2


# -- 16: tokens/s in every format of estimate, and a column in fit --------------------------------
def test_estimate_formats_carry_the_speed_of_the_text_line(capsys: pytest.CaptureFixture[str]) -> None:
    m, g = lc.get_model("qwen3-8b"), lc.get_gpu("RTX 4090")
    w = lc.Inference()
    decode = lc.decode_speed(m, g, w).tokens_per_s
    ttft = lc.prefill_speed(m, g, w).ttft_s
    _, out, _ = run(capsys, "estimate", "qwen3-8b", "--gpu", "RTX 4090", "--json")
    data = json.loads(out)
    assert data["decode_tokens_per_s"] == pytest.approx(decode)
    assert data["time_to_first_token_s"] == pytest.approx(ttft)
    _, text, _ = run(capsys, "estimate", "qwen3-8b", "--gpu", "RTX 4090")
    assert f"{decode:,.1f} tokens/s decode" in text
    _, out, _ = run(capsys, "estimate", "qwen3-8b", "--gpu", "RTX 4090", "--format", "csv")
    header, row = out.splitlines()
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert float(cells["decode_tokens_per_s"]) == pytest.approx(decode)
    _, out, _ = run(capsys, "estimate", "qwen3-8b", "--gpu", "RTX 4090", "--format", "markdown")
    assert f"{decode:,.1f} tokens/s decode" in out
    # Fine-tuning: training tokens/s; without a GPU the fields are there, and null.
    _, out, _ = run(capsys, "estimate", "qwen3-8b", "--finetune", "qlora", "--gpu", "RTX 4090", "--json")
    ft = lc.FineTune(method="qlora")
    step = lc.training_time(m, g, ft, tokens=ft.batch_size * ft.seq_len).step_s
    assert json.loads(out)["training_tokens_per_s"] == pytest.approx(ft.batch_size * ft.seq_len / step)
    _, out, _ = run(capsys, "estimate", "qwen3-8b", "--json")
    data = json.loads(out)
    assert data["decode_tokens_per_s"] is None
    assert data["time_to_first_token_s"] is None


def test_fit_lists_tokens_per_s(capsys: pytest.CaptureFixture[str]) -> None:
    g = lc.get_gpu("RTX 4090")
    code, out, _ = run(capsys, "fit", "--gpu", "RTX 4090", "--domain", "medical", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert rows
    assert all("decode tokens/s" in r for r in rows)
    for r in rows[:3]:
        want = lc.decode_speed(lc.get_model(r["id"]), g, lc.Inference()).tokens_per_s
        assert r["decode tokens/s"] == pytest.approx(want, abs=0.05)
    _, out, _ = run(capsys, "fit", "--gpu", "RTX 4090", "--finetune", "lora", "--domain", "medical")
    assert "training tokens/s" in out.splitlines()[0]


# -- 17: plan's remedies: short, real formats, and the context/KV-cache cuts for inference -------
IDEALISED = {name for name, f in lc.FORMATS.items() if not f.linear_only and f.linear_bits < 16}


def test_the_idealised_formats_are_int8_and_int4() -> None:
    """Their descriptions (values/precision.py) say "idealised ... lower bound": no checkpoint has them."""
    assert {"int8", "int4"} == IDEALISED
    assert all("idealised" in lc.FORMATS[n].description for n in IDEALISED)


def test_inference_remedies_offer_real_formats_context_and_fp8_kv() -> None:
    """Qwen3-8B at 32k tokens on a 12 GiB card: only real formats, and a fitting remedy with a shorter
    context and one with an FP8 KV cache (which leaves room for a longer context)."""
    m = lc.get_model("qwen3-8b")
    g = lc.GPU(id="custom", name="12 GiB", vendor="custom", memory_bytes=12 * 2**30)
    ranked = lc.recommend(m, g, lc.Inference(context_tokens=32768))
    assert ranked
    for r in ranked:
        assert r.workload.precision not in IDEALISED, r
        assert r.workload.weight_format.name in lc.FORMATS
        assert len(r.description) <= 100, r.description
        assert lc.check(m, g, r.workload).fits == r.fits
    fitting = [r for r in ranked if r.fits]
    assert any("--context" in r.options for r in fitting)
    with_fp8 = [r for r in fitting if "--kv-precision fp8" in r.options]
    assert with_fp8
    contexts = [r.workload.context_tokens for r in fitting]
    assert max(contexts) == max(r.workload.context_tokens for r in with_fp8) > min(contexts)


def test_cli_plan_table_is_not_hundreds_of_columns_wide(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ("plan", "qwen3-8b", "--gpu-memory", "12GiB", "--context", "32768"),
        ("plan", "qwen3-8b", "--gpu", "RTX 4090", "--finetune", "full", "--batch", "8", "--gpus", "2"),
    ):
        code, out, _ = run(capsys, *argv)
        assert code == 1
        table_lines = out.splitlines()[2:]
        # 220: a combination of method-keeping remedies names up to five flags in its options column
        assert max(len(line) for line in table_lines) <= 220, max(table_lines, key=len)
        assert "int4 --" not in out
        assert not out.rstrip().endswith("int4")


# -- 18: which_gpus ranks by the prices it is given ------------------------------------------------
def test_which_gpus_ranks_priced_options_by_cost_before_unpriced_ones() -> None:
    """Llama-2-13B in bf16 (26 GB of weights) does not fit one 24 GB L4 but fits several; with only
    L4 priced, the L4 option leads, ahead of every unpriced card that fits alone."""
    m, w = lc.get_model("llama-2-13b"), lc.Inference()
    options = lc.which_gpus(m, w, cost={"L4": 0.7}, max_gpus=4)
    first = options[0]
    assert first.gpu.id == lc.get_gpu("L4").id
    assert first.n_gpus == lc.min_gpus(m, first.gpu, w, max_gpus=4)
    assert first.n_gpus > 1
    assert first.total_cost == round(0.7 * first.n_gpus, 9)
    assert str(first.total_cost) in {"1.4", "2.1", "2.8"}  # not 2.8000000000000003
    assert any(o.check.fits and o.total_cost is None for o in options[1:])  # the unpriced come after
    # Two prices: the cheaper total wins even when it needs more cards.
    cost = {"L4": 0.7, "H100 SXM": 2.5}
    options = lc.which_gpus(m, w, cost=cost, max_gpus=4)
    priced = [o for o in options if o.total_cost is not None]
    assert options[: len(priced)] == tuple(priced)
    assert [o.total_cost for o in priced] == sorted(o.total_cost for o in priced)  # type: ignore[misc]
    # A function may leave a card unpriced (None): it ranks after the priced ones.
    by_fn = lc.which_gpus(m, w, cost=lambda g: 1.0 if g.id == first.gpu.id else None, max_gpus=4)
    assert by_fn[0].gpu.id == first.gpu.id


# -- 25: plots keep their title, labels and legend inside the saved PNG -----------------------------
def _assert_nothing_clipped(ax: object, png: object) -> None:
    """Everything drawn (title, tick labels, axis label, legend) lies inside the figure, and the
    legend does not cover the bars: what savefig writes without bbox_inches="tight" is complete."""
    import matplotlib.pyplot as plt

    fig = ax.figure  # type: ignore[attr-defined]
    fig.savefig(png)  # at the figure's own dpi, so the layout drawn is the one measured
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    tight = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)  # display units
    assert tight.x0 >= canvas.x0 - 1, (tight, canvas)
    assert tight.y0 >= canvas.y0 - 1, (tight, canvas)
    assert tight.x1 <= canvas.x1 + 1, (tight, canvas)
    assert tight.y1 <= canvas.y1 + 1, (tight, canvas)
    texts = [ax.title, ax.xaxis.label, *ax.get_yticklabels(), *ax.get_xticklabels()]  # type: ignore[attr-defined]
    for t in texts:
        if t.get_text():
            box = t.get_window_extent(renderer)
            assert canvas.x0 - 1 <= box.x0, t
            assert box.x1 <= canvas.x1 + 1, t
            assert canvas.y0 - 1 <= box.y0, t
            assert box.y1 <= canvas.y1 + 1, t
    legend = ax.get_legend() or (fig.legends[0] if fig.legends else None)  # type: ignore[attr-defined]
    assert legend is not None
    lbox = legend.get_window_extent(renderer)
    axes_box = ax.get_window_extent(renderer)  # type: ignore[attr-defined]
    assert not lbox.overlaps(axes_box), "the legend covers the bars"
    plt.close(fig)


def test_estimate_plot_is_not_clipped(tmp_path: object) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    est = lc.estimate_vram(lc.get_model("qwen3-8b"), lc.FineTune(method="lora"))
    _assert_nothing_clipped(est.plot(lc.get_gpu("RTX 4090")), tmp_path / "estimate.png")  # type: ignore[operator]


def test_sweep_plot_keeps_long_labels(tmp_path: object) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    s = lc.sweep(
        ["qwen3-8b", "llama-2-7b"],
        ["RTX 4090", "A100 80GB"],
        [lc.Inference(context_tokens=4096, batch_size=8), lc.FineTune(method="qlora", lora_targets="all-linear")],
    )
    _assert_nothing_clipped(s.plot(), tmp_path / "sweep.png")  # type: ignore[operator]


# -- 19: the public calculus takes catalog names like estimate_llamacpp does -----------------------
W = lc.Inference(context_tokens=4096)
FT = lc.FineTune(method="lora")
NAMED_CALLS = {
    "estimate_vram": lambda f, m, g: f(m, W).total_bytes,
    "fits": lambda f, m, g: f(m, g, W),
    "check": lambda f, m, g: f(m, gpu=g, workload=W),
    "min_gpus": lambda f, m, g: f(m, g, W),
    "max_context": lambda f, m, g: f(m, g, W),
    "max_batch": lambda f, m, g: f(m, g, W),
    "decode_speed": lambda f, m, g: f(m, g, W).tokens_per_s,
    "prefill_speed": lambda f, m, g: f(m, g, W).ttft_s,
    "training_time": lambda f, m, g: f(m, g, FT, tokens=10**6).step_s,
    "estimate_vllm": lambda f, m, g: f(m, g, W).kv_tokens,
    "recommend": lambda f, m, g: [r.options for r in f(m, g, lc.Inference(batch_size=64, context_tokens=8192))],
    "which_gpus": lambda f, m, g: [o.gpu.id for o in f(m, W, gpus=[g])],
}


@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # the LoRA step may not fit a 4090: names are tested
@pytest.mark.parametrize("name", sorted(NAMED_CALLS))
def test_public_functions_take_names(name: str) -> None:
    import importlib
    import inspect

    func = getattr(lc, name)
    ask = NAMED_CALLS[name]
    m, g = lc.get_model("llama-2-7b"), lc.get_gpu("RTX 4090")
    assert ask(func, "llama-2-7b", "RTX 4090") == ask(func, m, g)
    # The calculus underneath is untouched: same signature and docstring, and it still wants values.
    module = importlib.import_module(f"llmcatalog.{lc._LAZY[name]}")
    inner = getattr(module, name)
    assert inspect.signature(func) == inspect.signature(inner)
    assert func.__doc__ == inner.__doc__
    assert func.__name__ == name
    with pytest.raises(lc.UnknownModelError):
        ask(func, "no-such-model-anywhere", g)
    if name not in ("estimate_vram", "which_gpus"):
        with pytest.raises(lc.UnknownGPUError):
            ask(func, m, "no such gpu 12345")


def test_the_memory_module_keeps_taking_values_only() -> None:
    from llmcatalog.memory import estimate as calculus

    assert lc.estimate_vram is not calculus.estimate_vram
    with pytest.raises(TypeError):
        calculus.estimate_vram("llama-2-7b", W)  # type: ignore[arg-type]
