"""Exact parameter counts from an :class:`~llmcatalog.Architecture`.

Pure functions. The count is the sum of the tensors a Hugging Face checkpoint of the
architecture holds (tied embeddings counted once; rotary tables and masks are buffers, not
parameters). Per decoder layer, with h = hidden_size, n_h / n_kv heads of size d, FFN size f:

- attention: ``h*n_h*d`` (Q) + ``2*h*n_kv*d`` (K, V) + ``n_h*d*h`` (O), plus biases when present;
- MLP: ``3*h*f`` gated (SwiGLU/GeGLU) or ``2*h*f`` standard, plus biases;
- MoE layer: router ``h*E`` + ``E`` routed experts + shared experts, each a gated MLP;
- conv layer (LFM2, ``layer_types`` ``"conv"``, in place of attention): ``4*h*h + h*conv_kernel``;
- norms: ``h`` per RMSNorm or bias-free LayerNorm, ``2*h`` per LayerNorm (weight and bias);
  BLOOM adds one LayerNorm after the embeddings (``embedding_norm``); q/k norms, attention
  sinks and the latent-attention norms are counted with the attention.

Outside the layers: embeddings ``V*h``, learned positions ``max_context*h``, final norm,
the LM head ``V*h`` (+ ``V`` bias) unless tied, and ``extra_params`` (counted with the embeddings).
This is the layout of the transformers implementations (``modeling_llama.py``, ``modeling_phi.py``,
``modeling_gemma.py``, ...); it is checked against the published counts of real checkpoints in the tests.
"""

from __future__ import annotations

import functools

import attrs

from ..values.model import Architecture

__all__ = [
    "LinearShape",
    "ParamBreakdown",
    "chatglm_largest_linear",
    "count_params",
    "layer_mlp_params",
    "linear_shapes",
    "moe_layers_in",
    "mtp_params",
    "param_breakdown",
]


@attrs.frozen(kw_only=True)
class ParamBreakdown:
    """Parameter counts by place; ``total`` counts tied embeddings once."""

    embedding: int
    position: int
    attention: int  # all layers
    mlp: int  # all layers, dense and MoE (all experts)
    norms: int  # all layers + final norm
    lm_head: int  # 0 when tied
    active_mlp: int  # MLP parameters one token passes through (MoE: top-k + shared)
    linear: int  # parameters in nn.Linear weights+biases inside the layers (what quantizers convert)
    mtp: int = 0  # multi-token-prediction modules stored in the checkpoint, not in ``total``

    @property
    def checkpoint_total(self) -> int:
        """Every tensor the checkpoint stores: ``total`` plus the MTP modules (DeepSeek-V3 685B)."""
        return self.total + self.mtp

    @property
    def total(self) -> int:
        return self.embedding + self.position + self.attention + self.mlp + self.norms + self.lm_head

    @property
    def active(self) -> int:
        """Parameters used per token (differs from ``total`` for MoE)."""
        return self.total - self.mlp + self.active_mlp


def _mlp_params(h: int, f: int, gated: bool, bias: bool) -> int:
    if gated:
        return 3 * h * f + ((2 * f + h) if bias else 0)
    return 2 * h * f + ((f + h) if bias else 0)


def _mla_dims(a: Architecture) -> tuple[int, int, int]:
    """(kv_lora_rank, qk_rope_head_dim, v_head_dim) of a latent-attention architecture."""
    assert a.kv_lora_rank is not None
    assert a.qk_rope_head_dim is not None
    assert a.v_head_dim is not None
    return a.kv_lora_rank, a.qk_rope_head_dim, a.v_head_dim


