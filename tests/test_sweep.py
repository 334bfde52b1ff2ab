"""llmcatalog.sweep: every row equals estimate_vram and fits for its (model, GPU, workload)."""

from __future__ import annotations

import csv
import io
import itertools
import re
import warnings

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.memory.estimate import as_run
from llmcatalog.planning.sweep import COLUMNS, workload_label
from strategies import architectures

# Rows are compared with check()/fits() on random GPUs: a format a GPU cannot run warns there
# (CompatibilityWarning, tested in tests/test_compat.py); the sweep itself stays quiet.
pytestmark = pytest.mark.filterwarnings("ignore::llmcatalog.CompatibilityWarning")

_CATALOG = lc.catalog()
#: Estimable catalog models, sampled by Hypothesis; every 7th keeps the list short but varied
#: (base models, their fine-tunes sharing an architecture, MoE, MLA, quantized checkpoints).
_MODELS = [m for m in _CATALOG.models if m.architecture is not None and m.open_weights is not False][::7]
_FAMOUS = [lc.get_model(n) for n in ("llama-2-7b", "mistral-7b", "qwen-7b-chat", "chatglm3-6b")]


def _inference(precision: str | None, **kw: object) -> lc.Inference:
    return lc.Inference(**kw) if precision is None else lc.Inference(precision=precision, **kw)  # type: ignore[arg-type]


inference = st.builds(
    _inference,
    precision=st.sampled_from([None, "bf16", "fp16", "int8", "gptq-int4", "awq-int4", "bnb-nf4", "fp8"]),
    batch_size=st.integers(1, 16),
    context_tokens=st.integers(1, 65536),
    kv_cache_precision=st.sampled_from([None, "fp8"]),
)
finetune = st.builds(
    lc.FineTune,
    method=st.sampled_from(["full", "lora", "qlora", "freeze"]),
    batch_size=st.integers(1, 8),
    seq_len=st.integers(1, 8192),
    gradient_checkpointing=st.booleans(),
    trainable_layers=st.just(1),
)
workloads = st.lists(st.one_of(inference, finetune), min_size=1, max_size=3)
_LLAMA = lc.get_model("llama-2-7b")
#: Models the shared estimate must tell apart although their architecture is one: the bare
#: Architecture, a checkpoint storing GPTQ weights, a chat fine-tune; and a vision-language model
#: with an encoder next to its base's language model (qwen-vl on qwen-7b).
_TWINS = [
    _LLAMA,
    _LLAMA.architecture,
    attrs.evolve(_LLAMA, id="llama-2-7b-gptq", weight_format=lc.FORMATS["gptq-int4"]),
    lc.get_model("llama-2-7b-chat"),
    lc.get_model("qwen-7b"),
    lc.get_model("qwen-vl"),
]
models = st.lists(st.one_of(st.sampled_from(_FAMOUS + _MODELS + _TWINS), architectures()), min_size=1, max_size=5)
gpus = st.lists(st.sampled_from(_CATALOG.gpus), min_size=1, max_size=4)


def _expected(model: lc.Model | lc.Architecture, w: lc.Inference | lc.FineTune) -> lc.MemoryEstimate | str:
    try:
        return lc.estimate_vram(model, w)
    except lc.LLMCatalogError as exc:
        return str(exc)


