"""Ollama: its defaults, and its own memory estimate that decides how many layers go to the GPU.

Ollama runs llama.cpp's engine (its bundled copy, or its own Go engine with the same ggml
buffers), but it does not ask llama.cpp what fits: before starting a runner it predicts the memory
itself (``llm/memory.go`` ``EstimateGPULayers``, with the graph sizes of ``fs/ggml/ggml.go``
``GraphSize``) and passes ``--n-gpu-layers`` accordingly. Its log line ``msg="offload to cuda"``
prints that prediction (``layers.offload``, ``memory.required.full/partial/kv``,
``memory.graph.full/partial``). This module reproduces it, for one GPU:

- KV per layer: ``num_ctx * num_parallel * (head_dim_k + head_dim_v) * n_head_kv`` times the
  bytes per element of ``OLLAMA_KV_CACHE_TYPE`` (f16 2, q8_0 1, q4_0 0.5; quantized only with
  flash attention); gemma3's sliding-window layers (all but every 6th) hold
  ``num_parallel * sliding_window + batch`` cells instead (:func:`kv_sizes`; since v0.6.3).
- Graph (compute) sizes, llama architecture, with ``batch = min(num_ctx, num_batch)`` and
  ``context = num_ctx * num_parallel``::

      full    = max(4 b (1 + 4 e + c (1 + h)),  4 b (e + vocab))
      partial = 4 b e + max(4 b (1 + e + max(c, e)) + e^2 * 9/16 + 4 c (b h + d_h h_kv),
                            4 b (e + vocab) + e * vocab * 105/128)

  (qwen2 and deepseek2 have their own pairs; other architectures use Ollama's fallback
  ``gqa * kv_total / 6``.)
- Multi-head latent attention (DeepSeek-V2/V3/R1, Kimi-K2: GGUF arch ``deepseek2``): the KV is
  the same ``(key_length + value_length) * head_count_kv`` per cell as the file states it. The
  library's ``deepseek-r1:671b``, ``deepseek-v3``, ``deepseek-v2`` and ``deepseek-coder-v2`` files
  were converted before llama.cpp's MLA format (April 2025): 128 (V2-Lite: 16) KV heads of 192 + 128,
  the full per-head cache (``mla_format="per-head"``, the default here). A file in the latent
  format (``mla_format="latent"``: one KV head of 576 + 512) runs on Ollama's own engine from
  v0.13, which caches the latent key and value (:mod:`llmcatalog.engines.mla`).
- Layers are placed while ``free > minimum + one layer (blk.0 + its KV) + placed layers +
  max(graph)``, with a minimum of 457 MiB for CUDA/ROCm (512 MiB on Metal); the output layer
  (``output_norm`` + ``output``, or ``token_embd`` when tied) last. VRAM = the placed sizes plus
  the full graph when everything fits, else the partial graph.

Versions: this placement is ``llm/memory.go``'s, v0.6.3 to v0.12.10. v0.12.11 (commit f560bd0,
November 2025) removed that file and placed layers with the layout code of Ollama's own engine;
v0.30.0 (ollama/ollama#16031, May 2026) runs GGUF models on upstream ``llama-server``, which fits
the layers itself (``--fit``): for those releases llama.cpp's buffers (``llamacpp``,
``llamacpp.max_gpu_layers``) are the closer guide, and the CLI labels which figure is whose.

Defaults, by Ollama version (``num_ctx`` is the one that changed most):

- ``num_ctx``: 2048 up to v0.6.6; 4096 from v0.6.7 (April 2025; ``OLLAMA_CONTEXT_LENGTH``
  overrides it); from v0.15.5 (February 2026) by VRAM: ``docs/context-length.mdx`` states
  4k below 24 GiB, 32k from 24 to 48 GiB, 256k from 48 GiB, and ``server/routes.go`` applies 23 and
  47 GiB to the memory the devices report (CUDA's total, Metal's recommended working set;
  :func:`default_num_ctx`). Whatever
  its origin (default, Modelfile, API), a ``num_ctx`` above the model's training context
  (``<arch>.context_length`` in the GGUF) is cut down to it before the runner starts
  (``llm/server.go`` ``NewLlamaServer``: "requested context size too large for model"), so
  qwen3-8b (40,960) gets 40,960, not 262,144, on an 80 GB card.
- ``OLLAMA_NUM_PARALLEL``: 1 now; releases of 2024 chose 4 when memory allowed (the logs of that
  time show ``--parallel 4`` and a context of ``4 * num_ctx``).
- flash attention off unless ``OLLAMA_FLASH_ATTENTION=1`` (newer releases turn it on for some
  models); KV cache f16; ``num_batch`` 512.
"""

