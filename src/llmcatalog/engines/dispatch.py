"""One workload on several serving engines: choose an engine by name, put their answers side by side,
and ask each the inverse questions (the longest request, the most concurrent requests that fit).

The engine is a separate argument rather than a field of :class:`~llmcatalog.Inference`: the workload
says what runs (the model's weight format, request length, batch, tensor/pipeline split), the engine
and its settings say how it is served. :data:`ENGINES` names them:

- ``"transformers"``: Hugging Face ``generate()``, memory grown per workload
  (:func:`~llmcatalog.estimate_vram`); the default.
- ``"vllm"``: vLLM's V1 engine (:mod:`llmcatalog.engines.vllm`, settings :class:`VLLMSettings`).
- ``"sglang"``: SGLang (:mod:`llmcatalog.engines.sglang`, settings :class:`SGLangSettings`).
- ``"llama.cpp"``: llama.cpp's buffers (:mod:`llmcatalog.engines.llamacpp`; settings: a mapping of
  :func:`~llmcatalog.engines.llamacpp.estimate`'s keywords, e.g. ``{"quant": "Q4_K_M", "flash_attn": True}``).
- ``"ollama"``: Ollama's own offload decision on top of llama.cpp (:mod:`llmcatalog.engines.ollama`).

Each engine is one entry of the dispatch table ``_ENGINES`` (an ``_Engine``: its version, how to run
it, its two inverse answers and its settings class); wiring an engine in is replacing its entry.

Every engine answers with an :class:`~llmcatalog.engines.result.EngineBreakdown`, whose ``detail``
holds the engine's own result (its start-up figures).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from ..errors import (
    CompatibilityWarning,
    ContextLengthWarning,
    LLMCatalogError,
    NotEstimableError,
    WorkloadError,
    outside_stacklevel,
)
from ..memory.estimate import _arch_of, _resolve_format, _unwrap, estimate_vram
from ..values.compat import ENGINES as RULED_ENGINES
from ..values.compat import Support, supports
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.workload import Inference
from . import llamacpp, ollama
from .result import EngineBreakdown
from .sglang import SGLANG_VERSION, SGLangSettings, estimate_sglang
from .vllm import VLLM_VERSION, VLLMSettings, estimate_vllm, vllm_max_model_len

__all__ = [
    "ENGINES",
    "EngineSettings",
    "compare_engines",
    "engine_compatibility",
    "engine_estimate",
    "engine_max_concurrency",
    "engine_max_model_len",
]

#: The engines :func:`engine_estimate` knows, by the name users pass.
ENGINES = ("transformers", "vllm", "sglang", "llama.cpp", "ollama")

#: Settings for one engine: its settings class, or a mapping of its option names to values.
EngineSettings = VLLMSettings | SGLangSettings | Mapping[str, Any] | None

#: Upper bound of the transformers engine's concurrency search (the workload bound on batch size).
_MAX_SEARCH = 2**24


def _check_engine(engine: object) -> str:
    if not isinstance(engine, str) or engine not in ENGINES:
        raise WorkloadError(f"engine={engine!r} is not supported; choose one of {list(ENGINES)}")
    return engine


def _settings(engine: str, settings: EngineSettings) -> Any:
    """The engine's settings object from ``settings`` (its class, a mapping of options, or None)."""
    cls = _ENGINES[engine].settings
    if cls is dict:  # llama.cpp / Ollama: their estimate's keyword settings (llamacpp.estimate, ollama.estimate)
        if settings is None:
            return {}
        if not isinstance(settings, Mapping):
            raise WorkloadError(f"settings for {engine} must be a mapping of its options, got {settings!r}")
        return dict(settings)
    if settings is None:
        return cls() if cls is not None else None
    if cls is not None and isinstance(settings, cls):
        return settings
    if isinstance(settings, Mapping):
        if cls is None:
            if settings:
                raise WorkloadError(f"engine {engine!r} takes no settings here, got {sorted(settings)}")
            return None
        names = {a.name for a in attrs.fields(cls)}
        unknown = sorted(set(settings) - names)
        if unknown:
            raise WorkloadError(f"{engine} has no setting(s) {unknown}; known: {sorted(names)}")
        return cls(**settings)
    raise WorkloadError(f"settings for {engine} must be a {getattr(cls, '__name__', 'mapping')}, got {settings!r}")


