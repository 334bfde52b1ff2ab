"""Inference speed: decode tokens/s, prefill throughput, time to first token, the roofline.

One forward pass costs the longer of its memory time and its compute time (the roofline model,
Williams, Waterman & Patterson, CACM 2009), plus the engine's host time (:mod:`.engines`; for
transformers' eager mixture-of-experts blocks also a host cost per expert its Python loop visits):

- **decode** (one new token per sequence): every weight the batch touches is read once per step
  -- all dense weights and the LM head, and for mixture-of-experts layers only the routed
  experts the batch selects: with ``B`` tokens each picking ``k`` of ``E`` experts uniformly,
  ``E * (1 - (1 - k/E)**B)`` distinct experts per layer are expected -- plus the whole KV cache
  of every sequence (:func:`~llmcatalog.memory.kvcache.kv_cache_bytes`). Compute is
  ``2 * N_active`` FLOPs per token for the matmuls (Kaplan et al. 2020, arXiv 2001.08361, table 1)
  plus ``4 * n_heads * head_dim`` per attended position and attention layer (scores and weighted
  values; ``head_dim`` the mean of the query-key and value widths for latent attention): the whole
  context in full layers, at most the window in sliding-window layers.
  Input embeddings are a row gather, not read whole; a tied LM head reads the table.
- **prefill** of ``s`` prompt tokens: ``2 * N_active * s`` FLOPs for the matmuls (the LM head
  only for the last token, as transformers ``logits_to_keep=1`` and vLLM do) plus causal
  attention ``2 * n_heads * head_dim * s**2`` per full attention layer (half of the full
  ``4 s^2 n d``; FlashAttention skips the masked blocks), ``4 n d (s W - W**2/2)`` per
  sliding-window layer; the weights are read once.
- **crossover**: the batch at which a decode step's compute time reaches its memory time
  (arithmetic intensity = the GPU's FLOP/byte ratio); below it decode is bandwidth bound.
- **tensor parallelism** over ``tp`` GPUs splits bytes and FLOPs by ``tp`` and adds two
  all-reduces per layer (Megatron-LM, Shoeybi et al. 2019, arXiv 1909.08053, section 3) of the
  ``tokens x hidden`` activations: ``latency + 2 (tp-1)/tp * size / link`` each (ring all-reduce).
  **Pipeline stages** (``device_map="auto"``) run one after another for one batch: no speed-up.

Compute runs at the tensor throughput of the workload's compute dtype (``bf16_tflops`` for bf16,
``fp16_tflops`` for GPTQ/AWQ, which dequantize to fp16). Prefill (compute bound) raises
:class:`~llmcatalog.MissingGPUFigureError` naming a missing field, unless ``tflops=`` is given.
Decode (bandwidth bound) answers anyway: it takes the other 16-bit figure (fp16 for bf16 and back),
or, with none, leaves compute out -- the step is then memory or host bound, its tokens/s an upper
bound -- and says which in ``assumptions`` (:func:`.hardware.decode_peak_flops`).
"""

from __future__ import annotations

import functools
import math
import warnings

import attrs

from ..errors import NoFitWarning, WorkloadError
from ..memory.estimate import _arch_of, _resolve_format
from ..memory.kvcache import kv_cache_bytes
from ..memory.params import param_breakdown
from ..memory.weights import linear_parts, weight_split
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.precision import DTYPE_BYTES, WeightFormat
from ..values.workload import Inference
from ._fit import warn_if_no_fit
from .engines import TRANSFORMERS_FAST_LAYER_OVERHEAD_S, EngineProfile, engine_profile
from .hardware import bandwidth_bytes_s, decode_peak_flops, interconnect_bytes_s, peak_flops

__all__ = [
    "DecodeSpeed",
    "GenerationTime",
    "PrefillSpeed",
    "decode_speed",
    "decode_speed_span",
    "generation_time",
    "prefill_speed",
    "roofline_crossover_batch",
]


