"""Bytes of the per-sequence cache: attention keys/values and the fixed state of conv layers.

**Full-attention layers** hold a key and a value vector per KV head and token:
``2 * n_kv_heads * head_dim * bytes`` per token and layer (grouped-query and multi-query
attention store ``n_kv_heads`` < ``n_heads``; ``head_dim`` is the real per-head size, which is
not always ``hidden_size / n_heads``). Source: the shape of ``DynamicLayer`` keys/values in
transformers (``cache_utils.py``: ``[batch, num_heads, seq_len, head_dim]``); Llama-3-8B gives
131,072 bytes per token in bf16 (32 layers x 2 x 8 heads x 128 x 2 B), as in vLLM's cache sizing.

**Sliding-window layers** (:attr:`Architecture.layer_types`; Mistral: every layer, Gemma 2 and
gpt-oss: every other one, Gemma 3: five of six, Qwen2 ``use_sliding_window``: layers from
``max_window_layers`` on) use transformers' ``DynamicSlidingWindowLayer``: ``update`` concatenates
the kept tokens with the new ones and keeps a *view* of the last ``sliding_window - 1``. The view
pins the concatenated storage, so after a forward pass that added ``new_tokens`` tokens a
sliding layer holds ``min(tokens, sliding_window - 1 + new_tokens)`` tokens of memory: ``W``
while decoding (``new_tokens=1``), the whole prompt right after a prefill (``new_tokens=tokens``).

**Multi-head latent attention** (DeepSeek-V2/V3, ``kv_lora_rank`` set) has two cache layouts:

- ``"latent"`` (default): per token and layer the compressed latent ``kv_lora_rank`` plus the
  shared rotary key ``qk_rope_head_dim``, one "head" for all query heads. Held by transformers 5
  (``DeepseekV3Attention.forward``: "Cache read / write is performed while latent KV is still
  compressed", ``cache.update(kv_nope [b,1,s,kv_lora_rank], k_rot [b,1,s,qk_rope_head_dim])``,
  checked on transformers 5.24), by vLLM's MLA backends (``MLACommonBackend.get_kv_cache_shape``:
  ``(num_blocks, block_size, kv_lora_rank + qk_rope_head_dim)``) and by SGLang
  (``MLATokenToKVPool``: ``kv_lora_rank + qk_rope_head_dim`` per token and layer). Under tensor
  parallelism every GPU holds the whole latent (it is not split by head).
- ``"expanded"``: decompressed keys ``n_heads x (qk_nope + qk_rope)`` and values
  ``n_heads x v_head_dim`` per token and layer (``head_dim`` and ``v_head_dim`` here), as
  transformers 4.x's ``DeepseekV3Attention`` cached them and as engines without an MLA kernel do.

**Conv layers** (LFM2 gated short convolution, ``layer_types`` ``"conv"``) keep a fixed state of
``hidden_size x conv_kernel`` values per sequence (``LinearAttentionLayer.lazy_initialization``:
``torch.zeros((*conv_states.shape[:-1], conv_kernel_size))`` with ``conv_states`` of shape
``[batch, hidden, seq]``), whatever the number of tokens: :func:`state_bytes_per_sequence`.

Attention sinks: gpt-oss's sinks (``attn_sinks``) are one learned logit per head, parameters,
not cache entries; StreamingLLM-style "sink tokens" kept in a cache are not modelled.

With tensor parallelism each GPU holds ``n_kv_heads / tp`` heads, but at least one (heads are
replicated when ``n_kv_heads < tp``; llm-analysis ``max(n_kv/tp, 1)``); conv states are split
over the ``hidden_size`` channels. The int8 cache follows Qwen-1's ``use_cache_quantization``
(``modeling_qwen.py`` ``quantize_cache_v``): int8 values plus an fp32 scale and zero point per
token and head.
"""

from __future__ import annotations

import functools
import math

from ..values.model import Architecture
from ..values.precision import DTYPE_BYTES

__all__ = [
    "MLA_LAYOUTS",
    "kv_bytes_per_token",
    "kv_cache_bytes",
    "kv_layer_widths",
    "kv_per_layer_token_bytes",
    "state_bytes_per_sequence",
]

#: Cache layouts of multi-head latent attention (see the module docstring for who holds which).
MLA_LAYOUTS = frozenset({"latent", "expanded"})

_INT8_SCALES = 2 * 4  # fp32 scale + fp32 zero point per token and head, for keys and for values


def _check_layout(mla_layout: str) -> None:
    if mla_layout not in MLA_LAYOUTS:
        raise ValueError(f"'mla_layout' must be one of {sorted(MLA_LAYOUTS)}, got {mla_layout!r}")


