"""Build an :class:`Architecture` (and a :class:`Model`) from a Hugging Face ``config.json``.

The family readers live in :mod:`llmcatalog.importers.families`; every key is read with a typed
getter (:mod:`llmcatalog.importers._keys`), so a malformed config raises
:class:`~llmcatalog.CatalogDataError` naming the key, never a bare Python error.

- Multimodal configs (``text_config`` + ``vision_config``: Gemma 3, LLaVA, Mistral 3, Qwen2.5-VL,
  Llama 4) give the language model's Architecture; :func:`model_from_hf_config` adds the vision
  tower and projector as :class:`Component` entries, counted on the meta device with transformers.
- An unknown ``model_type`` is read from the standard keys (Llama-style assumptions, stated in an
  :class:`HFConfigWarning`); :func:`model_from_hf_config` then takes the exact parameter count from
  transformers' own model built on the meta device when transformers is installed.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any

from ..errors import CatalogDataError
from ..memory.params import count_params
from ..values.model import Architecture, Component, Model
from ._keys import HFConfigWarning, bad, mapping
from .families import CONTEXT_KEYS, CORE_SIZES, DEFAULTED, MULTIMODAL_TEXT, MULTIMODAL_TIE, READERS, TextConfig, common
from .quantization import checkpoint_weight_format

__all__ = [
    "SUPPORTED_FAMILIES",
    "HFConfigWarning",
    "architecture_from_hf_config",
    "meta_param_counts",
    "model_from_hf_config",
]

#: ``model_type`` values :func:`architecture_from_hf_config` reads natively.
SUPPORTED_FAMILIES = tuple(sorted({*READERS, *MULTIMODAL_TEXT}))

#: Context length assumed when a config gives none (only the KV-cache and activation sizes use it).
_ASSUMED_CONTEXT = 2048


def _model_type(config: object) -> str:
    if not isinstance(config, Mapping):
        raise CatalogDataError(
            "config", [f"config: expected a mapping (the parsed config.json), got {type(config).__name__}"]
        )
    model_type = config.get("model_type")
    if model_type is None:
        raise CatalogDataError("config", ["config: no 'model_type' key; is this a Hugging Face config.json?"])
    if not isinstance(model_type, str) or not model_type.strip():
        raise bad("model_type", f"expected a non-empty string, got {model_type!r}")
    return model_type


def _text_config(config: Mapping[str, Any], model_type: str) -> tuple[str, Mapping[str, Any]]:
    """(model_type, mapping) of a multimodal config's language model."""
    text = mapping(config, "text_config")
    if text is None:  # Qwen2-VL / Qwen2.5-VL checkpoints keep the text keys at the top level
        text = config
    inner = text.get("model_type") if text is not config else None
    if inner is not None and not isinstance(inner, str):
        raise bad("text_config.model_type", f"expected a string, got {inner!r}")
    inner_type = inner if inner in READERS else MULTIMODAL_TEXT[model_type]
    if model_type == "llama4" and inner_type == "llama4":
        inner_type = "llama4_text"
    merged = TextConfig(text)
    # transformers 5 ties the output head by the top-level tie_word_embeddings of the multimodal
    # config (class default: MULTIMODAL_TIE); LlavaConfig falls back to its text config's value.
    if config.get("tie_word_embeddings") is not None:
        merged["tie_word_embeddings"] = config["tie_word_embeddings"]
    elif model_type == "llava":
        merged["tie_word_embeddings"] = text.get("tie_word_embeddings") or False
    elif text is not config:
        merged["tie_word_embeddings"] = MULTIMODAL_TIE[model_type]
    return inner_type, merged