@attrs.frozen(kw_only=True)
class DecodeSpeed:
    """One decode step of ``batch_size`` sequences at ``context_tokens`` tokens each."""

    tokens_per_s: float  # new tokens per second over the whole batch
    tokens_per_s_per_sequence: float
    step_s: float
    # per tensor-parallel GPU, pipeline stages summed (they run one after another for one batch)
    bytes_per_step: float
    flops_per_step: float
    memory_s: float
    compute_s: float  # 0.0 when the GPU has no throughput figure for the dtype (``assumptions`` says so)
    host_s: float
    communication_s: float
    bound: str  # "memory", "compute" or "host"
    batch_size: int
    context_tokens: int
    engine: str
    assumptions: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class PrefillSpeed:
    """The prefill pass of ``batch_size`` prompts of ``prompt_tokens`` tokens each."""

    tokens_per_s: float  # prompt tokens processed per second over the batch
    ttft_s: float  # time to first token
    flops: float  # per tensor-parallel GPU, pipeline stages summed
    memory_s: float
    compute_s: float
    host_s: float
    communication_s: float
    bound: str
    batch_size: int
    prompt_tokens: int
    engine: str
    assumptions: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class GenerationTime:
    """Prefill then ``new_tokens`` decode steps: the end-to-end time of one ``generate()`` call."""

    seconds: float
    ttft_s: float
    decode_s: float
    tokens_per_s: float  # new tokens per second per sequence, prefill included (as speed benchmarks report)
    new_tokens: int
    engine: str


@attrs.frozen
class _Profile:
    dense_bytes: float  # weights read every decode step except routed experts (tied head counted)
    expert_bytes: float  # all routed experts, all layers
    n_experts: int
    top_k: int
    matmul_params: float  # active parameters in matmuls per token, LM head included
    head_params: float  # LM head matmul parameters (vocab x hidden)
    attn_width: float  # n_heads * (qk_head_dim + v_head_dim) / 2: FLOPs per attended pair = 4 * attn_width
    n_full: int  # full-attention layers
    n_sliding: int  # sliding-window layers
    window: int  # their window (0: none)
    n_moe_layers: int = 0  # layers with routed experts

    def decode_pairs(self, ctx: int) -> float:
        """(query, key) pairs one new token attends to, over all attention layers."""
        return self.n_full * ctx + self.n_sliding * min(ctx, self.window or ctx)

    def prefill_pairs(self, s: int) -> float:
        """Causal (query, key) pairs of an ``s``-token prefill, over all attention layers
        (``s**2 / 2`` per full layer; ``s W - W**2 / 2`` per sliding layer once ``s > W``)."""
        w = self.window or s
        sliding = s * s / 2 if s <= w else s * w - w * w / 2
        return self.n_full * s * s / 2 + self.n_sliding * sliding


@functools.lru_cache(maxsize=1024)
def _profile(arch: Architecture, fmt: WeightFormat, compute: str) -> _Profile:
    split = weight_split(arch, fmt, compute)
    pb = param_breakdown(arch)
    rest = DTYPE_BYTES[compute] if fmt.linear_only else fmt.linear_bits / 8
    expert_bytes = 0.0
    expert_params = 0
    for part, shape in linear_parts(arch):
        if part == "experts":
            expert_params += shape.weight_params
            if fmt.linear_only and fmt.quantizes("experts"):
                expert_bytes += fmt.linear_bytes(shape.out_features, shape.in_features) * shape.count
            else:
                expert_bytes += shape.weight_params * rest
    # Embedding rows are gathered, not read; a tied head reads the whole table once per step.
    dense = split.layers + split.head - expert_bytes + (split.embedding if arch.tied_embeddings else 0)
    head = arch.vocab_size * arch.hidden_size
    matmul = pb.active - pb.embedding - pb.position - pb.norms - pb.lm_head + head
    top_k = arch.n_experts_per_token or 0
    return _Profile(
        dense_bytes=float(max(dense, 0)),
        expert_bytes=expert_bytes,
        n_experts=arch.n_experts,
        top_k=top_k,
        matmul_params=float(matmul),
        head_params=float(head),
        attn_width=arch.n_heads * (arch.head_dim + (arch.v_head_dim or arch.head_dim)) / 2,
        n_full=arch.count_layers("full"),
        n_sliding=arch.count_layers("sliding"),
        window=arch.sliding_window or 0,
        n_moe_layers=arch.n_moe_layers if arch.n_experts else 0,
    )


def expected_experts_fraction(n_experts: int, top_k: int, tokens: int) -> float:
    """Expected share of ``n_experts`` routed experts that ``tokens`` tokens touch, each picking
    ``top_k`` uniformly: ``1 - (1 - k/E)**tokens`` (1 for dense models)."""
    if n_experts <= 0 or top_k <= 0:
        return 1.0
    return 1.0 - (1.0 - min(top_k, n_experts) / n_experts) ** tokens


