"""Training FLOPs and time (llmcatalog.performance.training): formulas, the survey's three runs, errors."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.performance.training import DEFAULT_MFU, training_flops_per_token

LLAMA = lc.get_model("LLaMA-7B")


def test_full_training_is_six_n_plus_palm_attention() -> None:
    """Full training costs 6N + 12 L H Q T per token (PaLM appendix B), N without the embedding gather."""
    a = LLAMA.architecture
    assert a is not None
    s = 2048
    fl = training_flops_per_token(LLAMA, lc.FineTune(method="full", seq_len=s))
    n = (
        lc.count_params(a) - a.vocab_size * a.hidden_size - (a.n_layers * 2 + 1) * a.hidden_size
    )  # minus embeddings and norms
    assert fl.total == pytest.approx(6 * n + 12 * a.n_layers * a.n_heads * a.head_dim * s, rel=1e-9)


def test_checkpointing_adds_one_forward() -> None:
    """Gradient checkpointing recomputes the forward: 8N instead of 6N for full training."""
    w = lc.FineTune(method="full", seq_len=16)
    plain = training_flops_per_token(LLAMA, w)
    ckpt = training_flops_per_token(LLAMA, lc.FineTune(method="full", seq_len=16, gradient_checkpointing=True))
    assert ckpt.total / plain.total == pytest.approx(4 / 3, rel=1e-3)


def test_lora_skips_weight_gradients_of_frozen_weights() -> None:
    """LoRA costs about 4N (forward + activation gradients) plus its own small weight gradients."""
    full = training_flops_per_token(LLAMA, lc.FineTune(method="full", seq_len=16))
    lora = training_flops_per_token(LLAMA, lc.FineTune(method="lora", seq_len=16))
    assert lora.total / full.total == pytest.approx(2 / 3, rel=0.01)
    assert lora.backward_weights == 2 * lora.trainable_params


# The survey's three training times (seed text: BenTsao, LaWGPT, Chinese-Vicuna). Each run's
# unstated settings are bracketed: tokens per sample [lo, hi] and MFU in [0.1, 0.5]; the
# published time must fall inside the bracket and the central estimate (midpoint length,
# DEFAULT_MFU) within a factor of 2. Assumptions and their sources: docs/speed.md.
A100 = lc.get_gpu("A100 SXM4 80GB")
V100 = lc.get_gpu("V100 SXM2 32GB")
TI = lc.get_gpu("RTX 2080 Ti")
SURVEY = [
    # name, gpu, workload, samples, epochs, tokens/sample range, published hours, tflops override
    (
        "bentsao",
        A100,
        lc.FineTune(method="lora", precision="fp16", gradient_checkpointing=True, seq_len=256, batch_size=128),
        7500,
        10,
        (120, 256),
        2 + 17 / 60,
        None,
    ),
    (
        "lawgpt-pretrain",
        V100,
        lc.FineTune(
            method="lora",
            precision="fp16",
            lora_rank=16,
            lora_targets="q_proj,k_proj,v_proj,o_proj",
            gradient_checkpointing=True,
            seq_len=1024,
            batch_size=8,
            parallelism=lc.Parallelism(data_parallel=8),
        ),
        500_000,
        1,
        (512, 1024),
        24.0,
        None,
    ),
    (
        "lawgpt-finetune",
        V100,
        lc.FineTune(
            method="lora",
            precision="fp16",
            gradient_checkpointing=True,
            seq_len=256,
            batch_size=8,
            parallelism=lc.Parallelism(pipeline_parallel=8),
        ),
        300_000,
        1,
        (128, 256),
        12.0,
        None,
    ),
    (
        "chinese-vicuna",
        TI,
        lc.FineTune(method="lora", precision="fp16", gradient_checkpointing=True, seq_len=256, batch_size=4),
        700_000,
        3,
        (128, 256),
        200.0,
        # GeForce Turing: FP16 tensor math with FP32 accumulate at half of 107.6 TFLOPS
        # (544 tensor cores x 64 FMA x 2 x 1.545 GHz boost)
        53.8,
    ),
]


@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # speed of a job that may not fit: the figure is tested
@pytest.mark.parametrize(("name", "gpu", "w", "samples", "epochs", "lengths", "hours", "tflops"), SURVEY)
def test_survey_training_times_reproduced(
    name: str,
    gpu: lc.GPU,
    w: lc.FineTune,
    samples: int,
    epochs: int,
    lengths: tuple[int, int],
    hours: float,
    tflops: float | None,
) -> None:
    """The survey's published training time lies inside the bracket of its unstated settings."""
    times = [
        lc.training_time(
            LLAMA, gpu, w, samples=samples, tokens_per_sample=t, epochs=epochs, mfu=m, tflops=tflops
        ).seconds
        / 3600
        for t in lengths
        for m in (0.1, 0.5)
    ]
    assert min(times) <= hours <= max(times), (name, min(times), max(times))
    central = lc.training_time(
        LLAMA, gpu, w, samples=samples, tokens_per_sample=sum(lengths) / 2, epochs=epochs, tflops=tflops
    ).hours
    assert 0.5 <= central / hours <= 2.0, (name, central)


