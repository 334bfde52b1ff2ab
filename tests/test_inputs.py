"""Every input checked against the model it is applied to: the cases a new user tries first."""

from __future__ import annotations

import warnings
from importlib.metadata import version

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.cli.main import main
from llmcatalog.memory.estimate import MAX_ESTIMATE_BYTES, tensor_parallel_sizes
from llmcatalog.memory.training import _layer_profile, _layer_saved, _plan, _shape
from llmcatalog.values import workload as wl
from strategies import architectures

# Llama-2-7B and Llama-3-8B as their config.json files on the Hub describe them.
LLAMA2_7B = lc.Architecture(
    family="llama", n_layers=32, hidden_size=4096, n_heads=32, ffn_size=11008, vocab_size=32000, max_context=4096
)
LLAMA3_8B = attrs.evolve(LLAMA2_7B, n_kv_heads=8, ffn_size=14336, vocab_size=128256, max_context=8192)
# A 12-head model with 4 KV heads (Qwen2.5-0.5B has 14/2; this shape makes 6 invalid and 12 valid).
GQA_12_4 = lc.Architecture(
    family="custom",
    n_layers=4,
    hidden_size=768,
    n_heads=12,
    n_kv_heads=4,
    ffn_size=2048,
    vocab_size=1000,
    max_context=2048,
)
TINY = lc.Architecture(
    family="custom", n_layers=2, hidden_size=64, n_heads=1, ffn_size=64, vocab_size=256, max_context=1024
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# -- context beyond the model's limit -----------------------------------------------------------
def test_context_past_max_context_warns_with_the_limit(catalog: lc.Catalog) -> None:
    """llama-2-7b with 100,000 tokens: a ContextLengthWarning naming 4096, and the estimate still comes."""
    m = catalog.get_model("llama-2-7b")
    with pytest.warns(lc.ContextLengthWarning, match=r"context_tokens=100000 exceeds llama-2-7b's max_context of 4096"):
        e = lc.estimate_vram(m, lc.Inference(context_tokens=100_000))
    assert e.kv_cache_bytes > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.ContextLengthWarning)
        lc.estimate_vram(m, lc.Inference(context_tokens=4096))  # at the limit: no warning
    with pytest.warns(lc.ContextLengthWarning, match="seq_len=8192 exceeds"):
        lc.estimate_vram(m, lc.FineTune(method="lora", seq_len=8192))


def test_context_warning_mentions_rope_scaling() -> None:
    """When the architecture has rope scaling the warning says so, with its type and factor."""
    scaled = attrs.evolve(LLAMA2_7B, rope_scaling_type="yarn", rope_scaling_factor=4.0)
    with pytest.warns(lc.ContextLengthWarning, match=r"rope scaling \(yarn, factor 4\)"):
        lc.estimate_vram(scaled, lc.Inference(context_tokens=8192))
    with pytest.warns(lc.ContextLengthWarning) as record:
        lc.estimate_vram(LLAMA2_7B, lc.Inference(context_tokens=8192))
    assert "rope scaling" not in str(record[0].message)


def test_learned_positions_cannot_run_past_max_context(catalog: lc.Catalog) -> None:
    """OPT's learned position table has max_context rows: a longer sequence is an error, not a warning."""
    opt = catalog.get_model("opt-6.7b")
    assert opt.architecture is not None
    assert opt.architecture.position_embedding == "learned"
    with pytest.raises(lc.WorkloadError, match=r"learned absolute position embeddings.*context_tokens <= 2048"):
        lc.estimate_vram(opt, lc.Inference(context_tokens=2049))
    with pytest.raises(lc.WorkloadError, match="seq_len <= 2048"):
        lc.estimate_vram(opt, lc.FineTune(method="lora", seq_len=4096))
    lc.estimate_vram(opt, lc.Inference(context_tokens=2048))


def test_absurd_context_is_an_error(catalog: lc.Catalog) -> None:
    """--context 10**12 (638 million GiB before) is refused, naming the field and the bound."""
    with pytest.raises(lc.WorkloadError, match=r"context_tokens is 1000000000000, above the bound .*\(2\*\*32\)"):
        lc.Inference(context_tokens=10**12)
    assert lc.Inference(context_tokens=wl.MAX_TOKENS).context_tokens == 2**32