def _with_context(config: Mapping[str, Any], model_type: str) -> Mapping[str, Any]:
    """Context keys never block a count: a malformed or absent one is replaced, with a warning."""
    present = [k for k in CONTEXT_KEYS if config.get(k) is not None]
    bad_keys = [k for k in present if isinstance(config[k], bool) or not isinstance(config[k], int) or config[k] < 1]
    if not bad_keys:
        return config
    fixed = {k: v for k, v in config.items() if k not in bad_keys}
    if isinstance(config, TextConfig):
        fixed = TextConfig(fixed)
    warnings.warn(
        HFConfigWarning(
            f"{model_type} config: {', '.join(f'{k}={config[k]!r}' for k in bad_keys)} is not a positive integer; "
            "the context length falls back to the family default (parameter counts do not depend on it)"
        ),
        stacklevel=4,
    )
    return fixed


#: The keys (with the other spellings :func:`~llmcatalog.importers.families.common` reads) an unknown
#: ``model_type`` must give: there is no configuration class whose defaults could fill them.
_GENERIC_KEYS = (
    ("hidden_size", "n_embd", "d_model"),
    ("num_hidden_layers", "num_layers", "n_layer"),
    ("num_attention_heads", "n_head"),
    ("intermediate_size",),
    ("vocab_size",),
)


def _read(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    model_type = _model_type(config)
    if model_type in MULTIMODAL_TEXT:
        model_type, config = _text_config(config, model_type)
    reader = READERS.get(model_type)
    config = _with_context(config, model_type)
    if reader is None:
        missing = [keys[0] for keys in _GENERIC_KEYS if not any(k in config for k in keys)]
        if missing:
            raise CatalogDataError(
                "config",
                [
                    f"config: model_type {model_type!r} is unknown to llmcatalog (known: "
                    f"{', '.join(SUPPORTED_FAMILIES)}), so it is read as a Llama-style decoder from the standard "
                    f"keys {', '.join(keys[0] for keys in _GENERIC_KEYS)}; this config lacks "
                    f"{', '.join(missing)}: add them, or pass an Architecture"
                ],
            )
        fields = common(config, _slug(model_type), context=_ASSUMED_CONTEXT)
        from ._keys import bool_

        fields.update(
            tied_embeddings=bool_(config, "tie_word_embeddings", False),
            qkv_bias=bool_(config, "attention_bias", False),
            attn_out_bias=bool_(config, "attention_bias", False),
        )
        warnings.warn(
            HFConfigWarning(
                f"model_type {model_type!r} has no reader (known: {', '.join(SUPPORTED_FAMILIES)}); its "
                "Architecture assumes a Llama-style layer (gated MLP, RMSNorm, no q/k norms or extra "
                "layers) from the standard keys; Model.from_hf_config counts its parameters exactly with "
                "transformers on the meta device when transformers is installed"
            ),
            stacklevel=3,
        )
        return model_type, fields
    return model_type, reader(config)


def architecture_from_hf_config(config: Mapping[str, Any]) -> Architecture:
    """The :class:`Architecture` described by a Hugging Face ``config.json`` mapping.

    Raises :class:`CatalogDataError` naming the key when ``model_type`` is missing or a key is
    absent, has the wrong type or an impossible value. For multimodal configs it is the language
    model's Architecture. An unknown ``model_type`` gives a Llama-style Architecture read from the
    standard keys and an :class:`HFConfigWarning` stating the assumptions.

    A top-level config that leaves out a core size (hidden_size, num_hidden_layers,
    num_attention_heads, intermediate_size, vocab_size) gets the configuration class's default
    with an :class:`HFConfigWarning` naming each key and the value taken; one without any of
    hidden_size, num_hidden_layers and num_attention_heads (``{"model_type": "llama"}``) is a
    :class:`CatalogDataError`: it names no model, and the defaults are transformers' default model.
    """
    model_type, fields = _read(config)
    defaulted: dict[str, Any] = fields.pop(DEFAULTED, {})
    if "ffn_size" not in fields:
        raise bad("intermediate_size", f"missing; the {model_type} config must give it (an integer)")
    fields["activation"] = re.sub(r"[^a-z0-9._+-]", "-", str(fields.get("activation", "silu")).lower()).strip("-._")
    fields["activation"] = fields["activation"] or "silu"
    try:
        arch = Architecture(**fields)
    except (TypeError, ValueError) as exc:  # the validators name the Architecture field and the fix
        raise CatalogDataError("config", [f"config ({model_type}): {exc}"]) from exc
    if all(k in defaulted for k in CORE_SIZES):
        raise CatalogDataError(
            "config",
            [
                f"config ({model_type}): keys {', '.join(map(repr, CORE_SIZES))} are all missing: the config names no"
                f" model, and transformers' defaults would describe its default {model_type} model"
                f" ({arch.n_layers} layers, hidden {arch.hidden_size}), not this checkpoint; pass the checkpoint's"
                " full config.json"
            ],
        )
    if defaulted:
        said = ", ".join(f"{k} (took {v})" for k, v in defaulted.items())
        warnings.warn(
            HFConfigWarning(
                f"{model_type} config: {said} missing; the configuration class's defaults were used, and they"
                " describe its default model: check that this is the checkpoint's full config.json"
            ),
            stacklevel=2,
        )
    return arch


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._+-]+", "-", text.lower()).strip("-._") or "model"