@given(models=models, gpus=gpus, workloads=workloads)
@example(models=_TWINS, gpus=[lc.get_gpu("RTX 4090")], workloads=[lc.Inference(), lc.Inference(precision="bf16")])
def test_rows_equal_estimate_vram(models, gpus, workloads) -> None:
    """Each row's estimate equals estimate_vram(model, workload) and its verdict equals fits(); the
    pairs that cannot be estimated are skipped with estimate_vram's own message; rows come in the
    order models x GPUs x workloads (shared estimates across models and GPUs change nothing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.ContextLengthWarning)
        result = lc.sweep(models, gpus, workloads, errors="skip")
        expected = {(i, j): _expected(m, w) for i, m in enumerate(models) for j, w in enumerate(workloads)}
        want = [
            (m, g, w, expected[i, j])
            for (i, m), g, (j, w) in itertools.product(enumerate(models), gpus, enumerate(workloads))
            if isinstance(expected[i, j], lc.MemoryEstimate)
        ]
        assert len(result) == len(want)
        for row, (m, g, w, est) in zip(result, want, strict=True):
            assert row.model is m
            assert row.gpu is g
            assert row.workload is w
            running, note = as_run(m, g, w)
            if note:  # transformers holds FP8 as bf16 on this GPU: the row counts what runs, as check() does
                est = lc.estimate_vram(m, running)
                assert row.estimate.components == est.components
                assert any(note in a for a in row.estimate.assumptions)
                est = row.estimate
            assert row.estimate == est
            assert row.fits == lc.fits(m, g, w)
            assert row.headroom_bytes == g.available_bytes - est.total_bytes
            assert row.tokens_per_s is None
        errors = [e for e in expected.values() if isinstance(e, str)]
        assert sorted(s.error for s in result.skipped) == sorted(errors)


def test_shared_architecture_keeps_each_models_warning() -> None:
    """Two models with one architecture share an estimate, but a context past their limit still
    warns once per model, naming it (the estimate is then not shared)."""
    base = lc.get_model("llama-2-7b")
    chat = lc.get_model("llama-2-7b-chat")
    assert base.architecture == chat.architecture
    w = lc.Inference(precision="bf16", context_tokens=base.architecture.max_context + 1)
    with pytest.warns(lc.ContextLengthWarning) as caught:
        result = lc.sweep([base, chat], "RTX 4090", w)
    named = {m.id for m in (base, chat) for rec in caught if m.id in str(rec.message)}
    assert named == {"llama-2-7b", "llama-2-7b-chat"}
    assert result[0].estimate == result[1].estimate


def test_errors_raise_by_default_or_are_skipped() -> None:
    """A closed-weight model raises NotEstimableError, or is listed in skipped with errors='skip'."""
    w = lc.Inference(precision="bf16")
    with pytest.raises(lc.NotEstimableError, match="closed weights"):
        lc.sweep(["gpt-4", "llama-2-7b"], ["RTX 4090"], w)
    result = lc.sweep(["gpt-4", "llama-2-7b"], ["RTX 4090"], w, errors="skip")
    assert [r.model.id for r in result] == ["llama-2-7b"]
    assert len(result.skipped) == 1
    assert result.skipped[0].model == "gpt-4"
    assert "closed weights" in result.skipped[0].error
    with pytest.raises(lc.QueryError, match="errors must be"):
        lc.sweep("llama-2-7b", "RTX 4090", w, errors="ignore")
    with pytest.raises(lc.UnknownModelError):
        lc.sweep("no-such-model-zzz", "RTX 4090", w)
    with pytest.raises(lc.UnknownGPUError):
        lc.sweep("llama-2-7b", "no-such-gpu-zzz", w)
    with pytest.raises(TypeError, match="workloads"):
        lc.sweep("llama-2-7b", "RTX 4090", ["bf16"])
    with pytest.raises(lc.WorkloadError, match="allocator_fraction"):
        lc.sweep("llama-2-7b", "RTX 4090", w, errors="skip", allocator_fraction=2.0)
    result = lc.sweep("llama-2-7b", "RTX 4090", w, cuda_context_bytes=0, allocator_fraction=0)
    assert result[0].estimate == lc.estimate_vram(
        lc.get_model("llama-2-7b"), w, cuda_context_bytes=0, allocator_fraction=0
    )
    assert result[0].estimate.overhead_bytes == 0
    with pytest.raises(TypeError, match="gpus"):
        lc.sweep("llama-2-7b", [24], w)


def test_speed_hook_fills_fitting_rows_only() -> None:
    """The speed callable is asked for the rows that fit, and its answer is the tokens_per_s column."""
    calls = []

    def speed(model, gpu, workload, estimate):
        calls.append((model.id, gpu.id))
        return gpu.bandwidth_gb_s * 1e9 / estimate.weights_bytes

    w = lc.Inference(precision="bf16")
    result = lc.sweep(["llama-2-7b", "llama-2-70b"], ["RTX 4090", "H100 SXM"], w, speed=speed)
    assert calls == [("llama-2-7b", "rtx-4090"), ("llama-2-7b", "h100-sxm5-80gb")]
    for r in result:
        if r.fits:
            assert r.tokens_per_s == pytest.approx(r.gpu.bandwidth_gb_s * 1e9 / r.estimate.weights_bytes)
        else:
            assert r.tokens_per_s is None
    for bad in (float("nan"), -1.0, "fast", True):
        with pytest.raises(ValueError, match="speed hook"):
            lc.sweep("llama-2-7b", "RTX 4090", w, speed=lambda *a, v=bad: v)
    with pytest.raises(TypeError, match="speed must be a callable"):
        lc.sweep("llama-2-7b", "RTX 4090", w, speed=3)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def small() -> lc.Sweep:
    return lc.sweep(
        ["llama-2-7b", "llama-2-70b", "qwen-7b-chat"],
        ["RTX 4090", "A100 80GB"],
        [lc.Inference(precision="bf16"), lc.FineTune(method="lora", seq_len=512)],
    )


def test_sequence_protocol(small: lc.Sweep) -> None:
    """A sweep is a sequence: len, indexing, slicing, iteration, filtering."""
    assert len(small) == 3 * 2 * 2
    assert list(small)[3] == small[3]
    assert len(small[:5]) == 5
    fit = small.fitting()
    assert 0 < len(fit) < len(small)
    assert all(r.fits for r in fit)
    assert repr(small) == f"<Sweep: 12 rows, {len(fit)} fit>"


def test_records_and_csv_round_trip(small: lc.Sweep) -> None:
    """to_records is typed (ints, bools, None) and to_csv reads back to the same values."""
    records = small.to_records()
    assert list(records[0]) == list(COLUMNS)
    assert all(isinstance(r["total_bytes"], int) and isinstance(r["fits"], bool) for r in records)
    first = lc.estimate_vram(lc.get_model("llama-2-7b"), lc.Inference(precision="bf16"))
    assert records[0]["total_bytes"] == first.total_bytes
    back = list(csv.DictReader(io.StringIO(small.to_csv())))
    assert len(back) == len(records)
    for got, rec in zip(back, records, strict=True):
        assert int(got["total_bytes"]) == rec["total_bytes"]
        assert got["fits"] == ("true" if rec["fits"] else "false")
        assert got["tokens_per_s"] == ""
        assert got["workload"] == rec["workload"]
    detailed = small.to_records(components=True)
    assert detailed[0]["components.weights.model"] == detailed[0]["weights_bytes"]
    header = small.to_csv(components=True).splitlines()[0].split(",")
    assert "components.weights.model" in header
    assert "components.activations.saved" in header


def test_to_pandas(small: lc.Sweep) -> None:
    """to_pandas has one row per sweep row and the typed columns (pandas extra)."""
    pd = pytest.importorskip("pandas")
    frame = small.to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == len(small)
    assert frame["total_bytes"].tolist() == [r.total_bytes for r in small]
    assert frame["fits"].dtype == bool
    assert frame["tokens_per_s"].isna().all()
    wide = small.to_pandas(components=True)
    parts = [c for c in wide.columns if c.startswith("components.weights")]
    assert (wide[parts].sum(axis=1) == wide["weights_bytes"]).all()


def _markdown_cells(line: str) -> list[str]:
    assert line.startswith("| ") or line.startswith("|-") or line.startswith("|:"), line
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def test_markdown_is_a_well_formed_table(small: lc.Sweep) -> None:
    """One header, one alignment row, one line per row, the same number of cells on every line."""
    lines = small.to_markdown().splitlines()
    assert len(lines) == 2 + len(small)
    widths = {len(_markdown_cells(line)) for line in lines}
    assert widths == {13}
    assert all(re.fullmatch(r"-{3}|-{3}:", c) for c in _markdown_cells(lines[1]))
    first = _markdown_cells(lines[2])
    assert first[0].strip() == "llama-2-7b"
    assert first[9].strip() == f"{small[0].total_bytes / 2**30:.2f}"


def test_html_has_the_numbers_and_a_bar_per_row(small: lc.Sweep) -> None:
    """The HTML repr has every row's total in GiB, a stacked SVG bar per row and the GPU line."""
    html = small._repr_html_()
    for r in small:
        assert f"{r.total_bytes / 2**30:.2f}" in html
    assert html.count("<svg") == len(small)
    assert html.count("<line") == len(small)
    assert "<script" not in html
    row = small[0]
    assert f"{row.gpu.available_bytes / 2**30:.2f} GiB" in row._repr_html_()
    assert (
        row.to_markdown().splitlines()[-1].endswith(f"({row.total_bytes / row.gpu.available_bytes:.0%} of its memory)")
    )


