"""Activation memory: the transient tensors of an inference forward pass.

Pure functions. The model is the live set of tensors in Hugging Face transformers' decoder
implementations (``modeling_llama.py`` and the families built like it, transformers 5.x, SDPA
attention), per token, at the three moments that can hold the peak inside a decoder layer:

- **RMSNorm**: ``x.to(float32)`` and ``x * rsqrt(var)`` are two fp32 copies of the hidden state
  (``LlamaRMSNorm.forward``): ``8*h`` bytes on top of the layer's inputs.
- **attention**: the normalised input, Q/K/V projections, the two RoPE temporaries of Q
  (``q*cos`` and ``rotate_half(q)*sin``) and the copy ``DynamicCache.update`` makes of K and V:
  ``e*(h + 3*q + 2*kv)`` with q = n_heads*head_dim, kv = n_kv_heads*head_dim, e = compute bytes.
  Eager attention adds the score matrix: ``n_heads * s * (2*e + 4)`` per token (scores, the fp32
  softmax and its cast) and the additive causal mask ``e * s`` (``eager_attention_forward``).
  SDPA/FlashAttention keep only the output and an fp32 log-sum-exp per head.
- **MLP**: the post-attention residual and its normalised copy plus, for a gated MLP,
  ``act(gate)``, ``up`` and their product alive together (``down_proj(act_fn(gate_proj(x)) *
  up_proj(x))``): ``e*(2*h + 3*f)``. A standard 2-matrix MLP keeps ``fc1``'s output and the
  activation's temporaries (``NewGELUActivation`` is a chain of element-wise ops): ``3*e*f``.

Throughout the layer the layer input and the embedding output (still referenced by the model's
``forward``) stay alive, as do the RoPE ``cos``/``sin`` tables: ``2*e*h + 2*e*head_dim``.

Decoding one token with ``context`` tokens cached adds, per step, the ``torch.cat`` that grows one
layer's K (then V) cache (``DynamicLayer.update``: old and new tensors briefly coexist; the widest
of a full layer's K and V, or of a sliding layer's when all are sliding, or the latent under MLA:
``kvcache.kv_layer_widths``; under MLA, the expansion of the cached latent into per-head keys
and values), or later the fp32 logits ``generate()`` copies and normalises: ``batch * vocab * (e + 8)``.

The figures are checked against traces of the real transformers code (``llmcatalog.trace``)
in ``tests/test_accuracy_trace.py``.
"""

from __future__ import annotations

import functools

from ..values.model import Architecture
from ..values.precision import DTYPE_BYTES
from .kvcache import kv_layer_widths
from .params import chatglm_largest_linear

__all__ = ["decode_step_bytes", "dequantized_weight_bytes", "prefill_bytes"]

#: Activations transformers implements as a chain of element-wise ops (``NewGELUActivation``,
#: ``FastGELUActivation``), which keep several f-sized temporaries alive at once.
_GELU_CHAINS = frozenset({"gelu-new", "gelu-fast", "gelu-pytorch-tanh-python"})


def _per_token_layer_peak(a: Architecture, e: float, tokens: int, attention: str) -> float:
    # ``tokens`` matters only for eager attention's score matrix: a cache key without it elsewhere.
    return _layer_peak(a, e, tokens if attention == "eager" else 0, attention)