def _setup(
    model: Model | Architecture, gpu: GPU, workload: Inference
) -> tuple[Architecture, Inference, _Profile, int, int]:
    if not isinstance(workload, Inference):
        raise TypeError(f"expected a llmcatalog.Inference workload, got {type(workload).__name__}")
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU, got {type(gpu).__name__}")
    arch, _extra, _name = _arch_of(model)
    w, _note = _resolve_format(model, workload)
    assert isinstance(w, Inference)
    prof = _profile(arch, w.weight_format, w.compute)
    return arch, w, prof, w.parallelism.tensor_parallel, w.parallelism.pipeline_parallel


def _host_s(arch: Architecture, prof: _Profile, eng: EngineProfile, tokens: int) -> float:
    """The engine's host time of one forward pass over ``tokens`` tokens: per layer, plus per expert
    the Python MoE loop visits (every expert, or the expected routed ones; :mod:`.engines`)."""
    host = eng.layer_overhead_s * arch.n_layers
    if eng.expert_overhead_s and prof.n_moe_layers:
        share = 1.0 if eng.expert_loop == "all" else expected_experts_fraction(prof.n_experts, prof.top_k, tokens)
        host += eng.expert_overhead_s * prof.n_moe_layers * prof.n_experts * share
    return host


def _allreduce_s(
    gpu: GPU, tp: int, tokens: int, arch: Architecture, dtype: str, eng: EngineProfile, link: float | None
) -> float:
    if tp == 1:
        return 0.0
    size = tokens * arch.hidden_size * DTYPE_BYTES[dtype]
    per = eng.allreduce_latency_s + 2 * (tp - 1) / tp * size / interconnect_bytes_s(gpu, gb_s=link)
    return 2 * arch.n_layers * per


def _combine(memory_s: float, compute_s: float, host_s: float, comm_s: float, eng: EngineProfile) -> tuple[float, str]:
    gpu_s = max(memory_s, compute_s) + comm_s
    step = max(gpu_s, host_s) if eng.overlap else gpu_s + host_s
    roof = "memory" if memory_s >= compute_s else "compute"
    bound = "host" if eng.overlap and host_s >= gpu_s else roof
    return step, bound


def _generic_profile(engine: str | EngineProfile) -> EngineProfile:
    """The profile of ``engine`` for these transformers-layout formulas, which read the weights in
    ``workload.precision`` (bf16 by default). llama.cpp by name is refused: it runs GGUF quants (Q4_K_M
    by default), whose bytes :func:`llmcatalog.llamacpp_decode_speed` reads; here it would silently
    give a bf16 figure. An :class:`EngineProfile` object passed on purpose is used as given."""
    if isinstance(engine, str) and engine in ("llama.cpp", "ollama"):
        raise WorkloadError(
            f"engine={engine!r}: these formulas read the weights in workload.precision, not the GGUF quant "
            f"{engine} runs (Q4_K_M by default); use llmcatalog.llamacpp_decode_speed(model, gpu, workload, "
            "quant=...) for its decode speed"
        )
    return engine_profile(engine)


