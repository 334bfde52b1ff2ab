"""estimate_vram for inference: API, errors, and properties of the calculus."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.memory import estimate as _estimate_module
from llmcatalog.memory.estimate import tensor_parallel_sizes
from llmcatalog.memory.kvcache import kv_cache_bytes
from llmcatalog.memory.weights import weight_bytes
from strategies import architectures

# The property tests draw contexts past the random architectures' max_context on purpose (memory
# is still estimated); the warning itself is tested in tests/test_inputs.py.
pytestmark = pytest.mark.filterwarnings("ignore::llmcatalog.ContextLengthWarning")

LLAMA2_7B = lc.Architecture(
    family="llama", n_layers=32, hidden_size=4096, n_heads=32, ffn_size=11008, vocab_size=32000, max_context=4096
)
LLAMA3_8B = lc.Architecture(
    family="llama",
    n_layers=32,
    hidden_size=4096,
    n_heads=32,
    n_kv_heads=8,
    ffn_size=14336,
    vocab_size=128256,
    max_context=8192,
)


def test_public_api_of_the_brief(catalog: lc.Catalog) -> None:
    """The names scripts rely on exist and behave as documented."""
    m = lc.get_model("Llama-2-7b")
    assert m.n_params == 6_738_415_616
    g = lc.get_gpu("RTX 4090")
    assert g.memory_bytes == 24 * 2**30
    assert g.bandwidth_gb_s == 1008
    w = lc.Inference(precision="bf16", batch_size=1, context_tokens=2048)
    e = lc.estimate_vram(m, w)
    parts = (e.weights_bytes, e.kv_cache_bytes, e.activations_bytes, e.overhead_bytes)
    assert all(isinstance(p, int) for p in parts)
    assert e.total_bytes == sum(parts) + e.gradients_bytes + e.optimizer_bytes
    assert e.weights_bytes == 2 * 6_738_415_616
    assert lc.fits(m, g, w)


def test_kv_cache_matches_the_shapes() -> None:
    """KV = layers x 2 x kv_heads x head_dim x tokens x bytes: Llama-3-8B is 131,072 B/token in bf16."""
    assert kv_cache_bytes(LLAMA3_8B, batch_size=1, tokens=1, dtype="bf16") == 131_072
    assert kv_cache_bytes(LLAMA2_7B, batch_size=2, tokens=1024, dtype="fp8") == 2 * 1024 * 32 * 2 * 4096


def test_sliding_window_caps_the_cache() -> None:
    """Layers with a sliding window keep at most the window."""
    mistral = attrs.evolve(LLAMA2_7B, n_kv_heads=8, sliding_window=4096)
    full = kv_cache_bytes(mistral, batch_size=1, tokens=4096, dtype="bf16")
    assert kv_cache_bytes(mistral, batch_size=1, tokens=32768, dtype="bf16") == full


def test_tensor_parallel_replicates_kv_heads() -> None:
    """With more GPUs than KV heads each GPU still holds one head."""
    one = kv_cache_bytes(LLAMA3_8B, batch_size=1, tokens=100, dtype="bf16")
    assert kv_cache_bytes(LLAMA3_8B, batch_size=1, tokens=100, dtype="bf16", tensor_parallel=8) == one // 8
    assert kv_cache_bytes(LLAMA3_8B, batch_size=1, tokens=100, dtype="bf16", tensor_parallel=16) == one // 8


def test_quantized_weights_keep_embeddings_unquantized() -> None:
    """GPTQ/AWQ/bnb quantize only the Linear layers of the blocks; the idealised int4 quantizes all."""
    emb = 2 * 32000 * 4096 * 2  # embeddings + LM head in fp16
    gptq = weight_bytes(LLAMA2_7B, "gptq-int4")
    assert gptq > emb + 6_476_005_376 * 4 / 8  # plus scales and zeros
    assert weight_bytes(LLAMA2_7B, "int4") == 6_738_415_616 // 2
    nf4 = weight_bytes(LLAMA2_7B, "bnb-nf4")  # 4.5 bits: fp32 absmax per 64 weights
    dq = weight_bytes(LLAMA2_7B, "bnb-nf4-dq")  # 4.127 bits (QLoRA paper)
    assert dq < gptq < nf4


def test_inference_workload_validation() -> None:
    """Bad workloads raise WorkloadError naming the parameter."""
    for kw, msg in [
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"batch_size": -1}, "batch_size must be a positive integer"),
        ({"context_tokens": 2.5}, "context_tokens must be a positive integer"),
        ({"precision": "int3"}, "not a known precision"),
        ({"kv_cache_precision": "int4"}, "kv_cache_precision='int4' is not supported"),
        ({"prompt_tokens": 100, "context_tokens": 10}, "cannot exceed context_tokens"),
        ({"attention": "paged"}, "attention='paged'"),
        ({"parallelism": lc.Parallelism(data_parallel=2)}, "data_parallel, ZeRO and FSDP are training settings"),
    ]:
        with pytest.raises(lc.WorkloadError, match=msg):
            lc.Inference(**kw)


def test_not_estimable_models() -> None:
    """No architecture, closed weights, wrong types: clear errors."""
    bare = lc.Model(id="m", name="M", domain="general", sources=["https://example.org"])
    with pytest.raises(lc.NotEstimableError, match="has no architecture"):
        lc.estimate_vram(bare, lc.Inference())
    with pytest.raises(lc.NotEstimableError, match="base model 'llama-7b'"):
        lc.estimate_vram(attrs.evolve(bare, base_model="llama-7b"), lc.Inference())
    with pytest.raises(TypeError):  # the calculus takes values; lc.estimate_vram looks names up (test_clifix.py)
        _estimate_module.estimate_vram("llama-2-7b", lc.Inference())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lc.estimate_vram(42, lc.Inference())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lc.estimate_vram(LLAMA2_7B, "inference")  # type: ignore[arg-type]
    with pytest.raises(lc.WorkloadError, match="group size 128"):
        lc.estimate_vram(
            attrs.evolve(LLAMA2_7B, hidden_size=4000, n_heads=40, n_kv_heads=40, head_dim=100),
            lc.Inference(precision="gptq-int4"),
        )


def test_overhead_is_separate_and_overridable() -> None:
    """Overhead = CUDA context + allocator reserve; zero both to get tensors only."""
    w = lc.Inference()
    e = lc.estimate_vram(LLAMA2_7B, w)
    bare = lc.estimate_vram(LLAMA2_7B, w, cuda_context_bytes=0, allocator_fraction=0)
    assert bare.overhead_bytes == 0
    assert bare.total_bytes == e.tensor_bytes
    assert e.components["overhead.cuda_context"] == 512 * 2**20
    with pytest.raises(lc.WorkloadError):
        lc.estimate_vram(LLAMA2_7B, w, allocator_fraction=2)


def test_pipeline_split_puts_the_most_loaded_stage(catalog: lc.Catalog) -> None:
    """device_map-style splits hold about 1/n of the weights on the most loaded GPU."""
    one = lc.estimate_vram(LLAMA2_7B, lc.Inference())
    four = lc.estimate_vram(LLAMA2_7B, lc.Inference(parallelism=lc.Parallelism(pipeline_parallel=4)))
    assert one.weights_bytes / 4 < four.weights_bytes < one.weights_bytes / 3
    with pytest.raises(lc.WorkloadError, match="exceeds the model's 32 layers"):
        lc.estimate_vram(LLAMA2_7B, lc.Inference(parallelism=lc.Parallelism(pipeline_parallel=64)))


def test_min_gpus(catalog: lc.Catalog) -> None:
    """The fewest GPUs that fit: 70B in bf16 needs two 80 GB cards, 7B one 24 GB card."""
    a100 = catalog.get_gpu("A100 80GB")
    assert lc.min_gpus(catalog.get_model("llama-2-70b"), a100, lc.Inference(context_tokens=1024)) == 2
    assert lc.min_gpus(catalog.get_model("llama-2-7b"), catalog.get_gpu("RTX 4090"), lc.Inference()) == 1
    t4 = catalog.get_gpu("T4")
    with pytest.warns(lc.NoFitWarning, match="max_gpus=2"):  # None says why (tests/test_plan_combos.py)
        assert lc.min_gpus(catalog.get_model("llama-2-70b"), t4, lc.Inference(), max_gpus=2) is None


def test_estimate_as_dict_and_str() -> None:
    """The estimate prints a readable summary and serialises to JSON-friendly types."""
    e = lc.estimate_vram(LLAMA2_7B, lc.Inference())
    d = e.as_dict()
    assert d["total_bytes"] == e.total_bytes
    assert "weights.model" in d["components"]
    assert "GiB" in str(e)


# -- properties -----------------------------------------------------------------------------
pairs = st.tuples(st.integers(1, 64), st.integers(1, 64)).map(sorted)
ctx_pairs = st.tuples(st.integers(1, 32768), st.integers(1, 32768)).map(sorted)


@given(arch=architectures(), b=pairs, ctx=st.integers(1, 8192))
@example(arch=LLAMA2_7B, b=[1, 2], ctx=2048)
def test_monotonic_in_batch(arch: lc.Architecture, b: list[int], ctx: int) -> None:
    """A bigger batch never needs less memory, and the KV cache is linear in batch."""
    small = lc.estimate_vram(arch, lc.Inference(batch_size=b[0], context_tokens=ctx))
    big = lc.estimate_vram(arch, lc.Inference(batch_size=b[1], context_tokens=ctx))
    assert small.total_bytes <= big.total_bytes
    assert abs(big.kv_cache_bytes * b[0] - small.kv_cache_bytes * b[1]) <= b[1]


@given(arch=architectures(), ctx=ctx_pairs, b=st.integers(1, 8))
@example(arch=LLAMA3_8B, ctx=[2048, 8192], b=1)
def test_monotonic_in_context(arch: lc.Architecture, ctx: list[int], b: int) -> None:
    """A longer context never needs less memory."""
    short = lc.estimate_vram(arch, lc.Inference(batch_size=b, context_tokens=ctx[0]))
    long = lc.estimate_vram(arch, lc.Inference(batch_size=b, context_tokens=ctx[1]))
    assert short.total_bytes <= long.total_bytes


@given(arch=architectures(moe=False), layers=st.tuples(st.integers(1, 80), st.integers(1, 80)).map(sorted))
def test_monotonic_in_parameters(arch: lc.Architecture, layers: list[int]) -> None:
    """More layers (more parameters) never need less memory."""
    a, b = (attrs.evolve(arch, n_layers=n) for n in layers)
    assert lc.count_params(a) <= lc.count_params(b)
    assert lc.estimate_vram(a, lc.Inference()).total_bytes <= lc.estimate_vram(b, lc.Inference()).total_bytes


@given(arch=architectures(), b=st.integers(1, 16), ctx=st.integers(1, 8192))
@example(arch=LLAMA2_7B, b=1, ctx=2048)
def test_precision_order(arch: lc.Architecture, b: int, ctx: int) -> None:
    """fp32 >= bf16 >= int8 >= int4, in weights and in total (same compute dtype)."""
    totals = []
    weights = []
    for p in ("fp32", "bf16", "int8", "int4"):
        e = lc.estimate_vram(
            arch,
            lc.Inference(precision=p, compute_dtype="bf16" if p != "fp32" else None, batch_size=b, context_tokens=ctx),
        )
        totals.append(e.total_bytes)
        weights.append(e.weights_bytes)
    assert weights == sorted(weights, reverse=True)
    assert totals == sorted(totals, reverse=True)


@given(arch=architectures(), b=st.integers(1, 16), ctx=st.integers(1, 8192), p=st.sampled_from(sorted(lc.FORMATS)))
def test_total_is_the_sum_of_parts(arch: lc.Architecture, b: int, ctx: int, p: str) -> None:
    """total_bytes is the sum of the six parts; components add up to each part."""
    try:
        e = lc.estimate_vram(arch, lc.Inference(precision=p, batch_size=b, context_tokens=ctx))
    except lc.WorkloadError:
        assume(False)
        return
    assert e.total_bytes == (
        e.weights_bytes
        + e.kv_cache_bytes
        + e.activations_bytes
        + e.gradients_bytes
        + e.optimizer_bytes
        + e.overhead_bytes
    )
    assert sum(e.components.values()) == e.total_bytes


@given(arch=architectures(), b=st.integers(1, 8), ctx=st.integers(2, 4096))
def test_kv_precision_order(arch: lc.Architecture, b: int, ctx: int) -> None:
    """A smaller KV-cache dtype never needs more memory."""
    sizes = [
        lc.estimate_vram(arch, lc.Inference(batch_size=b, context_tokens=ctx, kv_cache_precision=k)).kv_cache_bytes
        for k in ("fp32", "bf16", "fp8")
    ]
    assert sizes == sorted(sizes, reverse=True)


def test_estimate_is_pure() -> None:
    """Same inputs, same answer; inputs are not modified (frozen)."""
    w = lc.Inference(batch_size=3)
    assert lc.estimate_vram(LLAMA2_7B, w) == lc.estimate_vram(LLAMA2_7B, w)


# --- the inference fast path equals the building blocks it precomputes --------------------------

_HF_CONFIG_DIR = __import__("pathlib").Path(__file__).parent / "data" / "hf_configs"


def _real_architectures() -> list[lc.Architecture]:
    import json

    out = []
    for path in sorted(_HF_CONFIG_DIR.glob("*.json")):
        try:
            out.append(lc.architecture_from_hf_config(json.loads(path.read_text())))
        except lc.LLMCatalogError:
            continue
    return out


_REAL = _real_architectures()


def _reference_inference(arch: lc.Architecture, w: lc.Inference) -> tuple[int, int, int, str]:
    """(weights, kv cache, activations, phase) composed from the public building blocks, the way
    ``_estimate_inference`` computed them before it precomputed per-architecture profiles."""
    import math

    from llmcatalog.memory.activations import decode_step_bytes, prefill_bytes
    from llmcatalog.memory.weights import weight_split

    tp, pp = w.parallelism.tensor_parallel, w.parallelism.pipeline_parallel
    compute, kv_dtype = w.compute, w.kv_dtype
    split = weight_split(arch, w.weight_format, compute)
    layers_here = math.ceil(arch.n_layers / pp)
    per_gpu = split.layers / arch.n_layers * layers_here + max(split.embedding, split.head) if pp > 1 else split.total
    per_gpu = math.ceil(per_gpu / tp)
    frac = layers_here / arch.n_layers
    kw = {"dtype": kv_dtype, "tensor_parallel": tp, "state_dtype": compute, "mla_layout": w.mla_cache}
    kv_full = math.ceil(kv_cache_bytes(arch, batch_size=w.batch_size, tokens=w.context_tokens, **kw) * frac)
    p = w.prefill_tokens
    kv_prompt = math.ceil(kv_cache_bytes(arch, batch_size=w.batch_size, tokens=p, new_tokens=p, **kw) * frac)
    pre = prefill_bytes(
        arch, batch_size=w.batch_size, tokens=p, dtype=compute, attention=w.attention, tensor_parallel=tp
    )
    dec = decode_step_bytes(
        arch, batch_size=w.batch_size, context=w.context_tokens, dtype=compute, kv_dtype=kv_dtype, tensor_parallel=tp
    )
    if kv_prompt + pre > kv_full + dec:
        return per_gpu, kv_full, kv_prompt + pre - kv_full, "prefill"
    return per_gpu, kv_full, dec, "decode"


@given(
    arch=st.one_of(architectures(), st.sampled_from(_REAL)),
    batch=st.integers(1, 64),
    context=st.integers(1, 65536),
    prompt=st.one_of(st.none(), st.integers(1, 65536)),
    precision=st.sampled_from(["bf16", "fp16", "fp32", "int8", "bnb-nf4", "gptq-int4"]),
    kv=st.sampled_from([None, "int8", "fp8", "fp32"]),
    attention=st.sampled_from(["sdpa", "eager", "flash"]),
    mla=st.sampled_from(["latent", "expanded"]),
    split=st.sampled_from([(1, 1), (2, 1), (1, 2), (4, 2)]),
)
def test_inference_profile_matches_building_blocks(
    arch: lc.Architecture,
    batch: int,
    context: int,
    prompt: int | None,
    precision: str,
    kv: str | None,
    attention: str,
    mla: str,
    split: tuple[int, int],
) -> None:
    tp, pp = split
    assume(tp in tensor_parallel_sizes(arch))
    assume(pp <= arch.n_layers and (prompt is None or prompt <= context))
    w = lc.Inference(
        precision=precision,
        batch_size=batch,
        context_tokens=context,
        prompt_tokens=prompt,
        kv_cache_precision=kv,
        attention=attention,
        mla_cache=mla,
        parallelism=lc.Parallelism(tensor_parallel=tp, pipeline_parallel=pp),
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.ContextLengthWarning)
        try:
            est = lc.estimate_vram(arch, w)
        except lc.WorkloadError:
            assume(False)
            return
    assert (est.weights_bytes, est.kv_cache_bytes, est.activations_bytes, est.peak_phase) == _reference_inference(
        arch, w
    )


@pytest.mark.parametrize(("model_id", "total"), [("cogvlm-17b", 17e9)])
def test_unsized_vision_parts_come_from_the_published_total(model_id: str, total: float) -> None:
    """A multimodal model whose vision tower is listed without a size is estimated at its published
    total (THUDM's model card: CogVLM 17B), not at its language model alone, and says so."""
    m = lc.get_model(model_id)
    est = lc.estimate_vram(m, lc.Inference(precision="bf16", context_tokens=16))
    assert est.n_params == m.n_params == total
    assert est.weights_bytes >= 2 * total  # bf16: every parameter counted
    assert any("unknown size" in a and "published total" in a for a in est.assumptions)
    lm_only = lc.estimate_vram(m.architecture, lc.Inference(precision="bf16", context_tokens=16))
    assert lm_only.n_params < 0.5 * total


def test_fully_sized_parts_count_every_weight_without_a_published_total() -> None:
    """CogVLM2-Llama3-19B (cog): every part is sized (EVA2-CLIP-E, adapter, visual expert; sources in
    tests/data/multimodal_parts.md), so the estimate counts the catalog's exact 19.50B, the sum of
    its parts, and takes nothing from a rounded total."""
    m = lc.get_model("cogvlm2-llama3-chat-19b")
    est = lc.estimate_vram(m, lc.Inference(precision="bf16", context_tokens=16))
    assert est.n_params == m.n_params == sum(c.n_params or 0 for c in m.components)
    assert est.weights_bytes >= 2 * est.n_params
    assert not any("unknown size" in a for a in est.assumptions)
