"""Turn what a user typed into a :class:`Model`: a catalog name, a Hub id, a folder, a
``config.json`` or a ``.gguf`` file.

Order: an existing path is read from disk (a ``.gguf`` file with
:func:`~llmcatalog.importers.gguf.from_gguf`, a folder or ``config.json`` with
:func:`~llmcatalog.importers.local.from_local`); otherwise the catalog is asked (ids, names,
aliases, and Hub paths that exactly one catalog model links, e.g. ``meta-llama/Llama-2-7b-hf``);
otherwise an ``org/name`` id is read from the Hugging Face Hub when the ``hub`` extra is
installed (honouring the cache and ``HF_HUB_OFFLINE``). It lives in the registry wing because
it reads the catalog; the importers below it never do.

Quantized and re-uploaded Hub repositories of a catalog model resolve without the Hub
(:func:`quantized_repo`): ``Qwen/Qwen3-8B-AWQ`` is the catalog's Qwen3-8B with the weight format
its name states (``-FP8`` fp8 with 128x128 block scales, but per-tensor compressed-tensors FP8 from
Neural Magic / Red Hat AI; ``-FP8-dynamic`` per-channel compressed-tensors FP8; ``-AWQ``/``-AWQ-INT4``
awq-int4, ``-GPTQ-Int4``/``-GPTQ`` gptq-int4, ``-GPTQ-Int8`` gptq-int8, ``-bnb-4bit`` bnb-nf4-dq),
``unsloth/Llama-3.2-3B-Instruct`` (a re-upload) is the catalog's Llama-3.2-3B-Instruct, and a
``-GGUF`` repository is its base model with no single weight format (one file per quantization).
The repository's own ``quantization_config`` wins when the Hub (or its cache) can be read;
otherwise the model's notes and the format's notes say the format was inferred from the
repository name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import attrs

from ..errors import CheckpointError, UnknownModelError
from ..values.model import Links, Model
from ..values.precision import FORMATS, WeightFormat
from .catalog import Catalog

__all__ = ["QuantizedRepo", "quantized_repo", "resolve_model"]

# Repository-name suffixes that state a weight format, longest first (case ignored), with the
# format each names. "-GPTQ" alone is TheBloke's naming: the main branch holds the 4-bit,
# group-size-128 quantization (other bit widths live on other branches).
#
# Sources for the labels: unsloth's ``-bnb-4bit`` uploads store bitsandbytes NF4 *with* double
# quantization (``bnb_4bit_use_double_quant: true`` in the quantization_config their config.json
# carries, e.g. as copied into https://huggingface.co/Hlias11/Storm3BStudent/blob/main/config.json
# from unsloth/Llama-3.2-3B-Instruct-bnb-4bit and
# https://huggingface.co/KOCDIGITAL/Kocdigital-LLM-8b-v0.1/blame/61be24808c4163f80baa9365afe0d5fb8652e96c/config.json
# from unsloth/llama-3-8b-instruct-bnb-4bit). Neural Magic / Red Hat AI ``-FP8`` and
# ``-FP8-dynamic`` checkpoints are compressed-tensors with per-tensor (AutoFP8 ``-FP8``:
# https://huggingface.co/neuralmagic/Meta-Llama-3-8B-Instruct-FP8, "symmetric per-tensor
# quantization") or per-output-channel weight scales and dynamic per-token activations
# (llm-compressor's FP8_DYNAMIC scheme: https://huggingface.co/RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8-dynamic),
# not the 128x128 blocks of the fine-grained ``quant_method: fp8`` that Qwen's and DeepSeek's own
# ``-FP8`` repositories use (:func:`_ct_fp8`).
_QUANT_SUFFIXES = (
    ("-unsloth-bnb-4bit", "bnb-nf4-dq"),
    ("-bnb-4bit", "bnb-nf4-dq"),
    ("-gptq-int4", "gptq-int4"),
    ("-gptq-int8", "gptq-int8"),
    ("-gptq", "gptq-int4"),
    ("-awq-int4", "awq-int4"),  # hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4
    ("-awq", "awq-int4"),
    ("-fp8-dynamic", "ct-fp8-channel"),
    ("-fp8", "fp8"),
    ("-gguf", None),  # a GGUF repository: several quantizations, one per file
)
# Organizations whose repositories re-upload other organizations' models under the same name.
_REUPLOADERS = frozenset({"unsloth", "thebloke"})
# Organizations whose plain ``-FP8`` repositories are compressed-tensors per-tensor FP8 (AutoFP8).
_CT_FP8_ORGS = frozenset({"neuralmagic", "redhatai", "neuralmagic-ent"})


def _ct_fp8(strategy: str) -> dict[str, Any]:
    """The compressed-tensors quantization_config of Neural Magic's FP8 checkpoints: fp8 e4m3 Linear
    weights with one scale per output channel (``-FP8-dynamic``, activations scaled per token at run
    time) or per tensor (``-FP8``, static activation scales); lm_head kept in 16 bits."""
    acts = (
        {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True, "symmetric": True}
        if strategy == "channel"
        else {"num_bits": 8, "type": "float", "strategy": "tensor", "dynamic": False, "symmetric": True}
    )
    weights = {"num_bits": 8, "type": "float", "strategy": strategy, "dynamic": False, "symmetric": True}
    return {
        "quant_method": "compressed-tensors",
        "format": "float-quantized",
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights, "input_activations": acts}},
        "ignore": ["lm_head"],
    }


class QuantizedRepo(NamedTuple):
    """What a quantized or re-uploaded repository id says: the base model's name and the weight
    format its suffix names (None for a plain re-upload)."""

    repo_id: str
    base_name: str
    weight_format: str | None


_FILE_SUFFIXES = frozenset({".gguf", ".json", ".safetensors"})
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def _hub_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("huggingface_hub") is not None


def quantized_repo(repo_id: str) -> QuantizedRepo | None:
    """The base name and weight format a Hub id's name states, or None when it states neither.

    >>> quantized_repo("Qwen/Qwen2.5-72B-Instruct-GPTQ-Int4")[1:]
    ('Qwen2.5-72B-Instruct', 'gptq-int4')
    >>> quantized_repo("unsloth/Llama-3.2-3B-Instruct").weight_format is None
    True
    """
    if not _HUB_ID.match(repo_id):
        return None
    org, name = repo_id.split("/")
    named = _suffix_format(name)
    if named is not None:
        base, fmt = named
        if fmt == "fp8" and org.lower() in _CT_FP8_ORGS:
            fmt = "ct-fp8-tensor"
        return QuantizedRepo(repo_id, base, fmt)
    if org.lower() in _REUPLOADERS:
        return QuantizedRepo(repo_id, name, None)
    return None


_OLLAMA_TAG = re.compile(r"[A-Za-z0-9][\w.\-]*:[\w.\-]+")


def is_ollama_tag(name: str) -> bool:
    """Whether ``name`` is written as an Ollama library tag, ``NAME:TAG`` ("qwen2.5:7b", "qwq:32b")."""
    return len(name) <= 200 and _OLLAMA_TAG.fullmatch(name.strip()) is not None


# The GGUF type an Ollama tag names at its end: "7b-instruct-q4_K_M" -> Q4_K_M, "8b-fp16" -> F16.
_TAG_QUANT = re.compile(r"[-:]((?:i?q\d\w*)|f16|fp16|bf16|f32|fp32)$", re.IGNORECASE)


def ollama_tag_quant(name: str) -> str | None:
    """The GGUF quantization an Ollama tag names ("qwen2.5:7b-instruct-q8_0" -> "Q8_0"), upper-case as
    llama.cpp writes it (fp16 is F16); None when the tag names none (Ollama's default is Q4_K_M)."""
    if not is_ollama_tag(name):
        return None
    m = _TAG_QUANT.search(name.strip())
    if m is None:  # Gemma 3's "-it-qat" tags are its quantization-aware-trained Q4_0 files
        return "Q4_0" if name.strip().lower().endswith("-qat") else None
    quant = m.group(1).upper()
    return {"FP16": "F16", "FP32": "F32"}.get(quant, quant)


def quantized_name(name: str) -> QuantizedRepo | None:
    """The base name and weight format a model name without a repository states by one of the
    suffixes :func:`quantized_repo` reads ("Qwen3-8B-AWQ", "GLM-4.5-Air-FP8"), else None.

    >>> quantized_name("Qwen2.5-7B-Instruct-GPTQ-Int4")[1:]
    ('Qwen2.5-7B-Instruct', 'gptq-int4')
    """
    named = _suffix_format(name) if "/" not in name and len(name) <= 200 else None
    return QuantizedRepo(name, *named) if named is not None else None


def _suffix_format(name: str) -> tuple[str, str | None] | None:
    """(base name, weight format) when ``name`` ends with one of :data:`_QUANT_SUFFIXES`."""
    for suffix, fmt in _QUANT_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], fmt
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._+-]+", "-", text.lower()).strip("-._+") or "model"