def test_plot_renders_png(small: lc.Sweep, tmp_path) -> None:
    """sweep.plot() draws one bar per row and saves as a PNG (plot extra, Agg backend)."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    ax = small.plot()
    assert len(ax.get_yticklabels()) == len(small)
    path = tmp_path / "sweep.png"
    ax.figure.savefig(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5000
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_workload_labels_tell_workloads_apart() -> None:
    """Labels name the format, batch, length and method-specific settings."""
    assert workload_label(lc.Inference(precision="bf16")) == "inference bf16 b1 ctx2048"
    assert workload_label(lc.Inference()) == "inference as-stored b1 ctx2048"
    label = workload_label(
        lc.FineTune(method="lora", batch_size=4, seq_len=512, gradient_checkpointing=True, lora_rank=16)
    )
    assert label == "lora bf16 b4 seq512 r16 gc"
    assert "tp2" in workload_label(lc.Inference(parallelism=lc.Parallelism(tensor_parallel=2)))


def test_garbage_collector_state_is_restored() -> None:
    """A sweep pauses the cyclic collector while it builds rows and restores its state, also on error."""
    import gc

    w = lc.Inference(precision="bf16")
    assert gc.isenabled()
    lc.sweep("llama-2-7b", "RTX 4090", w)
    assert gc.isenabled()
    with pytest.raises(lc.NotEstimableError):
        lc.sweep("gpt-4", "RTX 4090", w)
    assert gc.isenabled()
    gc.disable()
    try:
        lc.sweep("llama-2-7b", "RTX 4090", w)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_speed_true_fills_tokens_per_s_from_the_speed_calculus() -> None:
    """speed=True: inference rows that fit carry the transformers decode tokens/s of that GPU, fine-tune
    rows the training tokens/s; a row over the GPU's memory carries none."""
    models = ["llama-2-7b"]
    gpus = ["A100 80GB", "RTX 4090", "T4"]
    inf = lc.Inference(precision="bf16", batch_size=2, context_tokens=2048)
    ft = lc.FineTune(method="lora", seq_len=1024)
    s = lc.sweep(models, gpus, [inf, ft], speed=True)
    for row in s:
        if row.estimate.total_bytes > row.gpu.available_bytes:
            assert row.tokens_per_s is None
        elif isinstance(row.workload, lc.Inference):
            assert row.tokens_per_s == lc.decode_speed(row.model, row.gpu, row.workload).tokens_per_s
        else:
            t = lc.training_time(row.model, row.gpu, row.workload, tokens=1024)
            assert row.tokens_per_s == pytest.approx(1024 / t.step_s)
    assert any(r.tokens_per_s for r in s)
    assert all(r.tokens_per_s is None for r in lc.sweep(models, gpus, inf))


def test_a_model_with_unsized_parts_does_not_share_its_base_estimate() -> None:
    """CogVLM shares Vicuna-7B's language model, but its vision parts (sized from its published total)
    make its estimate its own: the sweep row equals estimate_vram, not Vicuna's."""
    w = lc.Inference(precision="bf16", context_tokens=1024)
    s = lc.sweep(["vicuna-7b-v1.5", "cogvlm-17b"], "A100 80GB", w)
    assert [r.estimate for r in s] == [lc.estimate_vram(lc.get_model(i), w) for i in ("vicuna-7b-v1.5", "cogvlm-17b")]
    assert s[1].estimate.weights_bytes > 2 * s[0].estimate.weights_bytes
