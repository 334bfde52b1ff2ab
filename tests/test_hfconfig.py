"""Model.from_hf_config and exact parameter counts of real checkpoints."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import llmcatalog as lc

CONFIGS = Path(__file__).parent / "data" / "hf_configs"
FIXTURES = sorted(CONFIGS.glob("*.json"))
#: Fixtures that are not catalog models (GPT-2 is here for its family only).
NOT_IN_CATALOG = {"gpt2"}
NATIVE = {"llama", "mistral", "mixtral", "gemma", "phi", "qwen2", "falcon", "bloom", "gpt_bigcode", "gpt2"}


def _config(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


@pytest.mark.parametrize("path", [p for p in FIXTURES if p.stem not in NOT_IN_CATALOG], ids=lambda p: p.stem)
def test_catalog_agrees_with_config(path: Path, catalog: lc.Catalog) -> None:
    """from_hf_config on the real config gives the catalog's sourced architecture and count."""
    cfg = json.loads(path.read_text())
    model = lc.Model.from_hf_config(cfg, id=path.stem, name=path.stem, sources=["https://huggingface.co"])
    entry = catalog.get_model(path.stem)
    assert model.n_params == entry.n_params
    assert model.architecture == entry.architecture


@pytest.mark.trace
@pytest.mark.parametrize(
    "path", [p for p in FIXTURES if json.loads(p.read_text())["model_type"] in NATIVE], ids=lambda p: p.stem
)
def test_count_matches_the_transformers_model(path: Path) -> None:
    """The count equals the parameters of transformers' own model class built from the config.

    That is the real checkpoint's layout (built on the meta device: no memory is used).
    """
    torch = pytest.importorskip("torch")
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = json.loads(path.read_text())
    arch = lc.architecture_from_hf_config(cfg)
    kw = dict(cfg)
    model_type = kw.pop("model_type")
    kw.pop("architectures", None)
    kw.pop("_name_or_path", None)
    hf = AutoConfig.for_model(model_type, **kw)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf, attn_implementation="eager")
    assert lc.count_params(arch) == sum(p.numel() for p in model.parameters())


def test_published_counts(catalog: lc.Catalog) -> None:
    """Exact counts the authors published (tests/data/hf_configs/param_counts.csv) within 0.1%."""
    rows = list(csv.DictReader((CONFIGS / "param_counts.csv").open()))
    assert rows
    for row in rows:
        model = catalog.get_model(row["model"])
        assert model.architecture is not None, row["model"]
        ours = lc.count_params(model.architecture)
        assert abs(ours - int(row["n_params"])) / int(row["n_params"]) < 1e-3, (row["model"], ours)


def test_families_supported() -> None:
    """At least the families the brief names are read."""
    for family in (
        "llama",
        "mistral",
        "mixtral",
        "qwen2",
        "gemma",
        "phi",
        "gpt2",
        "chatglm",
        "baichuan",
        "internlm2",
        "deepseek",
    ):
        assert family in lc.SUPPORTED_FAMILIES


def test_remote_code_quirks() -> None:
    """Qwen-1 halves intermediate_size; ChatGLM3 reads its multi-query groups and padded vocab."""
    qwen = lc.architecture_from_hf_config(_config("qwen-7b"))
    assert qwen.ffn_size == 11008
    assert qwen.qkv_bias
    assert not qwen.attn_out_bias
    glm = lc.architecture_from_hf_config(_config("chatglm3-6b"))
    assert (glm.n_kv_heads, glm.vocab_size, glm.ffn_size) == (2, 65024, 13696)
    moe = lc.architecture_from_hf_config(_config("deepseek-moe-16b-base"))
    assert (moe.n_experts, moe.n_shared_experts, moe.n_dense_layers) == (64, 2, 1)


def test_from_hf_config_defaults() -> None:
    """Without fields, id/name/source come from _name_or_path."""
    m = lc.Model.from_hf_config(_config("llama-2-7b"))
    assert m.id == "llama-2-7b-hf"
    assert m.sources == ("https://huggingface.co/meta-llama/Llama-2-7b-hf",)
    assert m.n_params == 6_738_415_616


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "no 'model_type'"),
        ({"model_type": "t5"}, "'t5' is not supported"),
        ({"model_type": "llama", "hidden_size": 8}, "lacks the key"),
        ("not a mapping", "expected a mapping"),
        (
            {
                "model_type": "llama",
                "hidden_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 3,
                "num_key_value_heads": 2,
                "intermediate_size": 10,
                "vocab_size": 10,
                "max_position_embeddings": 8,
            },
            "multiple of 'n_kv_heads'",
        ),
    ],
)
def test_bad_configs(config: object, message: str) -> None:
    """Unsupported or incomplete configs raise CatalogDataError saying what is wrong."""
    with pytest.raises(lc.CatalogDataError, match=message):
        lc.architecture_from_hf_config(config)  # type: ignore[arg-type]
