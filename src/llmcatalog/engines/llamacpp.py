"""llama.cpp's memory, buffer by buffer and device by device, as its start-up log prints it.

    >>> est = estimate(model, quant="Q4_K_M", n_ctx=8192, gpu=rtx_3060)      # doctest: +SKIP
    >>> est.gpu_model_bytes, est.gpu_kv_bytes, est.gpu_compute_bytes, est.max_gpu_layers

llama.cpp allocates three kinds of buffer per device (its log: ``CUDA0 model buffer size``,
``CUDA0 KV buffer size``, ``CUDA0 compute buffer size``, and the ``CPU``/``CUDA_Host`` ones):

**Model buffers** (``src/llama-model.cpp`` ``load_tensors``). With ``n_gpu_layers = g`` on one GPU,
the last ``g`` of the ``n_layer`` repeating blocks go to the GPU (``i_gpu_start = n_layer - g``) and
the output layer (``output_norm`` and ``output``) only when ``g > n_layer``; the token embeddings
always stay in host memory ("there is very little benefit to offloading the input layer"). A
model with tied embeddings gets a duplicate of ``token_embd`` as its output matrix on the output
layer's device. Tensor bytes are ggml rows (:mod:`.ggml_types`): exactly the GGUF file's, or, for a
Hugging Face model and a quant type, the types ``llama-quantize`` would choose per tensor.

**KV buffers** (``src/llama-kv-cache.cpp``, ``src/llama-kv-cache-iswa.cpp``). Per attention layer,
``K`` holds ``n_embd_k_gqa = n_head_kv * head_dim`` values per cell in ``type_k`` and ``V`` the same
in ``type_v``; each layer's cache lives on its layer's device (``offload_kqv``). The number of cells
is ``n_ctx`` rounded up to 256 (``llama-context.cpp``, since late 2025); with ``n_parallel``
sequences and a non-unified cache each sequence gets ``ceil256(n_ctx / n_parallel)`` cells. Models
that interleave sliding-window and global layers (Gemma 2/3, Cohere2, gpt-oss) keep only
``ceil256(min(n_ctx_seq, n_swa * n_seq + n_ubatch))`` cells on the sliding layers (``n_seq``
counts the sequences sharing one unified cache); ``swa_full=True`` gives them the full size.
A quantized V cache needs flash attention (llama.cpp refuses otherwise). Multi-head latent
attention (DeepSeek-V2/V3/R1, Kimi-K2: GGUF arch ``deepseek2``) caches per the file's format and
the build: the full per-head K/V of files converted before April 2025, or the compressed latent
(``kv_lora_rank + n_rot`` K values, plus ``kv_lora_rank`` V values in builds before January 2026);
see :mod:`.mla`.

**Compute buffers** (the ``ggml-alloc`` graph reserve for one micro-batch of ``n_ubatch`` tokens,
outputs for every token). The allocator reuses memory, so the buffer is the largest set of live
intermediates, in f32 (4 bytes), with ``T = n_ubatch``, ``n_kv`` cells per sequence stream:

- attention without flash attention: the scores ``n_kv x T x n_head`` plus the mask ``n_kv x T``
  plus four ``n_embd x T`` activations: ``4 T (n_kv (n_head + 1) + 4 n_embd)``;
- attention with flash attention: no score matrix; the f16 mask ``2 n_kv T`` plus the same four
  activations;
- the feed-forward block: gate and up ``2 n_ff x T`` plus two ``n_embd x T``;
- the output layer: logits ``n_vocab x T`` plus the final norm ``n_embd x T``.

The GPU buffer is the largest of these for the parts on the GPU; the host buffer holds the mask and
the input embeddings (``4 T n_embd``) and, when the output layer stays on the CPU, the logits. In a
partial offload (some layers on the GPU, the output layer not) the CUDA backend still runs the
output matmul of a micro-batch of 32 or more tokens on the GPU, from a copy of the output matrix
in the GPU compute buffer: logits plus that matrix (Ollama's partial graph size counts the same
copy; no llama.cpp log pins it here). The
first and last terms are the ones the published logs pin down (Mistral-7B: 164.00 MiB at 2k
context, 2144.00 MiB at 32k; Llama-3-8B with flash attention: 258.50 MiB, all logits); Ollama's
``GraphSize`` uses the same ``4 T (1 + 4 n_embd + n_ctx (1 + n_head))`` for full offload. The
validation table (``tests/data/engines/``) states the errors.

Not modelled: multi-GPU splits (``--tensor-split``), ``--override-tensor`` placements, the copies of
CPU weights the CUDA backend makes to run large batches on the GPU during partial offload (they
can raise the GPU compute buffer then), recurrent caches (Mamba: refused).
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Iterator
from typing import Any

import attrs

from ..errors import ContextLengthWarning, NotEstimableError, WorkloadError, outside_stacklevel
from ..importers.gguf import GGUFCheckpoint, GGUFTensor
from ..values.compat import single_device
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.workload import AS_STORED, Inference
from . import mla as _mla
from .ggml_types import FILE_TYPES, KV_CACHE_TYPES, row_bytes, tensor_type

__all__ = [
    "DEFAULT_RESERVE_BYTES",
    "FILE_TYPES",
    "UNIFIED_SYSTEM_BYTES",
    "LlamaCppEstimate",
    "LlamaCppLayout",
    "estimate",
    "estimate_inference",
    "layout",
    "max_context",
    "max_gpu_layers",
    "quantized_tensors",
    "workload_settings",
]

MIB, GIB = 2**20, 2**30
#: Memory left free on the GPU for the CUDA context, cuBLAS workspaces and the display when judging
#: a fit: an assumption (llama.cpp itself reserves nothing; a CUDA context takes ~300-500 MiB).
DEFAULT_RESERVE_BYTES = 512 * MIB
#: On a machine whose GPU shares the memory with the CPU (Apple silicon), what the operating system
#: and its services keep for themselves when judging whether the GPU and host buffers together fit
#: the machine's memory: an assumption (macOS's kernel, window server and daemons hold a few GiB
#: resident; Apple publishes no figure), on top of ``reserve_bytes``.
UNIFIED_SYSTEM_BYTES = 4 * 2**30
#: The llama.cpp behaviour followed: its builds from November 2025 on (KV cells padded to 256, split
#: caches, ``-fa auto`` by default).
LLAMACPP_VERSION = "b7000+ (Nov 2025)"
#: Largest ``n_ctx`` (KV cells over all sequences) accepted: 64 Mi, far above any real setting (256
#: sequences of 256k tokens; no released model is trained past ~10M tokens). llama.cpp itself takes
#: any ``uint32``; the bound turns a typo (``n_ctx=10**9``: ~137,000 GiB of cache) into an error.
MAX_N_CTX = 2**26
#: What the memory kept free on the GPU stands for, by vendor (the backend llama.cpp runs there).
_RESERVE_FOR = {
    "NVIDIA": "CUDA context",
    "AMD": "ROCm/HIP context",
    "Apple": "Metal: the system and other apps share this memory",
    "Intel": "SYCL/Vulkan context",
}
_PAD_CELLS = 256
_MASK_PAD = 64  # GGML_KQ_MASK_PAD: the mask's token dimension is padded to it
_OP_OFFLOAD_MIN_BATCH = 32  # ggml-cuda: ops on host weights run on the GPU from this batch size
_BLK = re.compile(r"^blk\.(\d+)\.")


@attrs.frozen(kw_only=True)
class LlamaCppLayout:
    """The facts of a model that llama.cpp's buffers depend on: bytes per repeating block, the
    input and output layers, and the attention/KV shapes. Built once per (model, quant)."""

    name: str
    quant: str
    arch: str
    n_layers: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    n_vocab: int
    n_ctx_train: int
    block_bytes: tuple[int, ...]
    token_embd_bytes: int
    output_bytes: int
    tied: bool
    tied_output_bytes: int = 0
    sliding_layers: frozenset[int] = frozenset()
    n_swa: int = 0
    bytes_by_type: tuple[tuple[str, int], ...] = ()
    #: Multi-head latent attention (GGUF arch ``deepseek2``): ``""`` (none), ``"latent"`` (a GGUF with
    #: the ``key_length_mla`` keys: one KV head of ``key_length`` = kv_lora_rank + n_rot and
    #: ``value_length`` = kv_lora_rank) or ``"per-head"`` (a GGUF converted before April 2025:
    #: ``n_head_kv`` heads of ``key_length``/``value_length``); see :mod:`.mla`.
    mla: str = ""
    key_length: int = 0
    value_length: int = 0

    @property
    def model_bytes(self) -> int:
        """All tensors as stored (the duplicate output of tied embeddings not counted)."""
        return sum(self.block_bytes) + self.token_embd_bytes + self.output_bytes - self.tied_output_bytes

    @property
    def n_embd_kv(self) -> int:
        """``n_embd_k_gqa`` (= ``n_embd_v_gqa``): values per cell per layer for K (and for V)."""
        return self.n_head_kv * self.head_dim

    @property
    def n_embd_k(self) -> int:
        """``n_embd_k_gqa``: K values per cell per layer (``key_length`` per KV head when set)."""
        return self.n_head_kv * (self.key_length or self.head_dim)

    @property
    def n_embd_v(self) -> int:
        """``n_embd_v_gqa``: V values per cell per layer (``value_length`` per KV head when set)."""
        return self.n_head_kv * (self.value_length or self.head_dim)


@attrs.frozen(kw_only=True)
class LlamaCppEstimate:
    """llama.cpp's buffers for one setting, per device (bytes), as its start-up log names them.

    ``gpu_*`` are the ``CUDA0`` (or ``Metal``/``ROCm0``) buffers, ``cpu_*`` the host ones (``CPU``,
    ``CPU_Mapped``, ``CUDA_Host``). ``n_gpu_layers`` is the effective count, at most
    ``n_layers + 1`` (the output layer counts as one, as in "offloaded 33/33 layers").
    ``max_gpu_layers`` and ``max_n_ctx`` answer the inverse questions when a GPU is given: the
    most layers, and the longest context (at full offload), that fit its memory less
    ``reserve_bytes``. ``file_bytes`` is the tensor data of the (text) GGUF file, what a download
    page lists: the model buffers add up to more when the embeddings are tied, since the output
    layer on the GPU holds its own copy of ``token_embd`` while the input layer keeps the host one.
    """

    model: str
    quant: str
    n_layers: int
    n_gpu_layers: int
    n_ctx: int
    n_ctx_seq: int
    n_ctx_train: int
    n_parallel: int
    kv_unified: bool
    n_batch: int
    n_ubatch: int
    flash_attn: bool
    type_k: str
    type_v: str
    kv_cells: int
    swa_kv_cells: int | None
    gpu_model_bytes: int
    cpu_model_bytes: int
    gpu_kv_bytes: int
    cpu_kv_bytes: int
    gpu_compute_bytes: int
    cpu_compute_bytes: int
    output_buffer_bytes: int
    gpu: str | None = None
    gpu_vendor: str | None = None
    gpu_capacity_bytes: int | None = None
    reserve_bytes: int = DEFAULT_RESERVE_BYTES
    mmproj_bytes: int = 0
    file_bytes: int = 0
    max_gpu_layers: int | None = None
    max_n_ctx: int | None = None
    notes: tuple[str, ...] = ()
    #: The K and V parts of the KV buffers (all devices), as ``llama_kv_cache`` prints them
    #: ("K (f16): ... MiB, V (f16): ... MiB"); V is 0 for a latent MLA file in current builds.
    k_bytes: int = 0
    v_bytes: int = 0
    #: The machine's memory when the GPU shares it with the CPU (Apple silicon: ``GPU.memory_bytes``),
    #: else None (a discrete GPU: the host's RAM is not known). GPU and host buffers both come out of it.
    unified_memory_bytes: int | None = None

    @property
    def gpu_mmproj_bytes(self) -> int:
        """The multimodal projector file (``mmproj=True``) on the GPU: llama-server offloads it
        whenever layers run on a GPU (``--mmproj-offload``, the default)."""
        return self.mmproj_bytes if self.n_gpu_layers > 0 else 0

    @property
    def gpu_total_bytes(self) -> int:
        """Model + KV + compute buffers on the GPU (+ the mmproj file when asked for)."""
        return self.gpu_model_bytes + self.gpu_kv_bytes + self.gpu_compute_bytes + self.gpu_mmproj_bytes

    @property
    def cpu_total_bytes(self) -> int:
        """Model + KV + compute + output buffers in host memory (+ a CPU-resident mmproj)."""
        mmproj = self.mmproj_bytes - self.gpu_mmproj_bytes
        return self.cpu_model_bytes + self.cpu_kv_bytes + self.cpu_compute_bytes + self.output_buffer_bytes + mmproj

    @property
    def gpu_fits(self) -> bool | None:
        """Whether the GPU buffers fit the GPU less ``reserve_bytes`` (None without a GPU)."""
        if self.gpu_capacity_bytes is None:
            return None
        return self.gpu_total_bytes + self.reserve_bytes <= self.gpu_capacity_bytes

    @property
    def unified_fits(self) -> bool | None:
        """On unified memory (``unified_memory_bytes``), whether the GPU and host buffers together fit
        the machine's memory less ``reserve_bytes`` and :data:`UNIFIED_SYSTEM_BYTES`; None elsewhere."""
        if self.unified_memory_bytes is None:
            return None
        need = self.gpu_total_bytes + self.cpu_total_bytes + self.reserve_bytes + UNIFIED_SYSTEM_BYTES
        return need <= self.unified_memory_bytes

    @property
    def fits(self) -> bool | None:
        """Whether the setting runs: the GPU buffers fit the GPU less ``reserve_bytes`` and, on unified
        memory, the GPU and host buffers fit the machine's memory (:attr:`unified_fits`). None without
        a GPU. On a discrete GPU the host buffers (:attr:`cpu_total_bytes`) need that much host RAM,
        which is not checked (the host is not known)."""
        if self.gpu_fits is None:
            return None
        return self.gpu_fits and self.unified_fits is not False

    @property
    def unified_reason(self) -> str:
        """Why the buffers exceed the unified memory ("" when they do not or it is not unified)."""
        if self.unified_fits is not False:
            return ""
        assert self.unified_memory_bytes is not None
        kept = (self.reserve_bytes + UNIFIED_SYSTEM_BYTES) / GIB
        return (
            f"host buffers {self.cpu_total_bytes / GIB:,.2f} GiB + GPU {self.gpu_total_bytes / GIB:,.2f} GiB exceed"
            f" the machine's {self.unified_memory_bytes / GIB:,.0f} GiB unified memory ({kept:.1f} GiB kept for the"
            " system)"
        )

    def gpu_reason(self) -> str:
        """Why the GPU buffers exceed the GPU's limit ("" when they fit or there is no GPU)."""
        if self.gpu_fits is not False:
            return ""
        assert self.gpu_capacity_bytes is not None
        return (
            f"GPU buffers {self.gpu_total_bytes / GIB:,.2f} GiB + {self.reserve_bytes / GIB:,.2f} GiB kept free exceed"
            f" the GPU's {self.gpu_capacity_bytes / GIB:,.2f} GiB limit"
        )

    def failed_limits(self) -> list[str]:
        """Every limit the buffers exceed, in words: the GPU's (:meth:`gpu_reason`) and, on unified
        memory, the machine's (:attr:`unified_reason`); empty when it fits."""
        return [r for r in (self.gpu_reason(), self.unified_reason) if r]

    def rest_on_cpu(self) -> str:
        """ ", the rest on the CPU, which needs N GiB of host RAM" (of the unified memory on Apple silicon)."""
        where = "of the unified memory" if self.unified_memory_bytes is not None else "of host RAM"
        return f", the rest on the CPU, which needs {self.cpu_total_bytes / GIB:,.2f} GiB {where}"

    @property
    def verdict(self) -> str | None:
        """The answer in words (None without a GPU): with llama.cpp's default ``-ngl`` every layer is on
        the GPU, so "fits" means every layer does; a partial ``-ngl`` says so and what the host needs."""
        if self.fits is None:
            return None
        total = self.n_layers + 1
        if self.unified_fits is False:
            return f"does NOT fit: {'; '.join(self.failed_limits())}"
        if self.fits:
            if self.n_gpu_layers >= total:
                return "fits (every layer on the GPU)"
            ngl = self.n_gpu_layers
            return f"fits with -ngl {ngl} ({ngl} of {total} layers on the GPU{self.rest_on_cpu()})"
        which = "with every layer on the GPU" if self.n_gpu_layers >= total else f"with -ngl {self.n_gpu_layers}"
        if self.max_gpu_layers:
            return f"does NOT fit {which}; -ngl {self.max_gpu_layers} ({self.max_gpu_layers} of {total} layers) fits"
        return f"does NOT fit {which}; not even one layer fits on the GPU"

    @property
    def reserve_reason(self) -> str:
        """What the memory kept free stands for on this GPU's backend (CUDA, ROCm, Metal, ...)."""
        return _RESERVE_FOR.get(self.gpu_vendor or "", "the GPU runtime's context")

    @property
    def offloaded(self) -> str:
        """``"33/33"``: layers on the GPU out of the model's (repeating + output), as llama.cpp logs."""
        return f"{self.n_gpu_layers}/{self.n_layers + 1}"

    def log_lines(self) -> list[str]:
        """The buffer lines llama.cpp prints at start-up (``load_tensors``, ``llama_kv_cache``,
        ``sched_reserve``), with these figures; the device is named by its backend."""
        dev = {"NVIDIA": "CUDA0", "AMD": "ROCm0", "Apple": "Metal"}.get(self.gpu_vendor or "", "CUDA0")
        lines = [f"offloaded {self.offloaded} layers to GPU ({self.quant}, n_ctx {self.n_ctx:,})"]
        rows = (
            ("model", dev, self.gpu_model_bytes),
            ("model", "CPU_Mapped", self.cpu_model_bytes),
            ("KV", dev, self.gpu_kv_bytes),
            ("KV", "CPU", self.cpu_kv_bytes),
            ("compute", dev, self.gpu_compute_bytes),
            ("compute", "CUDA_Host" if dev != "Metal" and self.n_gpu_layers else "CPU", self.cpu_compute_bytes),
            ("output", "CPU", self.output_buffer_bytes),
            ("mmproj", dev if self.gpu_mmproj_bytes else "CPU", self.mmproj_bytes),
        )
        lines += [f"{device} {name} buffer size = {size / MIB:,.2f} MiB" for name, device, size in rows if size]
        if self.k_bytes:
            lines.append(
                f"KV size = {(self.k_bytes + self.v_bytes) / MIB:,.2f} MiB,"
                f" K ({self.type_k}): {self.k_bytes / MIB:,.2f} MiB, V ({self.type_v}): {self.v_bytes / MIB:,.2f} MiB"
            )
        return lines

    def buffers(self) -> Iterator[tuple[str, str, int]]:
        """(buffer, device, bytes) rows in the order of llama.cpp's log."""
        yield "model", "GPU", self.gpu_model_bytes
        yield "model", "CPU", self.cpu_model_bytes
        yield "KV", "GPU", self.gpu_kv_bytes
        yield "KV", "CPU", self.cpu_kv_bytes
        yield "compute", "GPU", self.gpu_compute_bytes
        yield "compute", "CPU", self.cpu_compute_bytes
        yield "output", "CPU", self.output_buffer_bytes
        if self.mmproj_bytes:
            yield "mmproj", "GPU" if self.gpu_mmproj_bytes else "CPU", self.mmproj_bytes


