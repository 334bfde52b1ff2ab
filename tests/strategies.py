"""Hypothesis strategies with explicit bounds (attrs validators are not inferred)."""

from __future__ import annotations

from hypothesis import strategies as st

import llmcatalog as lc

slugs = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
urls = st.builds(lambda s: f"https://example.org/{s}", slugs)


@st.composite
def architectures(draw: st.DrawFn, *, moe: bool | None = None) -> lc.Architecture:
    """Decoder architectures from tiny to 70B-class, dense or mixture-of-experts."""
    head_dim = draw(st.sampled_from([32, 64, 80, 96, 128, 256]))
    kv = draw(st.integers(1, 16))
    groups = draw(st.sampled_from([1, 2, 4, 8]))
    n_heads = kv * groups
    hidden = draw(st.sampled_from([n_heads * head_dim, 64 * max(1, (n_heads * head_dim) // 64)]))
    use_moe = draw(st.booleans()) if moe is None else moe
    n_layers = draw(st.integers(1, 96))
    kw: dict[str, object] = {}
    if use_moe:
        n_exp = draw(st.integers(2, 64))
        kw = {
            "n_experts": n_exp,
            "n_experts_per_token": draw(st.integers(1, min(n_exp, 8))),
            "expert_ffn_size": draw(st.integers(64, 16384)),
            "n_shared_experts": draw(st.integers(0, 2)),
            "n_dense_layers": draw(st.integers(0, min(2, n_layers))),
        }
    return lc.Architecture(
        family=draw(st.sampled_from(["llama", "qwen2", "mistral", "phi", "custom"])),
        n_layers=n_layers,
        hidden_size=hidden,
        n_heads=n_heads,
        n_kv_heads=kv,
        head_dim=head_dim,
        ffn_size=draw(st.integers(64, 65536)),
        vocab_size=draw(st.integers(256, 300_000)),
        max_context=draw(st.sampled_from([2048, 4096, 8192, 32768, 131072])),
        tied_embeddings=draw(st.booleans()),
        mlp=draw(st.sampled_from(["gated", "standard"])),
        norm=draw(st.sampled_from(["rmsnorm", "layernorm"])),
        qkv_bias=draw(st.booleans()),
        attn_out_bias=draw(st.booleans()),
        mlp_bias=draw(st.booleans()),
        parallel_block=draw(st.booleans()),
        **kw,  # type: ignore[arg-type]
    )


inference_precisions = st.sampled_from(sorted(lc.FORMATS))