@functools.lru_cache(maxsize=4096)
def _layer_peak(a: Architecture, e: float, tokens: int, attention: str) -> float:
    h, d = a.hidden_size, a.head_dim
    q, kv = a.n_heads * d, a.n_kv_heads * d
    persistent = e * h * (2 if a.n_layers > 1 else 1) + 2 * e * d
    norm = persistent + e * h + 8 * h
    attn = persistent + e * (h + 3 * q + 2 * kv)
    if a.is_mla:
        # DeepseekV2Attention.forward (transformers 5), live when o_proj writes its output: the
        # normed input, q_proj's (or q_b_proj's) output n_h*(nope+rope) (q_nope is a view of it),
        # the rotated q_pe n_h*rope, ``query_states = cat(q_nope, q_pe)``, kv_a_proj_with_mqa's
        # output kv_lora+rope (kv_nope is a view of it), the expanded latent: kv_b_proj's output
        # n_h*(nope+v) and ``key_states`` n_h*(nope+rope), the attention output n_h*v and o_proj's h.
        assert a.kv_lora_rank is not None
        assert a.qk_rope_head_dim is not None
        assert a.v_head_dim is not None
        rope, v = a.qk_rope_head_dim, a.v_head_dim
        nope = d - rope
        per_head = 3 * d + rope + (nope + v) + v
        attn = persistent + e * (2 * h + a.kv_lora_rank + rope + a.n_heads * per_head)
    if attention == "eager":
        attn += a.n_heads * tokens * (2 * e + 4) + e * tokens
    # The MLP reads the post-attention residual and its normalised copy; in a parallel block
    # (Phi, Falcon, GPT-J) it reads the same normalised input as attention, whose output waits.
    mlp_inputs = e * 2 * h
    mlp = 0.0
    if a.n_moe_layers:
        assert a.expert_ffn_size is not None
        assert a.n_experts_per_token is not None
        # transformers 5 loops over experts; each processes its share of the tokens (k/E of them,
        # balanced routing): the fused gate_up output of this expert and of the previous one
        # (still referenced by the loop variables), the gathered input and the fp32 weighted output.
        share = a.n_experts_per_token / a.n_experts
        experts = share * (4 * e * a.expert_ffn_size + e * h + 4 * h)
        shared = 3 * e * (a.shared_expert_ffn_size or a.expert_ffn_size) * a.n_shared_experts
        mlp = persistent + mlp_inputs + e * h + 4 * a.n_experts + max(experts, shared)
    if a.n_layers > a.n_moe_layers:
        # Dense layers (all of a dense model; a MoE model's leading, interleaved or listed ones):
        # the peak is the larger of the two kinds. In layer 0 the layer input *is* the embedding
        # output, so a model whose only dense layer is the first (DeepSeek-V2-Lite,
        # ``first_k_dense_replace=1``) keeps one hidden state fewer there.
        if not any(not a.is_moe_layer(i) for i in range(1, a.n_layers)):
            persistent = e * h + 2 * e * d
        if a.mlp == "gated":
            dense = persistent + mlp_inputs + 3 * e * a.ffn_size
        else:
            # fc1's output plus the activation's temporaries: NewGELUActivation keeps x, 0.5*x and
            # two links of its tanh chain (4 f-sized tensors); a single-op GELU keeps 2.
            chain = 4 if a.activation in _GELU_CHAINS else 2
            dense = persistent + mlp_inputs + chain * e * a.ffn_size
        mlp = max(mlp, dense)
    return max(norm, attn, mlp)


@functools.lru_cache(maxsize=4096)
def _cache_cat_terms(a: Architecture, kv_dtype: str, tensor_parallel: int, e: float) -> tuple[float, int | None, float]:
    """``(bytes per sequence and kept token, cap on kept tokens, MLA expansion bytes per sequence and
    token)`` of :func:`_cache_cat_bytes`, which depend on the architecture and dtypes only."""
    if not a.n_attention_layers:
        return 0.0, None, 0.0
    heads, k_width, v_width = kv_layer_widths(a, tensor_parallel=tensor_parallel)
    cap = None if a.count_layers("full") or not a.sliding_window else a.sliding_window
    per_token = heads * max(k_width, v_width) * DTYPE_BYTES[kv_dtype]
    expand = 0.0
    if a.is_mla:
        assert a.qk_rope_head_dim is not None
        assert a.v_head_dim is not None
        nope = a.head_dim - a.qk_rope_head_dim
        expand = a.n_heads * (nope + a.v_head_dim + a.head_dim) * e
    return per_token, cap, expand


def _cache_cat_bytes(
    a: Architecture, batch_size: int, context: int, kv_dtype: str, tensor_parallel: int, e: float
) -> float:
    """The largest ``torch.cat`` a cache update makes while the old tensor is still alive.

    ``DynamicLayer.update`` concatenates keys, then values; one layer's larger tensor briefly
    exists twice. Sliding layers hold at most ``sliding_window`` tokens, so the largest is a full
    layer's when there is one; the latent MLA cache concatenates the ``kv_lora_rank``-wide
    latent (one head). Conv layers update their fixed state in place (no growth).

    Under multi-head latent attention, transformers 5 expands the cached latent of the layer being
    run after the cache update (``DeepseekV2Attention.forward``: ``cache.update`` then
    ``self.expand_kv(k_nope, k_pe)``): kv_b_proj's output ``[b, s, n_h*(nope+v)]`` (the values are a
    view of it) and the keys ``new_empty([b, n_h, s, nope+rope])``, in the compute dtype, split by
    head under tensor parallelism. The latent's cat is over by then, so the larger of the two is the
    peak. SDPA then runs the memory-efficient kernel (key and value widths differ, which rules out
    FlashAttention): it adds only its output. Traced in tests/test_accuracy_modern.py.
    """
    per_token, cap, expand = _cache_cat_terms(a, kv_dtype, tensor_parallel, e)
    kept = context if cap is None else min(context, cap)
    cat = batch_size * kept * per_token
    if expand:
        return max(cat, batch_size * context * expand / tensor_parallel)
    return cat