def test_estimates_above_the_byte_bound_are_refused() -> None:
    """A workload within every field bound whose total would pass 2**60 bytes raises instead."""
    w = lc.Inference(batch_size=wl.MAX_BATCH_SIZE, context_tokens=wl.MAX_TOKENS)
    with pytest.warns(lc.ContextLengthWarning), pytest.raises(lc.WorkloadError, match="2\\*\\*60-byte bound"):
        lc.estimate_vram(LLAMA2_7B, w)
    huge = attrs.evolve(TINY, n_layers=10**18)
    with pytest.raises(lc.NotEstimableError, match="more than 2\\*\\*60"):
        lc.estimate_vram(huge, lc.Inference())


# -- parallel sizes ---------------------------------------------------------------------------
def test_tensor_parallel_must_split_the_heads(catalog: lc.Catalog) -> None:
    """--tp 3 on 32 heads is refused and the valid sizes are listed; --tp 64 too (it said "fits (6%)")."""
    m = catalog.get_model("llama-2-7b")
    with pytest.raises(lc.WorkloadError, match=r"tensor_parallel=3 .* valid sizes: 1, 2, 4, 8, 16, 32$"):
        lc.estimate_vram(m, lc.Inference(parallelism=lc.Parallelism(tensor_parallel=3)))
    with pytest.raises(lc.WorkloadError, match="tensor_parallel=64"):
        lc.fits(m, catalog.get_gpu("T4"), lc.Inference(parallelism=lc.Parallelism(tensor_parallel=64)))
    with pytest.raises(lc.WorkloadError, match="tensor_parallel=3"):
        lc.estimate_vram(m, lc.FineTune(parallelism=lc.Parallelism(tensor_parallel=3)))


def test_tensor_parallel_sizes_follow_vllm() -> None:
    """vLLM: tp divides the query heads; KV heads are split (tp divides them) or replicated (they divide tp)."""
    assert tensor_parallel_sizes(LLAMA2_7B) == (1, 2, 4, 8, 16, 32)
    assert tensor_parallel_sizes(LLAMA3_8B) == (1, 2, 4, 8, 16, 32)  # 16, 32: each KV head on 2, 4 GPUs
    assert tensor_parallel_sizes(GQA_12_4) == (1, 2, 4, 12)  # 3 and 6 neither divide 4 nor are multiples of it
    assert tensor_parallel_sizes(LLAMA2_7B, limit=8) == (1, 2, 4, 8)


def test_pipeline_stages_at_most_layers() -> None:
    """Each pipeline stage needs a layer: pp > n_layers is refused for inference and training."""
    for w in (lc.Inference, lc.FineTune):
        with pytest.raises(lc.WorkloadError, match="pipeline_parallel=33 exceeds the model's 32 layers"):
            lc.estimate_vram(LLAMA2_7B, w(parallelism=lc.Parallelism(pipeline_parallel=33)))


@pytest.mark.filterwarnings("ignore::llmcatalog.CompatibilityWarning")  # default bf16 on a T4: counts, not words
def test_min_gpus_tries_only_valid_tensor_parallel_sizes(catalog: lc.Catalog) -> None:
    """Scaling tp, min_gpus answers a size vLLM can run, and the next smaller valid one does not fit."""
    t4 = catalog.get_gpu("T4")
    w = lc.Inference(parallelism=lc.Parallelism(tensor_parallel=2))
    n = lc.min_gpus(GQA_12_4, t4, attrs.evolve(w, batch_size=320, context_tokens=2048))
    assert n in tensor_parallel_sizes(GQA_12_4)
    assert n is not None
    assert n > 1
    smaller = tensor_parallel_sizes(GQA_12_4)[tensor_parallel_sizes(GQA_12_4).index(n) - 1]
    big = attrs.evolve(w, batch_size=320, context_tokens=2048)
    assert not lc.fits(GQA_12_4, t4, attrs.evolve(big, parallelism=lc.Parallelism(tensor_parallel=smaller)))
    assert lc.fits(GQA_12_4, t4, attrs.evolve(big, parallelism=lc.Parallelism(tensor_parallel=n)))
    with pytest.raises(lc.WorkloadError, match="max_gpus"):
        lc.min_gpus(LLAMA2_7B, t4, lc.Inference(), max_gpus=0)


