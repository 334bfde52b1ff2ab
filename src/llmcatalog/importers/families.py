"""One reader per ``model_type``: config.json keys -> :class:`Architecture` fields.

Each family reads the keys its own ``configuration_*.py`` defines (transformers, or the model's
remote code for ChatGLM, Qwen-1, Baichuan, InternLM, DeepSeek-MoE, MiniCPM). A key the config
omits takes the default of that configuration class (transformers 5: ``LlamaConfig``,
``PhiConfig``, ...), written next to the read. The quirks that change parameter counts or
memory are commented at the family; each layout is checked against transformers' own model
built on the meta device in ``tests/test_hfconfig.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._keys import REQUIRED, bad, bool_, float_, int_, int_list, mapping, str_

__all__ = ["CORE_SIZES", "DEFAULTED", "READERS", "Reader", "TextConfig", "common", "rope_scaling"]

Reader = Callable[[Mapping[str, Any]], dict[str, Any]]
Cfg = Mapping[str, Any]

#: Keys that only set the context length; a config without them still has a parameter count.
CONTEXT_KEYS = ("max_position_embeddings", "seq_length", "n_positions", "max_sequence_length", "model_max_length")


class TextConfig(dict[str, Any]):
    """A multimodal config's language-model keys (``text_config``): there an absent key means the
    configuration class's default by design (LLaVA 1.5 gives only a few, the rest is LlamaConfig's
    7B), so :func:`common` neither refuses nor warns about defaulted core sizes."""


def rope_scaling(cfg: Cfg, default: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``rope_scaling_type``/``rope_scaling_factor`` from ``rope_scaling`` (or transformers 5 ``rope_parameters``).

    ``default`` is the configuration class's own scaling (gpt-oss: YaRN x32). Per-layer-type
    parameters (Gemma 3 in transformers 5) give the full-attention layers' scaling.
    """
    present = [key for key in ("rope_scaling", "rope_parameters") if cfg.get(key) is not None]
    for key in present or ["default"]:
        scaling = mapping(cfg, key) if key != "default" else default
        if scaling is None:
            continue
        if "full_attention" in scaling and not {"rope_type", "type"} & set(scaling):
            scaling = mapping(scaling, "full_attention") or {}
        kind = str_(scaling, ("rope_type", "type"), None)
        if kind is None or kind == "default":
            continue
        if kind.lower() == "su":  # the first Phi-3 128K configs' name for LongRoPE (renamed "longrope")
            kind = "longrope"
        factor = float_(scaling, "factor", None)
        if factor is not None and factor <= 0:
            raise bad(f"{key}.factor", f"expected a number > 0, got {factor!r}")
        return {"rope_scaling_type": kind.lower().replace("_", "-"), "rope_scaling_factor": factor}
    return {}


