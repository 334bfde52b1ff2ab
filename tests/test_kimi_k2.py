"""Kimi K2's config.json (model_type kimi_k2) is read as the DeepSeek-V3 layout it runs on.

The keys below are the shape keys of moonshotai/Kimi-K2-Instruct's config.json as public copies
quote them (tests/data/config_crosschecks.json, entries kimi-k2-base / kimi-k2-instruct: NVIDIA
Megatron-Bridge's KimiK2Provider, a scaling-book exercise citing the hub file, an architecture note
citing it), with DeepSeek-V3's MLA head sizes, which the Kimi K2 report says it keeps. The report
(arXiv 2507.20534) gives 1.04T total / 32B activated parameters.
"""

from __future__ import annotations

from typing import Any

import pytest

import llmcatalog as lc

KIMI_K2_INSTRUCT: dict[str, Any] = {
    "architectures": ["DeepseekV3ForCausalLM"],
    "model_type": "kimi_k2",
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 61,
    "num_attention_heads": 64,
    "num_key_value_heads": 64,
    "n_routed_experts": 384,
    "n_shared_experts": 1,
    "num_experts_per_tok": 8,
    "first_k_dense_replace": 1,
    "q_lora_rank": 1536,
    "kv_lora_rank": 512,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "num_nextn_predict_layers": 0,
    "vocab_size": 163840,
    "max_position_embeddings": 131072,
    "rope_scaling": {
        "beta_fast": 1.0,
        "beta_slow": 1.0,
        "factor": 32.0,
        "mscale": 1.0,
        "mscale_all_dim": 1.0,
        "original_max_position_embeddings": 4096,
        "type": "yarn",
    },
    "tie_word_embeddings": False,
}


def test_kimi_k2_config_reads_as_deepseek_v3_layout() -> None:
    """MLA, 384 routed experts and one dense layer are read, not a Llama-style dense decoder."""
    arch = lc.architecture_from_hf_config(KIMI_K2_INSTRUCT)
    assert arch.family == "deepseek-v3"
    assert arch.is_mla
    assert (arch.n_experts, arch.n_experts_per_token, arch.n_shared_experts) == (384, 8, 1)
    assert arch.n_dense_layers == 1
    assert arch.mtp_layers == 0
    assert arch.n_heads == 64


def test_kimi_k2_count_is_the_reports_size() -> None:
    """The count from the config keys is within 1.5% of the report's 1.04T (it is 1.026T: the report
    rounds up), far from what a dense reading of the same keys would give."""
    total = lc.count_params(lc.architecture_from_hf_config(KIMI_K2_INSTRUCT))
    assert total == pytest.approx(1.04e12, rel=0.015)


def test_the_catalog_entry_is_this_config(catalog: lc.Catalog) -> None:
    """The catalog's Kimi-K2-Instruct (inherited from Kimi-K2-Base) is what the config reads as."""
    model = catalog.get_model("moonshotai/Kimi-K2-Instruct")
    assert model.architecture == lc.architecture_from_hf_config(KIMI_K2_INSTRUCT)
    assert model.weight_format is not None  # block-fp8 checkpoint (README)
