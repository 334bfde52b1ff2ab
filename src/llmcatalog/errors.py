"""The exceptions and warnings llmcatalog raises.

Every error derives from :class:`LLMCatalogError`, so ``except llmcatalog.LLMCatalogError``
catches anything this library raises on purpose. Each also derives from the matching builtin
(``LookupError``, ``ValueError``) so generic handlers keep working.
"""

from __future__ import annotations

import os
import re
import sys
from types import FrameType

__all__ = [
    "CatalogDataError",
    "CheckpointError",
    "CompatibilityWarning",
    "ContextLengthWarning",
    "DeepSpeedWorkloadWarning",
    "DuplicateEntryError",
    "LLMCatalogError",
    "LoraTargetWarning",
    "MissingDependencyError",
    "MissingGPUFigureError",
    "NoFitWarning",
    "NotEstimableError",
    "PluginError",
    "PluginWarning",
    "QueryError",
    "UnknownEntryError",
    "UnknownGPUError",
    "UnknownModelError",
    "UnknownToolError",
    "WorkloadError",
]


class LLMCatalogError(Exception):
    """Base class of every error llmcatalog raises on purpose."""


class UnknownEntryError(LLMCatalogError, LookupError):
    """A name did not resolve to a catalog entry; ``suggestions`` holds close matches."""

    def __init__(self, kind: str, name: str, suggestions: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        shown = repr(name) if len(name) <= 200 else f"{name[:200]!r}... ({len(name):,} characters)"
        # search() finds models only: GPUs and tools are listed.
        lister = (
            "`llmcatalog list models` or `llmcatalog.search()`" if kind == "model" else f"`llmcatalog list {kind}s`"
        )
        super().__init__(f"unknown {kind} {shown}.{hint} ({lister} lists what is known)")

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0])