def common(
    cfg: Cfg,
    family: str,
    *,
    hidden: int = REQUIRED,
    layers: int = REQUIRED,
    heads: int = REQUIRED,
    kv_heads: int | None = None,
    head_dim: int | None = None,
    vocab: int = REQUIRED,
    context: int = REQUIRED,
    act: str = "silu",
    ffn: int | None = REQUIRED,
    rope: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The keys every decoder shares; the keyword arguments are the configuration class defaults.

    The core sizes a top-level config leaves out (hidden_size, num_hidden_layers,
    num_attention_heads, intermediate_size, vocab_size) and the defaults taken for them are
    returned under :data:`DEFAULTED` for :func:`~llmcatalog.importers.hfconfig.architecture_from_hf_config`
    to warn about or refuse (a multimodal :class:`TextConfig` relies on defaults by design).
    """
    defaulted = _defaulted(cfg, hidden=hidden, layers=layers, heads=heads, vocab=vocab, ffn=ffn)
    n_heads = int_(cfg, ("num_attention_heads", "n_head"), heads)
    h = int_(cfg, ("hidden_size", "n_embd", "d_model"), hidden)
    explicit_head_dim = int_(cfg, "head_dim", head_dim)
    if explicit_head_dim is None:
        if h % n_heads:
            raise bad(
                "hidden_size",
                f"{h} is not a multiple of num_attention_heads ({n_heads}); give 'head_dim' or fix the sizes",
            )
        explicit_head_dim = h // n_heads
    n_kv = int_(cfg, ("num_key_value_heads", "num_kv_heads"), kv_heads if kv_heads is not None else n_heads)
    if n_heads % n_kv:
        raise bad("num_key_value_heads", f"{n_kv} must divide num_attention_heads ({n_heads})")
    arch: dict[str, Any] = {
        "family": family,
        "n_layers": int_(cfg, ("num_hidden_layers", "num_layers", "n_layer"), layers),
        "hidden_size": h,
        "n_heads": n_heads,
        "n_kv_heads": n_kv,
        "head_dim": explicit_head_dim,
        "vocab_size": int_(cfg, "vocab_size", vocab),
        "max_context": int_(cfg, CONTEXT_KEYS[:4], context),
        "activation": str_(cfg, ("hidden_act", "hidden_activation"), act),
        **rope_scaling(cfg, rope),
    }
    if ffn is not None or "intermediate_size" in cfg:
        arch["ffn_size"] = int_(cfg, "intermediate_size", ffn)
    if defaulted:
        arch[DEFAULTED] = defaulted
    return arch


#: Key of a reader's fields holding the core sizes defaulted (``{"hidden_size": 4096, ...}``);
#: not an Architecture field: architecture_from_hf_config pops it.
DEFAULTED = "_defaulted_core_sizes"

#: The three sizes without which a config names no model.
CORE_SIZES = ("hidden_size", "num_hidden_layers", "num_attention_heads")

# The core sizes: (key named in messages, the keys read for it, the common() argument with its default).
_CORE_KEYS = (
    ("hidden_size", ("hidden_size", "n_embd", "d_model"), "hidden"),
    ("num_hidden_layers", ("num_hidden_layers", "num_layers", "n_layer"), "layers"),
    ("num_attention_heads", ("num_attention_heads", "n_head"), "heads"),
    ("intermediate_size", ("intermediate_size", "block_ff_dim"), "ffn"),  # LFM2 reads block_ff_dim first
    ("vocab_size", ("vocab_size",), "vocab"),
)


def _defaulted(cfg: Cfg, **defaults: Any) -> dict[str, Any]:
    """The core sizes ``cfg`` leaves out that take a configuration-class default, with that default."""
    if isinstance(cfg, TextConfig):
        return {}
    return {
        name: defaults[arg]
        for name, keys, arg in _CORE_KEYS
        if all(cfg.get(k) is None for k in keys) and defaults[arg] is not REQUIRED and defaults[arg] is not None
    }


def _window(cfg: Cfg, arch: dict[str, Any], *, use_default: bool, window: int | None = None) -> None:
    if "sliding_window" in cfg and cfg["sliding_window"] is None:
        return  # an explicit null is "no window" in transformers (Mistral Small 3.x, Mistral 7B v0.2+)
    if bool_(cfg, "use_sliding_window", use_default):
        size = int_(cfg, "sliding_window", window, minimum=0)
        if size:
            arch["sliding_window"] = size


#: transformers ``layer_types`` names -> :data:`llmcatalog.values.model.LAYER_KINDS`.
_LAYER_KIND_NAMES = {"full_attention": "full", "sliding_attention": "sliding", "conv": "conv"}


def _period(kinds: list[str]) -> tuple[str, ...]:
    """The shortest prefix p with ``kinds[i] == p[i % len(p)]`` (KMP border: O(len(kinds)))."""
    border = [0] * len(kinds)
    k = 0
    for i in range(1, len(kinds)):
        while k and kinds[i] != kinds[k]:
            k = border[k - 1]
        if kinds[i] == kinds[k]:
            k += 1
        border[i] = k
    return tuple(kinds[: len(kinds) - border[-1]]) if kinds else ()


def _set_layer_types(arch: dict[str, Any], kinds: list[str] | tuple[str, ...]) -> None:
    """Store the kinds as their period; uniform attention is the empty default.

    ``sliding_window`` is dropped when no layer slides (transformers then never uses it) and
    kept with an empty tuple when every layer slides (the Mistral default).
    """
    period = _period(list(kinds))
    if "sliding" not in period:
        arch.pop("sliding_window", None)
    if period in ((), ("full",)) or (period == ("sliding",) and arch.get("sliding_window")):
        arch.pop("layer_types", None)
        return
    arch["layer_types"] = period


def _explicit_layer_types(cfg: Cfg, arch: dict[str, Any]) -> bool:
    """Read a config's own ``layer_types`` list (transformers 5 configs, gpt-oss, LFM2); False when absent."""
    raw = cfg.get("layer_types")
    if raw is None:
        return False
    n_layers = arch["n_layers"]
    if not isinstance(raw, list) or len(raw) != n_layers:
        raise bad("layer_types", f"expected a list of {n_layers} layer types (num_hidden_layers), got {raw!r:.80}")
    unknown = sorted({str(t) for t in raw} - set(_LAYER_KIND_NAMES))
    if unknown:
        raise bad("layer_types", f"layer types {unknown} are not supported; known: {sorted(_LAYER_KIND_NAMES)}")
    _set_layer_types(arch, [_LAYER_KIND_NAMES[t] for t in raw])
    return True


def _periodic_window(cfg: Cfg, arch: dict[str, Any], pattern: int) -> None:
    """Gemma 2/3, Cohere2, gpt-oss: layer i slides unless (i + 1) % pattern == 0 (their configs' rule)."""
    if _explicit_layer_types(cfg, arch):
        return
    if not arch.get("sliding_window"):
        arch.pop("sliding_window", None)
        return
    if pattern < 1:
        raise bad("sliding_window_pattern", f"expected an integer >= 1, got {pattern}")
    _set_layer_types(arch, ["sliding"] * (pattern - 1) + ["full"])


def _max_window_layers(cfg: Cfg, arch: dict[str, Any], default: int, *, moe: bool = False) -> None:
    """Qwen2/Qwen3 (and VL): with ``use_sliding_window``, layers ``i >= max_window_layers`` slide
    (``Qwen2Config.__post_init__``). Qwen2-MoE's rule differs: even layers ``i < max_window_layers``."""
    if _explicit_layer_types(cfg, arch) or not arch.get("sliding_window"):
        return
    n_layers = arch["n_layers"]
    first = int_(cfg, "max_window_layers", default, minimum=0)
    if moe:
        if n_layers > 100_000 and first > 0:
            raise bad("max_window_layers", f"with num_hidden_layers={n_layers} is not supported; give layer_types")
        kinds = ["sliding" if i % 2 == 0 and i < first else "full" for i in range(n_layers)]
    elif first >= n_layers:
        kinds = ["full"]
    elif first == 0:
        kinds = ["sliding"]
    else:
        if n_layers > 100_000:
            raise bad("max_window_layers", f"with num_hidden_layers={n_layers} is not supported; give layer_types")
        kinds = ["full"] * first + ["sliding"] * (n_layers - first)
    _set_layer_types(arch, kinds)


# --- Llama and its close relatives -------------------------------------------------------------


def _llama(cfg: Cfg, family: str = "llama", **defaults: Any) -> dict[str, Any]:
    # transformers LlamaConfig: attention_bias puts biases on q, k, v and o; mlp_bias on the MLP.
    base: dict[str, Any] = {"hidden": 4096, "layers": 32, "heads": 32, "vocab": 32000, "context": 2048, "ffn": 11008}
    tie = defaults.pop("tie", False)
    window_default = defaults.pop("window", None)
    base.update(defaults)
    arch = common(cfg, family, **base)
    bias = bool_(cfg, "attention_bias", False)
    arch.update(
        tied_embeddings=bool_(cfg, "tie_word_embeddings", tie),
        qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=bool_(cfg, "mlp_bias", False),
    )
    _window(cfg, arch, use_default=True, window=window_default)
    return arch


def _mistral(cfg: Cfg) -> dict[str, Any]:
    # MistralConfig: 4096/14336/32 layers/8 KV heads, sliding_window 4096 by default.
    return _llama(cfg, "mistral", ffn=14336, kv_heads=8, context=131072, window=4096)


def _qwen2(cfg: Cfg, family: str = "qwen2", window_layers: int = 28, **defaults: Any) -> dict[str, Any]:
    # Qwen2 always has q/k/v biases and no o_proj bias (modeling_qwen2.py); Qwen2Config's
    # num_key_value_heads defaults to 32; max_window_layers 28 (80 in the VL text configs).
    base: dict[str, Any] = {"ffn": 22016, "vocab": 151936, "context": 32768, "kv_heads": 32}
    base.update(defaults)
    arch = _llama(cfg, family, **base)
    arch.update(qkv_bias=True, attn_out_bias=False)
    arch.pop("sliding_window", None)
    _window(cfg, arch, use_default=False)
    if family != "qwen2-moe":
        _max_window_layers(cfg, arch, window_layers)
    return arch


def _qwen2_vl_text(cfg: Cfg) -> dict[str, Any]:
    # Qwen2VLTextConfig / Qwen2_5_VLTextConfig: the Qwen2 layout with the 72B's sizes as defaults.
    return _qwen2(
        cfg,
        "qwen2",
        window_layers=80,
        hidden=8192,
        ffn=29568,
        layers=80,
        heads=64,
        kv_heads=8,
        vocab=152064,
        context=32768,
    )


def _qwen3(cfg: Cfg) -> dict[str, Any]:
    # Qwen3Config: head_dim 128 by default, q_norm/k_norm RMSNorm(head_dim), attention_bias default False.
    arch = _llama(cfg, "qwen3", ffn=22016, vocab=151936, context=32768, head_dim=128, kv_heads=32)
    arch["qk_norm"] = "head"
    arch.pop("sliding_window", None)
    _window(cfg, arch, use_default=False)
    _max_window_layers(cfg, arch, 28)
    return arch


def _moe_qwen(cfg: Cfg, arch: dict[str, Any], *, experts: int, top_k: int, expert_ffn: int) -> None:
    # Qwen2-MoE / Qwen3-MoE: layer i is sparse when (i + 1) % decoder_sparse_step == 0 and i is not in
    # mlp_only_layers; the other layers use a dense MLP of intermediate_size.
    n_experts = int_(cfg, "num_experts", experts, minimum=0)
    if not n_experts:
        return
    step = int_(cfg, "decoder_sparse_step", 1)
    arch.update(
        n_experts=n_experts,
        n_experts_per_token=int_(cfg, "num_experts_per_tok", top_k),
        expert_ffn_size=int_(cfg, "moe_intermediate_size", expert_ffn),
        moe_layer_step=step,
        moe_layer_offset=step - 1,
        dense_layer_ids=int_list(cfg, "mlp_only_layers", below=arch["n_layers"]),
    )


def _qwen2_moe(cfg: Cfg) -> dict[str, Any]:
    # Qwen2MoeConfig: one shared expert of shared_expert_intermediate_size, gated by Linear(h, 1).
    arch = _qwen2(cfg, "qwen2-moe", hidden=2048, layers=24, heads=16, kv_heads=16, ffn=5632)
    arch["qkv_bias"] = bool_(cfg, "qkv_bias", True)
    _max_window_layers(cfg, arch, 28, moe=True)
    _moe_qwen(cfg, arch, experts=60, top_k=4, expert_ffn=1408)
    if arch.get("n_experts"):
        shared = int_(cfg, "shared_expert_intermediate_size", 5632, minimum=0)
        if shared:
            arch.update(n_shared_experts=1, shared_expert_ffn_size=shared, shared_expert_gate=True)
    return arch


def _qwen3_moe(cfg: Cfg) -> dict[str, Any]:
    arch = _llama(cfg, "qwen3-moe", hidden=2048, layers=24, heads=32, kv_heads=4, vocab=151936, context=32768, ffn=6144)
    arch["qk_norm"] = "head"
    arch.pop("sliding_window", None)
    _window(cfg, arch, use_default=False)
    _moe_qwen(cfg, arch, experts=128, top_k=8, expert_ffn=768)
    return arch


def _qwen(cfg: Cfg) -> dict[str, Any]:
    # Qwen-1 remote code (modeling_qwen.py): c_attn has a bias, c_proj none; the MLP's w1/w2 are
    # intermediate_size // 2 wide ("ff_dim_in = config.intermediate_size // 2").
    arch = common(cfg, "qwen", ffn=None, context=8192)
    arch.update(
        head_dim=int_(cfg, "kv_channels", arch["head_dim"]),
        ffn_size=max(int_(cfg, "intermediate_size") // 2, 1),
        tied_embeddings=bool_(cfg, "tie_word_embeddings", False),
        qkv_bias=True,
        max_context=int_(cfg, ("max_position_embeddings", "seq_length"), 8192),
    )
    return arch


def _gemma(cfg: Cfg) -> dict[str, Any]:
    # GemmaConfig: 3072/24576/28 layers/16 heads/head_dim 256, GeGLU (gelu_pytorch_tanh), tied.
    return _llama(
        cfg,
        "gemma",
        hidden=3072,
        ffn=24576,
        layers=28,
        heads=16,
        head_dim=256,
        vocab=256000,
        context=8192,
        act="gelu_pytorch_tanh",
        tie=True,
    )


def _gemma2(cfg: Cfg, family: str = "gemma2", **defaults: Any) -> dict[str, Any]:
    # Gemma2/Gemma3: four RMSNorms per layer (input, post-attention, pre- and post-feedforward),
    # every other layer local with sliding_window (Gemma3: 5 local, 1 global: sliding_window_pattern
    # 6, Gemma3TextConfig); logit soft-capping has no parameters.
    base: dict[str, Any] = {
        "hidden": 2304,
        "ffn": 9216,
        "layers": 26,
        "heads": 8,
        "kv_heads": 4,
        "head_dim": 256,
        "vocab": 256000,
        "context": 8192,
        "act": "gelu_pytorch_tanh",
        "tie": True,
        "window": 4096,
    }
    base.update(defaults)
    pattern = base.pop("pattern", 2)
    arch = _llama(cfg, family, **base)
    arch["norms_per_layer"] = 4
    _periodic_window(cfg, arch, pattern)
    return arch


def _gemma3_text(cfg: Cfg) -> dict[str, Any]:
    # Gemma3TextConfig: q_norm/k_norm RMSNorm(head_dim); vocab 262208; context 131072.
    pattern = int_(cfg, "sliding_window_pattern", 6)
    arch = _gemma2(cfg, "gemma3", vocab=262208, context=131072, pattern=pattern)
    arch["qk_norm"] = "head"
    return arch


def _internlm(cfg: Cfg) -> dict[str, Any]:
    # InternLM-1 remote code: "bias": true puts biases on q, k, v and o_proj.
    arch = _llama(cfg, "internlm")
    bias = bool_(cfg, "bias", True)
    arch.update(qkv_bias=bias, attn_out_bias=bias)
    return arch


def _internlm2(cfg: Cfg) -> dict[str, Any]:
    # InternLM2 fuses wqkv; "bias" applies to wqkv and wo.
    arch = _llama(cfg, "internlm2")
    bias = bool_(cfg, "bias", False)
    arch.update(qkv_bias=bias, attn_out_bias=bias)
    return arch


def _baichuan(cfg: Cfg) -> dict[str, Any]:
    # Baichuan/Baichuan2 remote code: W_pack (no bias), o_proj (no bias), SwiGLU, RMSNorm. The 13B
    # checkpoints (hidden 5120) use ALiBi instead of RoPE (Baichuan2 README, model table); they
    # have no max_position_embeddings, only model_max_length (4096 in their configs).
    arch = _llama(cfg, "baichuan", vocab=125696, context=4096)
    arch["max_context"] = int_(cfg, ("model_max_length", "max_position_embeddings"), 4096)
    if arch["hidden_size"] == 5120:
        arch["position_embedding"] = "alibi"
    return arch


def _minicpm(cfg: Cfg) -> dict[str, Any]:
    # MiniCPM remote code (configuration_minicpm.py, a LlamaConfig copy): scale_emb and
    # dim_model_base scale activations only; the checkpoints tie the embeddings.
    return _llama(cfg, "minicpm", tie=True)


def _granite(cfg: Cfg) -> dict[str, Any]:
    # GraniteConfig: Llama layout; embedding/residual/attention/logits multipliers have no parameters.
    return _llama(cfg, "granite")


def _cohere(cfg: Cfg, family: str = "cohere", **defaults: Any) -> dict[str, Any]:
    # CohereConfig: one bias-free LayerNorm per layer feeding attention and MLP in parallel,
    # tied embeddings; use_qk_norm adds LayerNorms of (heads, head_dim) on q and k.
    base: dict[str, Any] = {
        "hidden": 8192,
        "ffn": 22528,
        "layers": 40,
        "heads": 64,
        "vocab": 256000,
        "context": 8192,
        "tie": True,
    }
    base.update(defaults)
    arch = _llama(cfg, family, **base)
    arch.pop("sliding_window", None)
    arch.update(norm="layernorm-nobias", norms_per_layer=1, parallel_block=True)
    if bool_(cfg, "use_qk_norm", False):
        arch["qk_norm"] = "full"
    return arch


def _cohere2(cfg: Cfg) -> dict[str, Any]:
    # Cohere2Config: Cohere layout, head_dim 128, sliding window on three of four layers.
    arch = _cohere(cfg, "cohere2", head_dim=128)
    _window(cfg, arch, use_default=True, window=4096)
    _periodic_window(cfg, arch, int_(cfg, "sliding_window_pattern", 4))
    return arch


def _olmo2(cfg: Cfg) -> dict[str, Any]:
    # Olmo2Config: q_norm over all query heads and k_norm over all KV heads; norms after
    # attention and after the MLP only (two per layer).
    arch = _llama(cfg, "olmo2", vocab=50304)
    arch.pop("sliding_window", None)
    arch["qk_norm"] = "full"
    return arch


def _glm(cfg: Cfg, family: str = "glm") -> dict[str, Any]:
    # GlmConfig (GLM-4-9B-hf): q/k/v biases (attention_bias, default true), o_proj without;
    # fused gate_up_proj; partial rotary has no parameters. Glm4Config adds two norms per layer.
    arch = _llama(
        cfg,
        family,
        ffn=13696,
        layers=40,
        kv_heads=2,
        head_dim=128,
        vocab=151552,
        context=131072,
    )
    arch.pop("sliding_window", None)
    arch.update(qkv_bias=bool_(cfg, "attention_bias", True), attn_out_bias=False, mlp_bias=False)
    if family == "glm4":
        arch["norms_per_layer"] = 4
    return arch


def _glm4(cfg: Cfg) -> dict[str, Any]:
    return _glm(cfg, "glm4")


def _phi3(cfg: Cfg) -> dict[str, Any]:
    # Phi3Config: fused qkv_proj and gate_up_proj without biases; Llama counts.
    arch = _llama(cfg, "phi3", hidden=3072, ffn=8192, vocab=32064, context=4096)
    arch.update(qkv_bias=False, attn_out_bias=False, mlp_bias=False)
    return arch


def _phi3small(cfg: Cfg) -> dict[str, Any]:
    # Phi-3-small remote code (Phi3SmallForCausalLM; the same modules in vLLM's phi3_small.py and
    # mlx-lm's phi3small.py, which loads the official weights strictly):
    # fused query_key_value and dense projections with biases; up_proj to 2 x ff_intermediate_size
    # (the GeGELU gate and linear halves interleaved) and down_proj, both with biases: the gated
    # MLP count with biases. LayerNorms (weight and bias), the output head tied to the embeddings
    # (the hub config sets no tie_word_embeddings: PretrainedConfig's default).
    # Block-sparse attention (all layers but every dense_attention_every_n_layers-th) has no
    # parameters and reaches back to the first token through its vertical stride, so every layer
    # keeps a full KV cache: no sliding window. muP multipliers have no parameters. The core sizes
    # are required (the remote configuration class's defaults are not read here).
    arch = common(
        cfg,
        "phi3small",
        hidden=REQUIRED,
        layers=REQUIRED,
        heads=REQUIRED,
        vocab=REQUIRED,
        context=8192,
        act="gegelu",
        ffn=None,
    )
    ffn = int_(cfg, ("ff_intermediate_size", "intermediate_size"))
    if bool_(cfg, "gegelu_pad_to_256", False) and ffn % 256:
        raise bad(
            "ff_intermediate_size",
            f"{ffn} with gegelu_pad_to_256: the checkpoint pads it to a multiple of 256; give the padded size",
        )
    arch.update(
        ffn_size=ffn,
        norm="layernorm",
        tied_embeddings=bool_(cfg, "tie_word_embeddings", True),
        qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
    )
    return arch


def _mixtral(cfg: Cfg) -> dict[str, Any]:
    # MixtralConfig: every layer sparse; experts of intermediate_size.
    arch = _llama(cfg, "mixtral", ffn=14336, kv_heads=8, context=131072)
    arch.update(
        n_experts=int_(cfg, "num_local_experts", 8),
        n_experts_per_token=int_(cfg, "num_experts_per_tok", 2),
        expert_ffn_size=arch["ffn_size"],
    )
    return arch


def _phimoe(cfg: Cfg) -> dict[str, Any]:
    # PhimoeConfig: Mixtral layout with LayerNorms (weight and bias), attention_bias on q/k/v/o,
    # lm_head_bias on the output head.
    arch = _mixtral(cfg)
    arch.update(
        common(cfg, "phimoe", ffn=6400, kv_heads=8, vocab=32064, context=131072, hidden=4096, layers=32, heads=32)
    )
    arch.update(
        n_experts=int_(cfg, "num_local_experts", 16),
        expert_ffn_size=arch["ffn_size"],
        norm="layernorm",
        lm_head_bias=bool_(cfg, "lm_head_bias", False),
    )
    arch.pop("sliding_window", None)
    _window(cfg, arch, use_default=True)
    return arch


def _deepseek(cfg: Cfg) -> dict[str, Any]:
    # DeepSeek-MoE remote code: first_k_dense_replace dense layers, then MoE layers with
    # n_routed_experts experts of moe_intermediate_size and n_shared_experts always-on experts.
    arch = _llama(cfg, "deepseek", vocab=102400)
    _deepseek_moe(cfg, arch, routed=None, shared=None, first_dense=0, expert_ffn=1407, top_k=None)
    return arch


def _deepseek_moe(
    cfg: Cfg,
    arch: dict[str, Any],
    *,
    routed: int | None,
    shared: int | None,
    first_dense: int,
    expert_ffn: int,
    top_k: int | None,
) -> None:
    n_routed = int_(cfg, "n_routed_experts", routed, minimum=0)
    if not n_routed:
        return
    n_shared = int_(cfg, "n_shared_experts", shared, minimum=0) or 0
    expert = int_(cfg, "moe_intermediate_size", expert_ffn)
    arch.update(
        n_experts=n_routed,
        n_experts_per_token=int_(cfg, "num_experts_per_tok", top_k),
        expert_ffn_size=expert,
        n_shared_experts=n_shared,
        # DeepseekV2/V3MoE: one shared MLP of moe_intermediate_size * n_shared_experts (same count).
        shared_expert_ffn_size=None,  # None: the shared experts are expert-sized
        n_dense_layers=min(int_(cfg, "first_k_dense_replace", first_dense, minimum=0), arch["n_layers"]),
        moe_layer_step=int_(cfg, "moe_layer_freq", 1),
    )


def _deepseek_v2(cfg: Cfg, family: str = "deepseek-v2", **defaults: Any) -> dict[str, Any]:
    # DeepseekV2Config / DeepseekV3Config: multi-head latent attention (q_lora_rank None = plain
    # q_proj), KV heads = heads after expansion; one shared MLP of n_shared * moe_intermediate_size.
    base: dict[str, Any] = {"vocab": 102400, "context": 2048, "ffn": 11008}
    mla: dict[str, Any] = {"q_lora": 1536, "kv_lora": 512, "nope": 128, "rope": 64, "v": 128}
    moe: dict[str, Any] = {"routed": 64, "shared": 2, "first_dense": 0, "expert_ffn": 1407, "top_k": None}
    for key in list(defaults):
        for table in (mla, moe):
            if key in table:
                table[key] = defaults.pop(key)
    base.update(defaults)
    nope = int_(cfg, "qk_nope_head_dim", mla["nope"])
    rope = int_(cfg, "qk_rope_head_dim", mla["rope"])
    arch = _llama(cfg, family, head_dim=nope + rope, **base)
    arch.pop("sliding_window", None)
    arch.update(
        head_dim=nope + rope,
        n_kv_heads=arch["n_heads"],
        q_lora_rank=int_(cfg, "q_lora_rank", mla["q_lora"])
        if "q_lora_rank" not in cfg or cfg["q_lora_rank"] is not None
        else None,
        kv_lora_rank=int_(cfg, "kv_lora_rank", mla["kv_lora"]),
        qk_rope_head_dim=rope,
        v_head_dim=int_(cfg, "v_head_dim", mla["v"]),
    )
    _deepseek_moe(cfg, arch, **moe)
    # transformers' DeepseekV2/V3 decoder layers are sparse from first_k_dense_replace on and do not
    # read moe_layer_freq (1 in every released checkpoint).
    arch["moe_layer_step"] = 1
    if arch.get("n_experts") and arch.get("n_experts_per_token") is None:
        raise bad("num_experts_per_tok", "missing; a DeepSeek MoE config must give it")
    return arch


def _deepseek_v3(cfg: Cfg) -> dict[str, Any]:
    # DeepseekV3Config: same layout; num_nextn_predict_layers multi-token-prediction modules are
    # stored in the checkpoint but not built by transformers (mtp_layers).
    arch = _deepseek_v2(
        cfg,
        "deepseek-v3",
        hidden=7168,
        ffn=18432,
        layers=61,
        heads=128,
        vocab=129280,
        context=4096,
        routed=256,
        shared=1,
        first_dense=3,
        expert_ffn=2048,
        top_k=8,
    )
    arch["mtp_layers"] = int_(cfg, "num_nextn_predict_layers", 1, minimum=0)
    return arch


def _glm4_moe(cfg: Cfg) -> dict[str, Any]:
    # Glm4MoeConfig (GLM-4.5, GLM-4.5-Air, GLM-4.6): grouped-query attention with an explicit head_dim,
    # q/k/v biases with attention_bias (o_proj without), per-head q/k RMSNorm with use_qk_norm, partial
    # rotary (no parameters); DeepSeek-V3-style MoE from first_k_dense_replace on (router weight only:
    # e_score_correction_bias is a buffer); num_nextn_predict_layers MTP modules are stored in the
    # checkpoint but not built by transformers (mtp_layers).
    arch = _llama(
        cfg,
        "glm4-moe",
        hidden=4096,
        ffn=10944,
        layers=46,
        heads=96,
        kv_heads=8,
        vocab=151552,
        context=131072,
    )
    arch.pop("sliding_window", None)
    arch.update(qkv_bias=bool_(cfg, "attention_bias", False), attn_out_bias=False, mlp_bias=False)
    if bool_(cfg, "use_qk_norm", False):
        arch["qk_norm"] = "head"
    _deepseek_moe(cfg, arch, routed=128, shared=1, first_dense=1, expert_ffn=1408, top_k=8)
    arch["moe_layer_step"] = 1
    arch["mtp_layers"] = int_(cfg, ("num_nextn_predict_layers", "num_mtp_layers"), 1, minimum=0)
    return arch


def _internlm3(cfg: Cfg) -> dict[str, Any]:
    # InternLM3 remote code: separate q/k/v/o projections with "qkv_bias" on q/k/v and "bias" on o_proj
    # and the MLP. transformers' InternLM3Config (defaults: InternLM3-8B) reads them as attention_bias /
    # mlp_bias and accepts only equal values, which count the same.
    arch = _llama(cfg, "internlm3", ffn=10240, layers=48, kv_heads=2, head_dim=128, vocab=128512, context=32768)
    arch.pop("sliding_window", None)
    bias = bool_(cfg, ("bias", "mlp_bias"), False)
    arch.update(qkv_bias=bool_(cfg, ("qkv_bias", "attention_bias"), False), attn_out_bias=bias, mlp_bias=bias)
    return arch


def _minicpm3(cfg: Cfg) -> dict[str, Any]:
    # MiniCPM3Config (transformers; defaults are openbmb/MiniCPM3-4B's): DeepSeek-V2-style multi-head
    # latent attention without MoE (q_a/q_b, kv_a_proj_with_mqa/kv_b with their RMSNorms), v_head_dim
    # hidden_size // heads unless given; muP scale_emb/scale_depth/dim_model_base have no parameters.
    arch = _llama(cfg, "minicpm3", hidden=2560, ffn=6400, layers=62, heads=40, vocab=73448, context=32768, tie=True)
    arch.pop("sliding_window", None)
    nope = int_(cfg, "qk_nope_head_dim", 64)
    rope = int_(cfg, "qk_rope_head_dim", 32)
    arch.update(
        head_dim=nope + rope,
        n_kv_heads=arch["n_heads"],
        q_lora_rank=int_(cfg, "q_lora_rank", 768) if cfg.get("q_lora_rank", 768) is not None else None,
        kv_lora_rank=int_(cfg, "kv_lora_rank", 256),
        qk_rope_head_dim=rope,
        v_head_dim=int_(cfg, "v_head_dim", arch["hidden_size"] // arch["n_heads"]),
    )
    return arch


def _llama4_text(cfg: Cfg) -> dict[str, Any]:
    # Llama4TextConfig: MoE every interleave_moe_layer_step-th layer ((i+1) % step == 0), experts of
    # intermediate_size plus one shared expert of the same size, router without bias; dense layers
    # use intermediate_size_mlp. The L2 q/k norm has no parameters.
    arch = _llama(
        cfg,
        "llama4",
        hidden=5120,
        ffn=8192,
        layers=48,
        heads=40,
        kv_heads=8,
        head_dim=128,
        vocab=202048,
        context=131072,
    )
    arch.pop("sliding_window", None)
    expert_ffn = arch["ffn_size"]
    step = int_(cfg, "interleave_moe_layer_step", 1)
    arch.update(
        ffn_size=int_(cfg, "intermediate_size_mlp", 16384),
        n_experts=int_(cfg, "num_local_experts", 16),
        n_experts_per_token=int_(cfg, "num_experts_per_tok", 1),
        expert_ffn_size=expert_ffn,
        n_shared_experts=1,
        shared_expert_ffn_size=expert_ffn,
        moe_layer_step=step,
        moe_layer_offset=step - 1,
    )
    if cfg.get("moe_layers") is not None:  # an explicit list wins over the interleave step
        n_layers = arch["n_layers"]
        sparse = int_list(cfg, "moe_layers", below=n_layers)
        first = sparse[0] if sparse else 0
        if sparse and sparse == tuple(range(first, n_layers, first + 1)):  # every (first+1)-th layer
            arch.update(moe_layer_step=first + 1, moe_layer_offset=first)
        else:
            if n_layers > 100_000:
                raise bad("moe_layers", f"an explicit list with num_hidden_layers={n_layers} is not supported")
            arch.update(
                moe_layer_step=1,
                moe_layer_offset=0,
                dense_layer_ids=tuple(i for i in range(n_layers) if i not in set(sparse)),
            )
    return arch


def _gpt_oss(cfg: Cfg) -> dict[str, Any]:
    # GptOssConfig: biases on q/k/v/o, per-head attention sinks, router with bias, experts with
    # biases on the fused gate_up and down projections; alternating sliding (128) and full layers.
    arch = _llama(
        cfg,
        "gpt-oss",
        hidden=2880,
        ffn=2880,
        layers=36,
        heads=64,
        kv_heads=8,
        head_dim=64,
        vocab=201088,
        context=131072,
        window=128,
        rope={"rope_type": "yarn", "factor": 32.0},
    )
    bias = bool_(cfg, "attention_bias", True)
    arch.update(
        qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=True,
        attn_sinks=True,
        router_bias=True,
        n_experts=int_(cfg, ("num_local_experts", "num_experts"), 128),
        n_experts_per_token=int_(cfg, "num_experts_per_tok", 4),
        expert_ffn_size=arch["ffn_size"],
    )
    _periodic_window(cfg, arch, 2)
    return arch


def _ernie4_5(cfg: Cfg, family: str = "ernie4-5", **defaults: Any) -> dict[str, Any]:
    # Ernie4_5Config (ERNIE-4.5-0.3B): the Llama layout with head_dim 128, tied embeddings by default,
    # and one use_bias switch for q/k/v/o, the MLP and the LM head (modeling_ernie4_5.py).
    base: dict[str, Any] = {
        "hidden": 1024,
        "ffn": 3072,
        "layers": 18,
        "heads": 16,
        "kv_heads": 2,
        "head_dim": 128,
        "vocab": 103424,
        "context": 131072,
        "tie": True,
    }
    base.update(defaults)
    arch = _llama(cfg, family, **base)
    arch.pop("sliding_window", None)
    bias = bool_(cfg, "use_bias", False)
    arch.update(qkv_bias=bias, attn_out_bias=bias, mlp_bias=bias, lm_head_bias=bias)
    return arch


def _ernie4_5_moe(cfg: Cfg) -> dict[str, Any]:
    # Ernie4_5_MoeConfig (ERNIE-4.5-21B-A3B / 300B-A47B, modeling_ernie4_5_moe.py): layer i is sparse when
    # (i + 1) % moe_layer_interval == 0 and moe_layer_start_index <= i <= moe_layer_end_index (-1: the
    # last layer); the others use a dense MLP of intermediate_size. A sparse layer has a router
    # Linear(h, E) plus a per-expert score-correction bias (moe_statics, E values: counted as a router
    # bias), E experts of moe_intermediate_size and one shared MLP of moe_intermediate_size *
    # moe_num_shared_experts. The routed experts have no biases, so use_bias (all real configs: false) is
    # refused rather than counted wrongly.
    arch = _ernie4_5(cfg, "ernie4-5-moe", hidden=2560, ffn=12288, layers=28, heads=20, kv_heads=4, head_dim=128)
    if arch["mlp_bias"]:
        raise bad("use_bias", "true is not supported for ernie4_5_moe (its experts have no biases); set it to false")
    n_experts = int_(cfg, "moe_num_experts", 64, minimum=0)
    if not n_experts:
        return arch
    layers = arch["n_layers"]
    start = int_(cfg, "moe_layer_start_index", 1, minimum=0)
    end = int_(cfg, "moe_layer_end_index", -1, minimum=-1)
    end = layers - 1 if end == -1 else min(end, layers - 1)  # Ernie4_5_MoeConfig: -1 is the last layer
    if end < start:
        return arch  # no layer lies in the range: transformers builds every MLP dense
    step = int_(cfg, "moe_layer_interval", 1)
    arch.update(
        n_experts=n_experts,
        n_experts_per_token=int_(cfg, "moe_k", 6),
        expert_ffn_size=int_(cfg, "moe_intermediate_size", 1536),
        n_shared_experts=int_(cfg, "moe_num_shared_experts", 2, minimum=0) or 0,
        shared_expert_ffn_size=None,  # None: the shared experts are expert-sized
        router_bias=True,
        n_dense_layers=start,
        moe_layer_step=step,
        moe_layer_offset=step - 1,
        dense_layer_ids=tuple(range(end + 1, layers)),
    )
    return arch


def _seed_oss(cfg: Cfg) -> dict[str, Any]:
    # SeedOssConfig (Seed-OSS-36B, modeling_seed_oss.py): the Llama layout with separate bias switches,
    # attention_bias on q/k/v (default true) and attention_out_bias on o (default false); no window.
    arch = _llama(
        cfg,
        "seed-oss",
        hidden=4096,
        ffn=27648,
        layers=64,
        heads=80,
        kv_heads=8,
        head_dim=128,
        vocab=155136,
        context=524288,
    )
    arch.pop("sliding_window", None)
    arch.update(
        qkv_bias=bool_(cfg, "attention_bias", True),
        attn_out_bias=bool_(cfg, "attention_out_bias", False),
    )
    return arch


def _smollm3(cfg: Cfg) -> dict[str, Any]:
    # SmolLM3Config (modeling_smollm3.py): the Llama layout, tied embeddings by default; rotary embeddings
    # are dropped in every no_rope_layer_interval-th layer (NoPE, no parameters). A layer slides only with
    # use_sliding_window and a sliding_window, and then only the NoPE layers unless layer_types says otherwise.
    arch = _llama(
        cfg,
        "smollm3",
        hidden=2048,
        ffn=11008,
        layers=36,
        heads=16,
        kv_heads=4,
        vocab=128256,
        context=32768,
        tie=True,
    )
    arch.pop("sliding_window", None)
    _window(cfg, arch, use_default=False)
    if not arch.get("sliding_window"):
        return arch
    if _explicit_layer_types(cfg, arch):
        return arch
    n_layers = arch["n_layers"]
    if n_layers > 100_000:
        raise bad("num_hidden_layers", f"{n_layers} with a sliding window is not supported; give layer_types")
    raw = cfg.get("no_rope_layers")
    if raw is not None:
        if not isinstance(raw, list) or len(raw) != n_layers or any(flag not in (0, 1) for flag in raw):
            raise bad("no_rope_layers", f"expected {n_layers} flags of 0 or 1 (num_hidden_layers), got {raw!r:.80}")
        has_rope = [bool(flag) for flag in raw]
    else:
        interval = int_(cfg, "no_rope_layer_interval", 4)
        has_rope = [(i + 1) % interval != 0 for i in range(n_layers)]
    _set_layer_types(arch, ["full" if rope else "sliding" for rope in has_rope])
    return arch


def _uniform(cfg: Cfg, key: str, default: int) -> int:
    """An integer key that per-layer configs may give as a list (Hunyuan); the list must be uniform."""
    value = cfg.get(key)
    if isinstance(value, list):
        if not value or any(isinstance(v, bool) or not isinstance(v, int) for v in value) or len(set(value)) != 1:
            raise bad(key, f"per-layer values must be one repeated integer to be read, got {value!r:.80}")
        return int(value[0])
    result: int = int_(cfg, key, default)
    return result


def _hunyuan_v1_moe(cfg: Cfg) -> dict[str, Any]:
    # HunYuanMoEV1Config (Hunyuan-A13B, modeling_hunyuan_v1_moe.py): the Llama attention with an RMSNorm over
    # each head's queries and keys (query_layernorm / key_layernorm), attention_bias on q/k/v/o, no MLP
    # biases; every layer has a router Linear(h, num_experts), num_experts experts and one shared MLP, all
    # of intermediate_size, moe_topk experts per token (an int or a per-layer list). The remote-code keys
    # for other layouts (moe_intermediate_size != intermediate_size, several shared experts, cross-layer
    # attention) are refused rather than counted as transformers would build them.
    arch = _llama(cfg, "hunyuan-v1-moe", hidden=4096, ffn=11008, layers=32, heads=32, vocab=290943, context=2048)
    arch.pop("sliding_window", None)
    ffn = arch["ffn_size"]
    if cfg.get("moe_intermediate_size") is not None and _uniform(cfg, "moe_intermediate_size", ffn) != ffn:
        raise bad("moe_intermediate_size", f"differs from intermediate_size ({ffn}); this layout is not supported")
    if cfg.get("num_shared_expert") is not None and _uniform(cfg, "num_shared_expert", 1) != 1:
        raise bad("num_shared_expert", "only one shared expert is supported (transformers' HunYuanMoEV1)")
    if bool_(cfg, "use_cla", False):
        raise bad("use_cla", "cross-layer attention (KV shared between layers) is not supported; set it to false")
    arch.update(
        mlp_bias=False,
        qk_norm="head",
        n_experts=_uniform(cfg, "num_experts", 1),
        n_experts_per_token=_uniform(cfg, "moe_topk", 1),
        expert_ffn_size=ffn,
        n_shared_experts=1,
        shared_expert_ffn_size=ffn,
    )
    return arch


def _minimax_m2(cfg: Cfg) -> dict[str, Any]:
    # MiniMaxM2Config (MiniMax-M2, modeling_minimax_m2.py): softmax attention without biases and with one
    # RMSNorm over all heads' queries and one over all keys (qk_norm_type "per_layer"); every layer a MoE of
    # num_local_experts experts of intermediate_size, num_experts_per_tok per token, no shared expert. The
    # router's score-correction bias is a buffer and the num_mtp_modules MTP modules are not built, so
    # neither is counted (as transformers). Lightning-attention layers (attn_type_list 0, MiniMax-M1/01),
    # other qk norms and a shared expert are refused.
    arch = _llama(
        cfg,
        "minimax-m2",
        hidden=3072,
        ffn=1536,
        layers=62,
        heads=48,
        kv_heads=8,
        head_dim=128,
        vocab=200064,
        context=196608,
    )
    arch.pop("sliding_window", None)
    kinds = cfg.get("attn_type_list")
    if kinds is not None and (not isinstance(kinds, list) or any(k != 1 for k in kinds)):
        raise bad("attn_type_list", "lightning (linear) attention layers (0) cannot be expressed; this reads 1s only")
    if str_(cfg, "qk_norm_type", "per_layer") != "per_layer" or not bool_(cfg, "use_qk_norm", True):
        raise bad("qk_norm_type", "only per_layer query/key norms (use_qk_norm true) are supported")
    if int_(cfg, "shared_intermediate_size", 0, minimum=0):
        raise bad("shared_intermediate_size", "a shared expert is not supported for minimax_m2; expected 0")
    arch.update(
        qkv_bias=False,
        attn_out_bias=False,
        mlp_bias=False,
        qk_norm="full",
        n_experts=int_(cfg, "num_local_experts", 256),
        n_experts_per_token=int_(cfg, "num_experts_per_tok", 8),
        expert_ffn_size=arch["ffn_size"],
    )
    return arch


def _lfm2(cfg: Cfg) -> dict[str, Any]:
    # Lfm2Config (LiquidAI LFM2): attention layers (q/k/v/out_proj without bias, q/k RMSNorm of
    # head_dim) and gated short-convolution layers (Lfm2ShortConv: in_proj Linear(h, 3h), depthwise
    # Conv1d of conv_L_cache taps, out_proj Linear(h, h), conv_bias on all three), chosen by
    # layer_types or full_attn_idxs (default: every layer attention). Two RMSNorms per layer plus
    # the final embedding_norm. The SwiGLU width is adjusted (Lfm2MLP): int(2f/3), times
    # block_ffn_dim_multiplier, rounded up to block_multiple_of. block_ff_dim and tie_embedding
    # override intermediate_size and tie_word_embeddings.
    arch = common(cfg, "lfm2", hidden=2560, layers=32, heads=32, kv_heads=8, vocab=65536, context=128000, ffn=12288)
    ffn = int_(cfg, ("block_ff_dim", "intermediate_size"), 12288)
    if bool_(cfg, "block_auto_adjust_ff_dim", True):
        ffn = int(2 * ffn / 3)
        multiplier = float_(cfg, "block_ffn_dim_multiplier", 1.0)
        if multiplier is not None:
            multiple = int_(cfg, "block_multiple_of", 256)
            ffn = int(multiplier * ffn)
            ffn = multiple * ((ffn + multiple - 1) // multiple)
    if ffn < 1:
        raise bad("intermediate_size", f"the adjusted feed-forward width is {ffn}; it must be >= 1")
    arch.update(
        ffn_size=ffn,
        tied_embeddings=bool_(cfg, ("tie_embedding", "tie_word_embeddings"), True),
        qk_norm="head",
        conv_kernel=int_(cfg, "conv_L_cache", 3),
        conv_bias=bool_(cfg, "conv_bias", False),
    )
    if not _explicit_layer_types(cfg, arch):
        n_layers = arch["n_layers"]
        full = cfg.get("full_attn_idxs")
        if full is not None:
            if n_layers > 100_000:
                raise bad("full_attn_idxs", f"with num_hidden_layers={n_layers} is not supported; give layer_types")
            attention = set(int_list(cfg, "full_attn_idxs", below=n_layers))
            _set_layer_types(arch, ["full" if i in attention else "conv" for i in range(n_layers)])
    if "conv" not in arch.get("layer_types", ()):
        arch.pop("conv_kernel")
        arch.pop("conv_bias")
    return arch


def _starcoder2(cfg: Cfg) -> dict[str, Any]:
    # Starcoder2Config: LayerNorms with bias, use_bias on every Linear, plain GELU MLP (c_fc, c_proj), tied.
    arch = _llama(
        cfg,
        "starcoder2",
        hidden=3072,
        ffn=12288,
        layers=30,
        heads=24,
        kv_heads=2,
        vocab=49152,
        context=4096,
        act="gelu_pytorch_tanh",
        tie=True,
    )
    bias = bool_(cfg, "use_bias", True)
    arch.update(mlp="standard", norm="layernorm", qkv_bias=bias, attn_out_bias=bias, mlp_bias=bias)
    return arch


def _gpt_neox(cfg: Cfg) -> dict[str, Any]:
    # GPTNeoXConfig: fused query_key_value and dense with attention_bias, biased GELU MLP,
    # two LayerNorms per layer (parallel residual or not), untied embed_out without bias.
    arch = common(cfg, "gpt-neox", hidden=6144, layers=44, heads=64, vocab=50432, context=2048, act="gelu", ffn=24576)
    bias = bool_(cfg, "attention_bias", True)
    arch.update(
        tied_embeddings=bool_(cfg, "tie_word_embeddings", False),
        mlp="standard",
        norm="layernorm",
        qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=True,
        parallel_block=bool_(cfg, "use_parallel_residual", True),
    )
    return arch


def _phi(cfg: Cfg) -> dict[str, Any]:
    # transformers PhiConfig (phi-1, phi-1.5, phi-2): one LayerNorm per parallel block, biases on
    # every Linear including the LM head, gelu_new MLP of intermediate_size.
    arch = common(cfg, "phi", hidden=2048, layers=24, heads=32, vocab=51200, context=2048, act="gelu_new", ffn=8192)
    arch.update(
        tied_embeddings=bool_(cfg, "tie_word_embeddings", False),
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


def _gpt2(cfg: Cfg, family: str = "gpt2", default_act: str = "gelu_new") -> dict[str, Any]:
    # GPT2Config: 768 wide, 12 layers/heads, 1024 learned positions, n_inner default 4*h.
    arch = common(cfg, family, hidden=768, layers=12, heads=12, vocab=50257, context=1024, ffn=None)
    arch.update(
        ffn_size=int_(cfg, "n_inner", 4 * arch["hidden_size"]),
        tied_embeddings=bool_(cfg, "tie_word_embeddings", True),
        mlp="standard",
        norm="layernorm",
        qkv_bias=True,
        attn_out_bias=True,
        mlp_bias=True,
        position_embedding="learned",
        activation=str_(cfg, "activation_function", default_act),
    )
    return arch


def _gpt_bigcode(cfg: Cfg) -> dict[str, Any]:
    # GPTBigCodeConfig: activation_function defaults to gelu_pytorch_tanh.
    arch = _gpt2(cfg, "gpt-bigcode", "gelu_pytorch_tanh")
    if bool_(cfg, "multi_query", True):
        arch["n_kv_heads"] = 1
    return arch


def _chatglm(cfg: Cfg) -> dict[str, Any]:
    if "ffn_hidden_size" not in cfg:
        # ChatGLM-6B (v1) has a different, GLM-130B-style layout: not the ChatGLM2/3 one.
        return _chatglm1(cfg)
    # ChatGLM2/3 remote code: multi-query attention with multi_query_group_num KV groups,
    # bias on the fused QKV only (add_qkv_bias), RMSNorm, SwiGLU, untied output layer.
    heads = int_(cfg, "num_attention_heads")
    hidden = int_(cfg, "hidden_size")
    multi_query = bool_(cfg, "multi_query_attention", False)
    kv = int_(cfg, "multi_query_group_num") if multi_query else heads
    if heads % kv:
        raise bad("multi_query_group_num", f"{kv} must divide num_attention_heads ({heads})")
    kv_channels = int_(cfg, "kv_channels", None)
    if kv_channels is None and hidden % heads:
        raise bad("hidden_size", f"{hidden} is not a multiple of num_attention_heads ({heads}); give 'kv_channels'")
    add_bias = bool_(cfg, "add_bias_linear", False)
    return {
        "family": "chatglm",
        "n_layers": int_(cfg, "num_layers"),
        "hidden_size": hidden,
        "n_heads": heads,
        "n_kv_heads": kv,
        "head_dim": kv_channels or hidden // heads,
        "ffn_size": int_(cfg, "ffn_hidden_size"),
        "vocab_size": int_(cfg, "padded_vocab_size"),
        "max_context": int_(cfg, "seq_length", 2048),
        "tied_embeddings": False,
        "norm": "rmsnorm" if bool_(cfg, "rmsnorm", True) else "layernorm",
        "qkv_bias": bool_(cfg, "add_qkv_bias", True),
        "attn_out_bias": add_bias,
        "mlp_bias": add_bias,
        **rope_scaling(cfg),
    }


def _chatglm1(cfg: Cfg) -> dict[str, Any]:
    # ChatGLM-6B v1 (modeling_chatglm.py): LayerNorm, GELU MLP of inner_hidden_size with biases,
    # biased QKV and dense projections, separate lm_head.
    heads = int_(cfg, "num_attention_heads")
    hidden = int_(cfg, "hidden_size")
    if hidden % heads:
        raise bad("hidden_size", f"{hidden} is not a multiple of num_attention_heads ({heads})")
    return {
        "family": "chatglm",
        "n_layers": int_(cfg, "num_layers"),
        "hidden_size": hidden,
        "n_heads": heads,
        "ffn_size": int_(cfg, "inner_hidden_size"),
        "vocab_size": int_(cfg, "vocab_size"),
        "max_context": int_(cfg, "max_sequence_length", 2048),
        "mlp": "standard",
        "activation": "gelu",
        "norm": "layernorm",
        "qkv_bias": True,
        "attn_out_bias": True,
        "mlp_bias": True,
    }


def _falcon(cfg: Cfg) -> dict[str, Any]:
    # transformers FalconConfig: parallel attention+MLP; new_decoder_architecture (40B/180B) has two
    # LayerNorms per layer and num_kv_heads groups; the 7B uses multi-query and one LayerNorm.
    arch = common(cfg, "falcon", hidden=4544, layers=32, heads=71, vocab=65024, context=2048, ffn=None)
    new = bool_(cfg, "new_decoder_architecture", False)
    multi_query_kv = 1 if bool_(cfg, "multi_query", True) else arch["n_heads"]
    kv = int_(cfg, "num_kv_heads", arch["n_heads"]) if new else multi_query_kv
    if arch["n_heads"] % kv:
        raise bad("num_kv_heads", f"{kv} must divide num_attention_heads ({arch['n_heads']})")
    bias = bool_(cfg, "bias", False)
    arch.update(
        n_kv_heads=kv,
        ffn_size=int_(cfg, "ffn_hidden_size", 4 * arch["hidden_size"]),
        tied_embeddings=bool_(cfg, "tie_word_embeddings", True),
        mlp="standard",
        activation="gelu",
        norm="layernorm",
        norms_per_layer=2 if new else 1,
        parallel_block=bool_(cfg, "parallel_attn", True),
        qkv_bias=bias,
        attn_out_bias=bias,
        mlp_bias=bias,
        position_embedding="alibi" if bool_(cfg, "alibi", False) else "rope",
    )
    return arch


def _bloom(cfg: Cfg) -> dict[str, Any]:
    # BloomConfig: 64 wide, 2 layers, 8 heads by default; ALiBi; LayerNorm after the embeddings.
    hidden = int_(cfg, ("hidden_size", "n_embed"), 64)
    heads = int_(cfg, ("n_head", "num_attention_heads"), 8)
    if hidden % heads:
        raise bad("hidden_size", f"{hidden} is not a multiple of n_head ({heads})")
    return {
        "family": "bloom",
        "n_layers": int_(cfg, ("n_layer", "num_hidden_layers"), 2),
        "hidden_size": hidden,
        "n_heads": heads,
        "ffn_size": 4 * hidden,
        "vocab_size": int_(cfg, "vocab_size", 250880),
        "max_context": int_(cfg, "seq_length", 2048),
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


READERS: dict[str, Reader] = {
    "baichuan": _baichuan,
    "bloom": _bloom,
    "chatglm": _chatglm,
    "cohere": _cohere,
    "cohere2": _cohere2,
    "deepseek": _deepseek,
    "deepseek_v2": _deepseek_v2,
    "deepseek_v3": _deepseek_v3,
    "ernie4_5": _ernie4_5,  # y2025
    "ernie4_5_moe": _ernie4_5_moe,  # y2025
    "falcon": _falcon,
    "gemma": _gemma,
    "gemma2": _gemma2,
    "gemma3_text": _gemma3_text,
    "glm": _glm,
    "glm4": _glm4,
    "glm4_moe": _glm4_moe,
    "gpt2": _gpt2,
    "gpt_bigcode": _gpt_bigcode,
    "gpt_neox": _gpt_neox,
    "gpt_oss": _gpt_oss,
    "granite": _granite,
    "hunyuan_v1_moe": _hunyuan_v1_moe,  # y2025
    "internlm": _internlm,
    "internlm2": _internlm2,
    "internlm3": _internlm3,
    # Moonshot AI's Kimi K2 (model_type kimi_k2) runs DeepSeek-V3's DeepseekV3ForCausalLM with its own
    # sizes (64 heads, 384 experts, one dense layer, no MTP layer), all stated in its config.json.
    "kimi_k2": _deepseek_v3,
    "llama": _llama,
    "llama4_text": _llama4_text,
    "lfm2": _lfm2,
    "minicpm": _minicpm,
    "minicpm3": _minicpm3,
    "minimax_m2": _minimax_m2,  # y2025
    "mistral": _mistral,
    "mixtral": _mixtral,
    "olmo2": _olmo2,
    "phi": _phi,
    "phi3": _phi3,
    "phi3small": _phi3small,
    "phimoe": _phimoe,
    "qwen": _qwen,
    "qwen2": _qwen2,
    "qwen2_moe": _qwen2_moe,
    "qwen2_vl_text": _qwen2_vl_text,
    "qwen2_5_vl_text": _qwen2_vl_text,
    "qwen3": _qwen3,
    "qwen3_moe": _qwen3_moe,
    "seed_oss": _seed_oss,  # y2025
    "smollm3": _smollm3,  # y2025
    "starcoder2": _starcoder2,
    "yi": _llama,
}

#: Multimodal model types: their language model's default model_type (text_config may name its own).
MULTIMODAL_TEXT: dict[str, str] = {
    "gemma3": "gemma3_text",
    "llama4": "llama4_text",
    "llava": "llama",
    "mistral3": "mistral",
    "qwen2_vl": "qwen2_vl_text",
    "qwen2_5_vl": "qwen2_vl_text",
}

#: transformers 5 defaults of the top-level ``tie_word_embeddings`` of multimodal configs.
MULTIMODAL_TIE: dict[str, bool] = {
    "gemma3": True,
    "llama4": False,
    "llava": False,
    "mistral3": True,
    "qwen2_vl": False,
    "qwen2_5_vl": False,
}
