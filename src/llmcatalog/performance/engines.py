"""Per-engine achieved fractions: how much of the datasheet an inference engine gets.

An :class:`EngineProfile` turns the roofline into a time per forward pass:

``gpu_s = max(memory_s, compute_s) + all-reduce time`` with
``memory_s = weight_bytes / (bandwidth_fraction * B) + kv_bytes / (kv_bandwidth_fraction * B)`` and
``compute_s = matmul_flops / (compute_fraction * F) + attention_flops / (attention_fraction * F)``
``host_s = layer_overhead_s * n_layers + expert_overhead_s * n_moe_layers * looped_experts``
``step_s = max(gpu_s, host_s)`` when the engine launches kernels ahead of the GPU
(``overlap=True``, eager PyTorch), else ``gpu_s + host_s``.

The attention FLOPs (``s**2`` in a prefill) run at ``attention_fraction`` of the tensor
throughput (default: ``compute_fraction``); FlashAttention-2 reaches 50-73% of A100 peak in the
forward pass (Dao 2023, arXiv 2307.08691, section 4.1), below what large matmuls reach.
The KV cache is read at ``kv_bandwidth_fraction`` of the bandwidth (default: ``bandwidth_fraction``);
``kv_per_query_head=True`` says the decode attention reads each key/value head once per query head
of its group (no grouped-query reuse), so ``n_heads / n_kv_heads`` times the cache is read; the
fit chose it for transformers' flash-attention-2 decode path, whose slowdown with long prompts
it matches (a fitted description, not a reading of the kernel).

``expert_overhead_s`` is the host cost of one expert in a mixture-of-experts layer run as a Python
loop (transformers' eager MoE blocks: per expert an index, a few small matmuls and an ``index_add``).
``expert_loop`` says which experts the loop visits: ``"all"`` (transformers 4.x's Qwen2-MoE / Qwen3-MoE /
Mixtral blocks iterate over every expert, routed or not) or ``"routed"`` (only those the batch selects,
as transformers 5's eager ``*Experts`` modules do with ``expert_hit``); serving engines use fused MoE
kernels (``expert_overhead_s = 0``). The 80 us per expert comes from the Qwen3 speed page: Qwen3-30B-A3B
(48 MoE layers x 128 experts) decodes at 1.89 tokens/s in transformers 4.51 on an H20, 0.529 s per
token, of which the dense per-layer overhead is ~0.03-0.05 s: (0.529 - 0.04) / 6,144 = 80 us.

``host_s`` is the per-step cost that does not shrink with a faster GPU: Python and kernel
launches in transformers' eager ``generate()``; scheduling, sampling and detokenising in the
serving engines. The figures of :data:`ENGINE_PROFILES` were fitted on published tables kept in
``tests/data/speed/``: the Qwen2.5 speed benchmark (A100 80GB: transformers, vLLM), the Qwen3 one
(H20: SGLang), both batch 1 with 2,048 new tokens, and TensorRT-LLM's A100 FP16 tables (batch
52-512, first-token latency), as described in ``docs/speed.md`` with held-out errors; other GPUs,
batch sizes and engine versions are extrapolations. ``llama.cpp`` has no published table in the
test data yet: its profile is a placeholder (vLLM's fractions) and says so (``calibrated=False``).
"""

from __future__ import annotations

import types

import attrs

__all__ = ["ENGINE_PROFILES", "TRANSFORMERS_FAST_LAYER_OVERHEAD_S", "EngineProfile", "engine_profile"]


def _fraction(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"'{attr.name}' must be a fraction in (0, 1], got {value!r}")


def _seconds(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"'{attr.name}' must be seconds in [0, 1), got {value!r}")


