"""The readers added for 2025 model types (ERNIE 4.5, Seed-OSS, SmolLM3, Hunyuan-A13B, MiniMax-M2): layouts the
real configs do not exercise, checked against transformers' own models, and the layouts refused.

The real configs themselves are fixtures in tests/data/hf_configs (ernie-4.5-*, seed-oss-36b-instruct,
smollm3-3b, hunyuan-a13b-instruct, minimax-m2) and are checked by tests/test_hfconfig.py.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

import llmcatalog as lc

CONFIGS = Path(__file__).parent / "data" / "hf_configs"


def _fixture(name: str) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((CONFIGS / f"{name}.json").read_text())
    return cfg


def _transformers_count(cfg: dict[str, Any]) -> int:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    kw = {k: v for k, v in cfg.items() if k not in {"model_type", "architectures", "_name_or_path"}}
    hf = transformers.AutoConfig.for_model(cfg["model_type"], **kw)
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model = transformers.AutoModelForCausalLM.from_config(hf)
    return sum(p.numel() for p in model.parameters())


def _small_ernie_moe(**overrides: Any) -> dict[str, Any]:
    cfg = _fixture("ernie-4.5-21b-a3b-pt")
    cfg.update(hidden_size=64, intermediate_size=96, moe_intermediate_size=32, head_dim=16, num_attention_heads=4)
    cfg.update(num_key_value_heads=2, vocab_size=128, num_hidden_layers=8, moe_num_experts=4, moe_k=2)
    cfg.update(overrides)
    return cfg


@pytest.mark.parametrize(
    "overrides",
    [
        {"moe_layer_start_index": 2, "moe_layer_end_index": 5, "moe_layer_interval": 1},
        {"moe_layer_start_index": 1, "moe_layer_end_index": -1, "moe_layer_interval": 2},
        {"moe_layer_start_index": 0, "moe_layer_end_index": 6, "moe_layer_interval": 3},
        {"moe_num_shared_experts": 0, "tie_word_embeddings": False},
        {"moe_layer_start_index": 3, "moe_layer_end_index": 40},
        {"moe_layer_start_index": 5, "moe_layer_end_index": 2},
    ],
)
def test_ernie_moe_layer_ranges_count_as_transformers(overrides: dict[str, Any]) -> None:
    """Sparse layers between moe_layer_start_index and moe_layer_end_index, every moe_layer_interval-th:
    the count equals transformers' Ernie4_5_MoeForCausalLM for ranges the real configs do not use."""
    cfg = _small_ernie_moe(**overrides)
    assert lc.count_params(lc.architecture_from_hf_config(cfg)) == _transformers_count(cfg)


def test_smollm3_sliding_window_slides_the_nope_layers() -> None:
    """With use_sliding_window, SmolLM3 slides only its NoPE layers (transformers' SmolLM3Config rule)."""
    transformers = pytest.importorskip("transformers")
    cfg = dict(_fixture("smollm3-3b"), use_sliding_window=True, sliding_window=4096)
    cfg.pop("layer_types")
    arch = lc.architecture_from_hf_config(cfg)
    kw = {k: v for k, v in cfg.items() if k not in {"model_type", "architectures"}}
    theirs = transformers.SmolLM3Config(**kw).layer_types
    ours = [arch.layer_types[i % len(arch.layer_types)] for i in range(arch.n_layers)]
    assert ours == [t.removesuffix("_attention") for t in theirs]
    assert arch.sliding_window == 4096
    assert arch.count_layers("sliding") == 9


def test_seed_oss_bias_switches_count_as_transformers() -> None:
    """Seed-OSS's separate bias switches (q/k/v versus o) against transformers' SeedOssForCausalLM."""
    cfg = dict(_fixture("seed-oss-36b-instruct"), hidden_size=64, intermediate_size=96, head_dim=16)
    cfg.update(num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2, vocab_size=128)
    for bias, out_bias in ((True, True), (False, True), (False, False)):
        cfg.update(attention_bias=bias, attention_out_bias=out_bias)
        assert lc.count_params(lc.architecture_from_hf_config(cfg)) == _transformers_count(cfg)


@pytest.mark.parametrize(
    ("fixture", "overrides", "message"),
    [
        ("hunyuan-a13b-instruct", {"moe_intermediate_size": 1536}, "'moe_intermediate_size'.*differs"),
        ("hunyuan-a13b-instruct", {"moe_topk": [8, 2]}, "'moe_topk'.*one repeated integer"),
        ("hunyuan-a13b-instruct", {"num_shared_expert": 2}, "'num_shared_expert'.*one shared expert"),
        ("hunyuan-a13b-instruct", {"use_cla": True}, "'use_cla'.*cross-layer"),
        ("ernie-4.5-21b-a3b-pt", {"use_bias": True}, "'use_bias'.*experts have no biases"),
        ("ernie-4.5-21b-a3b-pt", {"moe_layer_end_index": -2}, "'moe_layer_end_index'.*>= -1"),
        ("minimax-m2", {"attn_type_list": [0, 1]}, "'attn_type_list'.*lightning"),
        ("minimax-m2", {"qk_norm_type": "per_head"}, "'qk_norm_type'.*per_layer"),
        ("minimax-m2", {"shared_intermediate_size": 1536}, "'shared_intermediate_size'.*shared expert"),
        (
            "smollm3-3b",
            {"use_sliding_window": True, "sliding_window": 8, "layer_types": None, "no_rope_layers": [1]},
            "'no_rope_layers'.*36 flags",
        ),
    ],
)
def test_unsupported_layouts_are_refused(fixture: str, overrides: dict[str, Any], message: str) -> None:
    """Layouts the Architecture (or transformers) would count differently raise, naming the key."""
    cfg = dict(_fixture(fixture), **overrides)
    with pytest.raises(lc.CatalogDataError, match=message):
        lc.architecture_from_hf_config(cfg)
