"""Bytes of the attention KV cache.

For every attention layer the cache holds a key and a value vector per KV head and token:
``KV = batch * n_layers * 2 * n_kv_heads * head_dim * tokens * bytes`` (grouped-query and
multi-query attention store ``n_kv_heads`` < ``n_heads``; ``head_dim`` is the real per-head
size, which is not always ``hidden_size / n_heads``). Layers with a sliding window keep at most
``sliding_window`` tokens (transformers ``DynamicSlidingWindowLayer``). With tensor parallelism
each GPU holds ``n_kv_heads / tp`` heads, but at least one (heads are replicated when
``n_kv_heads < tp``; llm-analysis ``max(n_kv/tp, 1)``).

Sources: the formula is the shape of ``DynamicCache`` keys/values in transformers
(``cache_utils.py``: ``[batch, num_heads, seq_len, head_dim]``); Llama-3-8B gives 131,072
bytes per token in bf16 (32 layers x 2 x 8 heads x 128 x 2 B), as in vLLM's cache sizing.
The int8 cache follows Qwen-1's ``use_cache_quantization`` (``modeling_qwen.py``
``quantize_cache_v``): int8 values plus an fp32 scale and zero point per token and head.
"""

from __future__ import annotations

import math

from ..values.model import Architecture
from ..values.precision import DTYPE_BYTES

__all__ = ["kv_bytes_per_token", "kv_cache_bytes"]


def kv_bytes_per_token(arch: Architecture, dtype: str, *, tensor_parallel: int = 1) -> float:
    """Cache bytes one token adds in one sequence (all layers), per GPU under tensor parallelism."""
    heads = max(math.ceil(arch.n_kv_heads / tensor_parallel), 1)
    # Keys are head_dim wide, values v_head_dim wide (they differ under latent attention, DeepSeek-V2/V3).
    per_head = (arch.head_dim + (arch.v_head_dim or arch.head_dim)) * DTYPE_BYTES[dtype]
    if dtype == "int8":
        per_head += 2 * 2 * 4  # key and value: fp32 scale + fp32 zero point per token and head
    return arch.n_layers * heads * per_head


def kv_cache_bytes(arch: Architecture, *, batch_size: int, tokens: int, dtype: str, tensor_parallel: int = 1) -> int:
    """Bytes of the KV cache holding ``tokens`` tokens for each of ``batch_size`` sequences."""
    kept = min(tokens, arch.sliding_window) if arch.sliding_window else tokens
    return math.ceil(batch_size * kept * kv_bytes_per_token(arch, dtype, tensor_parallel=tensor_parallel))
