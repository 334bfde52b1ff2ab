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

from importlib.metadata import PackageNotFoundError, version

from ._catalog import Catalog, PluginInfo
from ._errors import (
    CatalogDataError,
    DuplicateEntryError,
    LLMCatalogError,
    NotEstimableError,
    PluginError,
    PluginWarning,
    UnknownEntryError,
    UnknownGPUError,
    UnknownModelError,
    UnknownToolError,
    WorkloadError,
)
from ._estimate import MemoryEstimate, estimate_vram, fits, min_gpus
from ._figures import FigureComparison, compare_figure, workload_for_figure
from ._gpu import GPU
from ._hfconfig import SUPPORTED_FAMILIES, architecture_from_hf_config
from ._model import Architecture, Component, Links, Model, PublishedFigure
from ._params import count_params
from ._precision import FORMATS
from ._registry import catalog, clear_cache, load_toml
from ._tool import Tool
from ._workload import FineTune, Inference, Parallelism

try:
    __version__ = version("llmcatalog")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
    __version__ = "0+unknown"

__all__ = [
    "FORMATS",
    "FigureComparison",
    "GPU",
    "SUPPORTED_FAMILIES",
    "Architecture",
    "Catalog",
    "CatalogDataError",
    "Component",
    "DuplicateEntryError",
    "FineTune",
    "Inference",
    "LLMCatalogError",
    "Links",
    "MemoryEstimate",
    "Model",
    "NotEstimableError",
    "Parallelism",
    "PluginError",
    "PluginInfo",
    "PluginWarning",
    "PublishedFigure",
    "Tool",
    "UnknownEntryError",
    "UnknownGPUError",
    "UnknownModelError",
    "UnknownToolError",
    "WorkloadError",
    "__version__",
    "architecture_from_hf_config",
    "catalog",
    "clear_cache",
    "compare_figure",
    "count_params",
    "estimate_vram",
    "find_models",
    "fits",
    "get_gpu",
    "get_model",
    "get_tool",
    "load_toml",
    "min_gpus",
    "search",
    "workload_for_figure",
]


def get_model(name: str) -> Model:
    """The catalog model with this id, name or alias (Chinese names too); case, spaces and
    punctuation are ignored. Unknown names raise :class:`UnknownModelError` with suggestions."""
    return catalog().get_model(name)


def get_gpu(name: str) -> GPU:
    """The catalog GPU with this id, name or alias ("RTX 4090", "A100 80GB", "h100-sxm5-80gb")."""
    return catalog().get_gpu(name)


def get_tool(name: str) -> Tool:
    """The catalog tool with this id, name or alias."""
    return catalog().get_tool(name)


def search(text: str, *, limit: int | None = None) -> tuple[Model, ...]:
    """Models whose names, aliases, organisation, domain or descriptions contain every word of ``text``."""
    return catalog().search(text, limit=limit)


def find_models(**criteria: object) -> tuple[Model, ...]:
    """Models matching the criteria of :meth:`Catalog.find_models` (domain=, organization=, ...)."""
    return catalog().find_models(**criteria)  # type: ignore[arg-type]
