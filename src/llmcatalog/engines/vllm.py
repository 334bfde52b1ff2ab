"""vLLM's start-up memory plan (V1 engine, as of vLLM **v0.11.0**): what it prints before serving.

vLLM takes a fixed share of the card, profiles one forward pass and gives the rest to a paged KV
cache. Per GPU (worker), following ``vllm/v1/worker/gpu_worker.py`` (``init_device``,
``determine_available_memory``) and ``vllm/v1/core/kv_cache_utils.py``:

1. ``requested = total_memory x gpu_memory_utilization`` (``total_memory`` is the CUDA total,
   ``torch.cuda.mem_get_info()[1]``: :attr:`GPU.available_bytes`). The CUDA context and anything
   else outside the worker's own allocations lie in the other ``1 - utilization``.
2. "Model loading took X GiB": the weights of this rank (tensor parallelism divides them, pipeline
   stages hold their layers plus the embedding or the head): :func:`~llmcatalog.memory.weights.weight_split`,
   plus the rotary table (:func:`rotary_cache_bytes`) and, for MXFP4 experts, the Marlin kernel's
   padding (:func:`mxfp4_marlin_padding_bytes`).
3. The profile run (``GPUModelRunner.profile_run``): a dummy forward pass of
   ``max_num_batched_tokens`` tokens, then the sampler on ``min(max_num_seqs,
   max_num_batched_tokens)`` dummy requests. Its torch peak above the weights is the
   *activation peak*: :func:`forward_peak_bytes` and :func:`sampler_peak_bytes`.
4. ``non_torch_increase``: memory the worker gains outside PyTorch's allocator while profiling
   (cuBLAS workspaces, NCCL and custom all-reduce buffers): :data:`NON_TORCH_BYTES`.
5. "Available KV cache memory: X GiB" = requested - weights - activation peak - non-torch.
6. The KV cache is cut into blocks of ``block_size`` tokens. Each attention layer's page is
   ``block_size x kv_heads_per_rank x head_size x 2 x dtype_bytes`` (``FullAttentionSpec`` /
   ``SlidingWindowSpec``), or ``block_size x (kv_lora_rank + qk_rope_head_dim) x dtype_bytes`` for
   latent attention (``MLAAttentionSpec``: one latent, not split over tensor-parallel ranks).
   Layers with the same kind of page form *groups* of equal size (the hybrid allocator,
   ``_get_kv_cache_groups_uniform_page_size``: the group size is the smallest kind's layer count,
   or the largest when it is within 1.25x, then padded); each of the ``group_size`` tensors holds
   ``num_blocks`` pages: ``num_blocks = available // (page_bytes x group_size)``.
7. "GPU KV cache size: N tokens" = ``num_blocks // n_groups x block_size``; "Maximum concurrency
   for L tokens per request: Cx" = ``num_blocks / blocks one request needs`` with a full-attention
   group needing ``ceil(L / block_size)`` blocks and a sliding-window group
   ``ceil(min(window - 1 + max_num_batched_tokens, L) / block_size) + 1``
   (``get_max_concurrency_for_kv_cache_config``).
8. ``check_enough_kv_cache_memory``: one request of ``max_model_len`` tokens must fit; otherwise
   vLLM refuses to start and suggests the largest ``max_model_len`` that fits (a binary search:
   :func:`vllm_max_model_len`).
9. CUDA graphs are captured *after* the KV cache is allocated, from the memory outside the
   requested share ("Graph capturing finished ..., took X GiB"): :func:`cuda_graph_bytes`.

Defaults (``EngineArgs`` ``get_batch_defaults``, v0.11): on a GPU with at least 70 GiB that is not
an A100, ``max_num_batched_tokens`` is 8192 for ``vllm serve`` (16384 for the ``LLM`` class) and
``max_num_seqs`` 1024; elsewhere 2048 (8192) and 256. ``max_num_seqs`` is capped at
``max_num_batched_tokens``. ``max_model_len`` defaults to the model's ``max_position_embeddings``.
``block_size`` is 16, ``gpu_memory_utilization`` 0.9, ``kv_cache_dtype`` ``"auto"`` (the model
dtype); CUDA graphs are captured for up to 512 (at most ``2 x max_num_seqs``) sequences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import NotEstimableError, WorkloadError
from ..memory.weights import weight_split
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.precision import DTYPE_BYTES, WeightFormat
from ..values.workload import Inference
from .result import EngineBreakdown, serving_inputs

__all__ = [
    "KV_CACHE_DTYPES",
    "NON_TORCH_BYTES",
    "SAMPLER_BYTES_PER_LOGIT",
    "VLLM_VERSION",
    "KVGroup",
    "VLLMEstimate",
    "VLLMSettings",
    "cuda_graph_bytes",
    "estimate_vllm",
    "forward_peak_bytes",
    "kv_groups",
    "mxfp4_marlin_padding_bytes",
    "rotary_cache_bytes",
    "sampler_peak_bytes",
    "tokens_for_kv_bytes",
    "vllm_max_concurrency",
    "vllm_max_model_len",
    "weights_per_rank",
]

#: The vLLM release whose defaults and formulas this module follows.
VLLM_VERSION = "0.11.0"
GIB = 2**30

#: ``--kv-cache-dtype`` values and their bytes per element (``auto``: the model's dtype).
KV_CACHE_DTYPES: Mapping[str, float | None] = {
    "auto": None,
    "bfloat16": 2,
    "float16": 2,
    "fp8": 1,
    "fp8_e4m3": 1,
    "fp8_e5m2": 1,
}
USAGE_CONTEXTS = ("serve", "llm")
#: ``--block-size`` choices.
BLOCK_SIZES = (1, 8, 16, 32, 64, 128, 256)

#: Memory a worker gains outside PyTorch's allocator during the profile run (cuBLAS/cuBLASLt
#: workspaces, kernels loaded lazily), single GPU; with tensor or pipeline parallelism the custom
#: all-reduce and NCCL buffers add :data:`NON_TORCH_PARALLEL_BYTES`. vLLM logs it as
#: ``non_torch_memory``: 0.03-0.35 GiB in the logs of tests/data/engines (README there).
NON_TORCH_BYTES = 192 * 2**20
NON_TORCH_PARALLEL_BYTES = 256 * 2**20

#: Bytes per logit the PyTorch-native sampler holds at its peak on the profile run's dummy batch
#: (``Sampler.forward`` with top-k and top-p set, ``apply_top_k_top_p``): the model-dtype logits (2),
#: their fp32 copy (4), the sorted values (4) and int64 indices (8), the top-k and top-p masks (1 + 1),
#: the sorted probabilities (4) and the scattered result (4).
SAMPLER_BYTES_PER_LOGIT = 28

#: vLLM's fused-MoE kernel works on chunks of at most this many tokens (``VLLM_FUSED_MOE_CHUNK_SIZE``).
FUSED_MOE_CHUNK_TOKENS = 32768


def _pos_int(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise WorkloadError(f"{attr.name} must be a positive integer, got {value!r}")
    if value > 2**32:
        raise WorkloadError(f"{attr.name} is {value:,}, above 2**32: check the value")


def _utilization(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise WorkloadError(f"{attr.name} must be a share of the GPU in (0, 1], got {value!r} (vLLM's default: 0.9)")


def _one_of(choices: tuple[object, ...]) -> Any:
    def check(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, bool) or value not in choices:
            raise WorkloadError(f"{attr.name}={value!r} is not supported; choose one of {list(choices)}")

    return check


def _capture_sizes(value: object) -> object:
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _check_capture(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, tuple) or not value or not all(isinstance(v, int) and v >= 1 for v in value):
        raise WorkloadError(f"{attr.name} must be a non-empty list of positive batch sizes, got {value!r}")


@attrs.frozen(kw_only=True)
class VLLMSettings:
    """The ``vllm serve`` options that decide memory (``None``: vLLM's default for the GPU).

    ``usage_context`` is ``"serve"`` (``vllm serve``, the OpenAI server) or ``"llm"`` (the offline
    ``LLM`` class): their default batch sizes differ. Tensor and pipeline parallel sizes come from the
    workload's :class:`~llmcatalog.Parallelism`; the weight format from its ``precision``.
    """

    gpu_memory_utilization: float = attrs.field(default=0.9, validator=_utilization)
    max_model_len: int | None = attrs.field(default=None, validator=_pos_int)
    max_num_seqs: int | None = attrs.field(default=None, validator=_pos_int)
    max_num_batched_tokens: int | None = attrs.field(default=None, validator=_pos_int)
    block_size: int = attrs.field(default=16, validator=_one_of(BLOCK_SIZES))
    kv_cache_dtype: str = attrs.field(default="auto", validator=_one_of(tuple(KV_CACHE_DTYPES)))
    enforce_eager: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    cudagraph_capture_sizes: tuple[int, ...] | None = attrs.field(
        default=None, converter=_capture_sizes, validator=_check_capture
    )
    usage_context: str = attrs.field(default="serve", validator=_one_of(USAGE_CONTEXTS))


@attrs.frozen(kw_only=True)
class KVGroup:
    """One KV-cache group of vLLM's hybrid allocator: ``n_layers`` layers of one ``kind``
    (``"full"``, ``"sliding"`` or ``"mla"``), each page of ``page_bytes`` (one block, one layer)."""

    kind: str
    n_layers: int
    page_bytes: int
    sliding_window: int | None = None

    def blocks_per_request(self, tokens: int, *, block_size: int, max_num_batched_tokens: int) -> int:
        """Blocks one request of ``tokens`` tokens needs in this group (``max_memory_usage_bytes``)."""
        if self.kind == "sliding":
            assert self.sliding_window is not None
            kept = min(self.sliding_window - 1 + max_num_batched_tokens, tokens)
            return math.ceil(kept / block_size) + 1
        return math.ceil(tokens / block_size)


def _kv_dtype_bytes(settings: VLLMSettings, compute: str) -> float:
    given = KV_CACHE_DTYPES[settings.kv_cache_dtype]
    return given if given is not None else DTYPE_BYTES[compute]


def kv_groups(
    arch: Architecture,
    *,
    block_size: int,
    dtype_bytes: float,
    tensor_parallel: int = 1,
    pipeline_parallel: int = 1,
) -> tuple[KVGroup, ...]:
    """vLLM's KV-cache groups for the layers of the most loaded pipeline stage (module docstring, 6).

    Raises :class:`~llmcatalog.NotEstimableError` for LFM2-style convolution layers, whose state
    vLLM keeps in a separate (mamba-like) pool that is not modelled here.
    """
    if arch.count_layers("conv"):
        raise NotEstimableError(
            f"this {arch.family} architecture has convolution layers: vLLM keeps their state in a separate pool "
            "of fixed-size pages that llmcatalog does not model; estimate it with engine='transformers'"
        )
    share = math.ceil(arch.n_layers / pipeline_parallel) / arch.n_layers
    if arch.is_mla:
        assert arch.kv_lora_rank is not None
        assert arch.qk_rope_head_dim is not None
        page = math.ceil(block_size * (arch.kv_lora_rank + arch.qk_rope_head_dim) * dtype_bytes)
        return (KVGroup(kind="mla", n_layers=math.ceil(arch.n_layers * share), page_bytes=page),)
    heads = max(arch.n_kv_heads // tensor_parallel, 1)
    head_size = arch.head_dim
    page = math.ceil(block_size * heads * head_size * 2 * dtype_bytes)
    counts = {
        "full": math.ceil(arch.count_layers("full") * share),
        "sliding": math.ceil(arch.count_layers("sliding") * share),
    }
    kinds = {k: n for k, n in counts.items() if n}
    if len(kinds) == 1:
        kind, n = next(iter(kinds.items()))
        window = arch.sliding_window if kind == "sliding" else None
        return (KVGroup(kind=kind, n_layers=n, page_bytes=page, sliding_window=window),)
    smallest, largest = min(kinds.values()), max(kinds.values())
    group_size = largest if largest < smallest * 1.25 else smallest
    groups = []
    for kind, n in kinds.items():
        window = arch.sliding_window if kind == "sliding" else None
        for _ in range(math.ceil(n / group_size)):
            groups.append(KVGroup(kind=kind, n_layers=group_size, page_bytes=page, sliding_window=window))
    return tuple(groups)


def _group_size(groups: tuple[KVGroup, ...]) -> int:
    return max(g.n_layers for g in groups)


def _blocks_per_request(groups: tuple[KVGroup, ...], tokens: int, *, block_size: int, batched: int) -> int:
    return sum(g.blocks_per_request(tokens, block_size=block_size, max_num_batched_tokens=batched) for g in groups)


def _needed_bytes(groups: tuple[KVGroup, ...], tokens: int, *, block_size: int, batched: int) -> int:
    """KV bytes one request of ``tokens`` tokens needs over all layers (``max_memory_usage_bytes``)."""
    return sum(
        g.blocks_per_request(tokens, block_size=block_size, max_num_batched_tokens=batched) * g.page_bytes * g.n_layers
        for g in groups
    )


def vllm_max_model_len(
    groups: tuple[KVGroup, ...], available_bytes: int, *, block_size: int, max_num_batched_tokens: int, limit: int
) -> int:
    """The largest request length in ``[1, limit]`` whose KV cache fits ``available_bytes`` (0: none),
    as vLLM's ``estimate_max_model_len`` finds it (binary search over the same per-request need)."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _needed_bytes(groups, mid, block_size=block_size, batched=max_num_batched_tokens) <= available_bytes:
            lo = mid
        else:
            hi = mid - 1
    return lo


def vllm_max_concurrency(
    groups: tuple[KVGroup, ...], num_blocks: int, tokens: int, *, block_size: int, max_num_batched_tokens: int
) -> float:
    """Requests of ``tokens`` tokens the cache holds at once: ``num_blocks / blocks per request``."""
    need = _blocks_per_request(groups, tokens, block_size=block_size, batched=max_num_batched_tokens)
    return num_blocks / need


def forward_peak_bytes(arch: Architecture, tokens: int, *, dtype_bytes: float, tensor_parallel: int = 1) -> int:
    """Peak activation bytes of one forward pass over ``tokens`` tokens, one tensor-parallel rank.

    The widest point of a decoder layer, per token: the hidden state, the residual and the layer's
    output (``3 x hidden``, replicated over ranks) plus the MLP's ``gate_up`` output
    (``2 x ffn / tp``) and its activation (``ffn / tp``). For a mixture-of-experts layer, vLLM's
    fused-MoE kernel holds ``top_k x (max(2 x expert_ffn / tp, hidden) + expert_ffn / tp)`` per token
    (its two intermediate caches, the third a view of the first) for chunks of at most
    :data:`FUSED_MOE_CHUNK_TOKENS` tokens, plus the router logits and any shared experts. Attention
    (``(q + 2 kv) heads x head_dim / tp`` plus its output) is counted when it is wider.
    Matches the profiled peaks of Llama-3.1-8B on vLLM 0.6 (2.07 GiB for 20,000 tokens, 2.99 GiB for
    29,000; tests/data/engines/vllm_logs.csv).
    """
    h = arch.hidden_size
    base = 3 * h
    q = arch.n_heads * arch.head_dim / tensor_parallel
    kv = max(arch.n_kv_heads // tensor_parallel, 1) * arch.head_dim * 2
    attention = tokens * (base + 2 * q + kv)
    dense = tokens * (base + 3 * arch.ffn_size / tensor_parallel) if arch.n_moe_layers < arch.n_layers else 0
    moe = 0.0
    if arch.n_moe_layers:
        assert arch.expert_ffn_size is not None
        assert arch.n_experts_per_token is not None
        fe = arch.expert_ffn_size / tensor_parallel
        chunk = min(tokens, FUSED_MOE_CHUNK_TOKENS)
        shared = 3 * arch.n_shared_experts * (arch.shared_expert_ffn_size or arch.expert_ffn_size) / tensor_parallel
        moe = tokens * (base + arch.n_experts + shared) + chunk * arch.n_experts_per_token * (max(2 * fe, h) + fe)
    return math.ceil(max(attention, dense, moe) * dtype_bytes)


def sampler_peak_bytes(vocab_size: int, requests: int) -> int:
    """Peak bytes of the sampler's dummy run on ``requests`` requests: ``requests x vocab x``
    :data:`SAMPLER_BYTES_PER_LOGIT` (every tensor-parallel rank gathers the full logits)."""
    return requests * vocab_size * SAMPLER_BYTES_PER_LOGIT


def _default_capture_sizes(max_num_seqs: int) -> tuple[int, ...]:
    """vLLM's default CUDA-graph batch sizes: 1, 2, 4, then multiples of 8 up to 256 and of 16 above,
    up to ``min(2 x max_num_seqs, 512)``."""
    top = min(2 * max_num_seqs, 512)
    sizes = [s for s in (1, 2, 4) if s <= top]
    sizes += range(8, min(top, 256) + 1, 8)
    sizes += range(272, top + 1, 16)
    return tuple(sizes)


def cuda_graph_bytes(arch: Architecture, sizes: tuple[int, ...], *, dtype_bytes: float, tensor_parallel: int) -> int:
    """Rough memory of vLLM's captured CUDA graphs: the graphs share one memory pool sized by the largest
    batch's activations (:func:`forward_peak_bytes`), plus about 2 MiB of graph state per captured size
    and layer group. An approximation: vLLM logs the measured figure after capture."""
    if not sizes:
        return 0
    pool = forward_peak_bytes(arch, max(sizes), dtype_bytes=dtype_bytes, tensor_parallel=tensor_parallel)
    return pool + len(sizes) * 2 * 2**20


@attrs.frozen(kw_only=True)
class VLLMEstimate:
    """vLLM's start-up figures for one model on one GPU (per worker; see the module docstring).

    ``available_kv_bytes`` may be negative: vLLM then refuses to start (``error`` says why).
    """

    version: str
    gpu_name: str
    total_bytes: int
    requested_bytes: int
    weights_bytes: int
    forward_peak_bytes: int
    sampler_peak_bytes: int
    activation_peak_bytes: int
    non_torch_bytes: int
    available_kv_bytes: int
    groups: tuple[KVGroup, ...]
    num_blocks: int
    kv_tokens: int
    block_size: int
    max_model_len: int
    max_model_len_auto: bool
    max_num_seqs: int
    max_num_batched_tokens: int
    max_concurrency: float
    cuda_graph_bytes: int
    tensor_parallel: int
    pipeline_parallel: int
    suggested_max_model_len: int | None = None
    error: str | None = None
    assumptions: tuple[str, ...] = ()

    @property
    def kv_cache_bytes(self) -> int:
        """Bytes the KV-cache tensors take: ``num_blocks x page x group_size`` per group tensor."""
        if self.num_blocks <= 0:
            return 0
        return self.num_blocks * self.groups[0].page_bytes * _group_size(self.groups)

    @property
    def fits(self) -> bool:
        """Whether vLLM starts (the cache holds at least one request of ``max_model_len``)."""
        return self.error is None

    def concurrency_for(self, tokens: int) -> float:
        """Requests of ``tokens`` tokens the cache holds at once."""
        if self.num_blocks <= 0:
            return 0.0
        return vllm_max_concurrency(
            self.groups,
            self.num_blocks,
            tokens,
            block_size=self.block_size,
            max_num_batched_tokens=self.max_num_batched_tokens,
        )

    def log_lines(self) -> list[str]:
        """The lines vLLM prints at start-up, with these figures."""
        lines = [
            f"Model loading took {self.weights_bytes / GIB:.4f} GiB",
            f"Available KV cache memory: {self.available_kv_bytes / GIB:.2f} GiB",
        ]
        if self.error is None:
            lines += [
                f"GPU KV cache size: {self.kv_tokens:,} tokens",
                f"Maximum concurrency for {self.max_model_len:,} tokens per request: {self.max_concurrency:.2f}x",
            ]
        else:
            lines.append(f"ValueError: {self.error}")
        return lines

    def breakdown(self, request_tokens: int | None = None, batch_size: int = 1) -> EngineBreakdown:
        """This estimate as an :class:`EngineBreakdown` (what the GPU holds once vLLM has started)."""
        tokens = request_tokens or self.max_model_len
        concurrency = self.concurrency_for(tokens) if self.error is None else 0.0
        error = self.error
        if error is None and tokens > self.max_model_len:
            error = f"requests of {tokens:,} tokens exceed max_model_len={self.max_model_len:,}"
        elif error is None and concurrency < batch_size:
            error = f"the KV cache holds {concurrency:.2f} requests of {tokens:,} tokens, fewer than {batch_size}"
        return EngineBreakdown(
            engine="vllm",
            version=self.version,
            weights_bytes=self.weights_bytes,
            kv_cache_bytes=self.kv_cache_bytes,
            activation_bytes=self.activation_peak_bytes,
            other_bytes=self.non_torch_bytes + (self.cuda_graph_bytes if self.error is None else 0),
            request_tokens=tokens,
            kv_tokens=self.kv_tokens if self.error is None else 0,
            max_concurrency=concurrency,
            fits=error is None,
            error=error,
            notes=self.assumptions,
            detail=self,
        )


def _defaults(gpu: GPU, settings: VLLMSettings) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) as v0.11's ``get_batch_defaults`` picks them."""
    big = gpu.available_bytes >= 70 * GIB and "a100" not in f"{gpu.id} {gpu.name}".lower()
    llm = settings.usage_context == "llm"
    batched = settings.max_num_batched_tokens or ((16384 if llm else 8192) if big else (8192 if llm else 2048))
    seqs = settings.max_num_seqs or min(1024 if big else 256, batched)
    return batched, seqs


def weights_per_rank(arch: Architecture, extra_params: int, w: Inference) -> int:
    """Bytes of weights one GPU loads: its pipeline stage's layers (plus the embeddings or the head,
    whichever is larger) divided over the tensor-parallel ranks, plus the rotary table."""
    split = weight_split(arch, w.weight_format, w.compute)
    tp, pp = w.parallelism.tensor_parallel, w.parallelism.pipeline_parallel
    extra = math.ceil(extra_params * DTYPE_BYTES[w.compute])
    if pp > 1:
        per_layer = split.layers / arch.n_layers
        stage = per_layer * math.ceil(arch.n_layers / pp) + max(split.embedding + extra, split.head)
    else:
        stage = split.total + extra
    stage += mxfp4_marlin_padding_bytes(arch, w.weight_format, tensor_parallel=tp) * tp  # divided again below
    return math.ceil(stage / tp) + rotary_cache_bytes(arch, w.compute)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def mxfp4_marlin_padding_bytes(arch: Architecture, fmt: WeightFormat, *, tensor_parallel: int = 1) -> int:
    """Extra bytes per GPU of MXFP4 mixture-of-experts weights in vLLM's Marlin layout (GPUs without native
    FP4, e.g. Hopper): ``Mxfp4MoEMethod.create_weights`` rounds each rank's expert intermediate size up to a
    multiple of 128 and the hidden size to a multiple of 256 (the Marlin MoE kernel needs ``n % 256 == 0``
    and ``k % 128 == 0``). gpt-oss-120b: 2880 -> 2944 and 3072, 65.97 GiB loaded instead of 60.8
    (tests/data/engines/vllm_logs.csv). 0 for other formats."""
    if fmt.method != "mxfp4" or not fmt.quantizes("experts") or not arch.n_moe_layers:
        return 0
    assert arch.expert_ffn_size is not None
    inter = arch.expert_ffn_size // tensor_parallel
    inter_pad, h, h_pad = _round_up(inter, 128), arch.hidden_size, _round_up(arch.hidden_size, 256)
    padded = fmt.linear_bytes(2 * inter_pad, h_pad) + fmt.linear_bytes(h_pad, inter_pad)
    plain = fmt.linear_bytes(2 * inter, h) + fmt.linear_bytes(h, inter)
    return (padded - plain) * arch.n_experts * arch.n_moe_layers


def rotary_cache_bytes(arch: Architecture, compute: str) -> int:
    """vLLM's rotary-embedding table, loaded with the weights and counted in "Model loading took":
    ``cos_sin_cache`` of ``max_position_embeddings x rotary_dim`` in the model dtype, one shared by all
    layers (``get_rope`` caches its instances). Llama-3.1-8B: 131,072 x 128 x 2 B = 32 MiB, the gap
    between its 14.96 GiB of parameters and the 14.9888 GiB vLLM logs."""
    if arch.position_embedding != "rope":
        return 0
    rotary_dim = arch.qk_rope_head_dim if arch.is_mla and arch.qk_rope_head_dim else arch.head_dim
    return math.ceil(arch.max_context * rotary_dim * DTYPE_BYTES[compute])


def estimate_vllm(
    model: Model | Architecture, gpu: GPU, workload: Inference | None = None, settings: VLLMSettings | None = None
) -> VLLMEstimate:
    """What vLLM (:data:`VLLM_VERSION`, V1 engine) reports at start-up for ``model`` on ``gpu``.

    ``workload`` gives the weight format (``precision``), the compute dtype and the tensor/pipeline
    split; ``settings`` the vLLM options (:class:`VLLMSettings`). Never raises for "does not fit":
    the result's ``error`` holds vLLM's complaint and ``suggested_max_model_len`` its suggestion.
    """
    model, arch, extra, name, w, s, weights_note = serving_inputs("vLLM", model, gpu, workload, settings, VLLMSettings)
    tp, pp = w.parallelism.tensor_parallel, w.parallelism.pipeline_parallel
    e = DTYPE_BYTES[w.compute]
    batched, seqs = _defaults(gpu, s)
    auto_len = s.max_model_len is None
    max_len = arch.max_context if s.max_model_len is None else s.max_model_len
    if max_len > arch.max_context:
        raise WorkloadError(
            f"max_model_len={max_len:,} exceeds {name}'s max_position_embeddings ({arch.max_context:,}); vLLM refuses "
            "it unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 is set: use max_model_len <= "
            f"{arch.max_context:,}"
        )
    total = gpu.available_bytes
    requested = int(total * s.gpu_memory_utilization)
    weights = weights_per_rank(arch, extra, w)
    forward = forward_peak_bytes(arch, batched, dtype_bytes=e, tensor_parallel=tp)
    requests = min(seqs, batched)
    sampler = sampler_peak_bytes(arch.vocab_size, requests)
    hidden_left = math.ceil(batched * arch.hidden_size * e)  # the forward's output, alive while sampling
    activation = max(forward, sampler + hidden_left)
    non_torch = NON_TORCH_BYTES + (NON_TORCH_PARALLEL_BYTES if tp * pp > 1 else 0)
    available = requested - weights - activation - non_torch
    kv_bytes = _kv_dtype_bytes(s, w.compute)
    groups = kv_groups(arch, block_size=s.block_size, dtype_bytes=kv_bytes, tensor_parallel=tp, pipeline_parallel=pp)
    group_size = _group_size(groups)
    page = groups[0].page_bytes
    num_blocks = max(available, 0) // (page * group_size)
    kv_tokens = num_blocks // len(groups) * s.block_size
    if s.enforce_eager:
        sizes: tuple[int, ...] = ()
    else:
        sizes = s.cudagraph_capture_sizes or _default_capture_sizes(seqs)
    graphs = cuda_graph_bytes(arch, sizes, dtype_bytes=e, tensor_parallel=tp)
    error = suggestion = None
    concurrency = 0.0
    if available <= 0:
        error = (
            f"No available memory for the cache blocks: the weights ({weights / GIB:.2f} GiB), the profiled "
            f"activation peak ({activation / GIB:.2f} GiB) and non-torch memory ({non_torch / GIB:.2f} GiB) exceed "
            f"gpu_memory_utilization={s.gpu_memory_utilization} of {total / GIB:.2f} GiB. Try increasing "
            "gpu_memory_utilization, a smaller weight format, or more tensor-parallel GPUs"
        )
    else:
        needed = _needed_bytes(groups, max_len, block_size=s.block_size, batched=batched)
        concurrency = vllm_max_concurrency(
            groups, num_blocks, max_len, block_size=s.block_size, max_num_batched_tokens=batched
        )
        if needed > available:
            suggestion = vllm_max_model_len(
                groups, available, block_size=s.block_size, max_num_batched_tokens=batched, limit=max_len
            )
            error = (
                f"To serve at least one request with the model's max seq len ({max_len}), "
                f"{needed / GIB:.2f} GiB KV cache is needed, which is larger than the available KV cache memory "
                f"({available / GIB:.2f} GiB). Based on the available memory, the estimated maximum model length is "
                f"{suggestion}. Try increasing gpu_memory_utilization or decreasing max_model_len"
                + (" (it defaults to the model's max_position_embeddings)" if auto_len else "")
            )
    kv_name = s.kv_cache_dtype if s.kv_cache_dtype != "auto" else f"auto ({w.compute})"
    assumptions = [
        f"engine: vLLM {VLLM_VERSION} (V1), {'vllm serve' if s.usage_context == 'serve' else 'LLM class'} defaults",
        weights_note,
        f"gpu_memory_utilization {s.gpu_memory_utilization} of {total / GIB:.2f} GiB = {requested / GIB:.2f} GiB",
        f"max_model_len {max_len:,}" + (" (auto: max_position_embeddings)" if auto_len else ""),
        f"max_num_batched_tokens {batched:,}, max_num_seqs {seqs:,}"
        + (" (defaults for this GPU)" if s.max_num_batched_tokens is None or s.max_num_seqs is None else ""),
        f"profile run: forward of {batched:,} tokens peaks at {forward / GIB:.2f} GiB; sampler on {requests:,} "
        f"requests x {arch.vocab_size:,} logits at {sampler / GIB:.2f} GiB",
        f"KV cache: {kv_name}, block_size {s.block_size}, {len(groups)} group(s) of {group_size} layer(s), "
        f"{page * group_size:,} bytes per block",
        f"non-torch memory {non_torch / 2**20:.0f} MiB (assumed)",
        "CUDA graphs: "
        + (
            f"{len(sizes)} sizes, ~{graphs / GIB:.2f} GiB outside the KV budget (approximate)"
            if sizes
            else "none (enforce_eager)"
        ),
    ]
    if tp > 1 or pp > 1:
        assumptions.append(f"tensor_parallel {tp}, pipeline_parallel {pp}: figures per GPU (the most loaded)")
    return VLLMEstimate(
        version=VLLM_VERSION,
        gpu_name=gpu.name,
        total_bytes=total,
        requested_bytes=requested,
        weights_bytes=weights,
        forward_peak_bytes=forward,
        sampler_peak_bytes=sampler,
        activation_peak_bytes=activation,
        non_torch_bytes=non_torch,
        available_kv_bytes=available,
        groups=groups,
        num_blocks=num_blocks,
        kv_tokens=kv_tokens,
        block_size=s.block_size,
        max_model_len=max_len,
        max_model_len_auto=auto_len,
        max_num_seqs=seqs,
        max_num_batched_tokens=batched,
        max_concurrency=concurrency,
        cuda_graph_bytes=graphs,
        tensor_parallel=tp,
        pipeline_parallel=pp,
        suggested_max_model_len=suggestion,
        error=error,
        assumptions=tuple(a for a in assumptions if a),
    )


def tokens_for_kv_bytes(groups: tuple[KVGroup, ...], available_bytes: int, *, block_size: int) -> tuple[int, int]:
    """(number of GPU blocks, "GPU KV cache size" tokens) for ``available_bytes`` of KV memory."""
    blocks = max(available_bytes, 0) // (groups[0].page_bytes * _group_size(groups))
    return blocks, blocks // len(groups) * block_size
