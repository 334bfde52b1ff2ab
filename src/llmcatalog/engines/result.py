"""What every engine's estimate can be reduced to, for side-by-side tables: :class:`EngineBreakdown`."""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import NotEstimableError
from ..memory.estimate import _arch_of, _check_parallel, _resolve_format, _unwrap
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.workload import Inference

__all__ = ["CUDA_VENDORS", "EngineBreakdown", "require_cuda_or_rocm"]

#: ``GPU.vendor`` values whose cards vLLM and SGLang run on with the CUDA/ROCm memory plan these
#: modules model (CUDA graphs, ``torch.cuda`` memory accounting): NVIDIA (CUDA) and AMD (ROCm).
CUDA_VENDORS = ("NVIDIA", "AMD")


def require_cuda_or_rocm(gpu: GPU, engine: str) -> None:
    """Refuse (:class:`~llmcatalog.NotEstimableError`) a GPU that ``engine`` (vLLM, SGLang) does not
    run on as a CUDA/ROCm device: Apple silicon (Metal), Intel, Huawei Ascend. Their memory plans
    (``torch.cuda.mem_get_info``, CUDA-graph capture) are CUDA's and ROCm's; vLLM's other platforms
    (CPU, XPU, TPU, Ascend plugins) size memory otherwise and are not modelled."""
    if gpu.vendor not in CUDA_VENDORS:
        raise NotEstimableError(
            f"{engine} runs on CUDA (NVIDIA) and ROCm (AMD) GPUs; {gpu.name} (vendor {gpu.vendor}) is neither:"
            " use engine='llama.cpp' or 'ollama' there (or a GPU whose vendor is one of "
            f"{', '.join(CUDA_VENDORS)})"
        )


@attrs.frozen(kw_only=True)
class EngineBreakdown:
    """One engine's answer for one model, GPU and workload, per GPU (the most loaded one), in bytes.

    ``weights_bytes`` the model's share on the GPU, ``kv_cache_bytes`` the KV cache the engine
    allocates (vLLM and SGLang: the whole pool they reserve up front; transformers: what the
    workload's sequences hold), ``activation_bytes`` the working memory it plans for (profiled peak,
    compute buffers), ``other_bytes`` what else it holds or keeps free (CUDA context, CUDA graphs,
    non-torch memory). ``kv_tokens`` is the number of tokens the cache holds (None when the engine
    sizes the cache to the workload), ``max_concurrency`` how many requests of ``request_tokens``
    it can hold at once (transformers: the largest batch whose estimate fits). ``fits`` says whether
    the workload runs; ``error`` holds the engine's own complaint when it would refuse to start or to
    run the workload. ``estimated`` is False when the engine could not estimate this model at all
    (``error`` says why; the figures are then zeros).
    ``detail`` is the engine's own result object (e.g. :class:`~llmcatalog.engines.vllm.VLLMEstimate`).
    ``weights_format`` names how the weights are held (``bf16``, ``mxfp4``, a GGUF type such as
    ``Q4_K_M``), so that a side-by-side table does not compare a 4-bit file with bf16 unawares.
    ``verdict`` is the answer in words, the same one the engine's own ``--engine`` output gives
    (llama.cpp, Ollama: their estimates' ``verdict``; None: derived from ``fits`` and ``error``,
    :attr:`verdict_text`).
    """

    engine: str
    version: str
    weights_bytes: int
    kv_cache_bytes: int
    activation_bytes: int
    other_bytes: int
    request_tokens: int
    kv_tokens: int | None = None
    max_concurrency: float | None = None
    fits: bool = True
    error: str | None = None
    notes: tuple[str, ...] = ()
    estimated: bool = True
    weights_format: str = ""
    verdict: str | None = None
    detail: Any = attrs.field(default=None, eq=False, repr=False)

    @property
    def total_bytes(self) -> int:
        """Weights + KV cache + activations + other: what the engine takes on the GPU."""
        return self.weights_bytes + self.kv_cache_bytes + self.activation_bytes + self.other_bytes

    @property
    def verdict_text(self) -> str:
        """The answer in words: :attr:`verdict` when the engine gave one, else from ``fits`` and ``error``."""
        if self.verdict:
            return self.verdict
        if not self.estimated:
            return f"not estimated: {self.error}"
        if self.fits:
            return "fits"
        return f"does NOT fit: {self.error}" if self.error else "does NOT fit"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of every figure (``detail`` left out)."""
        return {
            "engine": self.engine,
            "version": self.version,
            "weights_bytes": self.weights_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "activation_bytes": self.activation_bytes,
            "other_bytes": self.other_bytes,
            "total_bytes": self.total_bytes,
            "request_tokens": self.request_tokens,
            "kv_tokens": self.kv_tokens,
            "max_concurrency": self.max_concurrency,
            "fits": self.fits,
            "verdict": self.verdict_text,
            "error": self.error,
            "notes": list(self.notes),
            "estimated": self.estimated,
            "weights_format": self.weights_format,
        }


def serving_inputs(
    engine: str, model: Model | Architecture, gpu: GPU, workload: Inference | None, settings: Any, settings_cls: type
) -> tuple[Model | Architecture, Architecture, int, str, Inference, Any, str]:
    """The checked inputs of a CUDA/ROCm serving engine (vLLM, SGLang): ``(model, architecture, extra
    non-LM parameters, name, workload with its weight format resolved, settings, weights note)``.

    Raises ``TypeError`` naming the argument of the wrong type, :class:`NotEstimableError` for a GPU
    the engine does not run on, and the calculus's own errors for the model and parallel split.
    """
    w = workload or Inference()
    s = settings or settings_cls()
    if not isinstance(w, Inference):
        raise TypeError(f"{engine} serves inference workloads: expected a llmcatalog.Inference, got {type(w).__name__}")
    if not isinstance(s, settings_cls):
        raise TypeError(f"settings must be a llmcatalog.{settings_cls.__name__}, got {type(s).__name__}")
    if not isinstance(gpu, GPU):
        raise TypeError(f"gpu must be a llmcatalog.GPU, got {type(gpu).__name__}")
    require_cuda_or_rocm(gpu, engine)
    model = _unwrap(model)  # type: ignore[assignment]
    arch, extra, name = _arch_of(model)
    _check_parallel(arch, w.parallelism, name)
    resolved, weights_note = _resolve_format(model, w)
    assert isinstance(resolved, Inference)
    return model, arch, extra, name, resolved, s, weights_note