def attention_params_per_layer(a: Architecture) -> int:
    """Attention projections of one layer, with biases, q/k norms and sinks when present.

    Multi-head latent attention (DeepSeek-V2/V3, ``modeling_deepseek_v3.py``): ``q_a_proj``
    ``h*r_q`` + its RMSNorm ``r_q`` + ``q_b_proj`` ``r_q*n_h*d`` (or ``q_proj`` ``h*n_h*d``),
    ``kv_a_proj_with_mqa`` ``h*(r_kv + d_rope)`` + its RMSNorm ``r_kv`` + ``kv_b_proj``
    ``r_kv*n_h*(d - d_rope + d_v)``, ``o_proj`` ``n_h*d_v*h``; ``attention_bias`` puts biases on
    ``q_a_proj``, ``kv_a_proj_with_mqa`` and ``o_proj``.
    """
    h, n_h, d = a.hidden_size, a.n_heads, a.head_dim
    if a.is_mla:
        r_kv, d_rope, d_v = _mla_dims(a)
        if a.q_lora_rank:
            q = h * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * n_h * d + (a.q_lora_rank if a.qkv_bias else 0)
        else:
            q = h * n_h * d
        kv = h * (r_kv + d_rope) + r_kv + r_kv * n_h * (d - d_rope + d_v) + ((r_kv + d_rope) if a.qkv_bias else 0)
        o = n_h * d_v * h + (h if a.attn_out_bias else 0)
        return q + kv + o + (n_h if a.attn_sinks else 0)
    q = h * n_h * d
    kv = 2 * h * a.n_kv_heads * d
    o = n_h * d * h
    bias = 0
    if a.qkv_bias:
        bias += (n_h + 2 * a.n_kv_heads) * d
    if a.attn_out_bias:
        bias += h
    qk_norm = {"none": 0, "head": 2 * d, "full": (n_h + a.n_kv_heads) * d}[a.qk_norm]
    return q + kv + o + bias + qk_norm + (n_h if a.attn_sinks else 0)


def conv_params_per_layer(a: Architecture) -> int:
    """The gated short convolution of one ``conv`` layer (LFM2 ``Lfm2ShortConv``), 0 without one.

    ``in_proj`` ``Linear(h, 3h)`` + depthwise ``Conv1d(h, h, conv_kernel, groups=h)`` (``h*k``)
    + ``out_proj`` ``Linear(h, h)``; ``conv_bias`` adds ``3h + h + h``.
    """
    if a.conv_kernel is None:
        return 0
    h = a.hidden_size
    return 3 * h * h + h * a.conv_kernel + h * h + (5 * h if a.conv_bias else 0)


def mlp_params_per_layer(a: Architecture, layer: int) -> tuple[int, int]:
    """(all, active-per-token) MLP parameters of layer ``layer`` (0-based)."""
    gated = a.mlp == "gated"
    h = a.hidden_size
    if not a.is_moe_layer(layer):
        n = _mlp_params(h, a.ffn_size, gated, a.mlp_bias)
        return n, n
    assert a.expert_ffn_size is not None
    assert a.n_experts_per_token is not None
    expert = _mlp_params(h, a.expert_ffn_size, gated, a.mlp_bias)
    shared = a.n_shared_experts * _mlp_params(h, a.shared_expert_ffn_size or a.expert_ffn_size, gated, a.mlp_bias)
    if a.shared_expert_gate:
        shared += h
    router = h * a.n_experts + (a.n_experts if a.router_bias else 0)
    return (
        router + a.n_experts * expert + shared,
        router + a.n_experts_per_token * expert + shared,
    )