from __future__ import annotations

import os
import warnings

import attrs

from ..errors import ContextLengthWarning, WorkloadError
from ..importers.gguf import GGUFCheckpoint
from ..values.gpu import GPU
from ..values.model import Model
from ..values.workload import Inference
from . import mla as _mla
from .llamacpp import LlamaCppEstimate, LlamaCppLayout, layout, mmproj_bytes, workload_settings
from .llamacpp import estimate as llamacpp_estimate

__all__ = [
    "MINIMUM_MEMORY_BYTES",
    "OLLAMA_DEFAULTS",
    "OllamaEstimate",
    "default_num_ctx",
    "estimate",
    "estimate_inference",
    "graph_size",
    "human_bytes",
    "kv_sizes",
]

MIB, GIB = 2**20, 2**30
#: ``discover``'s per-library minimum memory kept free on a GPU (CUDA and ROCm 457 MiB, Metal 512 MiB).
MINIMUM_MEMORY_BYTES = {"cuda": 457 * MIB, "rocm": 457 * MIB, "metal": 512 * MIB}
#: ``kvCacheBytesPerElement``: Ollama's bytes per K/V element by ``OLLAMA_KV_CACHE_TYPE``.
#: The Ollama behaviour followed by default (``num_ctx`` by VRAM since v0.15.5).
OLLAMA_VERSION = "v0.15.5+"
_KV_BYTES = {"f16": 2.0, "q8_0": 1.0, "q4_0": 0.5}
OLLAMA_DEFAULTS = {
    "num_batch": 512,
    "num_parallel": 1,
    "flash_attn": False,
    "kv_cache_type": "f16",
    "num_gpu": -1,
}
#: Ollama's GPU library by ``GPU.vendor``.
_LIBRARY_BY_VENDOR = {"NVIDIA": "cuda", "AMD": "rocm", "Apple": "metal"}
_LLAMA_GRAPH = frozenset({"llama", "mistral", "mixtral", "llama4"})
_GEMMA_GRAPH = frozenset({"gemma", "gemma2", "gemma3", "gemma3n"})
#: fs/ggml/ggml.go GraphSize: a gemma3 file's every 6th layer is sized as global, the others as sliding.
_GEMMA3_GLOBAL_EVERY = 6
#: The least difference between the first and the last offloaded blocks worth a note (0.05 GiB).
_MATERIAL_BYTES = GIB // 20