def kv_layer_widths(
    arch: Architecture, *, tensor_parallel: int = 1, mla_layout: str = "latent"
) -> tuple[int, int, int]:
    """``(heads, key_width, value_width)`` of one attention layer's cache tensors on one GPU.

    Each cached tensor is ``[batch, heads, tokens, width]``. The latent MLA layout caches the
    latent as "keys" (``kv_lora_rank`` wide) and the rotary key as "values" (``qk_rope_head_dim``),
    one head, replicated under tensor parallelism.
    """
    _check_layout(mla_layout)
    if arch.is_mla and mla_layout == "latent":
        assert arch.kv_lora_rank is not None
        assert arch.qk_rope_head_dim is not None
        return 1, arch.kv_lora_rank, arch.qk_rope_head_dim
    heads = max(math.ceil(arch.n_kv_heads / tensor_parallel), 1)
    return heads, arch.head_dim, arch.v_head_dim or arch.head_dim


@functools.lru_cache(maxsize=4096)
def _per_layer_token_bytes(arch: Architecture, dtype: str, tensor_parallel: int, mla_layout: str) -> float:
    heads, k, v = kv_layer_widths(arch, tensor_parallel=tensor_parallel, mla_layout=mla_layout)
    per_head = (k + v) * DTYPE_BYTES[dtype]
    if dtype == "int8":
        per_head += 2 * _INT8_SCALES
    return heads * per_head


def kv_per_layer_token_bytes(
    arch: Architecture, dtype: str, *, tensor_parallel: int = 1, mla_layout: str = "latent"
) -> float:
    """Cache bytes one token adds in one sequence in one attention layer, per GPU.

    ``heads * (key_width + value_width) * bytes(dtype)`` (:func:`kv_layer_widths`), plus an fp32
    scale and zero point per token, head and tensor for the int8 (quanto) cache.
    """
    return _per_layer_token_bytes(arch, dtype, tensor_parallel, mla_layout)


def kv_bytes_per_token(
    arch: Architecture, dtype: str, *, tensor_parallel: int = 1, mla_layout: str = "latent"
) -> float:
    """Cache bytes one token adds in one sequence over all attention layers, per GPU.

    Counts every attention layer (full and sliding; conv layers hold no per-token cache). For
    the bytes of a sequence under a sliding window, use :func:`kv_cache_bytes`.
    """
    return arch.n_attention_layers * _per_layer_token_bytes(arch, dtype, tensor_parallel, mla_layout)


def state_bytes_per_sequence(arch: Architecture, dtype: str, *, tensor_parallel: int = 1) -> int:
    """Fixed cache bytes of one sequence, independent of its length: the conv layers' states.

    ``count_layers("conv") * ceil(hidden_size / tp) * conv_kernel * bytes`` (LFM2; 0 without
    conv layers). The state is kept in the compute dtype; an int8 KV-cache dtype does not apply
    to it in transformers, so ``dtype`` should be the compute dtype.
    """
    n_conv = arch.count_layers("conv")
    if not n_conv:
        return 0
    assert arch.conv_kernel is not None
    channels = math.ceil(arch.hidden_size / tensor_parallel)
    return math.ceil(n_conv * channels * arch.conv_kernel * DTYPE_BYTES[dtype])


def _kept_tokens(arch: Architecture, tokens: int, new_tokens: int) -> tuple[int, int]:
    """(full-layer tokens, sliding-layer tokens) of memory after a pass that added ``new_tokens``."""
    window = arch.sliding_window
    sliding = min(tokens, window - 1 + new_tokens) if window else tokens
    return tokens, sliding


def kv_cache_bytes(
    arch: Architecture,
    *,
    batch_size: int,
    tokens: int,
    dtype: str,
    tensor_parallel: int = 1,
    new_tokens: int = 1,
    mla_layout: str = "latent",
    state_dtype: str | None = None,
) -> int:
    """Bytes of the cache holding ``tokens`` tokens for each of ``batch_size`` sequences, per GPU.

    ``batch * (n_full * tokens + n_sliding * min(tokens, W - 1 + new_tokens)) * per_layer_token``
    plus ``batch * state_bytes_per_sequence`` (conv layers, in ``state_dtype``, default ``dtype``).
    ``new_tokens`` is how many tokens the last forward pass added (1 while decoding, the prompt
    length right after a prefill): it matters only for sliding-window layers (module docstring).
    Checked against the storages of transformers' own cache objects in ``tests/test_kvcache.py``.
    """
    if tokens < 0 or batch_size < 0:
        raise ValueError(f"'tokens' ({tokens}) and 'batch_size' ({batch_size}) must be >= 0")
    if new_tokens < 1:
        raise ValueError(f"'new_tokens' must be >= 1 (tokens the last forward pass added), got {new_tokens}")
    full_tokens, sliding_tokens = _kept_tokens(arch, tokens, min(new_tokens, max(tokens, 1)))
    per_layer = _per_layer_token_bytes(arch, dtype, tensor_parallel, mla_layout)
    token_layers = arch.count_layers("full") * full_tokens + arch.count_layers("sliding") * sliding_tokens
    state = state_bytes_per_sequence(arch, state_dtype or dtype, tensor_parallel=tensor_parallel)
    return math.ceil(batch_size * (token_layers * per_layer + state))
