"""The calculus against GPU memory that authors measured and published (tests/data/published_vram.csv).

Figures whose setting is fully known (``exact_setting``: litgpt's resource tables) must be within
10%. Every other comparable figure -- settings partly unknown, other frameworks, 2023 remote code --
must be within 50%, a guard against gross errors; their errors are reported by
``benchmarks/accuracy_published.py``. Published fits/OOM statements must agree with the estimate.
The exceptions below are the figures we could not match, each with the reason.
"""

from __future__ import annotations

import statistics

import attrs
import pytest

import llmcatalog as lc
from published import load

# Settings past a model's max_context are deliberate here (property ranges, traced long contexts,
# published 8192+1-token runs): the ContextLengthWarning they raise is expected.
pytestmark = pytest.mark.filterwarnings("ignore::llmcatalog.ContextLengthWarning")

ROWS = load()

#: litgpt's FSDP LoRA figures (unsharded gradients under no_sync, docs/sharding.md): tested by
#: tests/test_sharding.py (median within 10%).
LITGPT_FSDP = {rid for rid, _, _ in ROWS if rid.startswith("litgpt-loraFSDP")}
#: Falcon-40B QLoRA (nf4 + double quant, 1079 tokens) is estimated at 99.9% of the 40 GB card:
#: on the edge of the published OOM.
BORDERLINE = {"litgpt-lora1-falcon-40b-nf4-dq-mb1"}


def _compare(rid: str, mid: str, fig: lc.PublishedFigure, catalog: lc.Catalog) -> lc.FigureComparison:
    gpu = catalog.get_gpu(fig.gpu) if fig.gpu else None
    return lc.compare_figure(catalog.get_model(mid), fig, gpu)


def test_the_data_is_there() -> None:
    """The CSV is read: 251 rows, 230+ of catalog models."""
    assert len(ROWS) > 230


@pytest.mark.parametrize(
    ("rid", "mid", "fig"),
    [r for r in ROWS if r[2].exact_setting and r[0] not in LITGPT_FSDP],
    ids=lambda v: v if isinstance(v, str) and v.startswith("litgpt") else None,
)
def test_fully_specified_figures_within_10_percent(
    rid: str, mid: str, fig: lc.PublishedFigure, catalog: lc.Catalog
) -> None:
    """Every figure whose setting is fully known: within 10% (or the fits/OOM claim agrees)."""
    c = _compare(rid, mid, fig, catalog)
    if c.status == "claim":
        assert c.agrees or rid in BORDERLINE, f"{rid}: estimate {c.estimate.total_bytes / 2**30:.2f} GiB"
        return
    assert c.status == "compared", c.reason
    assert abs(c.error) <= 0.10, f"{rid}: {c.error:+.1%}"


def test_other_figures_within_50_percent(catalog: lc.Catalog) -> None:
    """Figures with partly known settings stay within 50% (a guard against gross errors)."""
    bad = []
    compared = 0
    for rid, mid, fig in ROWS:
        if fig.exact_setting or rid in LITGPT_FSDP:
            continue
        c = _compare(rid, mid, fig, catalog)
        if c.status == "compared":
            compared += 1
            if abs(c.error) > 0.5:
                bad.append((rid, round(c.error, 3)))
        elif c.status == "claim" and not c.agrees:
            bad.append((rid, "claim disagrees"))
    assert compared > 100
    assert not bad, bad


#: litgpt's resource-table rows that its own code explains (memory/litgpt.py, FineTune.framework):
#: phi-1.5 LoRA (fused GELU) and the nf4 inference rows (quantized untied LM head, dequantized in the prompt).
_LITGPT_OWN_CODE = [
    r for r in ROWS if r[0].startswith("litgpt-lora1-phi-1_5") or (r[0].startswith("litgpt-inf-") and "-nf4" in r[0])
]


@pytest.mark.parametrize(("rid", "mid", "fig"), _LITGPT_OWN_CODE, ids=lambda v: v if isinstance(v, str) else None)
def test_litgpt_figures_need_litgpt_code(rid: str, mid: str, fig: lc.PublishedFigure, catalog: lc.Catalog) -> None:
    """These figures match (within 10%) when litgpt's code is estimated, closer than the same setting run
    by transformers' code (phi-1.5 LoRA: 22-41% high; nf4 inference: 2-21% low, most for small models)."""
    c = _compare(rid, mid, fig, catalog)
    assert c.error is not None
    assert c.workload is not None
    assert c.workload.framework == "litgpt"
    assert abs(c.error) <= 0.10, f"{rid}: {c.error:+.1%}"
    as_transformers = lc.estimate_vram(catalog.get_model(mid), attrs.evolve(c.workload, framework=None))
    assert c.published_bytes is not None
    hf_error = as_transformers.tensor_bytes / c.published_bytes - 1
    assert abs(c.error) < abs(hf_error), f"{rid}: litgpt {c.error:+.1%}, transformers {hf_error:+.1%}"