def _base_of(q: QuantizedRepo, catalog: Catalog) -> Model | None:
    """The catalog model a quantized repository was made from: by the base repository's Hub
    path under the same organization, else by the base name."""
    org = q.repo_id.split("/")[0]
    for name in (f"{org}/{q.base_name}", q.base_name):
        try:
            return catalog.get_model(name)
        except UnknownModelError:
            continue
    return None


def _inferred(q: QuantizedRepo, base: Model, why: str) -> Model:
    """``base`` as the repository ``q`` stores it, the format taken from the repository's name."""
    url = f"https://huggingface.co/{q.repo_id}" if "/" in q.repo_id else None  # a bare name has no page
    if q.weight_format is None and q.repo_id.lower().endswith("-gguf"):
        note = (
            f"{q.repo_id} is a GGUF repository of {base.name} ({base.id}): it holds one file per quantization"
            f" (Q4_K_M, Q8_0, ...), so no single weight format is known ({why}); the weights count as the catalog"
            " stores them unless a precision is given, and llmcatalog.from_gguf(path) reads one downloaded file"
        )
        fmt = base.weight_format
    elif q.weight_format is None:
        note = f"{q.repo_id} is taken as a re-upload of {base.name} ({base.id}) with the same weights; {why}"
        fmt = base.weight_format
    else:
        note = (
            f"weight format {q.weight_format} inferred from the {'repository ' if url else ''}name {q.repo_id!r}"
            f" (not read from its quantization_config: {why})"
        )
        fmt = attrs.evolve(
            _format_named(q.weight_format),
            notes=(f"inferred from the {'repository ' if url else ''}name {q.repo_id!r}",),
        )
    changes: dict[str, Any] = {
        "id": _slug(q.repo_id.replace("/", "--")),
        "name": q.repo_id,
        "aliases": (),
        "base_model": base.id,
        "architecture_from": (base.architecture_from or base.id) if base.architecture is not None else None,
        "sources": (url, *base.sources) if url else base.sources,
        "links": Links(hub=url) if url else Links(),  # a bare name names no repository
        "figures": (),
        "weight_format": fmt,
        "notes": note + (f". {base.notes}" if base.notes else ""),
    }
    return attrs.evolve(base, **changes)