@attrs.frozen(kw_only=True)
class EngineProfile:
    """What an engine achieves of the GPU's datasheet (see the module docstring)."""

    name: str
    bandwidth_fraction: float = attrs.field(validator=_fraction)
    compute_fraction: float = attrs.field(validator=_fraction)
    layer_overhead_s: float = attrs.field(validator=_seconds)
    overlap: bool = False
    expert_overhead_s: float = attrs.field(default=0.0, validator=_seconds)
    expert_loop: str = attrs.field(default="all", validator=attrs.validators.in_(("all", "routed")))
    kv_bandwidth_fraction: float | None = attrs.field(default=None, validator=attrs.validators.optional(_fraction))
    attention_fraction: float | None = attrs.field(default=None, validator=attrs.validators.optional(_fraction))
    kv_per_query_head: bool = False
    allreduce_latency_s: float = attrs.field(default=20e-6, validator=_seconds)
    calibrated: bool = True
    source: str = ""


#: Fitted profiles (``docs/speed.md``, "Calibration"). ``allreduce_latency_s``: NCCL's small-message
#: all-reduce latency on NVLink/PCIe is of the order of 10-30 us (nccl-tests ``all_reduce_perf`` at
#: 8 bytes); 20 us is used, two all-reduces per layer under tensor parallelism (Megatron-LM).
ENGINE_PROFILES = types.MappingProxyType(
    {
        "transformers": EngineProfile(
            name="transformers",
            bandwidth_fraction=0.7,
            compute_fraction=0.2,
            layer_overhead_s=1.02e-3,
            overlap=True,
            expert_overhead_s=80e-6,
            expert_loop="all",
            kv_bandwidth_fraction=0.15,
            kv_per_query_head=True,
            source="fitted on Qwen2.5 speed benchmark, transformers 4.46 + flash-attn 2, A100 80GB",
        ),
        "vllm": EngineProfile(
            name="vllm",
            bandwidth_fraction=0.8,
            compute_fraction=0.6,
            layer_overhead_s=0.1e-3,
            overlap=False,
            kv_bandwidth_fraction=0.5,
            source="fitted on Qwen2.5 speed benchmark, vLLM 0.6.3 (CUDA graphs), A100 80GB",
        ),
        "sglang": EngineProfile(
            name="sglang",
            bandwidth_fraction=0.6,
            compute_fraction=0.8,
            layer_overhead_s=0.1e-3,
            overlap=False,
            kv_bandwidth_fraction=0.3,
            source="fitted on Qwen3 speed benchmark, SGLang 0.4.6, H20 96GB",
        ),
        "tensorrt-llm": EngineProfile(
            name="tensorrt-llm",
            bandwidth_fraction=0.5,
            compute_fraction=0.7,
            layer_overhead_s=0.1e-3,
            overlap=False,
            kv_bandwidth_fraction=0.9,
            attention_fraction=0.4,
            source="fitted on TensorRT-LLM's A100 FP16 tables (v0.5 / v0.6.1)",
        ),
        "llama.cpp": EngineProfile(
            name="llama.cpp",
            bandwidth_fraction=0.8,
            compute_fraction=0.6,
            layer_overhead_s=0.1e-3,
            overlap=False,
            kv_bandwidth_fraction=0.5,
            calibrated=False,
            source="placeholder: vLLM's fractions; no llama.cpp table calibrated yet",
        ),
    }
)


#: Per-layer host time of transformers' eager decode on the faster of the two published setups:
#: transformers 4.51 on the Qwen3 page's H20 host, dense Qwen3 BF16 rows at a 1-token prompt
#: (0.6B: 58.6 tokens/s over 28 layers, 8B: 45.3 over 36, 32B: 26.2 over 64 -> 0.60-0.61 ms per
#: layer; ``tests/data/speed/qwen3_h20.csv``). The shipped profile's 1.02 ms (transformers 4.46, the
#: Qwen2.5 page's A100 host) is the slower end: host-bound figures lie between the two.
TRANSFORMERS_FAST_LAYER_OVERHEAD_S = 0.6e-3


def engine_profile(engine: str | EngineProfile) -> EngineProfile:
    """The profile named ``engine`` (one of :data:`ENGINE_PROFILES`), or ``engine`` itself."""
    if isinstance(engine, EngineProfile):
        return engine
    if engine not in ENGINE_PROFILES:
        raise ValueError(
            f"engine={engine!r} is not known; choose one of {sorted(ENGINE_PROFILES)} or pass an EngineProfile"
        )
    return ENGINE_PROFILES[engine]
