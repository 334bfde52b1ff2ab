"""llmcatalog: a typed, sourced catalog of open LLMs and a GPU-memory calculus.

    >>> import llmcatalog as lc
    >>> m = lc.get_model("Llama-2-7b")
    >>> m.n_params
    6738415616
    >>> e = lc.estimate_vram(m, lc.Inference(precision="bf16", batch_size=1, context_tokens=2048))
    >>> round(e.weights_bytes / 2**30, 2)
    12.55
    >>> lc.fits(m, lc.get_gpu("RTX 4090"), lc.Inference(precision="bf16"))
    True

Nothing is loaded at import time: the catalog is built from the installed plugins on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AmbiguousGPUError,
    CatalogDataError,
    CheckpointError,
    CompatibilityWarning,
    ContextLengthWarning,
    DeepSpeedWorkloadWarning,  # api stream
    DuplicateEntryError,
    LLMCatalogError,
    LoraTargetWarning,  # api stream
    MissingDependencyError,
    MissingGPUFigureError,
    NoFitWarning,  # plan stream: min_gpus says why it returns None
    NotEstimableError,
    OllamaTagWarning,
    PluginError,
    PluginWarning,
    QueryError,
    SeriesNameWarning,
    UncountedPartsWarning,
    UnknownEntryError,
    UnknownGPUError,
    UnknownModelError,
    UnknownToolError,
    WorkloadError,
)
from .values.gpu import GPU
from .values.model import Architecture, Component, Links, Model, PublishedFigure
from .values.model import install_hf_config_reader as _install_hf_config_reader
from .values.precision import FORMATS, WeightFormat
from .values.tool import Tool
from .values.workload import FineTune, Inference, Parallelism
from .values.workload import install_json_reader as _install_json_reader

if TYPE_CHECKING:
    import os

    from .accuracy.figures import FigureComparison
    from .engines.dispatch import (  # engines stream
        ENGINES,
        compare_engines,
        engine_estimate,
        engine_max_concurrency,
        engine_max_model_len,
    )
    from .engines.llamacpp import LlamaCppEstimate
    from .engines.ollama import OllamaEstimate
    from .engines.result import EngineBreakdown
    from .engines.sglang import SGLangSettings, estimate_sglang
    from .engines.speed import llamacpp_decode_speed
    from .engines.vllm import VLLMSettings, estimate_vllm
    from .importers.gguf import GGUFCheckpoint
    from .importers.hfconfig import SUPPORTED_FAMILIES
    from .importers.local import LocalCheckpoint
    from .memory.estimate import FitCheck, MemoryEstimate, check, estimate_vram, fits, min_gpus
    from .memory.params import count_params
    from .performance.inference import (
        DecodeSpeed,
        GenerationTime,
        PrefillSpeed,
        decode_speed,
        generation_time,
        prefill_speed,
    )
    from .performance.training import TrainingTime, training_time
    from .planning import (  # stream: fits/planning
        GPUOption,
        ModelFit,
        Remedy,
        best_precision,
        max_batch,
        max_context,
        min_tensor_parallel,
        models_that_fit,
        recommend,
        which_gpus,
    )
    from .planning.sweep import Sweep, SweepRow, sweep
    from .registry.catalog import Catalog, FamilyNameError, OrganizationNameError, PluginInfo
    from .registry.plugins import catalog, clear_cache, load_toml
    from .registry.resolve import resolve_model
    from .values.compat import Support, supports  # compat stream
    from .values.deepspeed import DEEPSPEED_PRESETS


def _read_hf_config(config: Any, **fields: Any) -> Model:
    # Model.from_hf_config delegates here: the importer loads on first use (values never import it).
    from .importers.hfconfig import model_from_hf_config

    return model_from_hf_config(config, **fields)


_install_hf_config_reader(_read_hf_config)


# stream "zero" (sharding): Parallelism.from_deepspeed_config reads JSON files through the importers' bounded reader.
def _read_json_file(path: Any) -> dict[str, Any]:
    from .importers.files import read_json

    return read_json(path)


_install_json_reader(_read_json_file)


def architecture_from_hf_config(config: object) -> Architecture:
    """The :class:`Architecture` described by a Hugging Face ``config.json`` mapping
    (see :data:`SUPPORTED_FAMILIES`); raises :class:`CatalogDataError` saying what is missing."""
    from .importers.hfconfig import architecture_from_hf_config as read

    return read(config)  # type: ignore[arg-type]


def weight_format_from_quantization_config(qcfg: object, *, compute_dtype: str | None = None) -> WeightFormat:
    """The :class:`WeightFormat` a checkpoint's ``quantization_config`` describes (GPTQ, AWQ,
    bitsandbytes, FP8, MXFP4, NVFP4, compressed-tensors; see :mod:`llmcatalog.importers.quantization`);
    pass it as ``Inference(precision=...)``. Raises :class:`CatalogDataError` naming a bad key."""
    from .importers.quantization import weight_format_from_quantization_config as read

    return read(qcfg, compute_dtype=compute_dtype)  # type: ignore[arg-type]


def from_local(path: str | os.PathLike[str], **fields: object) -> LocalCheckpoint:
    """Read a local model folder (``config.json`` + safetensors *headers*, never the weights) or a
    ``config.json``: the Model with its exact parameter count, and the stored dtypes and bytes
    (see :mod:`llmcatalog.importers.local`)."""
    from .importers.local import from_local as read

    return read(path, **fields)


def from_gguf(path: str | os.PathLike[str], **fields: object) -> GGUFCheckpoint:
    """Read a GGUF file's header: the Model (architecture from its metadata) and the bytes per
    ggml tensor type as stored (needs the ``gguf`` extra; see :mod:`llmcatalog.importers.gguf`)."""
    from .importers.gguf import from_gguf as read

    return read(path, **fields)


def from_hub(repo_id: str, revision: str | None = None, **options: object) -> LocalCheckpoint:
    """Read a Hugging Face Hub repository's ``config.json`` and safetensors headers, from the cache
    when there (honours ``HF_HUB_OFFLINE``; needs the ``hub`` extra; see :mod:`llmcatalog.importers.hub`)."""
    from .importers.hub import from_hub as read

    return read(repo_id, revision, **options)  # type: ignore[arg-type]


def compare_figure(model: Model | str, figure: PublishedFigure, gpu: GPU | str | None = None) -> FigureComparison:
    """Estimate a published figure's setting and compare (see :mod:`llmcatalog.accuracy.figures`);
    ``model`` and ``gpu`` may be catalog names."""
    from .accuracy.figures import compare_figure as compare

    if isinstance(model, str):  # api stream: names accepted
        model = _model_named(model)
    if isinstance(gpu, str):
        gpu = get_gpu(gpu)
    return compare(model, figure, gpu)


def workload_for_figure(figure: PublishedFigure) -> Inference | FineTune | str:
    """The workload a published figure was measured under, or a string saying what it lacks."""
    from .accuracy.figures import workload_for_figure as workload

    return workload(figure)


# --- engines stream (llama.cpp / Ollama): public faces ---
def _gguf_face_model(
    model: Model | GGUFCheckpoint | str | os.PathLike[str], settings: dict[str, Any]
) -> tuple[Model | GGUFCheckpoint, dict[str, Any]]:
    """The model an engine face of llama.cpp / Ollama takes: a ``.gguf`` path read, a name looked up
    (an Ollama tag's quantization, "qwen2.5:7b-instruct-q8_0", becomes ``quant`` unless one is given)."""
    import os as _os

    from .registry.resolve import ollama_tag_quant

    if isinstance(model, str) and not model.lower().endswith(".gguf"):
        tagged = ollama_tag_quant(model)
        if tagged is not None and "quant" not in settings:
            settings = {**settings, "quant": tagged}
        return get_model(model), settings
    if isinstance(model, str | _os.PathLike):
        return from_gguf(model), settings
    return model, settings


def estimate_llamacpp(
    model: Model | GGUFCheckpoint | str | os.PathLike[str], *, gpu: GPU | str | None = None, **settings: Any
) -> LlamaCppEstimate:
    """llama.cpp's model, KV and compute buffers per device for ``model`` (a :class:`Model`, a catalog
    name, a ``.gguf`` path or a :class:`GGUFCheckpoint`) with llama.cpp's settings (``quant``,
    ``n_ctx``, ``n_parallel``, ``type_k``/``type_v``, ``flash_attn``, ``n_ubatch``, ``n_gpu_layers``,
    ...); with a ``gpu`` (a :class:`GPU` or catalog name), also whether it fits, the most layers and
    the longest context that fit (see :mod:`llmcatalog.engines.llamacpp`)."""
    from .engines.llamacpp import estimate

    model, settings = _gguf_face_model(model, settings)
    card = get_gpu(gpu) if isinstance(gpu, str) else gpu
    return estimate(model, gpu=card, **settings)


def estimate_ollama(
    model: Model | GGUFCheckpoint | str | os.PathLike[str], *, gpu: GPU | str | None = None, **settings: Any
) -> OllamaEstimate:
    """What Ollama would decide for ``model`` on ``gpu``: its defaults (``num_ctx``, parallel slots,
    flash attention, KV type) and its own memory estimate (``EstimateGPULayers``: layers offloaded,
    graph sizes, VRAM), next to llama.cpp's buffers for that setting (see
    :mod:`llmcatalog.engines.ollama`)."""
    from .engines.ollama import estimate

    model, settings = _gguf_face_model(model, settings)
    card = get_gpu(gpu) if isinstance(gpu, str) else gpu
    return estimate(model, gpu=card, **settings)


# The calculus and the catalog load on first use, so that `import llmcatalog` stays light (< 100 ms):
# `lc.catalog` is the very function of its module, looked up lazily; `lc.estimate_vram` and the other
# calculus faces also take catalog names (_accepting_names, below).
_LAZY = {
    "Catalog": "registry.catalog",
    # stream cat2: names
    "resolve_model": "registry.resolve",
    "FamilyNameError": "registry.catalog",
    "OrganizationNameError": "registry.catalog",
    "MemoryEstimate": "memory.estimate",
    "PluginInfo": "registry.catalog",
    "catalog": "registry.plugins",
    "clear_cache": "registry.plugins",
    "count_params": "memory.params",
    "estimate_vram": "memory.estimate",
    "fits": "memory.estimate",
    "load_toml": "registry.plugins",
    "min_gpus": "memory.estimate",
    "FigureComparison": "accuracy.figures",
    "GGUFCheckpoint": "importers.gguf",
    # engines stream (llama.cpp / Ollama)
    "LlamaCppEstimate": "engines.llamacpp",
    "OllamaEstimate": "engines.ollama",
    "LocalCheckpoint": "importers.local",
    "SUPPORTED_FAMILIES": "importers.hfconfig",
    # stream: fits/planning
    "FitCheck": "memory.estimate",
    "check": "memory.estimate",
    "GPUOption": "planning",
    "ModelFit": "planning",
    "Remedy": "planning",
    "best_precision": "planning",
    "max_batch": "planning",
    "max_context": "planning",
    "min_tensor_parallel": "planning",
    "models_that_fit": "planning",
    "recommend": "planning",
    "which_gpus": "planning",
    # engines stream (vLLM, SGLang, side by side)
    "ENGINES": "engines.dispatch",
    "EngineBreakdown": "engines.result",
    "SGLangSettings": "engines.sglang",
    "VLLMSettings": "engines.vllm",
    "compare_engines": "engines.dispatch",
    "engine_estimate": "engines.dispatch",
    "engine_max_concurrency": "engines.dispatch",
    "engine_max_model_len": "engines.dispatch",
    "estimate_sglang": "engines.sglang",
    "estimate_vllm": "engines.vllm",
    "llamacpp_decode_speed": "engines.speed",  # engfix: llama.cpp decode from its GGUF bytes
    # stream "zero" (sharding)
    "DEEPSPEED_PRESETS": "values.deepspeed",
    # planning: sweeps
    "Sweep": "planning.sweep",
    "SweepRow": "planning.sweep",
    "sweep": "planning.sweep",
    # speed and time (performance stream)
    "DecodeSpeed": "performance.inference",
    "PrefillSpeed": "performance.inference",
    "GenerationTime": "performance.inference",
    "TrainingTime": "performance.training",
    "decode_speed": "performance.inference",
    "prefill_speed": "performance.inference",
    "generation_time": "performance.inference",
    "training_time": "performance.training",
    # issue 10, PEFT stream: the framework profiles behind FineTune.for_framework
    "FRAMEWORKS": "values.frameworks",
    # compat stream: which formats a GPU/engine can run
    "Support": "values.compat",
    "supports": "values.compat",
}


# Issue 11 user trial: the public faces of the calculus take catalog names as well as values. A str
# model (a catalog id, name or alias, a model folder, config.json or .gguf, a Hub id: registry/resolve.py)
# or a str GPU (catalog().get_gpu) is looked up, then the calculus runs unchanged; the calculus itself
# never imports the registry (tests/test_layers.py). Functions taking (model, ...) and (model, gpu, ...):
_NAMED_MODEL = frozenset({"estimate_vram", "which_gpus"})
_NAMED_MODEL_GPU = frozenset(
    {
        "check", "fits", "min_gpus",
        "best_precision", "max_batch", "max_context", "min_tensor_parallel", "recommend",
        "decode_speed", "prefill_speed", "generation_time", "training_time",
        "estimate_vllm", "estimate_sglang",
        "engine_estimate", "compare_engines", "engine_max_model_len", "engine_max_concurrency",
    }
)  # fmt: skip


def _count_params_named(func: Any) -> Any:
    import functools

    @functools.wraps(func)
    def count_params(model: Any) -> int:
        """Exact parameter count of an :class:`Architecture`, or of the language model of a :class:`Model`
        or catalog name (its ``architecture``; multimodal parts are in ``Model.n_params``)."""
        if model.__class__ is str:
            model = _model_named(model)
        if isinstance(model, Model):
            if model.architecture is None:
                raise NotEstimableError(f"{model.id} has no known architecture to count: see its n_params")
            model = model.architecture
        elif not isinstance(model, Architecture):
            raise TypeError(
                f"count_params takes an Architecture, a Model or a catalog name, got {type(model).__name__}"
            )
        return int(func(model))

    return count_params


def _gpu_first_named(func: Any) -> Any:
    import functools

    @functools.wraps(func)
    def call(gpu: Any, *args: Any, **kwargs: Any) -> Any:
        return func(get_gpu(gpu) if gpu.__class__ is str else gpu, *args, **kwargs)

    return call


def _gpu_second_named(func: Any) -> Any:
    """(model, gpu, ...) where the model keeps its own str handling (a .gguf path) and the GPU may be a name."""
    import functools

    @functools.wraps(func)
    def call(model: Any, gpu: Any, *args: Any, **kwargs: Any) -> Any:
        return func(model, get_gpu(gpu) if gpu.__class__ is str else gpu, *args, **kwargs)

    return call


#: Faces that take a model or GPU name in other places than (model, gpu, ...): api stream.
_NAMED_OTHER = {
    "count_params": _count_params_named,
    "models_that_fit": _gpu_first_named,
    "llamacpp_decode_speed": _gpu_second_named,
    "supports": _gpu_first_named,  # supports(gpu, format_or_dtype, engine=None)
}


#: Faces that estimate what Ollama / llama.cpp run: an Ollama tag is what they expect.
_GGUF_FACES = frozenset({"estimate_ollama", "estimate_llamacpp", "llamacpp_decode_speed"})


def _model_named(name: str, face: str = "get_model") -> Model:
    from .registry.plugins import catalog
    from .registry.resolve import is_ollama_tag, resolve_model

    model = resolve_model(name, catalog())
    if face != "get_model" and face not in _GGUF_FACES and is_ollama_tag(name):
        import warnings

        warnings.warn(OllamaTagWarning(name, model.id), stacklevel=3)
    return model


def _accepting_names(func: Any, *, gpu: bool) -> Any:
    """``func`` with a str ``model`` (and, with ``gpu``, a str ``gpu``) looked up in the catalog
    first; signature and docstring kept (functools.wraps). A value passes with one class test."""
    import functools

    if func.__name__ in _NAMED_OTHER:  # api stream: count_params(model), models_that_fit(gpu), (path, gpu)
        return _NAMED_OTHER[func.__name__](func)
    if func.__name__ == "which_gpus":  # its ``gpus=`` may name catalog GPUs too

        @functools.wraps(func)
        def call_gpus(model: Any, *args: Any, **kwargs: Any) -> Any:
            if model.__class__ is str:
                model = _model_named(model)
            pool = kwargs.get("gpus")
            if pool is not None and not isinstance(pool, str):
                kwargs["gpus"] = [get_gpu(g) if g.__class__ is str else g for g in pool]
            return func(model, *args, **kwargs)

        return call_gpus
    if not gpu:
        # estimate_vram(model, workload, **options) is the hot path (benchmarks/speed.py): named
        # parameters and no empty **kwargs forwarded keep the wrapper to about 0.1 us a call.
        @functools.wraps(func)
        def call_model(model: Any, workload: Any = None, **kwargs: Any) -> Any:
            if model.__class__ is str:
                model = _model_named(model, func.__name__)
            if kwargs:
                return func(model, workload, **kwargs)
            return func(model, workload)

        return call_model

    @functools.wraps(func)
    def call(model: Any, gpu: Any, *args: Any, **kwargs: Any) -> Any:
        if model.__class__ is str:
            model = _model_named(model, func.__name__)
        if gpu.__class__ is str:
            gpu = get_gpu(gpu)
        if kwargs:
            return func(model, gpu, *args, **kwargs)
        return func(model, gpu, *args)

    return call


def __getattr__(name: str) -> object:
    # Rarely used names load their module on first access; __version__ reads the package metadata
    # then (importlib.metadata is slow to import).
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"llmcatalog.{_LAZY[name]}"), name)
        if name in _NAMED_MODEL or name in _NAMED_MODEL_GPU or name in _NAMED_OTHER:
            value = _accepting_names(value, gpu=name in _NAMED_MODEL_GPU)
        globals()[name] = value  # loaded once: later look-ups are plain module attributes
        return value
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("llmcatalog")
        except PackageNotFoundError:  # pragma: no cover - a source tree that was not installed
            return "0+unknown"
    raise AttributeError(f"module 'llmcatalog' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The loaded names and the lazy ones (``__all__``), so ``dir()`` and completion see both (PEP 562)."""
    return sorted({*globals(), *__all__, *_LAZY})


__all__ = [
    "DEEPSPEED_PRESETS",  # stream "zero" (sharding)
    "ENGINES",
    "FORMATS",
    "FRAMEWORKS",
    "GPU",
    "SUPPORTED_FAMILIES",
    "AmbiguousGPUError",
    "Architecture",
    "Catalog",
    "CatalogDataError",
    "CheckpointError",
    "CompatibilityWarning",
    "Component",
    "ContextLengthWarning",
    "DecodeSpeed",
    "DeepSpeedWorkloadWarning",  # api stream
    "DuplicateEntryError",
    "EngineBreakdown",
    "FamilyNameError",  # stream cat2 (names)
    "FigureComparison",
    "FineTune",
    "FitCheck",
    "GGUFCheckpoint",
    "GPUOption",
    "GenerationTime",
    "Inference",
    "LLMCatalogError",
    "Links",
    "LlamaCppEstimate",
    "LocalCheckpoint",
    "LoraTargetWarning",  # api stream
    "MemoryEstimate",
    "MissingDependencyError",
    "MissingGPUFigureError",
    "Model",
    "ModelFit",
    "NoFitWarning",
    "NotEstimableError",
    "OllamaEstimate",
    "OllamaTagWarning",
    "OrganizationNameError",
    "Parallelism",
    "PluginError",
    "PluginInfo",
    "PluginWarning",
    "PrefillSpeed",
    "PublishedFigure",
    "QueryError",
    "Remedy",
    "SGLangSettings",
    "SeriesNameWarning",
    "Support",
    "Sweep",
    "SweepRow",
    "Tool",
    "TrainingTime",
    "UncountedPartsWarning",
    "UnknownEntryError",
    "UnknownGPUError",
    "UnknownModelError",
    "UnknownToolError",
    "VLLMSettings",
    "WeightFormat",
    "WorkloadError",
    "__version__",
    "architecture_from_hf_config",
    "best_precision",
    "catalog",
    "check",
    "clear_cache",
    "compare_engines",
    "compare_figure",
    "count_params",
    "decode_speed",
    "engine_estimate",
    "engine_max_concurrency",
    "engine_max_model_len",
    "estimate_llamacpp",
    "estimate_ollama",
    "estimate_sglang",
    "estimate_vllm",
    "estimate_vram",
    "find_models",
    "fits",
    "from_gguf",
    "from_hub",
    "from_local",
    "generation_time",
    "get_gpu",
    "get_model",
    "get_tool",
    "llamacpp_decode_speed",  # engfix
    "load_toml",
    "max_batch",
    "max_context",
    "min_gpus",
    "min_tensor_parallel",
    "models_that_fit",
    "prefill_speed",
    "recommend",
    "resolve_model",  # stream cat2 (names)
    "search",
    "supports",
    "sweep",
    "training_time",
    "weight_format_from_quantization_config",
    "which_gpus",
    "workload_for_figure",
]


def get_model(name: str) -> Model:
    """The model ``name`` names, as docs/names.md describes (:func:`resolve_model`): a catalog id,
    name or alias (Chinese names too; case, spaces and punctuation are ignored), a Hub path a
    catalog model links, a quantized or re-uploaded repository of one (``Qwen/Qwen3-8B-AWQ``,
    ``unsloth/Llama-3.2-3B-Instruct``, ``bartowski/Qwen2.5-7B-Instruct-GGUF``), a model folder,
    ``config.json`` or ``.gguf`` file, or another Hub id (with the ``hub`` extra). Unknown names
    raise :class:`UnknownModelError` with suggestions; :meth:`Catalog.get_model` is catalog-only."""
    if not isinstance(name, str) and not hasattr(name, "__fspath__"):
        raise TypeError(
            "get_model takes a model name, alias or Hub id (str, e.g. 'qwen3-8b') or a model folder / config.json / "
            f".gguf path (str or os.PathLike), got {type(name).__name__}"
        )
    return _model_named(name)


def get_gpu(name: str) -> GPU:
    """The catalog GPU with this id, name or alias ("RTX 4090", "A100 80GB", "h100-sxm5-80gb")."""
    from .registry.plugins import catalog

    if not isinstance(name, str):
        raise TypeError(f"get_gpu takes a GPU name (str, e.g. 'RTX 4090' or 'A100 80GB'), got {type(name).__name__}")
    return catalog().get_gpu(name)


def get_tool(name: str) -> Tool:
    """The catalog tool with this id, name or alias."""
    from .registry.plugins import catalog

    return catalog().get_tool(name)


def search(text: str, *, limit: int | None = None) -> tuple[Model, ...]:
    """Models whose names, aliases, organisation, domain or descriptions contain every word of ``text``."""
    from .registry.plugins import catalog

    if not isinstance(text, str):
        raise TypeError(f"search takes the words to look for (str, e.g. 'qwen coder'), got {type(text).__name__}")
    return catalog().search(text, limit=limit)


def find_models(**criteria: object) -> tuple[Model, ...]:
    """Models matching the criteria of :meth:`Catalog.find_models` (domain=, organization=, ...)."""
    from .registry.plugins import catalog

    return catalog().find_models(**criteria)  # type: ignore[arg-type]
