"""Phi-3-small (model_type phi3small): its layout read from the real config.json, counted exactly.

Facts outside our code: the whole config.json of microsoft/Phi-3-small-8k-instruct
(tests/data/hf_configs/phi-3-small-8k-instruct.json; provenance in its README), the module list of the
two ports that load the official weights (mlx-lm ``mlx_lm/models/phi3small.py``, strict loading, and
vLLM ``model_executor/models/phi3_small.py``): ``query_key_value`` and ``dense`` Linear layers with
biases, ``up_proj`` to twice ``ff_intermediate_size`` and ``down_proj`` with biases, LayerNorms with
bias, the head tied to the embeddings; and the official repository's bf16 shard sizes
(4.83 + 4.8 + 4.8 + 0.352 GB). transformers has no class for it, so there is no meta-device count.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import llmcatalog as lc

CONFIG = Path(__file__).parent / "data" / "hf_configs" / "phi-3-small-8k-instruct.json"


def _config() -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads(CONFIG.read_text())
    return cfg


def _ported_module_count(cfg: dict[str, Any]) -> int:
    """The parameters of the ports' module list, summed module by module from the config keys."""
    h, layers, vocab = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    heads, kv_heads, ffn = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["ff_intermediate_size"]
    d = h // heads
    qkv_out = (heads + 2 * kv_heads) * d
    per_layer = (
        (h * qkv_out + qkv_out)  # query_key_value (weight, bias)
        + (h * h + h)  # dense
        + (h * 2 * ffn + 2 * ffn)  # up_proj: GeGELU gate and linear halves
        + (ffn * h + h)  # down_proj
        + 2 * (2 * h)  # input_layernorm, post_attention_layernorm (weight, bias)
    )
    return vocab * h + layers * per_layer + 2 * h  # tied embeddings + layers + final_layernorm


def test_reader_gives_the_catalog_architecture(catalog: lc.Catalog) -> None:
    """The phi3small reader on the real config gives the catalog entry's architecture."""
    arch = lc.architecture_from_hf_config(_config())
    assert arch == catalog.get_model("microsoft/Phi-3-small-8k-instruct").architecture


def test_count_is_the_ported_module_list() -> None:
    """Our count equals the module-by-module sum of the ports' layers (7,392,272,384)."""
    cfg = _config()
    assert lc.count_params(lc.architecture_from_hf_config(cfg)) == _ported_module_count(cfg)


def test_count_matches_the_published_shards(catalog: lc.Catalog) -> None:
    """Two bytes a parameter fill the official bf16 shards (14.78 GB, rounded per file) within 0.5%;
    an untied output head (another 0.41B) would not."""
    shards_bytes = (4.83 + 4.8 + 4.8 + 0.352) * 1e9
    n = catalog.get_model("phi-3-small-8k-instruct").n_params
    assert n is not None
    assert abs(2 * n - shards_bytes) / shards_bytes < 0.005
    cfg = _config()
    untied = n + cfg["vocab_size"] * cfg["hidden_size"]
    assert abs(2 * untied - shards_bytes) / shards_bytes > 0.02


def test_block_sparse_layers_keep_a_full_cache(catalog: lc.Catalog) -> None:
    """Block-sparse attention reaches back to the first token (vertical stride), so every layer caches
    every position: the KV cache is the dense one, 2 x layers x KV heads x head_dim x tokens x 2 bytes."""
    cfg = _config()
    m = catalog.get_model("phi-3-small-8k-instruct")
    est = lc.estimate_vram(m, lc.Inference(precision="bf16", context_tokens=8192))
    d = cfg["hidden_size"] // cfg["num_attention_heads"]
    dense = 2 * cfg["num_hidden_layers"] * cfg["num_key_value_heads"] * d * 8192 * 2
    assert est.kv_cache_bytes == dense


def test_missing_ffn_size_is_refused() -> None:
    """Without ff_intermediate_size the config names no model: a typed error naming the key."""
    cfg = _config()
    del cfg["ff_intermediate_size"]
    with pytest.raises(lc.CatalogDataError, match="ff_intermediate_size"):
        lc.architecture_from_hf_config(cfg)


def test_unpadded_gegelu_size_is_refused() -> None:
    """gegelu_pad_to_256 with a size that is not a multiple of 256: the stored size is not the
    config's, so the reader refuses rather than count a wrong MLP."""
    cfg = _config()
    cfg["ff_intermediate_size"] = 14000
    with pytest.raises(lc.CatalogDataError, match="multiple of 256"):
        lc.architecture_from_hf_config(cfg)


def test_su_is_longrope(catalog: lc.Catalog) -> None:
    """The first Phi-3 128K configs name LongRoPE "su" (the dotnet/machinelearning copy of
    Phi-3-mini-128k-instruct's config.json does): the reader records it as longrope."""
    path = Path(__file__).parent / "data" / "hf_configs" / "phi-3-mini-128k-instruct.json"
    cfg: dict[str, Any] = json.loads(path.read_text())
    cfg["rope_scaling"] = {**cfg["rope_scaling"], "type": "su"}
    arch = lc.architecture_from_hf_config(cfg)
    assert arch.rope_scaling_type == "longrope"
    assert arch == catalog.get_model("phi-3-mini-128k-instruct").architecture