def test_seed_chatglm3_lora_figure(catalog: lc.Catalog) -> None:
    """The survey's ChatGLM3-6B LoRA figure (14082 MiB on one GPU, nvidia-smi) is matched within 10%."""
    (row,) = [r for r in ROWS if r[0] == "chatglm3-lora-1gpu"]
    c = _compare(*row, catalog)
    assert c.status == "compared"
    assert abs(c.error) < 0.10


def _source_medians(catalog: lc.Catalog) -> dict[str, float]:
    """Median |error| per source (the row id's prefix), over every compared figure."""
    errors: dict[str, list[float]] = {}
    for rid, mid, fig in ROWS:
        c = _compare(rid, mid, fig, catalog)
        if c.status == "compared":
            assert c.error is not None
            errors.setdefault(rid.split("-")[0], []).append(abs(c.error))
    return {src: statistics.median(errs) for src, errs in errors.items()}


#: The per-source medians reached (benchmarks/accuracy_published.py prints them), each with a little room:
#: a regression past these fails. Sources and their mechanisms: tests/data/README.md ("Calibration").
SOURCE_MEDIAN_BOUNDS = {
    "litgpt": 0.05,
    # Qwen-1 README fine-tuning and inference tables (16.4% before the Qwen-1 mechanisms; 11.2% before PEFT 0.5-0.6's
    # fp32 adapters and bf16 modules_to_save copies)
    "qwen1": 0.075,
    "qwen1v1": 0.025,  # August-2023 Qwen-7B README revisions (20.7% before)
    # ChatGLM2 README encode-2048 table (13.3% before the built-in int8/int4 formats: 6.8% on those 3 rows)
    # and its P-Tuning v2 int4 row (-12.5%, compared since the P-Tuning-on-int4 base): 9.6% on the 4; 5.4% since
    # THUDM's W8A16Linear dequantizes the fused dense_h_to_4h weight per call (its backward also builds an
    # unused grad_weight of that size)
    "chatglm2": 0.06,
    "chatglm3": 0.06,  # 13.3% before the 16-bit flattened gradient copy of the DeepSpeed step
    "peft": 0.04,
    "chinesevicuna": 0.06,  # 0.5% until early PEFT's int8 preparation stopped upcasting embeddings: 5.8%
    "chatglm1": 0.04,  # ChatGLM-6B P-Tuning v2 fp16 / int8 / int4 minimum-memory table
}


@pytest.mark.parametrize("source", sorted(SOURCE_MEDIAN_BOUNDS))
def test_source_medians_hold(source: str, catalog: lc.Catalog) -> None:
    """Each source's median |error| stays within what the calculus reaches today."""
    medians = _source_medians(catalog)
    assert medians[source] <= SOURCE_MEDIAN_BOUNDS[source], f"{source}: median |error| {medians[source]:.1%}"


def test_qwen1_generation_holds_two_caches(catalog: lc.Catalog) -> None:
    """Qwen-1's "generate 8192 tokens from one" figures (7B/14B, BF16/Int8/Int4, and the August-2023
    revisions) are matched within 6% only with two KV caches at the decode peak (tuple caches rebuilt by
    torch.cat while generate() holds the previous step's): with one cache they are 14-33% under."""
    rows = [r for r in ROWS if r[0].startswith(("qwen1-gen8192", "qwen1v1-gen8192"))]
    assert len(rows) >= 12
    for rid, mid, fig in rows:
        c = _compare(rid, mid, fig, catalog)
        assert c.status == "compared", rid
        assert c.error is not None, rid
        assert abs(c.error) <= 0.06, f"{rid}: {c.error:+.1%}"
        single = attrs.evolve(c.workload, legacy_cache=False)
        one_cache = lc.estimate_vram(catalog.get_model(mid), single)
        assert one_cache.tensor_bytes < 0.9 * c.published_bytes, rid


def test_chatglm_builtin_int_formats_dequantize_the_fused_mlp_weight(catalog: lc.Catalog) -> None:
    """THUDM's quantization.py (ChatGLM-6B/ChatGLM2-6B) ``W8A16Linear.forward`` builds a whole fp16 weight per
    call (``extract_weight_to_half``) before ``inp.mm(weight.t())``; ``backward`` builds it again and also
    ``grad_weight = grad_output.t().mm(inp)`` for the frozen int weight. The largest is ChatGLM2's fused
    ``dense_h_to_4h`` (hidden x 2*ffn_hidden from config.json; ChatGLM2 and ChatGLM3 share modeling_chatglm.py):
    the encode-2048 int8/int4 estimates carry one such fp16 weight beyond the fp16 model's activations, the
    P-Tuning v2 int4 step two, and those rows are within 10%."""
    import json
    from pathlib import Path

    cfg = json.loads((Path(__file__).parent / "data" / "hf_configs" / "chatglm3-6b.json").read_text())
    fused = cfg["hidden_size"] * 2 * cfg["ffn_hidden_size"] * 2  # bytes in fp16
    rows = {rid: (rid, mid, fig) for rid, mid, fig in ROWS if rid.startswith("chatglm2-")}
    fp16 = _compare(*rows["chatglm2-enc2048-fp16"], catalog)
    assert fp16.estimate is not None
    for rid in ("chatglm2-enc2048-int8", "chatglm2-enc2048-int4", "chatglm2-ptuningv2-int4"):
        c = _compare(*rows[rid], catalog)
        assert c.estimate is not None, rid
        assert c.error is not None, rid
        assert abs(c.error) <= 0.10, f"{rid}: {c.error:+.1%}"
        if rid.startswith("chatglm2-enc"):
            assert c.estimate.activations_bytes - fp16.estimate.activations_bytes == fused, rid
        else:
            assert c.estimate.components["activations.dequantize"] == 2 * fused, rid