def moe_layers_in(a: Architecture, start: int, stop: int) -> int:
    """How many of the layers ``start <= i < stop`` are mixture-of-experts layers (:meth:`Architecture.is_moe_layer`).

    O(len(dense_layer_ids)): counts the residues ``moe_layer_offset`` modulo ``moe_layer_step`` at or
    after ``n_dense_layers``, less the listed dense layers, never walking the layers one by one.
    """
    if not a.n_experts:
        return 0
    start = max(start, a.n_dense_layers, 0)
    stop = min(stop, a.n_layers)
    if stop <= start:
        return 0
    step, off = a.moe_layer_step, a.moe_layer_offset

    def below(n: int) -> int:  # layers 0 <= i < n with i % step == off
        return max(0, (n - off + step - 1) // step)

    listed = sum(1 for i in set(a.dense_layer_ids) if start <= i < stop and i % step == off)
    return below(stop) - below(start) - listed


def norm_params(a: Architecture) -> int:
    """Parameters of one normalisation layer (LayerNorm: weight and bias; the others: weight)."""
    return a.hidden_size * (2 if a.norm == "layernorm" else 1)


def _first_layer(a: Architecture, moe: bool) -> int | None:
    """Index of a layer of the kind asked (MoE or dense), or None when there is none."""
    if moe:
        if not a.n_moe_layers:
            return None
        step, off = a.moe_layer_step, a.moe_layer_offset
        i = max(a.n_dense_layers, 0)
        i += (off - i) % step
        while not a.is_moe_layer(i):
            i += step
        return i
    if a.n_layers - a.n_moe_layers <= 0:
        return None
    # A dense layer is layer 0 (leading dense layers), one of the first moe_layer_step layers, or listed.
    candidates: list[int] = [*range(min(a.n_layers, a.moe_layer_step + 1)), *sorted(a.dense_layer_ids)]
    for i in candidates:
        if not a.is_moe_layer(i):
            return i
    return None  # pragma: no cover - n_layers - n_moe_layers > 0 guarantees one


def layer_mlp_params(a: Architecture, moe: bool) -> int:
    """All MLP parameters of one layer of the kind asked (0 when ``a`` has no such layer)."""
    layer = _first_layer(a, moe)
    return 0 if layer is None else mlp_params_per_layer(a, layer)[0]


def mtp_params(a: Architecture) -> int:
    """Parameters of the multi-token-prediction modules a checkpoint stores (``mtp_layers``).

    DeepSeek-V3 (``README_WEIGHTS.md``, ``inference/model.py``): each module holds its own copy of
    the embedding and of the output head, ``enorm`` and ``hnorm`` RMSNorms, ``eh_proj``
    ``Linear(2h, h)``, one decoder layer of the MoE kind, and ``shared_head.norm``.
    """
    if not a.mtp_layers:
        return 0
    h, v = a.hidden_size, a.vocab_size
    layer = _first_layer(a, moe=a.is_moe)
    mlp = mlp_params_per_layer(a, layer if layer is not None else 0)[0]
    block = attention_params_per_layer(a) + mlp + a.norms_per_layer * norm_params(a)
    return a.mtp_layers * (2 * v * h + 3 * norm_params(a) + 2 * h * h + block)


@functools.lru_cache(maxsize=4096)
def param_breakdown(a: Architecture) -> ParamBreakdown:
    """Parameter counts of ``a`` by place (see the module docstring for the formulas)."""
    h, v = a.hidden_size, a.vocab_size
    # Attention layers hold the attention projections; conv layers (LFM2) their short convolution.
    attn = a.n_attention_layers * attention_params_per_layer(a) + a.count_layers("conv") * conv_params_per_layer(a)
    # Dense layers, then MoE layers: each kind is uniform.
    mlp = active = 0
    n_moe = a.n_moe_layers
    for moe, count in ((False, a.n_layers - n_moe), (True, n_moe)):
        layer = _first_layer(a, moe) if count else None
        if layer is not None:
            total_l, active_l = mlp_params_per_layer(a, layer)
            mlp += count * total_l
            active += count * active_l
    norms = (a.n_layers * a.norms_per_layer + 1 + int(a.embedding_norm)) * norm_params(a)
    head = 0 if a.tied_embeddings else v * h + (v if a.lm_head_bias else 0)
    position = a.max_context * h if a.position_embedding == "learned" else 0
    # Linear layers inside the blocks (quantized by GPTQ/AWQ/bitsandbytes); MoE routers included.
    linear = attn + mlp
    if a.conv_kernel is not None:  # the depthwise Conv1d of conv layers is no Linear
        linear -= a.count_layers("conv") * a.hidden_size * (a.conv_kernel + int(a.conv_bias))
    return ParamBreakdown(
        embedding=v * h + a.extra_params,
        position=position,
        attention=attn,
        mlp=mlp,
        norms=norms,
        lm_head=head,
        active_mlp=active,
        linear=linear,
        mtp=mtp_params(a),
    )


def count_params(a: Architecture) -> int:
    """Exact total parameter count of ``a`` (tied embeddings counted once)."""
    return param_breakdown(a).total


@attrs.frozen
class LinearShape:
    """One kind of ``nn.Linear`` inside the decoder blocks: shape and how many there are."""

    # canonical (Llama) module name: q_proj, k_proj, v_proj, o_proj (or the latent-attention q_a_proj, q_b_proj,
    # kv_a_proj_with_mqa, kv_b_proj), gate_proj, up_proj, down_proj of the dense MLPs; on MoE layers router,
    # shared_expert_gate, expert_{gate,up,down}_proj (one per routed expert) and shared_{gate,up,down}_proj
    name: str
    in_features: int
    out_features: int
    count: int  # over all layers (and experts)
    bias: bool

    @property
    def weight_params(self) -> int:
        return self.in_features * self.out_features * self.count


@functools.lru_cache(maxsize=4096)
def linear_shapes(a: Architecture) -> tuple[LinearShape, ...]:
    """The Linear layers of the decoder blocks of ``a`` (Llama module names).

    Fused projections of other families (``query_key_value``, ``W_pack``, ``c_attn``, ``fc1``)
    hold the same weights as the separate ones named here.
    """
    h, L = a.hidden_size, a.n_attention_layers
    q_out, kv_out = a.n_heads * a.head_dim, a.n_kv_heads * a.head_dim
    if a.is_mla:
        r_kv, d_rope, d_v = _mla_dims(a)
        shapes = []
        if a.q_lora_rank:
            shapes.append(LinearShape("q_a_proj", h, a.q_lora_rank, L, a.qkv_bias))
            shapes.append(LinearShape("q_b_proj", a.q_lora_rank, q_out, L, False))
        else:
            shapes.append(LinearShape("q_proj", h, q_out, L, False))
        shapes += [
            LinearShape("kv_a_proj_with_mqa", h, r_kv + d_rope, L, a.qkv_bias),
            LinearShape("kv_b_proj", r_kv, a.n_heads * (a.head_dim - d_rope + d_v), L, False),
            LinearShape("o_proj", a.n_heads * d_v, h, L, a.attn_out_bias),
        ]
    else:
        shapes = [
            LinearShape("q_proj", h, q_out, L, a.qkv_bias),
            LinearShape("k_proj", h, kv_out, L, a.qkv_bias),
            LinearShape("v_proj", h, kv_out, L, a.qkv_bias),
            LinearShape("o_proj", q_out, h, L, a.attn_out_bias),
        ]
    n_conv = a.count_layers("conv")
    if n_conv:
        shapes.append(LinearShape("in_proj", h, 3 * h, n_conv, a.conv_bias))
        shapes.append(LinearShape("out_proj", h, h, n_conv, a.conv_bias))
    moe_layers = a.n_moe_layers
    dense_layers = a.n_layers - moe_layers  # every layer has an MLP, attention or conv layer alike
    mlp: list[tuple[str, int, int]] = []  # (name prefix, ffn size, count)
    if dense_layers:
        mlp.append(("", a.ffn_size, dense_layers))
    if moe_layers:
        assert a.expert_ffn_size is not None
        mlp.append(("expert_", a.expert_ffn_size, moe_layers * a.n_experts))
        if a.n_shared_experts:
            # The shared experts of a layer are one MLP n_shared times as wide (DeepseekV3MoE
            # ``shared_experts``: intermediate_size = moe_intermediate_size * n_shared_experts).
            width = a.n_shared_experts * (a.shared_expert_ffn_size or a.expert_ffn_size)
            mlp.append(("shared_", width, moe_layers))
        shapes.append(LinearShape("router", h, a.n_experts, moe_layers, a.router_bias))
        if a.shared_expert_gate:
            shapes.append(LinearShape("shared_expert_gate", h, 1, moe_layers, False))  # Qwen2-MoE, Linear(h, 1)
    for prefix, f, count in mlp:
        if a.mlp == "gated":
            shapes.append(LinearShape(prefix + "gate_proj", h, f, count, a.mlp_bias))
        shapes.append(LinearShape(prefix + "up_proj", h, f, count, a.mlp_bias))
        shapes.append(LinearShape(prefix + "down_proj", f, h, count, a.mlp_bias))
    return tuple(shapes)


def chatglm_largest_linear(a: Architecture) -> int:
    """Elements of the largest weight THUDM's ``quantization.py`` ``quantize()`` replaces: the fused
    ``query_key_value`` (``h x (q + 2 kv)``), ``dense``, the fused ``dense_h_to_4h`` (gate and up together,
    ``h x 2f``, in ChatGLM2/3; ``h x f`` in ChatGLM-6B's GELU MLP) and ``dense_4h_to_h``."""
    h, q, kv, f = a.hidden_size, a.n_heads * a.head_dim, a.n_kv_heads * a.head_dim, a.ffn_size
    return max(h * (q + 2 * kv), q * h, h * f * (2 if a.mlp == "gated" else 1), f * h)