def meta_param_counts(config: Mapping[str, Any]) -> dict[str, int]:
    """Parameters of transformers' own model for ``config``, built on the meta device (no memory).

    Returns ``{"total": ..., "vision": ..., "projector": ...}``: tied weights counted once,
    ``vision`` the parameters under a vision tower (``vision_tower``, ``visual``, ``vision_model``)
    and ``projector`` those under a multimodal projector. Needs ``torch`` and ``transformers``
    (the ``trace`` extra); raises :class:`CatalogDataError` when transformers cannot build it.
    """
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - the trace extra is installed in the tests
        raise ImportError(
            "counting an unknown model_type needs the 'trace' extra: pip install llmcatalog[trace]"
        ) from exc
    kw = {k: v for k, v in config.items() if k not in {"architectures", "_name_or_path", "auto_map", "model_type"}}
    try:
        hf = transformers.AutoConfig.for_model(str(config["model_type"]), **kw)
    except Exception as exc:  # transformers raises ValueError/KeyError/TypeError for bad configs
        raise CatalogDataError("config", [f"config: transformers cannot read it: {exc}"]) from exc
    model = None
    errors = []
    autos: tuple[str, ...] = ("AutoModelForCausalLM", "AutoModelForImageTextToText", "AutoModel")
    if config.get("vision_config") is not None:
        autos = ("AutoModelForImageTextToText", *autos)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for auto in autos:
            try:
                with torch.device("meta"):
                    model = getattr(transformers, auto).from_config(hf)
                break
            except Exception as exc:
                errors.append(f"{auto}: {exc}")
    if model is None:
        raise CatalogDataError(
            "config", [f"config: transformers cannot build {config['model_type']!r}: {'; '.join(errors)}"]
        )
    seen: set[int] = set()
    counts = {"total": 0, "vision": 0, "projector": 0, "non_attention": 0, "experts": 0}
    for name, param in model.named_parameters(remove_duplicate=True):
        if id(param) in seen:
            continue
        seen.add(id(param))
        n = param.numel()
        counts["total"] += n
        if re.search(r"(^|\.)(vision_tower|visual|vision_model)\.", name):
            counts["vision"] += n
        elif re.search(r"(^|\.)(multi_modal_projector|mm_projector)\.", name):
            counts["projector"] += n
        if _NON_ATTENTION.search(name):
            counts["non_attention"] += n
        if _EXPERTS.search(name):
            counts["experts"] += n
    return counts