def decode_speed(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference,
    *,
    engine: str | EngineProfile = "transformers",
    context_tokens: int | None = None,
    tflops: float | None = None,
    bandwidth_gb_s: float | None = None,
    interconnect_gb_s: float | None = None,
) -> DecodeSpeed:
    """Decode tokens/s of ``workload.batch_size`` sequences holding ``context_tokens`` tokens each
    (default ``workload.context_tokens``, the last and slowest step) on ``gpu`` (see the module
    docstring for the formulas). ``tflops``, ``bandwidth_gb_s`` and ``interconnect_gb_s`` override
    the datasheet. A GPU without the dtype's throughput figure still gets an answer (the fallback
    is named in ``assumptions``); one without ``bandwidth_gb_s`` raises
    :class:`~llmcatalog.MissingGPUFigureError`."""
    arch, w, prof, tp, _pp = _setup(model, gpu, workload)
    eng = _generic_profile(engine)
    ctx = w.context_tokens if context_tokens is None else context_tokens
    if isinstance(ctx, bool) or not isinstance(ctx, int) or ctx < 1:
        raise ValueError(f"'context_tokens' must be a positive integer, got {ctx!r}")
    b = w.batch_size
    warn_if_no_fit(model, gpu, w, "decode speed")
    frac = expected_experts_fraction(prof.n_experts, prof.top_k, b)
    weights = (prof.dense_bytes + prof.expert_bytes * frac) / tp
    kv = kv_cache_bytes(arch, batch_size=b, tokens=ctx, dtype=w.kv_dtype, tensor_parallel=tp, mla_layout=w.mla_cache)
    kv_read = kv * (arch.n_heads / arch.n_kv_heads if eng.kv_per_query_head and not arch.is_mla else 1)
    bytes_step = weights + kv_read
    matmul_flops = 2 * prof.matmul_params * b / tp
    attn_flops = 4 * prof.attn_width * prof.decode_pairs(ctx) * b / tp
    flops = matmul_flops + attn_flops
    bw = bandwidth_bytes_s(gpu, gb_s=bandwidth_gb_s)
    memory_s = weights / (eng.bandwidth_fraction * bw) + kv_read / (
        (eng.kv_bandwidth_fraction or eng.bandwidth_fraction) * bw
    )
    peak, roof_note = decode_peak_flops(gpu, w.compute, tflops=tflops)
    compute_s = (
        0.0
        if peak is None
        else matmul_flops / (eng.compute_fraction * peak)
        + attn_flops / ((eng.attention_fraction or eng.compute_fraction) * peak)
    )
    host_s = _host_s(arch, prof, eng, b)
    comm_s = _allreduce_s(gpu, tp, b, arch, w.compute, eng, interconnect_gb_s)
    step, bound = _combine(memory_s, compute_s, host_s, comm_s, eng)
    assumptions: tuple[str, ...] = (
        f"engine: {eng.name} ({eng.source})",
        f"weights: {w.weight_format.description}; KV cache {w.kv_dtype}",
    )
    if roof_note:
        assumptions += (roof_note,)
    if prof.n_experts:
        assumptions += (f"MoE: {frac:.0%} of routed experts read per step (uniform routing, batch {b})",)
        if eng.expert_overhead_s and prof.n_moe_layers:
            looped = "every expert" if eng.expert_loop == "all" else "the routed experts"
            assumptions += (
                f"MoE under {eng.name}: a Python loop over {looped} of each MoE layer, "
                f"{eng.expert_overhead_s * 1e6:.0f} us of host time per expert",
            )
    return DecodeSpeed(
        tokens_per_s=b / step,
        tokens_per_s_per_sequence=1 / step,
        step_s=step,
        bytes_per_step=bytes_step,
        flops_per_step=flops,
        memory_s=memory_s,
        compute_s=compute_s,
        host_s=host_s,
        communication_s=comm_s,
        bound=bound,
        batch_size=b,
        context_tokens=ctx,
        engine=eng.name,
        assumptions=assumptions,
    )


def decode_speed_span(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference,
    *,
    context_tokens: int | None = None,
) -> tuple[float, float]:
    """(slow, fast) decode tokens/s with transformers: the shipped profile (transformers 4.46's
    1.02 ms per layer; MoE blocks looping over every expert, as 4.x does) and the fast end of what
    is published or known of it (4.51's 0.6 ms per layer, :data:`.engines.TRANSFORMERS_FAST_LAYER_OVERHEAD_S`;
    MoE loops over the routed experts only, as transformers 5's eager experts do). When the step is
    host bound the spread is the honest uncertainty: the host time depends on the transformers
    version and the CPU, not the GPU."""
    base = engine_profile("transformers")
    fast = attrs.evolve(base, layer_overhead_s=TRANSFORMERS_FAST_LAYER_OVERHEAD_S, expert_loop="routed")
    warn_if_no_fit(model, gpu, workload, "decode speed span")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoFitWarning)  # said once above
        slow_d = decode_speed(model, gpu, workload, engine=base, context_tokens=context_tokens)
        fast_d = decode_speed(model, gpu, workload, engine=fast, context_tokens=context_tokens)
    return slow_d.tokens_per_s, fast_d.tokens_per_s