def human_bytes(n: int) -> str:
    """Bytes as Ollama's logs print them (``format.HumanBytes2``): one decimal, binary units."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _version(text: str) -> tuple[int, ...]:
    parts = text.strip().lstrip("v").split(".")
    try:
        return tuple(int(p) for p in parts)
    except ValueError as exc:
        raise WorkloadError(f"ollama_version must look like '0.6.7'; got {text!r}") from exc


def default_num_ctx(vram_bytes: int | None, ollama_version: str | None = None) -> int:
    """Ollama's default context: 2048 before v0.6.7, 4096 from v0.6.7 (April 2025), and from
    v0.15.5 (February 2026) by the GPU memory the devices report: 4096 below 23 GiB (and without a
    GPU), 32768 from 23 GiB, 262144 from 47 GiB. ``None`` is the current rule.

    ``vram_bytes`` is Ollama's ``totalVRAM``: the total each device reports (CUDA: the runtime's total,
    :attr:`~llmcatalog.GPU.available_bytes`; Metal: the recommended working set, which
    ``available_bytes`` models as the wired share of unified memory), less ``OLLAMA_GPU_OVERHEAD``.
    ollama/ollama commit 0334ffa ("server: use tiered VRAM-based default context length", January
    2026, first in v0.15.5), ``server/routes.go`` ``Serve``: its thresholds are 47 and 23 GiB rather
    than the documented 48 and 24, because devices report a little less than their nominal size."""
    if ollama_version is not None:
        v = _version(ollama_version)
        if v < (0, 6, 7):
            return 2048
        if v < (0, 15, 5):
            return 4096
    if vram_bytes is None or vram_bytes < 23 * GIB:
        return 4096
    if vram_bytes < 47 * GIB:
        return 32768
    return 262144


def kv_sizes(lay: LlamaCppLayout, num_ctx: int, num_parallel: int, batch: int, bytes_per_element: float) -> list[int]:
    """Ollama's KV bytes per repeating layer (``GraphSize``'s ``kv``): ``num_ctx * num_parallel`` cells
    of ``(key + value) * n_head_kv`` values each, except gemma3's sliding-window layers (all but every
    6th, as Ollama counts them), which get ``num_parallel * sliding_window + batch`` cells (Ollama
    since March 2025, commit f66216e "Support heterogeneous KV cache layer sizes in memory
    estimation"). Gemma 2's sliding layers are sized for the full context: Ollama windows them only
    in its own engine, which Gemma 2 does not run on (the comment next to that code says so)."""
    per_cell = (lay.n_embd_k + lay.n_embd_v) * bytes_per_element
    full = int(num_ctx * num_parallel * per_cell)
    if lay.arch != "gemma3" or not lay.n_swa:
        return [full] * lay.n_layers
    window = int((num_parallel * lay.n_swa + batch) * per_cell)
    return [full if (i + 1) % _GEMMA3_GLOBAL_EVERY == 0 else window for i in range(lay.n_layers)]


def graph_size(lay: LlamaCppLayout, context: int, batch: int) -> tuple[int, int] | None:
    """Ollama's ``GraphSize`` (partial, full) in bytes for the llama, qwen2 and deepseek2
    architectures; None for the others (Ollama then uses ``gqa * kv_total / 6``)."""
    b, c, e, h = batch, context, lay.n_embd, lay.n_head
    vocab, d_h, h_kv = lay.n_vocab, lay.head_dim, lay.n_head_kv
    if lay.arch in _LLAMA_GRAPH:
        full = max(4 * b * (1 + 4 * e + c * (1 + h)), 4 * b * (e + vocab))
        partial = 4 * b * e + max(
            4 * b * (1 + e + max(c, e)) + e * e * 9 // 16 + 4 * c * (b * h + d_h * h_kv),
            4 * b * (e + vocab) + e * vocab * 105 // 128,
        )
        return partial, full
    if lay.arch == "qwen2":
        full = max(4 * b * (e + vocab), 4 * b * (1 + 2 * e + c + c * h))
        partial = max(
            4 * b * (e + vocab) + e * vocab * 105 // 128,
            4 * (b * (1 + 2 * e + c * (1 + h)) + e * (1 + c)),
        )
        return partial, full
    if lay.arch in _GEMMA_GRAPH:
        # fs/ggml/ggml.go GraphSize, case "gemma", "gemma2", "gemma3", "gemma3n" (gemma3n: four times)
        k = lay.key_length or lay.head_dim
        full = max(4 * b * (e + vocab), 4 * b * (2 + c + c * h + 2 * e + 2 * k * h))
        partial = max(
            4 * e * b + e * vocab * 105 // 128 + 4 * vocab * b,
            4 * b * (2 * e + 1 + 2 * k * h + c + c * h) + 4 * k * c * 8 + e * k * h * 9 // 16,
        )
        scale = 4 if lay.arch == "gemma3n" else 1
        return partial * scale, full * scale
    if lay.arch == "deepseek2":
        # fs/ggml/ggml.go GraphSize, case "deepseek2": embeddingHeadsK is the file's key_length and
        # headsKV its head_count_kv (192 and 128 in a per-head file, 576 and 1 in a latent one)
        k, hk = lay.key_length or lay.head_dim, lay.n_head_kv
        full = max(4 * b * (3 * e + vocab), 4 * b * (3 * e + 2 + c * (1 + hk) + 2 * k * hk))
        partial = max(
            4 * b * (3 * e + vocab) + e * vocab * 105 // 128,
            4 * b * (2 * e + 1 + 2 * k * hk + c + c * hk) + 4 * k * c * hk + e * k * hk * 9 // 16,
        )
        return partial, full
    return None


@attrs.frozen(kw_only=True)
class OllamaEstimate:
    """Ollama's decision for one model, setting and GPU, as its ``offload to ...`` log line prints it.

    ``layers_offload`` of ``layers_model`` (repeating layers + output) go to the GPU;
    ``vram_bytes`` is ``memory.required.partial`` (what it plans to use on the GPU),
    ``total_bytes`` ``memory.required.full``. ``weights_total_bytes`` is what the log calls
    ``memory.weights.total``: the repeating blocks with their KV (the output layer is
    ``weights_nonrepeating_bytes``, and "repeating" is total minus non-repeating, as Ollama
    prints them). ``llamacpp`` holds llama.cpp's own buffers for that
    decision (what the runner then allocates).
    """

    model: str
    quant: str
    num_ctx: int
    num_parallel: int
    num_batch: int
    flash_attn: bool
    kv_cache_type: str
    layers_model: int
    layers_offload: int
    kv_bytes: int
    graph_full_bytes: int
    graph_partial_bytes: int
    weights_total_bytes: int
    weights_nonrepeating_bytes: int
    vram_bytes: int
    total_bytes: int
    gpu: str | None
    gpu_free_bytes: int | None
    minimum_bytes: int
    llamacpp: LlamaCppEstimate
    notes: tuple[str, ...] = ()

    @property
    def weights_repeating_bytes(self) -> int:
        """``memory.weights.repeating`` as Ollama logs it: weights total less non-repeating."""
        return self.weights_total_bytes - self.weights_nonrepeating_bytes

    def log_lines(self) -> list[str]:
        """Ollama's ``offload to ...`` decision as its log prints it, then the runner's buffers."""
        hb = human_bytes
        head = [
            f"num_ctx={self.num_ctx:,} num_parallel={self.num_parallel} {self.quant}"
            f" flash_attn={'on' if self.flash_attn else 'off'} kv_cache_type={self.kv_cache_type}",
            f"layers.offload={self.layers_offload} layers.model={self.layers_model}"
            f" memory.required.full={hb(self.total_bytes)} memory.required.partial={hb(self.vram_bytes)}"
            f" memory.required.kv={hb(self.kv_bytes)} memory.graph.full={hb(self.graph_full_bytes)}"
            f" memory.graph.partial={hb(self.graph_partial_bytes)}",
        ]
        return head + [f"runner: {line}" for line in self.llamacpp.log_lines()[1:]]

    @property
    def fully_offloaded(self) -> bool:
        """Every layer, output included, on the GPU ("100% GPU" in ``ollama ps``)."""
        return self.layers_offload >= self.layers_model

    @property
    def fits(self) -> bool | None:
        """Whether Ollama's decision runs: the runner's (llama.cpp's) buffers for the layers Ollama
        offloads fit the GPU and, on unified memory, the machine (``llamacpp.fits``; None without a
        GPU). A partial offload that fits counts: Ollama chooses its split itself
        (:attr:`fully_offloaded` says whether every layer is on the GPU)."""
        return self.llamacpp.fits

    @property
    def verdict(self) -> str | None:
        """The answer in words (None without a GPU): Ollama picks its own split, so a partial offload
        that fits is "fits with partial offload", with the host memory the CPU's layers need."""
        lc = self.llamacpp
        if lc.fits is None:
            return None
        if not lc.fits:  # every limit that fails: the GPU's and, on unified memory, the machine's
            reasons = []
            if lc.gpu_fits is False:
                reasons.append(
                    f"Ollama's {self.layers_offload} of {self.layers_model} layers need"
                    f" {lc.gpu_total_bytes / GIB:,.2f} GiB on the GPU, over its"
                    f" {(lc.gpu_capacity_bytes or 0) / GIB:,.2f} GiB limit ({lc.reserve_bytes / GIB:,.2f} GiB kept"
                    f" free); at most {lc.max_gpu_layers} fit"
                )
            if lc.unified_fits is False:
                reasons.append(lc.unified_reason)
            return f"does NOT fit: {'; and '.join(reasons)}"
        if self.fully_offloaded:
            return "fits (every layer on the GPU)"
        return (
            f"fits with partial offload: {self.layers_offload} of {self.layers_model} layers on the GPU"
            f"{lc.rest_on_cpu()}"
        )

    def planner_note(self) -> str:
        """When Ollama's own estimate places a different number of layers than llama.cpp's buffers
        would hold, why ("" when they agree or without a GPU)."""
        most = self.llamacpp.max_gpu_layers
        if most is None or most == self.layers_offload:
            return ""
        if most > self.layers_offload:
            return (
                f"Ollama's planner puts {self.layers_offload} layers on the GPU: it sizes them with its own estimate"
                f" (llm/memory.go: memory.required.partial {human_bytes(self.vram_bytes)},"
                f" {self.minimum_bytes // MIB} MiB kept free), not with llama.cpp's buffers"
            )
        return (
            f"Ollama's planner puts {self.layers_offload} layers on the GPU, more than llama.cpp's buffers hold:"
            " its estimate is below what the runner allocates here"
        )


def _kv_type(kv_cache_type: str, flash_attn: bool, notes: list[str]) -> str:
    kv = str(kv_cache_type).lower()
    if kv not in _KV_BYTES:
        raise WorkloadError(f"kv_cache_type must be one of {', '.join(_KV_BYTES)}; got {kv_cache_type!r}")
    if kv != "f16" and not flash_attn:
        notes.append(f"kv_cache_type={kv} needs flash attention in Ollama: f16 used")
        kv = "f16"
    return kv


def estimate(
    model: Model | GGUFCheckpoint | str | os.PathLike[str],
    *,
    gpu: GPU | None = None,
    quant: str | None = None,
    num_ctx: int | None = None,
    ollama_version: str | None = None,
    num_parallel: int = 1,
    num_batch: int = 512,
    flash_attn: bool = False,
    kv_cache_type: str = "f16",
    num_gpu: int = -1,
    gpu_free_bytes: int | None = None,
    gpu_overhead_bytes: int = 0,
    library: str | None = None,
    mla_format: str | None = None,
) -> OllamaEstimate:
    """Ollama's own memory estimate and layer decision (see the module docstring).

    ``num_ctx=None`` takes Ollama's default for the GPU (:func:`default_num_ctx`; the current
    release's rule, or that of ``ollama_version``);
    ``gpu_free_bytes`` defaults to the GPU's available memory (an idle card);
    ``gpu_overhead_bytes`` is ``OLLAMA_GPU_OVERHEAD``; ``num_gpu=-1`` lets Ollama choose;
    ``library`` (``cuda``, ``rocm``, ``metal``) defaults to the GPU's vendor's (NVIDIA: cuda, AMD:
    rocm, Apple: metal). ``num_ctx`` is capped at the model's training context, as Ollama does.

    ``mla_format`` (multi-head latent attention models): the GGUF's format, ``"per-head"`` (the
    default for a Hugging Face model: Ollama's library files of DeepSeek-V2/V3/R1 predate the latent
    format) or ``"latent"``; a GGUF file states its own (see the module docstring).
    """
    if isinstance(model, str | os.PathLike):
        from ..importers.gguf import from_gguf

        model = from_gguf(model)
    notes: list[str] = []
    if mla_format is None and isinstance(model, Model) and model.architecture and model.architecture.is_mla:
        mla_format = "per-head"
        notes.append(
            "multi-head latent attention: Ollama's library GGUFs of DeepSeek-V2/V3/R1 (deepseek-r1:671b,"
            " deepseek-v3, deepseek-v2, deepseek-coder-v2) were converted before April 2025 and cache every"
            " head's keys and values; pass mla_format='latent' for a file in llama.cpp's MLA format"
        )
    elif mla_format is not None:
        _mla.check_format(mla_format)
    lay = layout(model, quant, mla_format=mla_format)
    if lay.mla == "latent":
        notes.append(
            "latent MLA file: Ollama v0.13+ runs it on its own engine, which caches the latent key and value"
            f" ({lay.n_embd_k} + {lay.n_embd_v} values per layer and cell) and measures its memory itself;"
            " the GraphSize estimate of the llama runner stands in for that measurement"
        )
    if library is None:
        library = _LIBRARY_BY_VENDOR.get(gpu.vendor, "cuda") if gpu is not None else "cuda"
    if library not in MINIMUM_MEMORY_BYTES:
        raise WorkloadError(f"library must be one of {', '.join(MINIMUM_MEMORY_BYTES)}; got {library!r}")
    for field, value in (("num_parallel", num_parallel), ("num_batch", num_batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise WorkloadError(f"{field} must be an integer >= 1; got {value!r}")
    if isinstance(num_gpu, bool) or not isinstance(num_gpu, int) or num_gpu < -1:
        raise WorkloadError(f"num_gpu must be -1 (Ollama chooses) or an integer >= 0; got {num_gpu!r}")
    if num_ctx is None:
        reported = gpu.available_bytes - gpu_overhead_bytes if gpu is not None else None
        num_ctx = default_num_ctx(reported, ollama_version)
        which = f"Ollama {ollama_version}" if ollama_version else "current Ollama (v0.15.5+, by VRAM)"
        by = ""
        if gpu is not None and (ollama_version is None or _version(ollama_version) >= (0, 15, 5)):
            assert reported is not None
            by = f" for the {reported / GIB:.2f} GiB the GPU reports (tiers at 23 and 47 GiB)"
            if not gpu.allocatable_known:
                by += ", a figure estimated here (the card's reported total is not recorded)"
        notes.append(f"num_ctx {num_ctx}: the default of {which}{by}")
    elif isinstance(num_ctx, bool) or not isinstance(num_ctx, int) or num_ctx < 1:
        raise WorkloadError(f"num_ctx must be an integer >= 1; got {num_ctx!r}")
    if 0 < lay.n_ctx_train < num_ctx:
        # llm/server.go NewLlamaServer: a num_ctx above the GGUF's context_length is cut to it
        notes.append(
            f"num_ctx {num_ctx:,} capped at the model's training context {lay.n_ctx_train:,}, as Ollama does"
            " (llm/server.go: 'requested context size too large for model')"
        )
        num_ctx = lay.n_ctx_train
    kv_type = _kv_type(kv_cache_type, flash_attn, notes)
    context = num_ctx * num_parallel
    batch = min(num_ctx, num_batch)
    # context * (embeddingHeadsK + embeddingHeadsV) * headsKV * bytesPerElement (GraphSize's kv)
    kv = kv_sizes(lay, num_ctx, num_parallel, batch, _KV_BYTES[kv_type])
    kv_total = sum(kv)
    sizes = graph_size(lay, context, batch)
    if sizes is None:
        partial = full = lay.n_head // lay.n_head_kv * kv_total // 6
        notes.append(f"{lay.arch}: Ollama's fallback graph size (gqa * kv / 6) is used")
    else:
        partial, full = sizes
    if library == "metal":
        partial = full
    output = lay.output_bytes
    minimum = MINIMUM_MEMORY_BYTES[library]
    free = gpu_free_bytes if gpu_free_bytes is not None else (gpu.available_bytes if gpu is not None else 0)
    graph = max(partial, full)
    first = lay.block_bytes[0] + kv[0]
    count = 0
    alloc = 0
    overflow = 0
    placing = gpu is not None and free >= gpu_overhead_bytes + graph + minimum + 2 * first
    if placing:
        alloc = minimum + first
    for size, kv_layer in zip(lay.block_bytes, kv, strict=True):
        layer = size + kv_layer
        if num_gpu >= 0 and count >= num_gpu:
            overflow += layer
            continue
        if placing and free - gpu_overhead_bytes > alloc + graph + layer:
            alloc += layer
            count += 1
        else:
            placing = False
            overflow += layer
    fully = count >= lay.n_layers
    if (num_gpu < 0 or count < num_gpu) and placing and free - gpu_overhead_bytes > alloc + graph + output:
        alloc += output
        count += 1
    else:
        fully = False
        overflow += output
    if count:
        alloc += full if fully else partial
    else:
        alloc = 0
    with warnings.catch_warnings():
        # one unified cache of num_ctx * num_parallel cells: each sequence still stops at num_ctx
        # (capped above at the training context), so llama.cpp's "past the training context" is noise
        warnings.simplefilter("ignore", ContextLengthWarning)
        runner = llamacpp_estimate(
            model,
            quant=quant,
            n_ctx=context,
            n_parallel=num_parallel,
            kv_unified=True,
            flash_attn=flash_attn,
            type_k=kv_type,
            type_v=kv_type,
            n_batch=num_batch,
            n_ubatch=num_batch,
            n_gpu_layers=count,
            gpu=gpu,
            mla_format=lay.mla or None,
            mla_v_cache=True,  # Ollama's runners keep a V cache for latent MLA files (module docstring)
        )
    vision = mmproj_bytes(model) if isinstance(model, Model) else 0
    if vision:
        # llm/memory.go adds the projector's weights and VisionGraphSize's graph to its estimate
        notes.append(
            f"the vision encoder ({vision / MIB:,.0f} MiB in F16) is not counted: Ollama's estimate adds its"
            " weights and graph (llm/memory.go: the projector file, or VisionGraphSize for a one-file model)"
        )
    placed = min(count, lay.n_layers)
    ahead = sum(lay.block_bytes[lay.n_layers - placed :]) - sum(lay.block_bytes[:placed])
    if placed and ahead > _MATERIAL_BYTES and ahead > 0.01 * sum(lay.block_bytes[:placed]):
        # llm/memory.go sums blk.0, blk.1, ... while llama.cpp puts the *last* n_gpu_layers blocks on the GPU;
        # only worth a word when the difference is material (a quant mix moves a few MiB between blocks)
        why = (
            "smaller leading dense layers"
            if lay.block_bytes[0] < 0.75 * max(lay.block_bytes)
            else "the quant mix gives them more bits"
        )
        notes.append(
            f"Ollama sizes the first {placed} blocks but llama.cpp offloads the last {placed}, which hold"
            f" {ahead / GIB:.2f} GiB more here ({why}): the runner needs more than estimated"
        )
    return OllamaEstimate(
        model=lay.name,
        quant=lay.quant,
        num_ctx=num_ctx,
        num_parallel=num_parallel,
        num_batch=num_batch,
        flash_attn=flash_attn,
        kv_cache_type=kv_type,
        layers_model=lay.n_layers + 1,
        layers_offload=count,
        kv_bytes=kv_total,
        graph_full_bytes=full,
        graph_partial_bytes=partial,
        weights_total_bytes=sum(lay.block_bytes) + kv_total,
        weights_nonrepeating_bytes=output,
        vram_bytes=alloc,
        total_bytes=alloc + overflow,
        gpu=gpu.name if gpu is not None else None,
        gpu_free_bytes=free if gpu is not None else None,
        minimum_bytes=minimum,
        llamacpp=runner,
        notes=tuple(notes),
    )


def estimate_inference(
    model: Model | GGUFCheckpoint | str | os.PathLike[str],
    workload: Inference,
    *,
    gpu: GPU | None = None,
    quant: str | None = None,
    **settings: object,
) -> OllamaEstimate:
    """Ollama's decision for an :class:`Inference`: ``num_ctx = context_tokens``,
    ``num_parallel = batch_size``, the weights/KV/flash-attention mapping of
    :func:`llmcatalog.engines.llamacpp.workload_settings`; ``settings`` override any of
    :func:`estimate`'s. This is the entry point for an ``engine="ollama"`` dispatch."""
    q, kv_type, flash = workload_settings(model, workload, quant)
    base: dict[str, object] = {
        "num_ctx": workload.context_tokens,
        "num_parallel": workload.batch_size,
        "flash_attn": flash is True,  # Ollama's own default: off unless OLLAMA_FLASH_ATTENTION=1
        "kv_cache_type": kv_type if kv_type in _KV_BYTES else "f16",
    }
    base.update(settings)
    return estimate(model, gpu=gpu, quant=q, **base)  # type: ignore[arg-type]