#: Parameter names of layers the Llama-style approximation of an unknown family cannot describe:
#: state-space / linear-attention mixers (Mamba's ``A_log``, ``dt_bias``, ``conv1d``; gated delta
#: nets; ``linear_attn``) and mixture-of-experts layers. Their KV cache and active parameters differ
#: from an all-attention dense model, so such a model gets no Architecture (memory not estimated).
_NON_ATTENTION = re.compile(r"(A_log|dt_bias|conv1d|\.mamba\.|\.ssm\.|linear_attn|deltanet|\.mixer\.)", re.I)
_EXPERTS = re.compile(r"\.experts\.|\.experts$|block_sparse_moe|\.moe\.", re.I)


def model_from_hf_config(config: Mapping[str, Any], **fields: Any) -> Model:
    """A :class:`Model` with the architecture and exact parameter count of ``config``.

    Multimodal configs add ``vision-encoder`` and ``projector`` components and ``n_params``
    counts every part; those counts come from transformers on the meta device (without it the
    components have no count, ``n_params`` is the language model's, and a warning says so).
    A ``quantization_config`` sets ``weight_format`` (:mod:`llmcatalog.importers.quantization`).
    """
    arch = architecture_from_hf_config(config)
    model_type = _model_type(config)
    n_params = count_params(arch)
    components: list[Component] = []
    multimodal = model_type in MULTIMODAL_TEXT and (
        config.get("vision_config") is not None or model_type in {"qwen2_vl", "qwen2_5_vl"}
    )
    approximated = model_type not in READERS and not multimodal
    notes = None
    if model_type not in READERS or multimodal:
        try:
            counts = meta_param_counts(config)
        except CatalogDataError as exc:
            if not approximated:
                raise
            # transformers does not know this model_type (a new or remote-code model): the standard keys
            # are all there is, as without transformers.
            warnings.warn(
                HFConfigWarning(
                    f"{model_type}: transformers cannot build it ({str(exc).splitlines()[-1][:200]}), so the "
                    "parameter count is that of the Llama-style Architecture read from the standard keys"
                ),
                stacklevel=2,
            )
        except ImportError:
            warnings.warn(
                HFConfigWarning(
                    f"{model_type}: without transformers the parameter count is that of the Architecture read "
                    "from the standard keys (the language model only for multimodal configs); install the "
                    "'trace' extra for the exact count"
                ),
                stacklevel=2,
            )
        else:
            if multimodal:
                parts = (
                    ("language-model", "language model", n_params),
                    ("vision-encoder", "vision tower", counts["vision"]),
                    ("projector", "projector", counts["projector"]),
                )
                components += [Component(role=r, name=f"{model_type} {n}", n_params=c) for r, n, c in parts if c]
            n_params = counts["total"]
            if approximated and (counts["non_attention"] or counts["experts"]):
                kinds = " and ".join(
                    k
                    for k, c in (
                        ("state-space/linear-attention", counts["non_attention"]),
                        ("mixture-of-experts", counts["experts"]),
                    )
                    if c
                )
                notes = (
                    f"{model_type} has {kinds} layers, which a Llama-style approximation would misstate "
                    "(KV cache, active parameters): the parameter count is exact (transformers on the meta "
                    "device) but the memory is not estimated until llmcatalog reads this family"
                )
                warnings.warn(HFConfigWarning(notes), stacklevel=2)
                arch = None  # type: ignore[assignment]
    path = str(config.get("_name_or_path") or "")
    name = fields.pop("name", None) or (path.rsplit("/", 1)[-1] if path else _slug(model_type))
    hub = f"https://huggingface.co/{path}" if path.count("/") == 1 and not path.startswith(("/", ".")) else None
    defaults: dict[str, Any] = {
        "id": _slug(name),
        "name": name,
        "domain": "general",
        "sources": (hub,) if hub else (),
        "architecture": arch,
        "n_params": n_params,
        "open_weights": True,
        "components": tuple(components),
        "notes": notes,
    }
    if multimodal:
        defaults["modality"] = "vision-language"
    stored = checkpoint_weight_format(config)  # the quantization_config's format, or None
    if stored is not None:
        defaults["weight_format"] = stored
    defaults.update(fields)
    return Model(**defaults)