def _format_named(name: str) -> WeightFormat:
    """A weight format of :data:`FORMATS`, or Neural Magic's compressed-tensors FP8 (``ct-fp8-channel``,
    ``ct-fp8-tensor``) as their quantization_config describes it."""
    if name.startswith("ct-fp8-"):
        from ..importers.quantization import weight_format_from_quantization_config

        fmt = weight_format_from_quantization_config(_ct_fp8(name.removeprefix("ct-fp8-")))
        return attrs.evolve(fmt, name=name)
    return FORMATS[name]


def _hub_unreadable(exc: CheckpointError) -> bool:
    """Whether ``from_hub`` failed only because the Hub could not be reached (or offline mode is
    on) and the repository is not cached."""
    from huggingface_hub.utils import LocalEntryNotFoundError, OfflineModeIsEnabled

    return isinstance(exc.__cause__, (LocalEntryNotFoundError, OfflineModeIsEnabled))


def _is_file(path: Path) -> bool:
    """Whether ``path`` names something on disk; a name the OS cannot take as a path (too long, a NUL
    byte) is not a path, so it is looked up as a model name instead."""
    try:
        return path.exists() or path.is_symlink()
    except (OSError, ValueError):
        return False


def resolve_model(spec: str | os.PathLike[str] | Model, catalog: Catalog | None = None) -> Model:
    """The model ``spec`` names: a path to a ``.gguf`` file, a model folder or ``config.json``; a
    catalog id, name, alias or linked Hub path; or a Hub repository id (with the ``hub`` extra).
    ``catalog`` defaults to the installed one (:func:`llmcatalog.catalog`).

    Raises :class:`CheckpointError` for unreadable files and Hub failures (offline and not cached,
    not found; an unreachable Hub's message also lists the catalog's close names) and
    :class:`UnknownModelError` (with suggestions) for anything else.
    """
    if isinstance(spec, Model):
        return spec
    if catalog is None:
        from .plugins import catalog as _installed

        catalog = _installed()
    path = Path(spec)
    text = os.fspath(spec)
    if text and _is_file(path):
        if path.is_dir() or path.suffix == ".json":
            from ..importers.local import from_local

            return from_local(path).model
        if path.suffix.lower() == ".gguf":
            from ..importers.gguf import from_gguf

            return from_gguf(path).model
        raise CheckpointError(text, "expected a model folder, a config.json or a .gguf file")
    if path.suffix.lower() in _FILE_SUFFIXES or text.startswith(("/", "./", "../", "~", ".\\")):
        raise CheckpointError(text, "no such file or folder")
    try:
        return catalog.get_model(text)
    except UnknownModelError as exc:
        if not _HUB_ID.match(text):
            bare = quantized_name(text)  # "Qwen3-8B-AWQ": a quantized model named without its repository
            base = _base_of(bare, catalog) if bare is not None else None
            if bare is None or base is None:
                raise
            return _inferred(bare, base, "no repository was named")
        q = quantized_repo(text)
        base = _base_of(q, catalog) if q is not None else None
        if q is not None and base is not None:
            if q.weight_format is None and text.lower().endswith("-gguf"):
                return _inferred(q, base, "pick one file")
            if not _hub_installed():
                return _inferred(q, base, "the hub extra is not installed")
            from ..importers.hub import from_hub

            try:
                return from_hub(text).model
            except CheckpointError as hub_exc:
                if not _hub_unreadable(hub_exc):
                    raise
                return _inferred(q, base, "the Hub is unreachable or offline and it is not cached")
        if not _hub_installed():
            raise CheckpointError(
                text,
                "not in the catalog; to read it from the Hugging Face Hub install the hub extra"
                " (pip install 'llmcatalog[hub]')",
            ) from exc
        from ..importers.hub import from_hub

        try:
            return from_hub(text).model
        except CheckpointError as hub_exc:
            if not _hub_unreadable(hub_exc) or not exc.suggestions:
                raise
            # Unreachable Hub: say so, and offer what the catalog has ("Qwen/Qwen3-8B-Instruct": qwen3-8b).
            raise CheckpointError(
                text,
                f"not in the catalog (did you mean: {', '.join(exc.suggestions)}?), and {hub_exc.reason}",
            ) from hub_exc
