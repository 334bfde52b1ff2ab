"""Build an :class:`Architecture` (and a :class:`Model`) from a Hugging Face ``config.json``.

Each family reads the keys its own ``configuration_*.py`` defines (transformers, or the
model's remote code for ChatGLM, Qwen-1, Baichuan, InternLM, DeepSeek-MoE). The quirks that
change parameter counts or memory are handled explicitly and commented at the family.
Unknown families raise :class:`~llmcatalog.CatalogDataError` naming the supported ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import CatalogDataError
from ..memory.params import count_params
from ..values.model import Architecture, Model

__all__ = ["SUPPORTED_FAMILIES", "architecture_from_hf_config", "model_from_hf_config"]

Reader = Callable[[Mapping[str, Any]], dict[str, Any]]


def _get(cfg: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        value = cfg.get(key)
        if value is not None:
            return value
    if default is not None:
        return default
    raise KeyError(keys[0])


def _common(cfg: Mapping[str, Any], family: str, max_context: int | None = None) -> dict[str, Any]:
    heads = _get(cfg, "num_attention_heads", "n_head")
    hidden = _get(cfg, "hidden_size", "n_embd", "d_model")
    return {
        "family": family,
        "n_layers": _get(cfg, "num_hidden_layers", "num_layers", "n_layer"),
        "hidden_size": hidden,
        "n_heads": heads,
        "n_kv_heads": _get(cfg, "num_key_value_heads", default=heads),
        "head_dim": _get(cfg, "head_dim", default=hidden // heads),
        "vocab_size": _get(cfg, "vocab_size"),
        "max_context": _get(
            cfg, "max_position_embeddings", "seq_length", "n_positions", "max_sequence_length", default=max_context
        ),
        "activation": str(_get(cfg, "hidden_act", "hidden_activation", default="silu")).replace("_", "-"),
    }


def _llama(cfg: Mapping[str, Any], family: str = "llama") -> dict[str, Any]:
    # transformers LlamaConfig: attention_bias puts biases on q, k, v and o; mlp_bias on the MLP.
    arch = _common(cfg, family)
    bias = bool(cfg.get("attention_bias", False))
    arch.update(
        ffn_size=cfg["intermediate_size"],
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=bool(cfg.get("mlp_bias", False)),
    )
    window = cfg.get("sliding_window")
    if window and cfg.get("use_sliding_window", True):
        arch["sliding_window"] = window
    return arch


def _mistral(cfg: Mapping[str, Any]) -> dict[str, Any]:
    return _llama(cfg, "mistral")


def _qwen2(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # Qwen2 always has q/k/v biases and no o_proj bias (modeling_qwen2.py).
    arch = _llama(cfg, "qwen2")
    arch.update(qkv_bias=True, attn_out_bias=False)
    if not cfg.get("use_sliding_window", False):
        arch.pop("sliding_window", None)
    return arch


def _qwen(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # Qwen-1 remote code (modeling_qwen.py): c_attn has a bias, c_proj none; the MLP's w1/w2 are
    # intermediate_size // 2 wide ("ff_dim_in = config.intermediate_size // 2").
    arch = _common(cfg, "qwen")
    arch.update(
        head_dim=cfg.get("kv_channels", arch["head_dim"]),
        ffn_size=cfg["intermediate_size"] // 2,
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        qkv_bias=True,
        max_context=_get(cfg, "max_position_embeddings", "seq_length"),
    )
    return arch


def _gemma(cfg: Mapping[str, Any]) -> dict[str, Any]:
    arch = _llama(cfg, "gemma")
    arch["tied_embeddings"] = bool(cfg.get("tie_word_embeddings", True))
    return arch


def _internlm(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # InternLM-1 remote code: "bias": true puts biases on q, k, v and o_proj.
    arch = _llama(cfg, "internlm")
    bias = bool(cfg.get("bias", True))
    arch.update(qkv_bias=bias, attn_out_bias=bias)
    return arch


def _internlm2(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # InternLM2 fuses wqkv; "bias" applies to wqkv and wo.
    arch = _llama(cfg, "internlm2")
    bias = bool(cfg.get("bias", False))
    arch.update(qkv_bias=bias, attn_out_bias=bias)
    return arch


def _baichuan(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # Baichuan/Baichuan2 remote code: W_pack (no bias), o_proj (no bias), SwiGLU, RMSNorm. The 13B
    # checkpoints (hidden 5120) use ALiBi instead of RoPE (Baichuan2 README, model table).
    arch = _llama(cfg, "baichuan")
    arch["max_context"] = _get(cfg, "model_max_length", "max_position_embeddings")
    if cfg.get("hidden_size") == 5120:
        arch["position_embedding"] = "alibi"
    return arch


def _deepseek(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # DeepSeek-MoE remote code: first_k_dense_replace dense layers, then MoE layers with
    # n_routed_experts experts of moe_intermediate_size and n_shared_experts always-on experts.
    arch = _llama(cfg, "deepseek")
    if cfg.get("n_routed_experts"):
        if cfg.get("moe_layer_freq", 1) != 1:
            raise ValueError("moe_layer_freq != 1 is not supported")
        arch.update(
            n_experts=cfg["n_routed_experts"],
            n_experts_per_token=cfg["num_experts_per_tok"],
            expert_ffn_size=cfg["moe_intermediate_size"],
            n_shared_experts=cfg.get("n_shared_experts") or 0,
            n_dense_layers=cfg.get("first_k_dense_replace", 0),
        )
    return arch


def _mixtral(cfg: Mapping[str, Any]) -> dict[str, Any]:
    arch = _llama(cfg, "mixtral")
    arch.update(
        n_experts=cfg["num_local_experts"],
        n_experts_per_token=cfg["num_experts_per_tok"],
        expert_ffn_size=cfg["intermediate_size"],
    )
    return arch


def _phi(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # transformers PhiConfig (phi-1, phi-1.5, phi-2): one LayerNorm per parallel block, biases on
    # every Linear including the LM head, GELU MLP of intermediate_size.
    arch = _common(cfg, "phi")
    arch.update(
        ffn_size=cfg["intermediate_size"],
        tied_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        mlp="standard",
        norm="layernorm",
        norms_per_layer=1,
        parallel_block=True,
        qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        lm_head_bias=True,
    )
    return arch


def _gpt2(cfg: Mapping[str, Any], family: str = "gpt2") -> dict[str, Any]:
    arch = _common(cfg, family)
    arch.update(
        ffn_size=cfg.get("n_inner") or 4 * arch["hidden_size"],
        tied_embeddings=bool(cfg.get("tie_word_embeddings", True)),
        mlp="standard",
        norm="layernorm",
        qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        position_embedding="learned",
        activation=str(cfg.get("activation_function", "gelu-new")).replace("_", "-"),
    )
    return arch


def _gpt_bigcode(cfg: Mapping[str, Any]) -> dict[str, Any]:
    arch = _gpt2(cfg, "gpt-bigcode")
    if cfg.get("multi_query", True):
        arch["n_kv_heads"] = 1
    return arch


def _chatglm(cfg: Mapping[str, Any]) -> dict[str, Any]:
    if "ffn_hidden_size" not in cfg:
        # ChatGLM-6B (v1) has a different, GLM-130B-style layout: not the ChatGLM2/3 one.
        return _chatglm1(cfg)
    # ChatGLM2/3 remote code: multi-query attention with multi_query_group_num KV groups,
    # bias on the fused QKV only (add_qkv_bias), RMSNorm, SwiGLU, untied output layer.
    heads = cfg["num_attention_heads"]
    return {
        "family": "chatglm",
        "n_layers": cfg["num_layers"],
        "hidden_size": cfg["hidden_size"],
        "n_heads": heads,
        "n_kv_heads": cfg["multi_query_group_num"] if cfg.get("multi_query_attention") else heads,
        "head_dim": cfg.get("kv_channels", cfg["hidden_size"] // heads),
        "ffn_size": cfg["ffn_hidden_size"],
        "vocab_size": cfg["padded_vocab_size"],
        "max_context": cfg["seq_length"],
        "tied_embeddings": False,
        "norm": "rmsnorm" if cfg.get("rmsnorm", True) else "layernorm",
        "qkv_bias": bool(cfg.get("add_qkv_bias", True)),
        "attn_out_bias": bool(cfg.get("add_bias_linear", False)),
        "mlp_bias": bool(cfg.get("add_bias_linear", False)),
    }


def _chatglm1(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # ChatGLM-6B v1 (modeling_chatglm.py): LayerNorm, GELU MLP of inner_hidden_size with biases,
    # biased QKV and dense projections, separate lm_head.
    return {
        "family": "chatglm",
        "n_layers": cfg["num_layers"],
        "hidden_size": cfg["hidden_size"],
        "n_heads": cfg["num_attention_heads"],
        "ffn_size": cfg["inner_hidden_size"],
        "vocab_size": cfg["vocab_size"],
        "max_context": cfg.get("max_sequence_length", 2048),
        "mlp": "standard",
        "activation": "gelu",
        "norm": "layernorm",
        "qkv_bias": True,
        "attn_out_bias": True,
        "mlp_bias": True,
    }


def _falcon(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # transformers FalconConfig: parallel attention+MLP; new_decoder_architecture (40B/180B) has two
    # LayerNorms per layer and num_kv_heads groups; the 7B uses multi-query and one LayerNorm.
    arch = _common(cfg, "falcon", max_context=2048)  # FalconConfig's default when the key is absent
    new = bool(cfg.get("new_decoder_architecture", False))
    multi_query_kv = 1 if cfg.get("multi_query", True) else arch["n_heads"]
    kv = cfg.get("num_kv_heads", arch["n_heads"]) if new else multi_query_kv
    bias = bool(cfg.get("bias", False))
    arch.update(
        n_kv_heads=kv,
        ffn_size=cfg.get("ffn_hidden_size") or 4 * arch["hidden_size"],
        tied_embeddings=bool(cfg.get("tie_word_embeddings", True)),
        mlp="standard",
        activation="gelu",
        norm="layernorm",
        norms_per_layer=2 if new else 1,
        parallel_block=bool(cfg.get("parallel_attn", True)),
        qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=bias,
        position_embedding="alibi" if cfg.get("alibi") else "rope",
    )
    return arch


def _bloom(cfg: Mapping[str, Any]) -> dict[str, Any]:
    hidden = _get(cfg, "hidden_size", "n_embed")
    return {
        "family": "bloom",
        "n_layers": _get(cfg, "n_layer", "num_hidden_layers"),
        "hidden_size": hidden,
        "n_heads": _get(cfg, "n_head", "num_attention_heads"),
        "ffn_size": 4 * hidden,
        "vocab_size": cfg["vocab_size"],
        "max_context": cfg.get("seq_length", 2048),
        "tied_embeddings": True,
        "mlp": "standard",
        "activation": "gelu",
        "norm": "layernorm",
        "embedding_norm": True,
        "qkv_bias": True,
        "attn_out_bias": True,
        "mlp_bias": True,
        "position_embedding": "alibi",
    }


_READERS: dict[str, Reader] = {
    "llama": _llama,
    "mistral": _mistral,
    "yi": _llama,
    "qwen2": _qwen2,
    "qwen": _qwen,
    "gemma": _gemma,
    "internlm": _internlm,
    "internlm2": _internlm2,
    "baichuan": _baichuan,
    "deepseek": _deepseek,
    "mixtral": _mixtral,
    "phi": _phi,
    "gpt2": _gpt2,
    "gpt_bigcode": _gpt_bigcode,
    "chatglm": _chatglm,
    "falcon": _falcon,
    "bloom": _bloom,
}

#: ``model_type`` values :func:`architecture_from_hf_config` understands.
SUPPORTED_FAMILIES = tuple(sorted(_READERS))


def architecture_from_hf_config(config: Mapping[str, Any]) -> Architecture:
    """The :class:`Architecture` described by a Hugging Face ``config.json`` mapping.

    Raises :class:`CatalogDataError` when ``model_type`` is missing or unsupported, or a key
    the family needs is absent.
    """
    if not isinstance(config, Mapping):
        raise CatalogDataError(
            "config", [f"config: expected a mapping (the parsed config.json), got {type(config).__name__}"]
        )
    model_type = config.get("model_type")
    if model_type is None:
        raise CatalogDataError("config", ["config: no 'model_type' key; is this a Hugging Face config.json?"])
    reader = _READERS.get(str(model_type))
    if reader is None:
        raise CatalogDataError(
            "config",
            [f"config: model_type {model_type!r} is not supported; supported: {', '.join(SUPPORTED_FAMILIES)}"],
        )
    try:
        fields = reader(config)
    except KeyError as exc:
        raise CatalogDataError("config", [f"config: {model_type} config lacks the key {exc.args[0]!r}"]) from exc
    except (TypeError, ValueError) as exc:
        raise CatalogDataError("config", [f"config: {exc}"]) from exc
    fields["activation"] = re.sub(r"[^a-z0-9._+-]", "-", str(fields.get("activation", "silu")).lower())
    try:
        return Architecture(**fields)
    except (TypeError, ValueError) as exc:  # the validators name the Architecture field and the fix
        raise CatalogDataError("config", [f"config ({model_type}): {exc}"]) from exc


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._+-]+", "-", text.lower()).strip("-._") or "model"


def model_from_hf_config(config: Mapping[str, Any], **fields: Any) -> Model:
    """A :class:`Model` with the architecture and exact parameter count of ``config``."""
    arch = architecture_from_hf_config(config)
    path = str(config.get("_name_or_path") or "")
    name = fields.pop("name", None) or (path.rsplit("/", 1)[-1] if path else arch.family)
    hub = f"https://huggingface.co/{path}" if path.count("/") == 1 and not path.startswith(("/", ".")) else None
    defaults: dict[str, Any] = {
        "id": _slug(name),
        "name": name,
        "domain": "general",
        "sources": (hub,) if hub else (),
        "architecture": arch,
        "n_params": count_params(arch),
        "open_weights": True,
    }
    defaults.update(fields)
    return Model(**defaults)