def _qwen1_ft(sizes: tuple[str, ...], method: str, max_tokens: int) -> list[tuple[str, str, lc.PublishedFigure]]:
    prefixes = tuple(f"qwen1-ft-{s}-{method}-" for s in sizes)
    return [r for r in ROWS if r[0].startswith(prefixes) and int(r[0].rsplit("-", 1)[1]) <= max_tokens]


def test_qwen1_single_gpu_lora_trains_fp32_adapters(catalog: lc.Catalog) -> None:
    """PEFT 0.5.0-0.6.2 (Qwen's October/November 2023 runs) built lora_A/lora_B as fp32 nn.Linear and only
    moved them to the weight's device; the single-GPU script runs the HF Trainer's bf16 autocast. With fp32
    adapters the 7B/14B LoRA rows (256-2048 tokens) are within 10%; with bf16 adapters at least 4 points lower."""
    rows = _qwen1_ft(("7b", "14b"), "lora", 2048)
    assert len(rows) == 8
    for rid, mid, fig in rows:
        c = _compare(rid, mid, fig, catalog)
        assert c.error is not None, rid
        assert abs(c.error) <= 0.10, f"{rid}: {c.error:+.1%}"
        bf16 = _compare(rid, mid, attrs.evolve(fig, mixed_precision=False), catalog)
        assert bf16.error is not None, rid
        assert bf16.error < c.error - 0.04, f"{rid}: {bf16.error:+.1%} with bf16 adapters"


def test_qwen1_lora_emb_copies_train_in_bf16(catalog: lc.Catalog) -> None:
    """Qwen's "LoRA (emb)" (modules_to_save wte and lm_head): PEFT deep-copies the bf16 modules, so beside the
    fp32 adapters the copies, their gradients and AdamW states are bf16 (FineTune.copies_precision). The rows
    up to 2048 tokens are within 12%; with fp32 copies they would be more than 20% over."""
    rows = _qwen1_ft(("1_8b", "7b", "14b"), "loraemb", 2048)
    assert len(rows) == 12
    for rid, mid, fig in rows:
        c = _compare(rid, mid, fig, catalog)
        assert c.error is not None, rid
        assert isinstance(c.workload, lc.FineTune), rid
        assert c.workload.copies_precision == "bf16", rid
        assert c.workload.mixed_precision, rid
        assert abs(c.error) <= 0.12, f"{rid}: {c.error:+.1%}"
        fp32 = lc.estimate_vram(catalog.get_model(mid), attrs.evolve(c.workload, copies_precision=None))
        assert fp32.total_bytes / c.published_bytes - 1 > 0.20, rid


@pytest.mark.parametrize("size", ["1_8b", "7b", "14b", "72b"])
def test_qwen1_qlora_loss_runs_in_16_bits(size: str, catalog: lc.Catalog) -> None:
    """Qwen-1's Q-LoRA runs (DeepSpeed fp16: no autocast; QWenLMHeadModel feeds 16-bit logits to
    CrossEntropyLoss) grow by 1.2-1.8 MiB per token from 256 to 8192 tokens in the README's table. With the
    loss in 16 bits (FineTune.fp32_logits=False) the estimate grows within 30% of that; with fp32 logits it
    would grow at least 35% faster than published."""
    rows = {rid: (mid, fig) for rid, mid, fig in ROWS}
    pub, est, fp32 = [], [], []
    for length in (256, 8192):
        mid, fig = rows[f"qwen1-ft-{size}-q-lora-{length}"]
        c = _compare(f"qwen1-ft-{size}-q-lora-{length}", mid, fig, catalog)
        assert c.status == "compared", c.reason
        assert isinstance(c.workload, lc.FineTune)
        assert not c.workload.fp32_logits
        pub.append(c.published_bytes)
        est.append(c.compared_bytes)
        upcast = attrs.evolve(c.workload, fp32_logits=True)
        fp32.append(lc.estimate_vram(catalog.get_model(mid), upcast).total_bytes)
    slope_pub, slope_est, slope_fp32 = (b - a for a, b in (pub, est, fp32))
    assert abs(slope_est / slope_pub - 1) < 0.30, (slope_est / slope_pub, size)
    assert slope_fp32 / slope_pub > 1.35, (slope_fp32 / slope_pub, size)