class UnknownModelError(UnknownEntryError):
    """No model in the catalog has this id, name or alias."""

    def __init__(self, name: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__("model", name, suggestions)


class UnknownGPUError(UnknownEntryError):
    """No GPU in the catalog has this id, name or alias."""

    def __init__(self, name: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__("gpu", name, suggestions)


class AmbiguousGPUError(UnknownGPUError):
    """A GPU name fits several catalog GPUs ("A100 PCIe": 40GB and 80GB; "M2 Ultra": 64, 128 and
    192 GB); ``suggestions`` holds them all. A kind of :class:`UnknownGPUError`."""

    def __init__(self, name: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(name, suggestions)
        shown = repr(name) if len(name) <= 200 else f"{name[:200]!r}..."
        sizes = [m.group(1).upper() for c in suggestions if (m := re.search(r"-(\d+gb)$", c))]
        how = (
            f"the memory size tells them apart, e.g. '{name[:60]} {sizes[-1]}'"
            if len(set(sizes)) == len(suggestions) > 1
            else "its full name or id tells it apart"
        )
        self.args = (f"gpu {shown} fits {len(suggestions)} catalog GPUs: {', '.join(suggestions)}. Name one ({how})",)


class UnknownToolError(UnknownEntryError):
    """No tool in the catalog has this id, name or alias."""

    def __init__(self, name: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__("tool", name, suggestions)


class CatalogDataError(LLMCatalogError, ValueError):
    """A data file (TOML) or a plugin's data is malformed.

    ``errors`` lists one message per problem, each starting with the path into the file,
    e.g. ``medical/models.toml: models[3].architecture.n_layers: expected int``.
    """

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = tuple(errors)
        body = "\n  ".join(self.errors)
        what = "model config (config.json)" if source == "config" else f"catalog data in {source}"
        super().__init__(f"invalid {what}:\n  {body}")


class DuplicateEntryError(LLMCatalogError, ValueError):
    """Two different entries claim the same id or alias; the message names both providers."""


class PluginError(LLMCatalogError):
    """A plugin could not be loaded or returned something that is not a catalog entry."""

    def __init__(
        self,
        *,
        group: str,
        name: str,
        distribution: str | None,
        version: str | None,
        reason: str,
    ) -> None:
        self.group = group
        self.name = name
        self.distribution = distribution
        self.version = version
        self.reason = reason
        dist = f"{distribution} {version}" if distribution else "an unknown distribution"
        super().__init__(f"plugin {name!r} in group {group!r} (from {dist}) failed: {reason}")


class PluginWarning(UserWarning):
    """A plugin was skipped (broken, returned junk, or conflicts with another); the rest loaded."""


class WorkloadError(LLMCatalogError, ValueError):
    """A workload's parameters are invalid or inconsistent (negative batch, unknown precision, ...)."""


class NotEstimableError(LLMCatalogError, ValueError):
    """The model cannot be estimated: closed weights, or no architecture known (own or inherited)."""


class ContextLengthWarning(UserWarning):
    """A workload's context is longer than the model's ``max_context`` (its position embeddings):
    the estimate is given, but the model was not trained for that length."""


class NoFitWarning(UserWarning):
    """:func:`llmcatalog.min_gpus` found no GPU count that fits and returns None; the message says why
    (the memory per GPU at the most GPUs tried against the GPU's limit, and what would help). The speed
    and time functions (``decode_speed``, ``prefill_speed``, ``generation_time``, ``training_time``)
    give it too for a job that does not fit on the GPU, naming the memory needed and the GPU's, and
    still return their figure (what it would be if it fit). Silence it with
    ``warnings.simplefilter("ignore", llmcatalog.NoFitWarning)``."""


class DeepSpeedWorkloadWarning(UserWarning):
    """A DeepSpeed config sets workload settings (precision, micro-batch, optimizer) that a
    :class:`~llmcatalog.Parallelism` does not carry. ``notes`` holds ``(config key, FineTune field or
    None, value, comment)``; :meth:`text` words them with FineTune fields, or with the command-line
    flags ``flags`` maps the fields to (the ``llmcatalog`` command's wording)."""

    def __init__(self, notes: tuple[tuple[str, str | None, object, str], ...], tail: str = "") -> None:
        self.notes = notes
        self.tail = tail
        super().__init__(self.text())

    def text(self, flags: dict[str, str] | None = None) -> str:
        """The message; ``flags`` (FineTune field -> option, e.g. ``{"batch_size": "--batch"}``) names options."""
        parts = []
        for key, field, value, comment in self.notes:
            if field is None:
                parts.append(f"{key}: {comment}")
                continue
            if flags is not None and field in flags:
                target = f"{flags[field]} {value}"
            else:
                target = f"FineTune({field}={value!r})"
            parts.append(f"{key} -> {target}" + (f" ({comment})" if comment else ""))
        carrier = "a Parallelism" if flags is None else "--deepspeed-config"
        return (
            f"this DeepSpeed config sets the workload, which {carrier} does not carry: " + "; ".join(parts) + self.tail
        )


class LoraTargetWarning(UserWarning):
    """A LoRA target name does not exist in the model's architecture: it was mapped to the modules
    the message names, or dropped."""


class UncountedPartsWarning(UserWarning):
    """A multimodal model lists encoders (vision, audio, molecule, protein ...) whose sizes are not
    known and no published total gives them: the estimate counts the language model and the sized
    parts only, so it is low by the missing parts' weights (and their activations)."""


class OllamaTagWarning(UserWarning):
    """A model named by an Ollama library tag ("qwen2.5:7b") was estimated as its checkpoint stores it
    (the transformers estimate), while Ollama runs a GGUF file of it (Q4_K_M unless the tag names
    another quantization): :func:`llmcatalog.estimate_ollama` gives Ollama's memory."""

    def __init__(self, name: str, model_id: str) -> None:
        self.name = name
        self.model_id = model_id
        super().__init__(
            f"{name!r} is an Ollama tag: this estimates {model_id} as its checkpoint stores it (transformers),"
            " while Ollama runs a GGUF file of it (Q4_K_M unless the tag names another quantization);"
            " llmcatalog.estimate_ollama (CLI: --engine ollama) gives Ollama's memory"
        )


class CompatibilityWarning(UserWarning):
    """A weight format or compute dtype cannot run (or cannot run as estimated) on the named GPU or
    engine (:func:`llmcatalog.supports` says why): the memory figure is still given."""


class SeriesNameWarning(UserWarning):
    """A model name is also the name of a series with several sizes ("Llama 2", "Baichuan2"): it
    resolved to the one entry that carries it as an alias (the survey's usage), and the message lists
    the series so that a size can be named. ``model_id`` is the entry chosen, ``members`` the series."""

    def __init__(self, name: str, model_id: str, series: str, members: tuple[str, ...]) -> None:
        self.name = name
        self.model_id = model_id
        self.series = series
        self.members = members
        super().__init__(
            f"{name!r} is also the name of the {series} series ({len(members)} models): using {model_id}, "
            f"the entry that carries the name. Name one of them to choose: {', '.join(members)}"
        )


class QueryError(LLMCatalogError, ValueError):
    """A query argument is invalid: wrong type, NaN, negative, too long, or a filter value the
    catalog does not know (``suggestions`` then holds the close values it does know)."""

    def __init__(self, message: str, suggestions: tuple[str, ...] = ()) -> None:
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(message + hint)


class CheckpointError(LLMCatalogError, ValueError):
    """A checkpoint (model folder, ``config.json``, safetensors header, GGUF file, Hub repository)
    cannot be read; ``source`` names the file, folder or repository and the message says why."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class MissingDependencyError(LLMCatalogError, ImportError):
    """An optional feature needs a package that is not installed; the message names the extra."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        self.feature = feature
        self.package = package
        self.extra = extra
        super().__init__(
            f"{feature} needs the {package!r} package: pip install 'llmcatalog[{extra}]' (or pip install {package})"
        )


class MissingGPUFigureError(NotEstimableError):
    """A speed or time figure needs a datasheet number the GPU entry lacks (``field`` names it,
    e.g. ``"bf16_tflops"`` or ``"bandwidth_gb_s"``); give it with ``attrs.evolve(gpu, ...)`` or
    the function's override argument."""

    def __init__(self, gpu: str, field: str, why: str, override: str | None = None) -> None:
        self.gpu = gpu
        self.field = field
        direct = f"pass {override}=... to the function" if override else "give the figure to the function directly"
        super().__init__(
            f"GPU {gpu!r} has no {field}, which {why} needs; pass a GPU with it set "
            f"(attrs.evolve(gpu, {field}=...)) or {direct}"
        )


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def outside_stacklevel() -> int:
    """The ``stacklevel`` for :func:`warnings.warn` that points at the first caller outside llmcatalog
    (the user's line), counted from the function calling this one (Python 3.11 has no
    ``skip_file_prefixes``). Frames of the package's files, of attrs-generated ``__init__`` methods and
    of ``functools`` are skipped; the warning falls on the outermost frame if every caller is ours."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and _inside(frame):
        frame, level = frame.f_back, level + 1
    return level


def _inside(frame: FrameType) -> bool:
    name = frame.f_code.co_filename
    module = frame.f_globals.get("__name__", "")
    return (
        name.startswith(_PACKAGE_DIR)
        or module.partition(".")[0] == "llmcatalog"
        or name.startswith("<attrs generated")
        or module == "functools"
    )