def _linear_min_gpus(arch: lc.Architecture, gpu: lc.GPU, w: lc.Inference | lc.FineTune, limit: int) -> int | None:
    """The search by trying every count in turn (the definition min_gpus's bisection must match)."""
    for n in range(1, limit + 1):
        if isinstance(w, lc.Inference):
            if n > arch.n_layers:
                return None
            par = lc.Parallelism(pipeline_parallel=n)
        else:
            par = attrs.evolve(w.parallelism, data_parallel=n)
        if lc.fits(arch, gpu, attrs.evolve(w, parallelism=par)):
            return n
    return None


@settings(max_examples=40, deadline=None)
@given(
    arch=architectures(),
    gpu=st.sampled_from(["T4", "RTX 4090", "A100 80GB"]),
    batch=st.integers(1, 64),
    training=st.booleans(),
    stage=st.sampled_from([1, 2, 3]),
)
@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # None is compared, its reason not
@pytest.mark.filterwarnings("ignore::llmcatalog.CompatibilityWarning")  # default bf16 on a T4: counts, not words
def test_min_gpus_bisection_matches_trying_every_count(
    catalog: lc.Catalog, arch: lc.Architecture, gpu: str, batch: int, training: bool, stage: int
) -> None:
    """Memory per GPU never grows with more stages or ranks, so bisection finds the same count."""
    g = catalog.get_gpu(gpu)
    w: lc.Inference | lc.FineTune
    if training:
        w = lc.FineTune(batch_size=batch, seq_len=512, parallelism=lc.Parallelism(zero_stage=stage))
    else:
        w = lc.Inference(batch_size=batch, context_tokens=1024)
    assert lc.min_gpus(arch, g, w, max_gpus=48) == _linear_min_gpus(arch, g, w, 48)


# -- workload fields --------------------------------------------------------------------------
INT_FIELDS = [
    (lc.Inference, "batch_size", wl.MAX_BATCH_SIZE),
    (lc.Inference, "context_tokens", wl.MAX_TOKENS),
    (lc.Inference, "prompt_tokens", wl.MAX_TOKENS),
    (lc.FineTune, "batch_size", wl.MAX_BATCH_SIZE),
    (lc.FineTune, "seq_len", wl.MAX_TOKENS),
    (lc.FineTune, "lora_rank", wl.MAX_LORA_RANK),
    (lc.FineTune, "lora_alpha", wl.MAX_LORA_RANK),
    (lc.FineTune, "prefix_tokens", wl.MAX_PREFIX_TOKENS),
    (lc.FineTune, "trainable_layers", wl.MAX_TRAINABLE_LAYERS),
    (lc.Parallelism, "data_parallel", wl.MAX_PARALLEL),
    (lc.Parallelism, "tensor_parallel", wl.MAX_PARALLEL),
    (lc.Parallelism, "pipeline_parallel", wl.MAX_PARALLEL),
]


@pytest.mark.parametrize(("cls", "field", "bound"), INT_FIELDS, ids=[f"{c.__name__}.{f}" for c, f, _ in INT_FIELDS])
def test_int_fields_take_bounded_ints_only(cls: type, field: str, bound: int) -> None:
    """Floats, bools, strings, 0 and values past the documented bound raise WorkloadError naming the field."""
    extra = {"context_tokens": wl.MAX_TOKENS} if field == "prompt_tokens" else {}
    assert getattr(cls(**{field: bound}, **extra), field) == bound
    for junk in (2.0, True, "8", None if field != "prompt_tokens" else [], 0, -1, bound + 1, 10**310, 10**5000):
        with pytest.raises(lc.WorkloadError, match=field):
            cls(**{field: junk}, **extra)


def test_out_of_bound_messages_name_field_and_bound() -> None:
    """batch_size=10**310 (an OverflowError before) names the field and its bound."""
    with pytest.raises(lc.WorkloadError, match=r"batch_size is an integer of 1030 bits, above the bound of 16,777,216"):
        lc.FineTune(batch_size=10**310)


def test_choices_reject_look_alikes() -> None:
    """zero_stage=True and 1.0 equal 1 in Python, but are not a ZeRO stage; lists are not precisions."""
    for junk in (True, 1.0, "1"):
        with pytest.raises(lc.WorkloadError, match="zero_stage"):
            lc.Parallelism(zero_stage=junk)
    with pytest.raises(lc.WorkloadError, match="precision"):
        lc.Inference(precision=["bf16"])  # type: ignore[arg-type]
    with pytest.raises(lc.WorkloadError, match="lora_dropout"):
        lc.FineTune(lora_dropout=float("nan"))