def prefill_speed(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference,
    *,
    engine: str | EngineProfile = "transformers",
    tflops: float | None = None,
    bandwidth_gb_s: float | None = None,
    interconnect_gb_s: float | None = None,
) -> PrefillSpeed:
    """Prefill throughput and time to first token for ``workload.prefill_tokens`` prompt tokens
    per sequence, ``workload.batch_size`` sequences (formulas in the module docstring)."""
    arch, w, prof, tp, _pp = _setup(model, gpu, workload)
    eng = _generic_profile(engine)
    s, b = w.prefill_tokens, w.batch_size
    warn_if_no_fit(model, gpu, w, "prefill speed")
    body = prof.matmul_params - prof.head_params
    matmul_flops = (2 * body * s * b + 2 * prof.head_params * b) / tp
    attn_flops = 4 * prof.attn_width * prof.prefill_pairs(s) * b / tp
    flops = matmul_flops + attn_flops
    weights = (prof.dense_bytes + prof.expert_bytes * expected_experts_fraction(prof.n_experts, prof.top_k, s * b)) / tp
    kv = kv_cache_bytes(
        arch, batch_size=b, tokens=s, dtype=w.kv_dtype, tensor_parallel=tp, new_tokens=s, mla_layout=w.mla_cache
    )
    memory_s = (weights + kv) / (eng.bandwidth_fraction * bandwidth_bytes_s(gpu, gb_s=bandwidth_gb_s))
    peak = peak_flops(gpu, w.compute, tflops=tflops, why="the prefill compute time")
    compute_s = matmul_flops / (eng.compute_fraction * peak) + attn_flops / (
        (eng.attention_fraction or eng.compute_fraction) * peak
    )
    host_s = _host_s(arch, prof, eng, s * b)
    comm_s = _allreduce_s(gpu, tp, s * b, arch, w.compute, eng, interconnect_gb_s)
    ttft, bound = _combine(memory_s, compute_s, host_s, comm_s, eng)
    return PrefillSpeed(
        tokens_per_s=s * b / ttft,
        ttft_s=ttft,
        flops=flops,
        memory_s=memory_s,
        compute_s=compute_s,
        host_s=host_s,
        communication_s=comm_s,
        bound=bound,
        batch_size=b,
        prompt_tokens=s,
        engine=eng.name,
        assumptions=(f"engine: {eng.name} ({eng.source})", f"compute dtype: {w.compute}"),
    )


def generation_time(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference,
    *,
    engine: str | EngineProfile = "transformers",
    tflops: float | None = None,
    bandwidth_gb_s: float | None = None,
    interconnect_gb_s: float | None = None,
) -> GenerationTime:
    """Time of one ``generate()``: the prefill of ``prefill_tokens``, then decoding up to
    ``context_tokens``. The decode step grows linearly with the context, so the steps are summed
    as ``new_tokens`` steps at the midpoint context (exact for a linear cost)."""
    kw = {"engine": engine, "tflops": tflops, "bandwidth_gb_s": bandwidth_gb_s, "interconnect_gb_s": interconnect_gb_s}
    _generic_profile(engine)  # llama.cpp refused before the memory check
    warn_if_no_fit(model, gpu, workload, "generation time")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoFitWarning)  # said once above
        pre = prefill_speed(model, gpu, workload, **kw)  # type: ignore[arg-type]
    new = workload.context_tokens - workload.prefill_tokens
    if new < 1:
        raise ValueError(
            f"nothing to generate: context_tokens ({workload.context_tokens}) must exceed prompt_tokens "
            f"({workload.prefill_tokens}); set prompt_tokens to the prompt and context_tokens to prompt + new tokens"
        )
    mid = workload.prefill_tokens + math.ceil(new / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoFitWarning)
        dec = decode_speed(model, gpu, workload, context_tokens=mid, **kw)  # type: ignore[arg-type]
    decode_s = new * dec.step_s
    total = pre.ttft_s + decode_s
    return GenerationTime(
        seconds=total,
        ttft_s=pre.ttft_s,
        decode_s=decode_s,
        tokens_per_s=new / total,
        new_tokens=new,
        engine=dec.engine,
    )


def roofline_crossover_batch(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference,
    *,
    engine: str | EngineProfile = "transformers",
    tflops: float | None = None,
    bandwidth_gb_s: float | None = None,
) -> float:
    """The decode batch size at which compute time equals memory time (the roofline ridge) for
    sequences of ``workload.context_tokens`` tokens; ``math.inf`` when the KV cache grows as
    fast as the compute (long contexts never leave the memory-bound side)."""
    arch, w, prof, tp, _pp = _setup(model, gpu, workload)
    eng = _generic_profile(engine)
    ctx = w.context_tokens
    bw = eng.bandwidth_fraction * bandwidth_bytes_s(gpu, gb_s=bandwidth_gb_s)
    fl = eng.compute_fraction * peak_flops(gpu, w.compute, tflops=tflops, why="the roofline")
    kv_per_seq = kv_cache_bytes(
        arch, batch_size=1, tokens=ctx, dtype=w.kv_dtype, tensor_parallel=tp, mla_layout=w.mla_cache
    )
    flops_per_seq = (2 * prof.matmul_params + 4 * prof.attn_width * prof.decode_pairs(ctx)) / tp
    # (W + B kv) / bw = B f / fl  ->  B = (W / bw) / (f / fl - kv / bw); MoE: all experts (the upper bound)
    w_bytes = (prof.dense_bytes + prof.expert_bytes) / tp
    denom = flops_per_seq / fl - kv_per_seq / bw
    if denom <= 0:
        return math.inf
    return (w_bytes / bw) / denom