@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # speed of a job that may not fit: the figure is tested
def test_cost_and_gpu_hours() -> None:
    """GPU-hours are wall hours times GPUs; cost is GPU-hours times the price."""
    w = lc.FineTune(method="full", seq_len=2048, parallelism=lc.Parallelism(data_parallel=8))
    t = lc.training_time(LLAMA, A100, w, tokens=1e9, price_per_gpu_hour=2.0)
    assert t.gpu_hours == pytest.approx(t.hours * 8)
    assert t.cost == pytest.approx(t.gpu_hours * 2.0)
    assert t.mfu == DEFAULT_MFU
    assert lc.training_time(LLAMA, A100, w, tokens=1e9).cost is None


def test_training_errors_name_what_to_fix() -> None:
    """Bad inputs are refused naming the argument; a GPU without the dtype's figure names the field."""
    w = lc.FineTune(method="lora", precision="fp16")
    with pytest.raises(ValueError, match="tokens="):
        lc.training_time(LLAMA, A100, w)
    with pytest.raises(ValueError, match="mfu"):
        lc.training_time(LLAMA, A100, w, tokens=1e6, mfu=1.5)
    with pytest.raises(ValueError, match="epochs"):
        lc.training_time(LLAMA, A100, w, tokens=1e6, epochs=-1)
    with pytest.raises(lc.MissingGPUFigureError, match=r"fp16_tflops.*tflops="):  # Apple publishes no such figure
        lc.training_time(LLAMA, lc.get_gpu("apple-m2-ultra-192gb"), w, tokens=1e6)


@given(
    t1=st.floats(min_value=1e3, max_value=1e12),
    t2=st.floats(min_value=1e3, max_value=1e12),
    mfu=st.floats(min_value=0.01, max_value=1.0),
    dp=st.integers(min_value=1, max_value=64),
)
def test_more_tokens_take_longer_more_gpus_less(t1: float, t2: float, mfu: float, dp: int) -> None:
    """Time grows with tokens, shrinks with data-parallel GPUs (same GPU-hours), never negative or NaN."""
    lo, hi = sorted((t1, t2))
    w1 = lc.FineTune(method="lora", precision="bf16", seq_len=512)
    wn = lc.FineTune(method="lora", precision="bf16", seq_len=512, parallelism=lc.Parallelism(data_parallel=dp))
    a = lc.training_time(LLAMA, A100, w1, tokens=lo, mfu=mfu)
    b = lc.training_time(LLAMA, A100, w1, tokens=hi, mfu=mfu)
    c = lc.training_time(LLAMA, A100, wn, tokens=hi, mfu=mfu)
    assert 0 < a.seconds <= b.seconds * (1 + 1e-12)
    assert c.seconds == pytest.approx(b.seconds / dp)
    assert c.gpu_hours == pytest.approx(b.gpu_hours)
    assert all(math.isfinite(x) for x in (a.seconds, b.gpu_hours, c.step_s))