def _transformers(model: Model | Architecture, gpu: GPU, w: Inference, _settings: None) -> EngineBreakdown:
    est = estimate_vram(model, w)
    fits = est.total_bytes <= gpu.available_bytes
    most = _search(lambda n: _tf_fits(model, gpu, attrs.evolve(w, batch_size=n)), _MAX_SEARCH)
    error = None
    if not fits:
        error = f"needs {est.total_bytes / 2**30:.2f} GiB per GPU, {gpu.name} has {gpu.available_bytes / 2**30:.2f} GiB"
    return EngineBreakdown(
        engine="transformers",
        version="generate()",
        weights_bytes=est.weights_bytes,
        kv_cache_bytes=est.kv_cache_bytes,
        activation_bytes=est.activations_bytes,
        other_bytes=est.overhead_bytes,
        request_tokens=w.context_tokens,
        kv_tokens=None,
        max_concurrency=float(most),  # the largest batch of such requests whose estimate fits
        fits=fits,
        error=error,
        notes=est.assumptions,
        detail=est,
    )


def _vllm(model: Model | Architecture, gpu: GPU, w: Inference, settings: VLLMSettings) -> EngineBreakdown:
    return estimate_vllm(model, gpu, w, settings).breakdown(w.context_tokens, w.batch_size)


def _sglang(model: Model | Architecture, gpu: GPU, w: Inference, settings: SGLangSettings) -> EngineBreakdown:
    return estimate_sglang(model, gpu, w, settings).breakdown(w.context_tokens, w.batch_size)


def _vllm_max_len(model: Model | Architecture, gpu: GPU, w: Inference, s: VLLMSettings, limit: int) -> int:
    est = estimate_vllm(model, gpu, w, attrs.evolve(s, max_model_len=None))
    if est.available_kv_bytes <= 0:
        return 0
    return vllm_max_model_len(
        est.groups,
        est.available_kv_bytes,
        block_size=est.block_size,
        max_num_batched_tokens=est.max_num_batched_tokens,
        limit=limit,
    )


def _sglang_max_len(model: Model | Architecture, gpu: GPU, w: Inference, s: SGLangSettings, limit: int) -> int:
    sg = estimate_sglang(model, gpu, w, attrs.evolve(s, context_length=None))
    return 0 if sg.error else min(sg.max_total_num_tokens, limit)


def _tf_max_len(model: Model | Architecture, gpu: GPU, w: Inference, _s: None, limit: int) -> int:
    return _search(lambda n: _tf_fits(model, gpu, attrs.evolve(w, context_tokens=n, prompt_tokens=None)), limit)


def _vllm_most(model: Model | Architecture, gpu: GPU, w: Inference, s: VLLMSettings) -> int:
    est = estimate_vllm(model, gpu, w, s)
    if est.available_kv_bytes <= 0 or w.context_tokens > est.max_model_len:
        return 0
    return min(math.floor(est.concurrency_for(w.context_tokens)), est.max_num_seqs)