def _pad(n: int, to: int) -> int:
    return -(-n // to) * to


def _layer_of(name: str) -> int:
    m = _BLK.match(name)
    return int(m.group(1)) if m else -1


def _sliding(arch: Architecture) -> frozenset[int]:
    """Layers llama.cpp runs with a sliding window: only interleaved (iSWA) models; an all-sliding
    model (Mistral-7B v0.1) runs full attention in llama.cpp, which has no window for it."""
    kinds = arch.layer_types
    if "sliding" not in kinds or "full" not in kinds:
        return frozenset()
    return frozenset(i for i in range(arch.n_layers) if kinds[i % len(kinds)] == "sliding")


def _check_attention(arch: Architecture, what: str) -> None:
    if arch.count_layers("conv"):
        raise NotEstimableError(f"{what}: convolution/recurrent layers are not modelled for llama.cpp")


def _mxfp4_experts(model: Model) -> bool:
    """Whether the checkpoint stores its MoE experts in MXFP4 (gpt-oss): ``convert_hf_to_gguf.py``
    (``GptOssModel.repack_mxfp4``) then writes those tensors as ggml ``MXFP4`` blocks as they are,
    and ``llama-quantize`` (``src/llama-quant.cpp``, ``llama_model_quantize_impl``) does not turn
    an already-quantized tensor into another type unless ``--allow-requantize`` is given
    ("requantizing from type MXFP4 is disabled"), so every published gpt-oss GGUF, whatever its
    file type, keeps the experts in MXFP4: 17 bytes per 32 weights."""
    wf = model.weight_format
    return wf is not None and wf.method == "mxfp4" and "experts" in wf.quantized_parts


def _hf_tensors(
    arch: Architecture, quant: str, *, mxfp4_experts: bool = False, mla_format: str = "latent"
) -> list[GGUFTensor]:
    """The tensors ``convert_hf_to_gguf.py`` + ``llama-quantize`` write for this architecture (names
    as llama.cpp's ``LLM_TENSOR_*``, shapes in ggml order: input dimension first). With
    ``mxfp4_experts`` the MoE expert tensors stay ``MXFP4`` whatever ``quant`` is (:func:`_mxfp4_experts`);
    an MLA architecture's attention is written in ``mla_format`` (:mod:`.mla`)."""
    h, hd, L = arch.hidden_size, arch.head_dim, arch.n_layers
    q_out, kv_out = arch.n_heads * hd, arch.n_kv_heads * hd
    fam = arch.family
    is_70b = fam == "llama" and L == 80 and arch.n_kv_heads != arch.n_heads
    ctx = {
        "n_layers": L,
        "n_experts": arch.n_experts,
        "gqa": arch.kv_groups,
        "arch": fam,
        "is_70b": is_70b,
        "tied": arch.tied_embeddings,
    }
    out: list[GGUFTensor] = []

    def add(name: str, *shape: int, layer: int = -1) -> None:
        if mxfp4_experts and "_exps." in name and name.endswith("weight"):
            t = "MXFP4"
        else:
            t = tensor_type(name, shape, quant, layer=layer, **ctx)  # type: ignore[arg-type]
        n = 1
        for d in shape:
            n *= d
        out.append(GGUFTensor(name=name, shape=shape, type_name=t, offset=0, nbytes=row_bytes(t, n)))

    add("token_embd.weight", h, arch.vocab_size)
    norm_bias = arch.norm == "layernorm"
    for i in range(L):
        p = f"blk.{i}."
        for k in range(arch.norms_per_layer):
            add(f"{p}norm_{k}_norm.weight", h, layer=i)
            if norm_bias:
                add(f"{p}norm_{k}_norm.bias", h, layer=i)
        if arch.is_mla:
            for name, shape in _mla.attention_tensors(arch, i, mla_format):
                add(name, *shape, layer=i)
        else:
            add(f"{p}attn_q.weight", h, q_out, layer=i)
            add(f"{p}attn_k.weight", h, kv_out, layer=i)
            add(f"{p}attn_v.weight", h, kv_out, layer=i)
            add(f"{p}attn_output.weight", q_out, h, layer=i)
            if arch.qkv_bias:
                add(f"{p}attn_q.bias", q_out, layer=i)
                add(f"{p}attn_k.bias", kv_out, layer=i)
                add(f"{p}attn_v.bias", kv_out, layer=i)
            if arch.attn_out_bias:
                add(f"{p}attn_output.bias", h, layer=i)
            if arch.qk_norm == "head":
                add(f"{p}attn_q_norm.weight", hd, layer=i)
                add(f"{p}attn_k_norm.weight", hd, layer=i)
            elif arch.qk_norm == "full":
                add(f"{p}attn_q_norm.weight", q_out, layer=i)
                add(f"{p}attn_k_norm.weight", kv_out, layer=i)
            if arch.attn_sinks:
                add(f"{p}attn_sinks.weight", arch.n_heads, layer=i)
        if arch.is_moe_layer(i):
            e, eff = arch.n_experts, arch.expert_ffn_size or arch.ffn_size
            add(f"{p}ffn_gate_inp.weight", h, e, layer=i)
            if arch.router_bias:
                add(f"{p}ffn_gate_inp.bias", e, layer=i)
            if arch.mlp == "gated":
                add(f"{p}ffn_gate_exps.weight", h, eff, e, layer=i)
            add(f"{p}ffn_up_exps.weight", h, eff, e, layer=i)
            add(f"{p}ffn_down_exps.weight", eff, h, e, layer=i)
            if arch.n_shared_experts:
                sff = (arch.shared_expert_ffn_size or eff) * arch.n_shared_experts
                if arch.mlp == "gated":
                    add(f"{p}ffn_gate_shexp.weight", h, sff, layer=i)
                add(f"{p}ffn_up_shexp.weight", h, sff, layer=i)
                add(f"{p}ffn_down_shexp.weight", sff, h, layer=i)
                if arch.shared_expert_gate:
                    add(f"{p}ffn_gate_inp_shexp.weight", h, layer=i)
        else:
            if arch.mlp == "gated":
                add(f"{p}ffn_gate.weight", h, arch.ffn_size, layer=i)
            add(f"{p}ffn_up.weight", h, arch.ffn_size, layer=i)
            add(f"{p}ffn_down.weight", arch.ffn_size, h, layer=i)
            if arch.mlp_bias:
                add(f"{p}ffn_up.bias", arch.ffn_size, layer=i)
                add(f"{p}ffn_down.bias", h, layer=i)
    add("output_norm.weight", h)
    if norm_bias:
        add("output_norm.bias", h)
    if not arch.tied_embeddings:
        add("output.weight", h, arch.vocab_size)
    if arch.lm_head_bias:
        add("output.bias", arch.vocab_size)
    return out


def _from_tensors(
    name: str,
    quant: str,
    arch: Architecture,
    tensors: list[GGUFTensor] | tuple[GGUFTensor, ...],
    mla_format: str = "latent",
) -> LlamaCppLayout:
    blocks = [0] * arch.n_layers
    token = output = 0
    by_type: dict[str, int] = {}
    names = set()
    for t in tensors:
        names.add(t.name)
        by_type[t.type_name] = by_type.get(t.type_name, 0) + t.nbytes
        layer = _layer_of(t.name)
        if 0 <= layer < arch.n_layers:
            blocks[layer] += t.nbytes
        elif t.name.startswith(("token_embd", "position_embd", "token_types")) or layer >= 0:
            token += t.nbytes  # input layer (and any extra block, e.g. a next-token-prediction head)
        else:
            output += t.nbytes
    tied = "output.weight" not in names
    token_embd = next((t for t in tensors if t.name == "token_embd.weight"), None)
    dup = token_embd.nbytes if tied and token_embd is not None else 0
    output += dup  # the output layer's duplicate of token_embd (TENSOR_DUPLICATED)
    mla: dict[str, Any] = {}
    n_head_kv = arch.n_kv_heads
    if arch.is_mla:  # llama.cpp runs every MLA model as its deepseek2 architecture
        n_head_kv, key_length, value_length = _mla.kv_heads(arch, mla_format)
        mla = {"arch": "deepseek2", "mla": mla_format, "key_length": key_length, "value_length": value_length}
    return LlamaCppLayout(
        name=name,
        quant=quant,
        arch=mla.pop("arch", arch.family),
        n_layers=arch.n_layers,
        n_embd=arch.hidden_size,
        n_head=arch.n_heads,
        n_head_kv=n_head_kv,
        head_dim=arch.head_dim,
        n_ff=max(
            arch.ffn_size if arch.n_moe_layers < arch.n_layers else 0,
            (arch.expert_ffn_size or 0) * (arch.n_experts_per_token or 0),
        ),
        n_vocab=arch.vocab_size,
        n_ctx_train=arch.max_context,
        block_bytes=tuple(blocks),
        token_embd_bytes=token,
        output_bytes=output,
        tied=tied,
        tied_output_bytes=dup,
        sliding_layers=_sliding(arch),
        n_swa=arch.sliding_window or 0,
        bytes_by_type=tuple(sorted(by_type.items())),
        **mla,
    )


@functools.lru_cache(maxsize=256)
def _layout_hf(model: Model, quant: str, mla_format: str = "latent") -> LlamaCppLayout:
    arch = model.architecture
    if arch is None:
        raise NotEstimableError(f"{model.id}: no architecture known; llama.cpp's buffers cannot be estimated")
    _check_attention(arch, model.id)
    tensors = _hf_tensors(arch, quant, mxfp4_experts=_mxfp4_experts(model), mla_format=mla_format)
    return _from_tensors(model.name, quant, arch, tensors, mla_format)


def quantized_tensors(model: Model, quant: str = "Q4_K_M", *, mla_format: str = "latent") -> tuple[GGUFTensor, ...]:
    """The tensors a GGUF file of ``model`` in ``quant`` holds: llama.cpp names, shapes (ggml
    order), the ggml type ``llama-quantize`` chooses for each, and bytes (``offset`` is 0). An MLA
    model's attention is written in ``mla_format`` (:mod:`llmcatalog.engines.mla`)."""
    arch = model.architecture
    if arch is None:
        raise NotEstimableError(f"{model.id}: no architecture known")
    _check_attention(arch, model.id)
    q = quant.upper()
    if q not in FILE_TYPES:
        raise WorkloadError(f"quant must be one of {', '.join(FILE_TYPES)}; got {quant!r}")
    fmt = _mla.check_format(mla_format)
    return tuple(_hf_tensors(arch, q, mxfp4_experts=_mxfp4_experts(model), mla_format=fmt))


def layout(model: Model | GGUFCheckpoint, quant: str | None = None, *, mla_format: str | None = None) -> LlamaCppLayout:
    """The :class:`LlamaCppLayout` of a GGUF file (its tensors as stored; ``quant`` must then be
    None or its file type) or of a model converted and quantized to ``quant`` (default Q4_K_M).

    ``mla_format`` (multi-head latent attention models only, :mod:`llmcatalog.engines.mla`): how
    the GGUF stores the attention, ``"latent"`` (converted since April 2025; the default for a
    Hugging Face model) or ``"per-head"`` (older files); a GGUF file states its own."""
    if mla_format is not None:
        _mla.check_format(mla_format)
    if isinstance(model, GGUFCheckpoint):
        if model.architecture is None and _mla_gguf_arch(model) is not None:
            return _layout_gguf_mla(model, mla_format)
        arch = model.architecture
        if arch is None:
            raise NotEstimableError(f"{model.path}: {'; '.join(model.notes) or 'architecture unknown'}")
        _check_attention(arch, model.path)
        stored = _file_type(model)
        if quant is not None and quant.upper() != stored:
            raise WorkloadError(
                f"quant={quant!r} does not apply to a GGUF file (stored as {stored}); leave quant out"
                " or pass the Hugging Face model to estimate another quantization"
            )
        return _from_tensors(model.model.name, stored, arch, model.tensors)
    if not isinstance(model, Model):
        raise TypeError(f"model must be a Model or a GGUFCheckpoint, got {type(model).__name__}")
    q = (quant or "Q4_K_M").upper()
    if q not in FILE_TYPES:
        raise WorkloadError(f"quant must be one of {', '.join(FILE_TYPES)}; got {quant!r}")
    return _layout_hf(model, q, mla_format or "latent")


def _mla_gguf_arch(g: GGUFCheckpoint) -> str | None:
    """The GGUF architecture name of an MLA file (one with ``<arch>.attention.kv_lora_rank``), else None."""
    arch = g.metadata.get("general.architecture")
    if isinstance(arch, str) and f"{arch}.attention.kv_lora_rank" in g.metadata:
        return arch
    return None


def _layout_gguf_mla(g: GGUFCheckpoint, mla_format: str | None) -> LlamaCppLayout:
    """The layout of an MLA GGUF file (the importer leaves its architecture unknown): the shapes
    from its ``deepseek2.*`` keys, ``"latent"`` when both ``attention.key_length_mla`` and
    ``value_length_mla`` are set (as ``llama_hparams::is_mla``), ``"per-head"`` otherwise."""
    arch_name = _mla_gguf_arch(g)
    meta = g.metadata

    def key(name: str, default: int | None = None) -> int:
        value = meta.get(f"{arch_name}.{name}", default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise NotEstimableError(f"{g.path}: {arch_name}.{name} is missing or not one integer ({value!r})")
        return value

    stored = "latent" if key("attention.key_length_mla", 0) and key("attention.value_length_mla", 0) else "per-head"
    if mla_format is not None and mla_format != stored:
        raise WorkloadError(
            f"mla_format={mla_format!r} does not apply to a GGUF file (it stores the {stored!r} format); leave it out"
        )
    n_head = key("attention.head_count")
    n_layers = key("block_count")
    if stored == "latent":
        k_head, v_head = key("attention.key_length_mla"), key("attention.value_length_mla")
    else:
        k_head, v_head = key("attention.key_length"), key("attention.value_length")
    n_expert = key("expert_count", 0)
    vocab = meta.get(f"{arch_name}.vocab_size") or meta.get("tokenizer.ggml.tokens")
    q_lora = key("attention.q_lora_rank", 0)
    arch = Architecture(
        family="deepseek2",
        n_layers=n_layers,
        hidden_size=key("embedding_length"),
        n_heads=n_head,
        n_kv_heads=n_head,
        head_dim=k_head,
        ffn_size=key("feed_forward_length"),
        vocab_size=vocab if isinstance(vocab, int) else 1,
        max_context=key("context_length"),
        q_lora_rank=q_lora or None,
        kv_lora_rank=key("attention.kv_lora_rank"),
        qk_rope_head_dim=key("rope.dimension_count"),
        v_head_dim=v_head,
        n_experts=n_expert,
        n_experts_per_token=key("expert_used_count") if n_expert else None,
        expert_ffn_size=key("expert_feed_forward_length", 0) or None,
        n_shared_experts=key("expert_shared_count", 0),
        n_dense_layers=min(key("leading_dense_block_count", 0), n_layers) if n_expert else 0,
    )
    return _from_tensors(g.model.name, _file_type(g), arch, g.tensors, stored)


#: ``general.file_type`` values (llama.h ``llama_ftype``) to names.
_FTYPE_IDS = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    25: "IQ4_NL",
    30: "IQ4_XS",
    32: "BF16",
}


def _file_type(g: GGUFCheckpoint) -> str:
    ft = g.metadata.get("general.file_type")
    if isinstance(ft, int) and ft in _FTYPE_IDS:
        return _FTYPE_IDS[ft]
    return "GGUF" if not isinstance(ft, int) else f"ftype {ft}"


def _kv_type(value: str, field: str) -> str:
    v = str(value).lower()
    if v not in KV_CACHE_TYPES:
        raise WorkloadError(f"{field} must be one of {', '.join(KV_CACHE_TYPES)}; got {value!r}")
    return v


def _positive(value: object, field: str, *, zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1):
        raise WorkloadError(f"{field} must be an integer >= {0 if zero else 1}; got {value!r}")
    return value


@attrs.frozen
class _Settings:
    n_ctx: int
    n_parallel: int
    kv_unified: bool
    type_k: str
    type_v: str
    flash_attn: bool
    n_batch: int
    n_ubatch: int
    swa_full: bool
    ctx_pad: int = _PAD_CELLS
    mla_v_cache: bool = False


def _cells(lay: LlamaCppLayout, s: _Settings) -> tuple[int, int, int, int]:
    """(n_ctx, n_ctx_seq, cells per stream on full layers, cells per stream on sliding layers)."""
    n_ctx = _pad(s.n_ctx, s.ctx_pad)
    if s.kv_unified:
        n_ctx_seq = n_ctx
    else:
        n_ctx_seq = _pad(n_ctx // s.n_parallel, s.ctx_pad)
        n_ctx = n_ctx_seq * s.n_parallel
    per_stream = n_ctx if s.kv_unified else n_ctx_seq
    swa = per_stream
    if lay.sliding_layers and not s.swa_full:
        seqs = s.n_parallel if s.kv_unified else 1
        swa = _pad(min(per_stream, lay.n_swa * seqs + s.n_ubatch), _PAD_CELLS)
    return n_ctx, n_ctx_seq, per_stream, swa


def _estimate(lay: LlamaCppLayout, s: _Settings, ngl: int) -> dict[str, Any]:
    L = lay.n_layers
    g = min(ngl, L + 1)
    first_gpu = L - min(g, L)
    output_on_gpu = g > L
    n_ctx, n_ctx_seq, per_stream, swa = _cells(lay, s)
    streams = 1 if s.kv_unified else s.n_parallel
    k_row = row_bytes(s.type_k.upper(), lay.n_embd_k)
    # a latent MLA file keeps no V cache since llama.cpp PR #19067 (January 2026): V is a view of K
    v_row = 0 if lay.mla == "latent" and not s.mla_v_cache else row_bytes(s.type_v.upper(), lay.n_embd_v)
    gpu_model = sum(lay.block_bytes[first_gpu:]) + (lay.output_bytes if output_on_gpu else 0)
    # on the CPU a tied output shares the (memory-mapped) token_embd: no second copy there
    cpu_output = 0 if output_on_gpu else lay.output_bytes - lay.tied_output_bytes
    cpu_model = lay.token_embd_bytes + sum(lay.block_bytes[:first_gpu]) + cpu_output
    gpu_kv = cpu_kv = k_all = v_all = 0
    for i in range(L):
        cells = (swa if i in lay.sliding_layers else per_stream) * streams
        b = (k_row + v_row) * cells
        k_all += k_row * cells
        v_all += v_row * cells
        if i >= first_gpu:
            gpu_kv += b
        else:
            cpu_kv += b
    t = min(s.n_ubatch, s.n_batch, n_ctx)
    tp = _pad(t, _MASK_PAD)
    e, heads = lay.n_embd, lay.n_head
    acts = 4 * t * 4 * max(e, heads * lay.head_dim)
    if lay.mla == "latent":
        # the absorbed query (key_length wide per head) and the latent attention output
        # (value_length per head) live together in f32 (llama.cpp src/models/deepseek2.cpp)
        acts = max(acts, 4 * t * heads * (lay.key_length + lay.value_length) + 4 * t * 2 * e)
    if s.flash_attn:
        mask = 2 * tp * per_stream
        attn = mask + acts
    else:
        mask = 4 * tp * per_stream
        attn = 4 * t * per_stream * heads + mask + acts + 4 * t
    ffn = 4 * t * (2 * lay.n_ff + 2 * e)
    out = 4 * t * (lay.n_vocab + e)
    layers_gpu = L - first_gpu
    gpu_compute = 0
    if layers_gpu or output_on_gpu:
        gpu_compute = max(attn if layers_gpu else 0, ffn if layers_gpu else 0, out if output_on_gpu else 0)
    if layers_gpu and not output_on_gpu and t >= _OP_OFFLOAD_MIN_BATCH:
        # partial offload: the backend runs the host-resident output matmul of a large micro-batch on
        # the GPU from a copy of the output matrix in its compute buffer (op offload; Ollama's
        # partial graph size counts the same copy)
        gpu_compute = max(gpu_compute, out + lay.output_bytes)
    cpu_compute = mask + 4 * t * e
    if layers_gpu < L:
        cpu_compute = max(cpu_compute, attn, ffn)
    if not output_on_gpu:
        cpu_compute = max(cpu_compute, out)
    return {
        "n_gpu_layers": g,
        "n_ctx": n_ctx,
        "n_ctx_seq": n_ctx_seq,
        "n_ubatch": t,
        "kv_cells": per_stream * streams,
        "swa_kv_cells": swa * streams if lay.sliding_layers else None,
        "gpu_model_bytes": gpu_model,
        "cpu_model_bytes": cpu_model,
        "gpu_kv_bytes": gpu_kv,
        "cpu_kv_bytes": cpu_kv,
        "gpu_compute_bytes": gpu_compute,
        "cpu_compute_bytes": cpu_compute,
        "output_buffer_bytes": 4 * lay.n_vocab * s.n_parallel,
        "k_bytes": k_all,
        "v_bytes": v_all,
    }


def _gpu_total(parts: dict[str, Any]) -> int:
    return int(parts["gpu_model_bytes"] + parts["gpu_kv_bytes"] + parts["gpu_compute_bytes"])


def mmproj_bytes(model: Model | GGUFCheckpoint) -> int:
    """Bytes of the separate multimodal projector file (``mmproj-*.gguf``) for ``model``, in F16.

    ``convert_hf_to_gguf.py`` writes a vision-language model's text model to the main GGUF and its
    vision (or audio) encoder and projector to a second file (``--mmproj``), which ``llama-server``
    loads only when given ``--mmproj``; the main file, and :func:`estimate`'s model buffers, hold
    the language model only. The encoder's and projector's parameters come from
    ``Model.components`` (2 bytes each: the F16 mmproj files most publishers ship). 0 for a text
    model or a GGUF file."""
    if not isinstance(model, Model):
        return 0
    return 2 * sum(c.n_params or 0 for c in model.components if c.role != "language-model")


def _resolve(model: Model | GGUFCheckpoint | str | os.PathLike[str]) -> Model | GGUFCheckpoint:
    if isinstance(model, str | os.PathLike):
        from ..importers.gguf import from_gguf

        return from_gguf(model)
    return model


def _settings(
    *,
    n_ctx: int,
    n_parallel: int,
    kv_unified: bool,
    type_k: str,
    type_v: str,
    flash_attn: bool | str,
    n_batch: int,
    n_ubatch: int,
    swa_full: bool,
    any_gpu: bool,
    ctx_pad: int = _PAD_CELLS,
    mla_v_cache: bool = False,
) -> tuple[_Settings, list[str]]:
    notes = []
    _positive(ctx_pad, "ctx_pad")
    _positive(n_ctx, "n_ctx")
    if n_ctx > MAX_N_CTX:
        raise WorkloadError(
            f"n_ctx must be at most {MAX_N_CTX:,} (KV cells over all sequences); got {n_ctx:,}: far beyond any"
            " model's training context (a typo?)"
        )
    _positive(n_parallel, "n_parallel")
    _positive(n_batch, "n_batch")
    _positive(n_ubatch, "n_ubatch")
    if flash_attn == "auto":
        # llama-server's default ``-fa auto`` (common/arg.cpp): llama_context (src/llama-context.cpp)
        # reserves a graph and keeps flash attention on unless some layer's FLASH_ATTN_EXT would run
        # on another device than that layer's KV cache; CUDA, ROCm, Metal, Vulkan and the CPU backend
        # all run it for the usual head sizes, so 'auto' is taken as on.
        fa = True
        notes.append(
            "flash attention on: llama-server's default -fa auto enables it where the backend supports it"
            " (pass flash_attn=False for builds before -fa auto, when it was off unless asked for)"
        )
    elif isinstance(flash_attn, bool):
        fa = flash_attn
    else:
        raise WorkloadError(f"flash_attn must be True, False or 'auto'; got {flash_attn!r}")
    tk, tv = _kv_type(type_k, "type_k"), _kv_type(type_v, "type_v")
    if tv not in ("f32", "f16", "bf16") and not fa:
        raise WorkloadError(f"type_v={tv!r} (a quantized V cache) needs flash_attn=True, as in llama.cpp")
    if not isinstance(mla_v_cache, bool):
        raise WorkloadError(f"mla_v_cache must be True or False; got {mla_v_cache!r}")
    settings = _Settings(
        n_ctx, n_parallel, bool(kv_unified), tk, tv, fa, n_batch, min(n_ubatch, n_batch), swa_full, ctx_pad, mla_v_cache
    )
    return settings, notes


def _mla_notes(lay: LlamaCppLayout, s: _Settings) -> list[str]:
    """What the KV cache of a multi-head latent attention model holds, and under which builds."""
    if lay.mla == "per-head":
        return [
            f"multi-head latent attention in a GGUF converted before April 2025 (no key_length_mla): llama.cpp"
            f" caches every head's keys and values ({lay.n_embd_k:,} + {lay.n_embd_v:,} values per layer and cell);"
            " a file converted since then caches the compressed latent (mla_format='latent')"
        ]
    if lay.mla == "latent" and s.mla_v_cache:
        return [
            f"multi-head latent attention: K holds the latent ({lay.n_embd_k} values) and V its first"
            f" {lay.n_embd_v} again, as builds from April 2025 (PR #12801) to January 2026 allocated"
        ]
    if lay.mla == "latent":
        return [
            f"multi-head latent attention: the cache holds the compressed latent only ({lay.n_embd_k} values"
            " per layer and cell, V read as a view of K; llama.cpp since PR #19067, January 2026; pass"
            " mla_v_cache=True for the April 2025 - January 2026 builds, which kept a V cache too)"
        ]
    return []


def _max_layers(lay: LlamaCppLayout, s: _Settings, budget: int) -> int:
    best = -1
    for g in range(lay.n_layers + 2):  # the GPU share only grows with g
        if _gpu_total(_estimate(lay, s, g)) > budget:
            break
        best = g
    return best


def _max_ctx(lay: LlamaCppLayout, s: _Settings, ngl: int, budget: int) -> int:
    lo, hi = 0, max(lay.n_ctx_train, _PAD_CELLS) // _PAD_CELLS
    while lo < hi:  # the largest multiple of 256 cells that fits
        mid = (lo + hi + 1) // 2
        if _gpu_total(_estimate(lay, attrs.evolve(s, n_ctx=mid * _PAD_CELLS), ngl)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo * _PAD_CELLS


def estimate(
    model: Model | GGUFCheckpoint | str | os.PathLike[str],
    *,
    quant: str | None = None,
    n_ctx: int = 4096,
    n_parallel: int = 1,
    kv_unified: bool = False,
    type_k: str = "f16",
    type_v: str = "f16",
    flash_attn: bool | str = "auto",
    n_batch: int = 2048,
    n_ubatch: int = 512,
    n_gpu_layers: int = -1,
    gpu: GPU | None = None,
    reserve_bytes: int = DEFAULT_RESERVE_BYTES,
    swa_full: bool = False,
    ctx_pad: int = _PAD_CELLS,
    mmproj: bool = False,
    mla_format: str | None = None,
    mla_v_cache: bool = False,
) -> LlamaCppEstimate:
    """llama.cpp's model, KV, compute and output buffers per device (see the module docstring).

    ``model``: a :class:`Model` (converted and quantized to ``quant``, default ``Q4_K_M``), a
    :class:`GGUFCheckpoint` or a path to a ``.gguf`` file (its tensors as stored). Settings carry
    llama.cpp's names and defaults (``llama-server``: ``-c 4096 -np 1 -b 2048 -ub 512``,
    ``--cache-type-k/v f16``); ``n_gpu_layers=-1`` offloads everything (``-ngl 999``). With a
    ``gpu``, the result also says whether it fits (less ``reserve_bytes``), the most layers that
    fit (``max_gpu_layers``) and the longest context at full offload (``max_n_ctx``, 0 when none).
    ``ctx_pad`` is the rounding of ``n_ctx`` (256 since llama.cpp's November 2025 builds; 32 before
    without flash attention, 256 with it).

    ``flash_attn`` defaults to ``"auto"``, ``llama-server``'s default ``-fa auto`` since late summer
    2025 (``common/arg.cpp``; resolved in ``src/llama-context.cpp``), which comes out on wherever the
    backend runs flash attention (:data:`LLAMACPP_VERSION`); ``flash_attn=False`` gives the
    behaviour of older builds, where it was off unless ``-fa`` was given.

    An ``n_ctx`` past the model's training context warns with :class:`~llmcatalog.ContextLengthWarning`
    (llama.cpp itself only logs it); one past :data:`MAX_N_CTX` is refused (:class:`WorkloadError`).

    A vision-language model's main GGUF holds its language model only: the vision tower and
    projector live in a separate ``mmproj`` file (:func:`mmproj_bytes`); ``mmproj=True`` adds that
    file, in F16, to the GPU (``llama-server --mmproj``, offloaded by default).

    Multi-head latent attention (DeepSeek-V2/V3/R1, Kimi-K2; :mod:`llmcatalog.engines.mla`):
    ``mla_format`` is how the GGUF stores it, ``"latent"`` (converted since April 2025; the
    default for a Hugging Face model) or ``"per-head"`` (older files: the full per-head cache); a
    GGUF file states its own. A latent file caches one ``kv_lora_rank + rope`` row per layer and
    cell; ``mla_v_cache=True`` adds the ``kv_lora_rank`` V rows that builds from April 2025 to
    January 2026 (before PR #19067) also allocated.
    """
    model = _resolve(model)
    lay = layout(model, quant, mla_format=mla_format)
    _positive(reserve_bytes, "reserve_bytes", zero=True)
    if isinstance(n_gpu_layers, bool) or not isinstance(n_gpu_layers, int) or n_gpu_layers < -1:
        raise WorkloadError(f"n_gpu_layers must be -1 (all) or an integer >= 0; got {n_gpu_layers!r}")
    ngl = lay.n_layers + 1 if n_gpu_layers == -1 else n_gpu_layers
    s, notes = _settings(
        n_ctx=n_ctx,
        n_parallel=n_parallel,
        kv_unified=kv_unified,
        type_k=type_k,
        type_v=type_v,
        flash_attn=flash_attn,
        n_batch=n_batch,
        n_ubatch=n_ubatch,
        swa_full=swa_full,
        any_gpu=ngl > 0,
        ctx_pad=ctx_pad,
        mla_v_cache=mla_v_cache,
    )
    parts = _estimate(lay, s, ngl)
    notes += _mla_notes(lay, s)
    # llama_context warns "n_ctx_seq > n_ctx_train -- possible training context overflow" (src/llama-context.cpp)
    seq_ctx = s.n_ctx if s.kv_unified else s.n_ctx // s.n_parallel
    if lay.n_ctx_train and seq_ctx > lay.n_ctx_train:
        message = (
            f"{lay.name}: n_ctx {s.n_ctx:,} ({seq_ctx:,} per sequence) exceeds the model's training context"
            f" {lay.n_ctx_train:,}; llama.cpp allocates it, but the model was not trained for that length"
        )
        notes.append(message)
        warnings.warn(message, ContextLengthWarning, stacklevel=outside_stacklevel())
    extra_mmproj = mmproj_bytes(model) if mmproj else 0
    if mmproj and not extra_mmproj:
        raise WorkloadError(f"mmproj=True: {lay.name} has no vision/audio encoder known to add (a text model?)")
    if extra_mmproj:
        notes.append(f"mmproj file (vision/audio encoder + projector, F16): {extra_mmproj / MIB:,.2f} MiB")
    elif isinstance(model, Model) and mmproj_bytes(model):
        notes.append(
            f"the vision/audio encoder ({mmproj_bytes(model) / MIB:,.0f} MiB in F16) is in a separate mmproj"
            " file, not counted: pass mmproj=True to add it"
        )
    if 0 < parts["n_gpu_layers"] <= lay.n_layers and s.n_ubatch >= _OP_OFFLOAD_MIN_BATCH:
        notes.append("partial offload: the GPU compute buffer holds a copy of the output matrix for the logits")
    if lay.sliding_layers and not swa_full:
        notes.append(
            f"{len(lay.sliding_layers)} sliding-window layers keep {parts['swa_kv_cells']} cells (window {lay.n_swa})"
        )
    extra: dict[str, Any] = {}
    if gpu is not None:
        capacity = gpu.available_bytes
        budget = capacity - reserve_bytes - extra_mmproj
        extra = {
            "gpu": gpu.name,
            "gpu_vendor": gpu.vendor,
            "gpu_capacity_bytes": capacity,
            "unified_memory_bytes": gpu.memory_bytes if single_device(gpu) else None,
            "max_gpu_layers": max(_max_layers(lay, s, budget), 0),
            "max_n_ctx": _max_ctx(lay, s, lay.n_layers + 1, budget),
        }
    return LlamaCppEstimate(
        model=lay.name,
        quant=lay.quant,
        n_layers=lay.n_layers,
        n_ctx_train=lay.n_ctx_train,
        n_parallel=s.n_parallel,
        kv_unified=s.kv_unified,
        n_batch=min(s.n_batch, parts["n_ctx"]),
        flash_attn=s.flash_attn,
        type_k=s.type_k,
        type_v=s.type_v,
        reserve_bytes=reserve_bytes,
        mmproj_bytes=extra_mmproj,
        file_bytes=lay.model_bytes,
        notes=tuple(notes),
        **parts,
        **extra,
    )


def max_gpu_layers(model: Model | GGUFCheckpoint | str | os.PathLike[str], gpu: GPU, **settings: Any) -> int:
    """The most ``n_gpu_layers`` (0 .. n_layers + 1) whose GPU buffers fit ``gpu`` less the reserve."""
    settings.pop("n_gpu_layers", None)
    est = estimate(model, gpu=gpu, **settings)
    assert est.max_gpu_layers is not None
    return est.max_gpu_layers


def max_context(model: Model | GGUFCheckpoint | str | os.PathLike[str], gpu: GPU, **settings: Any) -> int:
    """The largest ``n_ctx`` (a multiple of 256, up to the training context) that fits ``gpu`` at
    the given ``n_gpu_layers`` (default: all); 0 when even 256 cells do not fit."""
    model = _resolve(model)
    lay = layout(model, settings.pop("quant", None), mla_format=settings.pop("mla_format", None))
    ngl = settings.pop("n_gpu_layers", -1)
    reserve = settings.pop("reserve_bytes", DEFAULT_RESERVE_BYTES)
    settings.setdefault("n_ctx", _PAD_CELLS)
    known = {
        "n_ctx",
        "n_parallel",
        "kv_unified",
        "type_k",
        "type_v",
        "flash_attn",
        "n_batch",
        "n_ubatch",
        "swa_full",
        "ctx_pad",
        "mla_v_cache",
    }
    unknown = set(settings) - known
    if unknown:
        raise TypeError(f"max_context() got unexpected settings {sorted(unknown)}")
    defaults: dict[str, Any] = {
        "n_parallel": 1,
        "kv_unified": False,
        "type_k": "f16",
        "type_v": "f16",
        "flash_attn": "auto",
        "n_batch": 2048,
        "n_ubatch": 512,
        "swa_full": False,
    }
    ngl = lay.n_layers + 1 if ngl == -1 else ngl
    s, _ = _settings(**{**defaults, **settings}, any_gpu=ngl > 0)
    return _max_ctx(lay, s, ngl, gpu.available_bytes - reserve)


#: ``Inference.precision`` names -> the GGUF quant type that stands for them in llama.cpp.
PRECISION_QUANTS = {
    "fp32": "F32",
    "fp16": "F16",
    "bf16": "BF16",
    "int8": "Q8_0",
    "gptq-int8": "Q8_0",
    "bnb-int8": "Q8_0",
    "int4": "Q4_K_M",
    "gptq-int4": "Q4_K_M",
    "awq-int4": "Q4_K_M",
    "bnb-nf4": "Q4_K_M",
    "bnb-nf4-dq": "Q4_K_M",
}
#: ``Inference.kv_cache_precision`` -> llama.cpp cache type.
_KV_FROM_PRECISION = {"fp32": "f32", "fp16": "f16", "bf16": "bf16", "int8": "q8_0"}


def workload_settings(
    model: object, workload: Inference, quant: str | None = None
) -> tuple[str | None, str, bool | str]:
    """(quant, KV cache type, flash attention) standing for an :class:`Inference` in llama.cpp:
    the GGUF type of ``workload.precision`` (:data:`PRECISION_QUANTS`; Q4_K_M when left as stored;
    None for a GGUF file, read as stored), the cache type of ``kv_cache_precision`` (int8 ->
    q8_0, which needs flash attention) and flash attention: on for ``attention="flash"``, off for
    ``"eager"``, llama-server's default ``"auto"`` otherwise."""
    if not isinstance(workload, Inference):
        raise TypeError(f"workload must be an Inference, got {type(workload).__name__}")
    if quant is None and not isinstance(model, GGUFCheckpoint | str | os.PathLike):
        stored = type(workload.precision) is type(AS_STORED)  # left as stored: no GGUF type implied
        precision = workload.precision if isinstance(workload.precision, str) and not stored else None
        if precision == "fp8":
            raise WorkloadError("llama.cpp has no FP8 weight type: pass quant= (e.g. 'Q8_0') instead")
        quant = PRECISION_QUANTS.get(precision or "", "Q4_K_M")
    kv = workload.kv_cache_precision
    if kv == "fp8":
        raise WorkloadError("llama.cpp has no FP8 KV cache: use kv_cache_precision='int8' (q8_0) or fp16")
    kv_type = _KV_FROM_PRECISION.get(kv or "fp16", "f16")
    if workload.attention == "flash" or kv_type == "q8_0":
        return quant, kv_type, True
    return quant, kv_type, False if workload.attention == "eager" else "auto"


def estimate_inference(
    model: Model | GGUFCheckpoint | str | os.PathLike[str],
    workload: Inference,
    *,
    gpu: GPU | None = None,
    quant: str | None = None,
    **settings: Any,
) -> LlamaCppEstimate:
    """llama.cpp's buffers for an :class:`Inference` workload: ``batch_size`` sequences
    (``n_parallel``) of ``context_tokens`` each (``n_ctx = batch_size * context_tokens``, separate
    caches), the weights in ``quant`` (default: the GGUF type standing for ``workload.precision``,
    :data:`PRECISION_QUANTS`; Q4_K_M when the precision is left as stored), the KV cache in
    ``kv_cache_precision`` (int8 -> q8_0 with flash attention) and flash attention when
    ``attention="flash"``. ``settings`` override any llama.cpp setting of :func:`estimate`.

    This is the entry point for an ``engine="llama.cpp"`` dispatch.
    """
    quant, kv_type, flash = workload_settings(model, workload, quant)
    base: dict[str, Any] = {
        "n_ctx": workload.context_tokens * workload.batch_size,
        "n_parallel": workload.batch_size,
        "type_k": kv_type,
        "type_v": kv_type,
        "flash_attn": flash,
    }
    base.update(settings)
    return estimate(model, quant=quant, gpu=gpu, **base)