def test_hostile_inputs_are_refused() -> None:
    """Infinite, NaN and wrongly typed inputs are refused naming the argument, never computed into a figure."""
    w = lc.FineTune(method="lora", precision="fp16")
    for bad in (math.inf, math.nan, True, "1e6"):
        with pytest.raises(ValueError, match="tokens"):
            lc.training_time(LLAMA, A100, w, tokens=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tflops"):
        lc.training_time(LLAMA, A100, w, tokens=1e6, tflops=math.inf)
    with pytest.raises(TypeError, match="GPU"):
        lc.training_time(LLAMA, 80, w, tokens=1e6)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="FineTune"):
        lc.training_time(LLAMA, A100, lc.Inference(), tokens=1e6)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="GPU"):
        lc.decode_speed(LLAMA, 80, lc.Inference())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bandwidth_gb_s"):
        lc.decode_speed(LLAMA, A100, lc.Inference(), bandwidth_gb_s=-1)
    assert lc.training_time(LLAMA, A100, w, tokens=1e6, price_per_gpu_hour=0).cost == 0


@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # speed of a job that may not fit: the figure is tested
def test_llama2_gpu_hours_imply_one_plausible_mfu() -> None:
    """Llama 2's published pre-training GPU-hours (7B, 13B, 70B; 2T tokens, 4k context) imply a model-FLOPs
    utilisation between 35% and 55% under our FLOPs count, within 15% of each other across sizes."""
    with (Path(__file__).parent / "data" / "speed" / "training_gpu_hours.csv").open() as f:
        published = list(csv.DictReader(f))
    implied = []
    for row in published:
        w = lc.FineTune(method="full", precision="bf16", seq_len=int(row["seq_len"]))
        at_peak = lc.training_time(
            lc.get_model(row["model"]), lc.get_gpu(row["gpu"]), w, tokens=float(row["tokens"]), mfu=1.0
        )
        implied.append(at_peak.gpu_hours / float(row["gpu_hours"]))
    assert len(implied) == 3
    assert all(0.35 <= m <= 0.55 for m in implied), implied
    assert max(implied) / min(implied) < 1.15, implied


def test_steps_count_sequences_not_padding() -> None:
    """With samples= a step is batch_size samples per rank whatever their length; with tokens= it is
    batch_size x seq_len tokens per rank."""
    w = lc.FineTune(
        method="lora", precision="bf16", seq_len=256, batch_size=16, parallelism=lc.Parallelism(data_parallel=2)
    )
    by_samples = lc.training_time(LLAMA, A100, w, samples=3200, tokens_per_sample=100, epochs=2)
    assert by_samples.steps == pytest.approx(3200 * 2 / (16 * 2))
    assert by_samples.step_s * by_samples.steps == pytest.approx(by_samples.seconds)
    by_tokens = lc.training_time(LLAMA, A100, w, tokens=256 * 32 * 10)
    assert by_tokens.steps == pytest.approx(10)
    assert by_tokens.step_s * by_tokens.steps == pytest.approx(by_tokens.seconds)


def test_tokens_per_sample_above_seq_len_is_refused() -> None:
    """Samples are truncated or packed to seq_len: a sample of 10**7 tokens at seq_len 4096 is a mistake,
    not a 10**7-token sequence (it would give a step of 10**7 tokens with the FLOPs of 4096)."""
    w = lc.FineTune(method="lora", seq_len=4096)
    with pytest.raises(lc.WorkloadError, match="tokens_per_sample=1e\\+07 exceeds the workload's seq_len=4096"):
        lc.training_time(LLAMA, A100, w, samples=10, tokens_per_sample=10**7)
    assert lc.training_time(LLAMA, A100, w, samples=10, tokens_per_sample=4096).seconds > 0
