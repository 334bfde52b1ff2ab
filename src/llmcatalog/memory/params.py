"""Exact parameter counts from an :class:`~llmcatalog.Architecture`.

Pure functions. The count is the sum of the tensors a Hugging Face checkpoint of the
architecture holds (tied embeddings counted once; rotary tables and masks are buffers, not
parameters). Per decoder layer, with h = hidden_size, n_h / n_kv heads of size d, FFN size f:

- attention: ``h*n_h*d`` (Q) + ``2*h*n_kv*d`` (K, V) + ``n_h*d*h`` (O), plus biases when present;
- MLP: ``3*h*f`` gated (SwiGLU/GeGLU) or ``2*h*f`` standard, plus biases;
- MoE layer: router ``h*E`` + ``E`` routed experts + shared experts, each a gated MLP;
- norms: ``h`` per RMSNorm, ``2*h`` per LayerNorm (weight and bias); BLOOM adds one
  LayerNorm after the embeddings (``embedding_norm``).

Outside the layers: embeddings ``V*h``, learned positions ``max_context*h``, final norm,
the LM head ``V*h`` (+ ``V`` bias) unless tied, and ``extra_params`` (counted with the embeddings).
This is the layout of the transformers implementations (``modeling_llama.py``, ``modeling_phi.py``,
``modeling_gemma.py``, ...); it is checked against the published counts of real checkpoints in the tests.
"""

from __future__ import annotations

import functools

import attrs

from ..values.model import Architecture

__all__ = ["LinearShape", "ParamBreakdown", "count_params", "linear_shapes", "param_breakdown"]


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


def attention_params_per_layer(a: Architecture) -> int:
    """Q, K, V and O projections of one layer, with biases when present."""
    q = a.hidden_size * a.n_heads * a.head_dim
    kv = 2 * a.hidden_size * a.n_kv_heads * a.head_dim
    o = a.n_heads * a.head_dim * a.hidden_size
    bias = 0
    if a.qkv_bias:
        bias += (a.n_heads + 2 * a.n_kv_heads) * a.head_dim
    if a.attn_out_bias:
        bias += a.hidden_size
    return q + kv + o + bias


def mlp_params_per_layer(a: Architecture, layer: int) -> tuple[int, int]:
    """(all, active-per-token) MLP parameters of layer ``layer`` (0-based)."""
    gated = a.mlp == "gated"
    h = a.hidden_size
    if not a.is_moe or layer < a.n_dense_layers:
        n = _mlp_params(h, a.ffn_size, gated, a.mlp_bias)
        return n, n
    assert a.expert_ffn_size is not None
    assert a.n_experts_per_token is not None
    expert = _mlp_params(h, a.expert_ffn_size, gated, a.mlp_bias)
    shared = a.n_shared_experts * _mlp_params(h, a.shared_expert_ffn_size or a.expert_ffn_size, gated, a.mlp_bias)
    router = h * a.n_experts
    return (
        router + a.n_experts * expert + shared,
        router + a.n_experts_per_token * expert + shared,
    )


def norm_params(a: Architecture) -> int:
    """Parameters of one normalisation layer."""
    return a.hidden_size * (2 if a.norm == "layernorm" else 1)


@functools.lru_cache(maxsize=4096)
def param_breakdown(a: Architecture) -> ParamBreakdown:
    """Parameter counts of ``a`` by place (see the module docstring for the formulas)."""
    h, v = a.hidden_size, a.vocab_size
    attn = a.n_layers * attention_params_per_layer(a)
    # Dense layers, then MoE layers: each kind is uniform.
    dense_layers = a.n_dense_layers if a.is_moe else a.n_layers
    mlp = active = 0
    for layer, count in ((0, dense_layers), (dense_layers, a.n_layers - dense_layers)):
        if count:
            total_l, active_l = mlp_params_per_layer(a, layer)
            mlp += count * total_l
            active += count * active_l
    norms = (a.n_layers * a.norms_per_layer + 1 + int(a.embedding_norm)) * norm_params(a)
    head = 0 if a.tied_embeddings else v * h + (v if a.lm_head_bias else 0)
    position = a.max_context * h if a.position_embedding == "learned" else 0
    # Linear layers inside the blocks (quantized by GPTQ/AWQ/bitsandbytes); MoE routers included.
    linear = attn + mlp
    return ParamBreakdown(
        embedding=v * h + a.extra_params,
        position=position,
        attention=attn,
        mlp=mlp,
        norms=norms,
        lm_head=head,
        active_mlp=active,
        linear=linear,
    )


def count_params(a: Architecture) -> int:
    """Exact total parameter count of ``a`` (tied embeddings counted once)."""
    return param_breakdown(a).total


@attrs.frozen
class LinearShape:
    """One kind of ``nn.Linear`` inside the decoder blocks: shape and how many there are."""

    # canonical (Llama) module name: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, router, expert_*
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
    h, L = a.hidden_size, a.n_layers
    q_out, kv_out = a.n_heads * a.head_dim, a.n_kv_heads * a.head_dim
    shapes = [
        LinearShape("q_proj", h, q_out, L, a.qkv_bias),
        LinearShape("k_proj", h, kv_out, L, a.qkv_bias),
        LinearShape("v_proj", h, kv_out, L, a.qkv_bias),
        LinearShape("o_proj", q_out, h, L, a.attn_out_bias),
    ]
    dense_layers = a.n_dense_layers if a.is_moe else L
    mlp: list[tuple[int, int]] = []  # (ffn size, count)
    if dense_layers:
        mlp.append((a.ffn_size, dense_layers))
    if a.is_moe:
        assert a.expert_ffn_size is not None
        moe_layers = L - a.n_dense_layers
        mlp.append((a.expert_ffn_size, moe_layers * a.n_experts))
        if a.n_shared_experts:
            mlp.append((a.shared_expert_ffn_size or a.expert_ffn_size, moe_layers * a.n_shared_experts))
        shapes.append(LinearShape("router", h, a.n_experts, moe_layers, False))
    for f, count in mlp:
        if a.mlp == "gated":
            shapes.append(LinearShape("gate_proj", h, f, count, a.mlp_bias))
        shapes.append(LinearShape("up_proj", h, f, count, a.mlp_bias))
        shapes.append(LinearShape("down_proj", f, h, count, a.mlp_bias))
    return tuple(shapes)