def test_lora_targets_accept_the_comma_form() -> None:
    """One string is the CLI's comma list, never read letter by letter; junk is refused by name."""
    assert lc.FineTune(lora_targets="q_proj,v_proj").lora_targets == ("q_proj", "v_proj")
    assert lc.FineTune(lora_targets=" q_proj , v_proj ,").lora_targets == ("q_proj", "v_proj")
    assert lc.FineTune(lora_targets="all-linear").lora_targets == ("all-linear",)
    a = lc.estimate_vram(LLAMA2_7B, lc.FineTune(method="lora", lora_targets="q_proj,v_proj"))
    b = lc.estimate_vram(LLAMA2_7B, lc.FineTune(method="lora", lora_targets=("q_proj", "v_proj")))
    assert a == b
    for junk in ("", ",", 5, [1], None):
        with pytest.raises(lc.WorkloadError, match="lora_targets"):
            lc.FineTune(lora_targets=junk)  # type: ignore[arg-type]


def test_huge_layer_counts_cost_no_per_layer_work() -> None:
    """A fine-tune estimate of a 10**12-layer model (a MemoryError before) is computed without
    per-layer work: any per-layer list would exhaust memory (or never finish) here."""
    deep = attrs.evolve(TINY, n_layers=10**12)
    for method in ("full", "freeze", "lora", "qlora", "p-tuning-v2"):
        e = lc.estimate_vram(deep, lc.FineTune(method=method, seq_len=16))
        assert 0 < e.total_bytes <= MAX_ESTIMATE_BYTES


@settings(max_examples=60, deadline=None)
@given(
    arch=architectures(),
    method=st.sampled_from(["full", "freeze", "lora", "qlora", "p-tuning-v2"]),
    k=st.integers(1, 100),
    embeddings=st.booleans(),
    mixed=st.booleans(),
)
def test_layer_runs_add_up_like_single_layers(
    arch: lc.Architecture, method: str, k: int, embeddings: bool, mixed: bool
) -> None:
    """Summing runs of alike layers gives what adding the layers one by one gives."""
    w = _shape(
        lc.FineTune(method=method, trainable_layers=k, train_embeddings=embeddings, mixed_precision=mixed, seq_len=128)
    )
    plan = _plan(arch, w)
    layers = [_layer_saved(arch, w, plan, i) for i in range(arch.n_layers)]
    pt_sum, pt_max, fx_sum, fx_max, _tail = _layer_profile(arch, w)
    assert pt_sum == pytest.approx(sum(pt for pt, _ in layers), rel=1e-12)
    assert fx_sum == pytest.approx(sum(fx for _, fx in layers), rel=1e-12)
    assert pt_max == max(pt for pt, _ in layers)
    assert fx_max == max(fx for _, fx in layers)


# -- the command line -------------------------------------------------------------------------
def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`llmcatalog --version` prints the installed version."""
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"llmcatalog {version('llmcatalog')}"


def test_cli_warns_on_stderr_and_still_estimates(capsys: pytest.CaptureFixture[str]) -> None:
    """--context past the limit: a warning line on stderr, the breakdown on stdout."""
    code, out, err = run(capsys, "estimate", "llama-2-7b", "--context", "100000")
    assert code == 0
    assert "total" in out
    assert err.count("llmcatalog: warning:") == 1
    assert "max_context of 4096" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--context", "1000000000000"], "context_tokens is 1000000000000, above the bound"),
        (["--tp", "3"], "valid sizes: 1, 2, 4, 8, 16, 32"),
        (["--tp", "64", "--gpu", "T4"], "tensor_parallel=64"),
        (["--pp", "33"], "exceeds the model's 32 layers"),
        (["--batch", "1" + "0" * 310], "batch_size is an integer of"),
        (["--finetune", "lora", "--lora-targets", ","], "lora_targets"),
    ],
)
def test_cli_refuses_bad_input_with_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    """Each case of the issue: exit 2 and one `llmcatalog: error:` line naming what to fix."""
    code, out, err = run(capsys, "estimate", "llama-2-7b", *argv)
    assert code == 2
    assert "fits" not in out
    assert err.startswith("llmcatalog: error:")
    assert message in err