@functools.lru_cache(maxsize=4096)
def _prefill_per_token(a: Architecture, e: float, tokens: int, attention: str, tensor_parallel: int) -> float:
    per_token = _per_token_layer_peak(a, e, tokens, attention)
    if tensor_parallel > 1:
        # Column/row-parallel layers split the head and FFN dimensions; the hidden state is replicated.
        h = a.hidden_size
        replicated = e * h * 4 + 8 * h
        per_token = replicated + (per_token - replicated) / tensor_parallel
    return per_token


def prefill_bytes(
    a: Architecture,
    *,
    batch_size: int,
    tokens: int,
    dtype: str,
    attention: str = "sdpa",
    tensor_parallel: int = 1,
    all_logits: bool = False,
) -> int:
    """Peak transient bytes of a prefill forward pass over ``tokens`` prompt tokens.

    Excludes weights and the KV cache. Only the last position's logits are computed
    (``generate()`` passes ``logits_to_keep=1``), then copied to fp32. With ``all_logits`` the
    LM head runs over every prompt position (transformers < 4.45, 2023 remote code such as Qwen-1's
    ``lm_logits = self.lm_head(hidden_states)``): the ``[tokens, vocab]`` logits in the compute dtype
    and the final hidden states it reads outlive the layers' transients.
    """
    e = DTYPE_BYTES[dtype]
    per_token = _prefill_per_token(a, e, tokens if attention == "eager" else 0, attention, tensor_parallel)
    logits = batch_size * a.vocab_size * (e + 4)
    layers = batch_size * tokens * per_token
    if all_logits:
        layers = max(layers, batch_size * tokens * e * (a.vocab_size / tensor_parallel + 2 * a.hidden_size))
    return int(layers + logits)


def decode_step_bytes(
    a: Architecture,
    *,
    batch_size: int,
    context: int,
    dtype: str,
    kv_dtype: str,
    tensor_parallel: int = 1,
    legacy_cache: bool = False,
) -> int:
    """Peak transient bytes of one decoding step with ``context`` tokens in the cache (excl. the cache).

    ``legacy_cache``: the step's concatenations build a whole new tuple cache, which the caller counts
    next to the old one (``Inference.legacy_cache``); no separate growth term then."""
    e = DTYPE_BYTES[dtype]
    cat_growth = 0.0 if legacy_cache else _cache_cat_bytes(a, batch_size, context, kv_dtype, tensor_parallel, e)
    per_token = _per_token_layer_peak(a, e, 1, "sdpa")
    logits = batch_size * a.vocab_size * (e + 8)
    # The cache's cat (or MLA's expansion) happens inside a layer, the logits after the last one.
    return int(max(cat_growth, logits) + batch_size * per_token)


def dequantized_weight_bytes(a: Architecture, method: str, dtype: str, tensor_parallel: int = 1) -> int:
    """The weight a quantized Linear dequantizes per call, for formats that do so at every matmul (else 0).

    ``"chatglm"`` (THUDM ChatGLM/ChatGLM2 ``quantization.py``): ``W8A16Linear.forward`` runs
    ``extract_weight_to_half(quant_w, scale_w, bits)`` -- a whole ``out x in`` weight in fp16 -- then
    ``inp.mm(weight.t())``, and saves only the int8/int4 weight; one block Linear's weight at a time
    coexists with its input and output, in prefill and in every decoding step. The largest (the fused
    ``dense_h_to_4h`` on ChatGLM2) counts.
    """
    if method != "chatglm":
        return 0
    return int(chatglm_largest_linear(a) * DTYPE_BYTES[dtype] / tensor_parallel)