def _sglang_most(model: Model | Architecture, gpu: GPU, w: Inference, s: SGLangSettings) -> int:
    sg = estimate_sglang(model, gpu, w, s)
    if sg.error or w.context_tokens > sg.context_len:
        return 0
    return min(sg.max_total_num_tokens // w.context_tokens, sg.max_running_requests)


def _tf_most(model: Model | Architecture, gpu: GPU, w: Inference, _s: None) -> int:
    return _search(lambda n: _tf_fits(model, gpu, attrs.evolve(w, batch_size=n)), _MAX_SEARCH)


def _gguf_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(settings or {})


def _as_model(model: Model | Architecture) -> Model:
    """llama.cpp and Ollama read a :class:`Model` (a bare architecture is wrapped in one)."""
    if isinstance(model, Model):
        return model
    return Model(id="architecture", name="architecture", domain="general", architecture=model)


def _llamacpp(model: Model | Architecture, gpu: GPU, w: Inference, settings: Mapping[str, Any]) -> EngineBreakdown:
    est = llamacpp.estimate_inference(_as_model(model), w, gpu=gpu, **_gguf_settings(settings))
    fits = bool(est.fits)
    error = None
    if est.unified_fits is False:
        error = "; ".join(est.failed_limits())  # every limit that fails
    elif not fits:
        error = (
            f"the GPU buffers take {est.gpu_total_bytes / 2**30:.2f} GiB (+ {est.reserve_bytes / 2**20:.0f} MiB "
            f"kept free); {gpu.name} has {gpu.available_bytes / 2**30:.2f} GiB: offload fewer layers "
            f"(at most {est.max_gpu_layers} fit)"
        )
    return EngineBreakdown(
        engine="llama.cpp",
        version=llamacpp.LLAMACPP_VERSION,
        weights_bytes=est.gpu_model_bytes,
        kv_cache_bytes=est.gpu_kv_bytes,
        activation_bytes=est.gpu_compute_bytes,
        other_bytes=est.reserve_bytes,
        request_tokens=w.context_tokens,
        kv_tokens=est.kv_cells,
        max_concurrency=None,
        fits=fits,
        error=error,
        notes=est.notes,
        weights_format=est.quant,
        verdict=est.verdict,
        detail=est,
    )


def _ollama(model: Model | Architecture, gpu: GPU, w: Inference, settings: Mapping[str, Any]) -> EngineBreakdown:
    est = ollama.estimate_inference(_as_model(model), w, gpu=gpu, **_gguf_settings(settings))
    lc = est.llamacpp
    # the verdict of `--engine ollama` (OllamaEstimate.fits / .verdict): Ollama picks its own split, so a
    # partial offload whose buffers fit is a fit (docs/engines/ollama.md); the verdict says how many layers
    fits = est.fits is True
    error = None if fits else (est.verdict or f"Ollama would offload no layer to {gpu.name}")
    return EngineBreakdown(
        engine="ollama",
        version=ollama.OLLAMA_VERSION,
        weights_bytes=lc.gpu_model_bytes,
        kv_cache_bytes=lc.gpu_kv_bytes,
        activation_bytes=lc.gpu_compute_bytes,
        other_bytes=est.minimum_bytes,
        request_tokens=w.context_tokens,
        kv_tokens=lc.kv_cells,
        max_concurrency=None,
        fits=fits,
        error=error,
        notes=est.notes,
        weights_format=est.quant,
        verdict=est.verdict,
        detail=est,
    )


def _gguf_max_len(run: Callable[..., EngineBreakdown]) -> Callable[..., int]:
    def max_len(model: Model | Architecture, gpu: GPU, w: Inference, s: Mapping[str, Any], limit: int) -> int:
        return _search(lambda n: run(model, gpu, attrs.evolve(w, context_tokens=n, prompt_tokens=None), s).fits, limit)

    return max_len


def _gguf_most(run: Callable[..., EngineBreakdown]) -> Callable[..., int]:
    def most(model: Model | Architecture, gpu: GPU, w: Inference, s: Mapping[str, Any]) -> int:
        return _search(lambda n: run(model, gpu, attrs.evolve(w, batch_size=n), s).fits, _MAX_GGUF_PARALLEL)

    return most


#: Upper bound of the parallel-sequence search for llama.cpp / Ollama (llama.cpp's own limit on -np is 256).
_MAX_GGUF_PARALLEL = 256


@attrs.frozen(kw_only=True)
class _Engine:
    """One engine's entry in the dispatch table: how to run it and ask it the inverse questions.

    ``run(model, gpu, workload, settings)`` gives its :class:`EngineBreakdown`; ``max_model_len(model,
    gpu, workload, settings, limit)`` the longest request it serves (tokens, at most ``limit``);
    ``max_concurrency(model, gpu, workload, settings)`` the most requests of ``workload.context_tokens``;
    ``settings`` its settings class (None: it takes none).
    """

    version: str
    run: Callable[..., EngineBreakdown]
    max_model_len: Callable[..., int]
    max_concurrency: Callable[..., int]
    settings: type | None = None


#: The dispatch table.
_ENGINES: dict[str, _Engine] = {
    "transformers": _Engine(
        version="generate()", run=_transformers, max_model_len=_tf_max_len, max_concurrency=_tf_most
    ),
    "vllm": _Engine(
        version=VLLM_VERSION, run=_vllm, max_model_len=_vllm_max_len, max_concurrency=_vllm_most, settings=VLLMSettings
    ),
    "sglang": _Engine(
        version=SGLANG_VERSION,
        run=_sglang,
        max_model_len=_sglang_max_len,
        max_concurrency=_sglang_most,
        settings=SGLangSettings,
    ),
    "llama.cpp": _Engine(
        version=llamacpp.LLAMACPP_VERSION,
        run=_llamacpp,
        max_model_len=_gguf_max_len(_llamacpp),
        max_concurrency=_gguf_most(_llamacpp),
        settings=dict,
    ),
    "ollama": _Engine(
        version=ollama.OLLAMA_VERSION,
        run=_ollama,
        max_model_len=_gguf_max_len(_ollama),
        max_concurrency=_gguf_most(_ollama),
        settings=dict,
    ),
}


def engine_estimate(
    model: Model | Architecture,
    gpu: GPU,
    engine: str = "transformers",
    workload: Inference | None = None,
    settings: EngineSettings = None,
) -> EngineBreakdown:
    """``workload`` served by ``engine`` on ``gpu``: what the engine takes per GPU, its KV-cache tokens and
    how many requests of ``workload.context_tokens`` it holds at once. ``fits`` says whether it runs
    ``workload.batch_size`` such requests (vLLM and SGLang: whether they start and hold them).

    Weights the engine has no kernel for on ``gpu`` (:func:`engine_compatibility`: AWQ on a V100 under
    vLLM) warn with :class:`~llmcatalog.CompatibilityWarning`; the figures are still given."""
    name = _check_engine(engine)
    w = workload or Inference()
    if not isinstance(w, Inference):
        raise WorkloadError(f"serving engines run inference: workload must be a llmcatalog.Inference, got {w!r}")
    if not isinstance(gpu, GPU):
        raise TypeError(f"gpu must be a llmcatalog.GPU, got {type(gpu).__name__}")
    b = _ENGINES[name].run(model, gpu, w, _settings(name, settings))
    if not b.weights_format:
        b = attrs.evolve(b, weights_format=_format_name(model, w))
    verdict = engine_compatibility(model, gpu, name, w)
    if verdict is not None and not verdict.ok and verdict.known:
        warnings.warn(
            f"{name}: {verdict.reason} (figures given anyway)", CompatibilityWarning, stacklevel=outside_stacklevel()
        )
    return b


def engine_compatibility(model: Model | Architecture, gpu: GPU, engine: str, workload: Inference) -> Support | None:
    """Whether ``engine`` has kernels on ``gpu`` for the weights the user chose (:func:`llmcatalog.supports`):
    a given ``precision``, else a quantized checkpoint's own format. None when nothing was chosen (a 16-bit
    checkpoint as stored) or the engine has no rule (llama.cpp and Ollama run GGUF types)."""
    if engine not in RULED_ENGINES:
        return None
    model = _unwrap(model)  # type: ignore[assignment]
    stored = model.weight_format if isinstance(model, Model) else None
    if workload.precision_given:
        fmt = workload.weight_format
    elif stored is not None and stored.quantized:
        fmt = stored
    else:
        return None
    verdict = supports(gpu, fmt, None if engine == "transformers" else engine)
    if verdict.ok or fmt.name in verdict.reason:
        return verdict
    return attrs.evolve(verdict, reason=f"{fmt.name} weights on the {gpu.name}: {verdict.reason}")


def _format_name(model: Model | Architecture, w: Inference) -> str:
    """The weight format vLLM, SGLang and transformers load (``memory.estimate._resolve_format``)."""
    resolved, _ = _resolve_format(model, w)
    assert isinstance(resolved, Inference)
    return resolved.weight_format.name


def _failed(engine: str, model: Model | Architecture, w: Inference, exc: LLMCatalogError) -> EngineBreakdown:
    return EngineBreakdown(
        engine=engine,
        version=_ENGINES[engine].version,
        weights_bytes=0,
        kv_cache_bytes=0,
        activation_bytes=0,
        other_bytes=0,
        request_tokens=w.context_tokens,
        fits=False,
        error=str(exc),
        estimated=False,
        weights_format=_format_name(model, w) if engine not in ("llama.cpp", "ollama") else "",
    )


def compare_engines(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference | None = None,
    engines: Iterable[str] = ENGINES,
    settings: Mapping[str, EngineSettings] | None = None,
) -> dict[str, EngineBreakdown]:
    """The same workload on each of ``engines`` (default: all), side by side, in one call.

    ``settings`` maps an engine name to its settings. An engine that cannot estimate this model (or is
    one it does not support) gets a breakdown with ``fits=False`` and its ``error``, so one engine's refusal never
    hides the others' answers. Bad workloads and settings still raise.
    """
    w = workload or Inference()
    chosen = [_check_engine(e) for e in engines]
    given = dict(settings or {})
    for name in given:
        _check_engine(name)
    out: dict[str, EngineBreakdown] = {}
    for name in chosen:
        try:
            out[name] = engine_estimate(model, gpu, name, w, given.get(name))
        except NotEstimableError as exc:
            out[name] = _failed(name, model, w, exc)
    return out


def engine_max_model_len(
    model: Model | Architecture,
    gpu: GPU,
    engine: str = "vllm",
    workload: Inference | None = None,
    settings: EngineSettings = None,
) -> int:
    """The longest request (tokens) ``engine`` serves for ``model`` on ``gpu``: 0 when none fits.

    vLLM: the largest ``max_model_len`` whose cache holds one request (its own suggestion when it refuses
    to start), at most the model's ``max_position_embeddings``. SGLang: its token pool, at most the
    context length. transformers: the longest ``context_tokens`` whose estimate fits the GPU.
    """
    name = _check_engine(engine)
    w = workload or Inference()
    arch, _, _ = _arch_of(_unwrap(model))  # type: ignore[arg-type]
    return _ENGINES[name].max_model_len(model, gpu, w, _settings(name, settings), arch.max_context)


def engine_max_concurrency(
    model: Model | Architecture,
    gpu: GPU,
    engine: str = "vllm",
    workload: Inference | None = None,
    settings: EngineSettings = None,
) -> int:
    """The most requests of ``workload.context_tokens`` tokens ``engine`` runs at once on ``gpu``.

    vLLM and SGLang: whole requests the KV cache holds, at most ``max_num_seqs`` /
    ``max_running_requests`` (0 when the engine would not start). transformers: the largest
    ``batch_size`` whose estimate fits.
    """
    name = _check_engine(engine)
    w = workload or Inference()
    return _ENGINES[name].max_concurrency(model, gpu, w, _settings(name, settings))


def _tf_fits(model: Model | Architecture, gpu: GPU, w: Inference) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ContextLengthWarning)
        return estimate_vram(model, w).total_bytes <= gpu.available_bytes


def _search(ok: Callable[[int], bool], limit: int) -> int:
    """The largest n in [1, limit] with ok(n) (ok is monotone: true, then false), or 0."""
    if not ok(1):
        return 0
    lo, hi = 1, 2
    while hi <= limit and ok(hi):
        lo, hi = hi, hi * 2
    hi = min(hi, limit + 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo
