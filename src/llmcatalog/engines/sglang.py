"""SGLang's start-up memory plan (as of SGLang **v0.5.4**): its static share and its token pool.

SGLang keeps a *static* share of the card for the weights and the KV-cache token pool and leaves
the rest to activations, CUDA graphs and the runtime. Per GPU, following
``python/sglang/srt/server_args.py`` (``_handle_gpu_memory_settings``) and
``python/sglang/srt/model_executor/model_runner.py`` (``profile_max_num_token``):

1. ``mem_fraction_static`` when not given: ``(gpu_mem - reserved) / gpu_mem`` rounded to 3 digits,
   with ``gpu_mem`` the card's total in MiB and ``reserved`` (MiB) = 512 (metadata)
   + ``max(chunked_prefill_size, 2048) x 1.5`` (activations) + ``cuda_graph_max_bs x 2`` (CUDA
   graphs) + ``tp x pp / 8 x 1024`` (parallelism), at least 10 GiB on cards above 60 GiB.
   ``chunked_prefill_size`` and ``cuda_graph_max_bs`` default by the card (:data:`GPU_BUCKETS`):
   below 20 GiB 2048 and 8; below 35 GiB 2048 and 24 (80 with ``tp >= 4``); below 60 GiB 4096 and
   32 (160); below 160 GiB 8192 and 256 (512); above, 16384 and 512.
2. ``M0`` = free memory before the weights load (the total less the CUDA context and, with
   tensor parallelism, NCCL). After loading, ``rest = free_after_load - M0 x (1 - fraction)``
   = ``fraction x M0 - weights``.
3. ``max_total_num_tokens = rest // cell_size``, with ``cell_size`` the cache bytes of one token over
   all layers of the rank: ``kv_heads_per_rank x head_dim x layers x 2 x bytes`` (MHA/GQA,
   ``MHATokenToKVPool``) or ``(kv_lora_rank + qk_rope_head_dim) x layers x bytes`` for latent
   attention (``MLATokenToKVPool``); rounded down to whole pages of ``page_size`` tokens.
   It prints "KV Cache is allocated. #tokens: N, K size: X GB, V size: X GB" (its "GB" are GiB).
4. ``max_running_requests`` when not given: ``min(max(tokens / context_len x 512, 2048), 4096)``;
   the request-to-token table then takes ``requests x (context_len + 4) x 4`` bytes.

Sliding-window layers are counted as full layers (SGLang's separate SWA pool, used for a few
models, is not modelled). The per-card defaults changed between releases (before v0.5 the static
share was a fixed 0.79-0.88 by tensor-parallel size); pass ``mem_fraction_static`` to pin it down.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from ..errors import WorkloadError
from ..memory.overhead import CUDA_CONTEXT_BYTES
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.precision import DTYPE_BYTES
from ..values.workload import Inference
from .result import EngineBreakdown, serving_inputs
from .vllm import weights_per_rank

__all__ = [
    "GPU_BUCKETS",
    "SGLANG_KV_DTYPES",
    "SGLANG_VERSION",
    "SGLangEstimate",
    "SGLangSettings",
    "cell_size_bytes",
    "default_mem_fraction_static",
    "estimate_sglang",
]

#: The SGLang release whose defaults and formulas this module follows.
SGLANG_VERSION = "0.5.4"
GIB = 2**30
MIB = 2**20
#: ``--kv-cache-dtype`` values and their bytes per element (``auto``: the model's dtype).
SGLANG_KV_DTYPES: dict[str, float | None] = {"auto": None, "bf16": 2, "fp8_e4m3": 1, "fp8_e5m2": 1}
#: NCCL communicators and buffers created before the weights load, per GPU, with tensor/pipeline parallelism.
NCCL_BYTES = 256 * MIB


def _opt_int(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 2**32:
        raise WorkloadError(f"{attr.name} must be a positive integer, got {value!r}")


def _fraction(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise WorkloadError(f"{attr.name} must be a share of the GPU in (0, 1), got {value!r}")


def _kv_dtype(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value not in SGLANG_KV_DTYPES:
        raise WorkloadError(f"{attr.name}={value!r} is not supported; choose one of {list(SGLANG_KV_DTYPES)}")


@attrs.frozen(kw_only=True)
class SGLangSettings:
    """The ``sglang.launch_server`` options that decide memory (``None``: SGLang's default).

    Tensor and pipeline parallel sizes come from the workload's :class:`~llmcatalog.Parallelism`.
    """

    mem_fraction_static: float | None = attrs.field(default=None, validator=_fraction)
    max_running_requests: int | None = attrs.field(default=None, validator=_opt_int)
    chunked_prefill_size: int | None = attrs.field(default=None, validator=_opt_int)
    context_length: int | None = attrs.field(default=None, validator=_opt_int)
    max_total_tokens: int | None = attrs.field(default=None, validator=_opt_int)
    cuda_graph_max_bs: int | None = attrs.field(default=None, validator=_opt_int)
    kv_cache_dtype: str = attrs.field(default="auto", validator=_kv_dtype)
    page_size: int = attrs.field(default=1, validator=_opt_int)


def default_mem_fraction_static(
    gpu_mem_mib: float, *, chunked_prefill_size: int, cuda_graph_max_bs: int, tp: int = 1, pp: int = 1
) -> float:
    """SGLang's default ``mem_fraction_static`` for a card of ``gpu_mem_mib`` MiB (module docstring, 1)."""
    reserved = 512 + max(chunked_prefill_size, 2048) * 1.5 + cuda_graph_max_bs * 2 + tp * pp / 8 * 1024
    if gpu_mem_mib > 60 * 1024:
        reserved = max(reserved, 10 * 1024)
    return round((gpu_mem_mib - reserved) / gpu_mem_mib, 3)


def cell_size_bytes(
    arch: Architecture, dtype_bytes: float, *, tensor_parallel: int = 1, pipeline_parallel: int = 1
) -> int:
    """Cache bytes of one token over the attention layers of one rank (SGLang's ``cell_size``)."""
    layers = math.ceil(arch.n_attention_layers / pipeline_parallel)
    if arch.is_mla:
        assert arch.kv_lora_rank is not None
        assert arch.qk_rope_head_dim is not None
        return math.ceil((arch.kv_lora_rank + arch.qk_rope_head_dim) * layers * dtype_bytes)
    heads = max(arch.n_kv_heads // tensor_parallel, 1)
    return math.ceil(heads * (arch.head_dim + (arch.v_head_dim or arch.head_dim)) * layers * dtype_bytes)


@attrs.frozen(kw_only=True)
class SGLangEstimate:
    """SGLang's start-up figures for one model on one GPU (per rank; see the module docstring)."""

    version: str
    gpu_name: str
    total_bytes: int
    free_before_load_bytes: int
    weights_bytes: int
    mem_fraction_static: float
    chunked_prefill_size: int
    cuda_graph_max_bs: int
    pool_bytes: int
    cell_size_bytes: int
    max_total_num_tokens: int
    max_running_requests: int
    context_len: int
    req_to_token_bytes: int
    tensor_parallel: int
    pipeline_parallel: int
    error: str | None = None
    assumptions: tuple[str, ...] = ()

    @property
    def kv_cache_bytes(self) -> int:
        """Bytes of the token pool (keys and values): ``max_total_num_tokens x cell_size``."""
        return self.max_total_num_tokens * self.cell_size_bytes

    @property
    def reserved_bytes(self) -> int:
        """What SGLang leaves outside its static share for activations, CUDA graphs and the runtime."""
        return math.ceil(self.free_before_load_bytes * (1 - self.mem_fraction_static))

    def concurrency_for(self, tokens: int) -> float:
        """Requests of ``tokens`` tokens the pool holds at once (before ``max_running_requests``)."""
        return self.max_total_num_tokens / tokens

    def log_lines(self) -> list[str]:
        """The lines SGLang prints at start-up, with these figures (its "GB" are GiB)."""
        avail = (self.free_before_load_bytes - self.weights_bytes) / GIB
        lines = [f"Load weight end. avail mem={avail:.2f} GB, mem usage={self.weights_bytes / GIB:.2f} GB."]
        if self.error is not None:
            return [*lines, f"RuntimeError: {self.error}"]
        half = f"{self.kv_cache_bytes / 2 / GIB:.2f} GB"
        return [
            *lines,
            f"KV Cache is allocated. #tokens: {self.max_total_num_tokens}, K size: {half}, V size: {half}",
            f"max_total_num_tokens={self.max_total_num_tokens}, chunked_prefill_size={self.chunked_prefill_size}, "
            f"max_running_requests={self.max_running_requests}, context_len={self.context_len}",
        ]

    def breakdown(self, request_tokens: int | None = None, batch_size: int = 1) -> EngineBreakdown:
        """This estimate as an :class:`EngineBreakdown`."""
        tokens = request_tokens or self.context_len
        concurrency = min(self.concurrency_for(tokens), self.max_running_requests) if self.error is None else 0.0
        error = self.error
        if error is None and tokens > self.context_len:
            error = f"requests of {tokens:,} tokens exceed context_length={self.context_len:,}"
        elif error is None and concurrency < batch_size:
            error = f"the token pool holds {concurrency:.2f} requests of {tokens:,} tokens, fewer than {batch_size}"
        return EngineBreakdown(
            engine="sglang",
            version=self.version,
            weights_bytes=self.weights_bytes,
            kv_cache_bytes=self.kv_cache_bytes,
            activation_bytes=0,
            other_bytes=self.reserved_bytes,  # the request table and activations live in it
            request_tokens=tokens,
            kv_tokens=self.max_total_num_tokens,
            max_concurrency=concurrency,
            fits=error is None,
            error=error,
            notes=self.assumptions,
            detail=self,
        )


#: (card below this many GiB, chunked_prefill_size, cuda_graph_max_bs with tp < 4, with tp >= 4).
GPU_BUCKETS = ((20, 2048, 8, 8), (35, 2048, 24, 80), (60, 4096, 32, 160), (160, 8192, 256, 512))


def _bucket(gpu_gib: float, tp: int) -> tuple[int, int]:
    """SGLang's default (chunked_prefill_size, cuda_graph_max_bs) for a card of ``gpu_gib`` GiB."""
    for limit, chunked, small, large in GPU_BUCKETS:
        if gpu_gib < limit:
            return chunked, small if tp < 4 else large
    return 16384, 512


def estimate_sglang(
    model: Model | Architecture, gpu: GPU, workload: Inference | None = None, settings: SGLangSettings | None = None
) -> SGLangEstimate:
    """What SGLang (:data:`SGLANG_VERSION`) sets up at start-up for ``model`` on ``gpu``.

    Never raises for "does not fit": ``error`` then holds SGLang's complaint.
    """
    model, arch, extra, name, w, s, weights_note = serving_inputs(
        "SGLang", model, gpu, workload, settings, SGLangSettings
    )
    tp, pp = w.parallelism.tensor_parallel, w.parallelism.pipeline_parallel
    # The defaults follow the card's total as nvidia-smi reports it (SGLang's get_nvgpu_memory_capacity);
    # the pool is a share of what torch sees free (torch.cuda.mem_get_info: GPU.available_bytes).
    smi_total = gpu.usable_memory_bytes or gpu.memory_bytes
    total = gpu.available_bytes
    default_chunked, default_graph_bs = _bucket(smi_total / GIB, tp)
    chunked = s.chunked_prefill_size or default_chunked
    graph_bs = s.cuda_graph_max_bs or default_graph_bs
    fraction = s.mem_fraction_static or default_mem_fraction_static(
        smi_total / MIB, chunked_prefill_size=chunked, cuda_graph_max_bs=graph_bs, tp=tp, pp=pp
    )
    free0 = total - CUDA_CONTEXT_BYTES - (NCCL_BYTES if tp * pp > 1 else 0)
    weights = weights_per_rank(arch, extra, w)
    rest = int(fraction * free0) - weights
    given = SGLANG_KV_DTYPES[s.kv_cache_dtype]
    kv_bytes = given if given is not None else DTYPE_BYTES[w.compute]
    cell = cell_size_bytes(arch, kv_bytes, tensor_parallel=tp, pipeline_parallel=pp)
    context = s.context_length or arch.max_context
    if context > arch.max_context:
        raise WorkloadError(
            f"context_length={context:,} exceeds {name}'s max_position_embeddings ({arch.max_context:,}); SGLang "
            "refuses it unless SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1 is set"
        )
    error = None
    tokens = max(rest, 0) // cell
    if s.max_total_tokens is not None:
        tokens = min(tokens, s.max_total_tokens)
    tokens = tokens // s.page_size * s.page_size
    if tokens <= 0:
        error = (
            f"Not enough memory: the weights ({weights / GIB:.2f} GiB) take the whole static share "
            f"(mem_fraction_static={fraction} of {free0 / GIB:.2f} GiB free). Please try to increase "
            "--mem-fraction-static, a smaller weight format or more tensor-parallel GPUs"
        )
    requests = s.max_running_requests or min(max(int(tokens / context * 512), 2048), 4096)
    req_to_token = requests * (context + 4) * 4
    kv_name = s.kv_cache_dtype if s.kv_cache_dtype != "auto" else f"auto ({w.compute})"
    assumptions = [
        f"engine: SGLang {SGLANG_VERSION}",
        weights_note,
        f"mem_fraction_static {fraction}" + (" (default for this GPU)" if s.mem_fraction_static is None else ""),
        f"chunked_prefill_size {chunked:,}, cuda_graph_max_bs {graph_bs}",
        f"free before loading: {free0 / GIB:.2f} GiB (CUDA context {CUDA_CONTEXT_BYTES / MIB:.0f} MiB"
        + (f", NCCL {NCCL_BYTES / MIB:.0f} MiB" if tp * pp > 1 else "")
        + ")",
        f"KV cache: {kv_name}, {cell:,} bytes per token, page_size {s.page_size}",
    ]
    if tp > 1 or pp > 1:
        assumptions.append(f"tensor_parallel {tp}, pipeline_parallel {pp}: figures per GPU (the most loaded)")
    return SGLangEstimate(
        version=SGLANG_VERSION,
        gpu_name=gpu.name,
        total_bytes=total,
        free_before_load_bytes=free0,
        weights_bytes=weights,
        mem_fraction_static=fraction,
        chunked_prefill_size=chunked,
        cuda_graph_max_bs=graph_bs,
        pool_bytes=rest,
        cell_size_bytes=cell,
        max_total_num_tokens=tokens,
        max_running_requests=requests,
        context_len=context,
        req_to_token_bytes=req_to_token,
        tensor_parallel=tp,
        pipeline_parallel=pp,
        error=error,
        assumptions=tuple(a for a in assumptions if a),
    )
