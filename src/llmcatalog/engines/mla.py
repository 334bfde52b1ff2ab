"""Multi-head latent attention (DeepSeek-V2/V3/R1, Kimi-K2) in llama.cpp: GGUF formats and KV cache.

llama.cpp runs every MLA model as the GGUF architecture ``deepseek2``. What its KV cache holds
depends on how the GGUF was converted and on the llama.cpp build:

``"per-head"`` (GGUF files converted before April 2025, e.g. Ollama's ``deepseek-r1:671b``,
``deepseek-v3``, ``deepseek-coder-v2`` tags). ``convert_hf_to_gguf.py`` wrote the attention as
plain multi-head attention: ``head_count_kv = n_head``, ``key_length = qk_nope + qk_rope`` (192
for V2/V3), ``value_length = v_head_dim`` (128) and one ``attn_kv_b`` tensor. llama.cpp caches
the decompressed keys and values of every head: per layer and cell ``n_head * 192`` K values and
``n_head * 128`` V values (DeepSeek-R1: 24,576 + 16,384). Every build loads these files this way,
also after MLA support ("Legacy non-MLA GGUF files can still be loaded and used as normal").

``"latent"`` (files converted from April 2025 on, llama.cpp PR #12801 "DeepSeek V2/V3 MLA
implementation"). The converter writes the attention as multi-query attention over the compressed
latent: ``head_count_kv = 1``, ``key_length = kv_lora_rank + qk_rope_head_dim`` (576),
``value_length = kv_lora_rank`` (512), keeps the per-head sizes in
``attention.key_length_mla``/``value_length_mla`` (192/128) and splits ``attn_kv_b`` into
``attn_k_b`` (``{qk_nope, kv_lora_rank, n_head}``) and ``attn_v_b`` (``{kv_lora_rank, v_head_dim,
n_head}``); ``llama-model.cpp`` treats a file as MLA exactly when both ``*_mla`` keys are set. The
cache then holds, per layer and cell:

- builds from PR #12801 (April 2025) to PR #19067 (January 2026): a K cache of 576 values and a
  V cache of 512 (``llama-kv-cache.cpp`` allocates ``n_embd_k_gqa`` and ``n_embd_v_gqa`` rows as
  for any model; the log reads e.g. "K (f16): 1098.00 MiB, V (f16): 976.00 MiB" for R1 at 16k);
- builds from PR #19067 ("kv-cache : support V-less cache", 24 January 2026; in b7847, which
  Ollama vendored as a5bb8ba4) on: the K cache only (``has_v = !hparams.is_mla()``), the values
  being read as a view of the first 512 columns of K, "almost x2 less memory".

Ollama: its ``GraphSize`` (``fs/ggml/ggml.go``) sizes the KV of a ``deepseek2`` file as any other:
``context * (key_length + value_length) * head_count_kv`` bytes per element per layer, with the
``deepseek2`` graph sizes of that file. Legacy ("per-head") files run on its bundled llama.cpp;
from v0.13 (PR #13151, November 2025) ``deepseek2`` files with the MLA keys run on Ollama's own
engine, whose ``deepseek2`` model puts the 576-wide latent key and the 512-wide latent value in
its cache (K and V, as the April 2025 - January 2026 llama.cpp builds).
"""

from __future__ import annotations

from ..errors import WorkloadError
from ..values.model import Architecture

__all__ = ["MLA_FORMATS", "attention_tensors", "check_format", "kv_heads"]

#: GGUF formats of an MLA model: see the module docstring.
MLA_FORMATS = ("latent", "per-head")


def check_format(value: object, field: str = "mla_format") -> str:
    """``value`` as one of :data:`MLA_FORMATS`; a :class:`WorkloadError` naming ``field`` otherwise."""
    if value not in MLA_FORMATS:
        raise WorkloadError(
            f"{field} must be one of {', '.join(repr(f) for f in MLA_FORMATS)} ('latent': GGUF files converted"
            f" since April 2025, 'per-head': older ones); got {value!r}"
        )
    return str(value)


def _dims(arch: Architecture) -> tuple[int, int, int]:
    """(kv_lora_rank, qk_rope_head_dim, v_head_dim) of an MLA architecture."""
    if arch.kv_lora_rank is None or arch.qk_rope_head_dim is None or arch.v_head_dim is None:
        raise ValueError(f"{arch.family}: not a multi-head latent attention architecture (kv_lora_rank unset)")
    return arch.kv_lora_rank, arch.qk_rope_head_dim, arch.v_head_dim


def kv_heads(arch: Architecture, fmt: str) -> tuple[int, int, int]:
    """(``head_count_kv``, ``key_length``, ``value_length``) a GGUF of format ``fmt`` states for
    ``arch`` (an MLA architecture): (1, kv_lora_rank + qk_rope_head_dim, kv_lora_rank) for
    ``"latent"``, (n_heads, head_dim, v_head_dim) for ``"per-head"``."""
    kv_rank, rope, v_dim = _dims(arch)
    if check_format(fmt) == "latent":
        return 1, kv_rank + rope, kv_rank
    return arch.n_heads, arch.head_dim, v_dim


def attention_tensors(arch: Architecture, layer: int, fmt: str) -> list[tuple[str, tuple[int, ...]]]:
    """The attention tensors of block ``layer`` (names as ``LLM_TENSOR_*``, shapes in ggml order)
    that ``convert_hf_to_gguf.py`` writes for an MLA architecture in format ``fmt``, as
    ``llama-model.cpp`` (``LLM_ARCH_DEEPSEEK2``) creates them: the query through a
    ``q_lora_rank`` bottleneck (``attn_q_a``, ``attn_q_a_norm``, ``attn_q_b``) or one ``attn_q``
    (V2-Lite), the compressed KV (``attn_kv_a_mqa``: kv_lora_rank + rope columns) and its norm, the
    decompression (``attn_kv_b``, or ``attn_k_b`` + ``attn_v_b`` in the latent format) and
    ``attn_output``. The block's input norm is added by the caller."""
    kv_rank, rope, v_dim = _dims(arch)
    h, n_head, k_dim = arch.hidden_size, arch.n_heads, arch.head_dim
    nope = k_dim - rope
    p = f"blk.{layer}."
    out: list[tuple[str, tuple[int, ...]]] = []
    if arch.q_lora_rank:
        out += [
            (f"{p}attn_q_a.weight", (h, arch.q_lora_rank)),
            (f"{p}attn_q_a_norm.weight", (arch.q_lora_rank,)),
            (f"{p}attn_q_b.weight", (arch.q_lora_rank, n_head * k_dim)),
        ]
    else:
        out.append((f"{p}attn_q.weight", (h, n_head * k_dim)))
    out += [
        (f"{p}attn_kv_a_mqa.weight", (h, kv_rank + rope)),
        (f"{p}attn_kv_a_norm.weight", (kv_rank,)),
    ]
    if check_format(fmt) == "latent":
        out += [
            (f"{p}attn_k_b.weight", (nope, kv_rank, n_head)),
            (f"{p}attn_v_b.weight", (kv_rank, v_dim, n_head)),
        ]
    else:
        out.append((f"{p}attn_kv_b.weight", (kv_rank, n_head * (nope + v_dim))))
    out.append((f"{p}attn_output.weight", (n_head * v_dim, h)))
    return out
