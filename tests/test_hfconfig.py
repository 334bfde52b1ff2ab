"""Model.from_hf_config and exact parameter counts of real checkpoints."""

from __future__ import annotations

import csv
import json
import re
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.importers.hfconfig import HFConfigWarning
from llmcatalog.memory.params import param_breakdown

CONFIGS = Path(__file__).parent / "data" / "hf_configs"
FIXTURES = sorted(CONFIGS.glob("*.json"))
#: Fixtures that are catalog models (the others are here for their family).
IN_CATALOG = {
    "baichuan2-7b-base",
    "bloom-7b1",
    "chatglm3-6b",
    "deepseek-moe-16b-base",
    "falcon-7b",
    "gemma-7b",
    "internlm-7b",
    "llama-2-7b",
    "minicpm4-8b",
    "mistral-7b-v0.1",
    "mixtral-8x7b-v0.1",
    "phi-2",
    "qwen-7b",
    "qwen1.5-7b",
    "qwen2.5-7b-instruct",
    "starcoder",
}
#: Remote-code model types transformers does not ship (no meta-device cross-check).
REMOTE_CODE = {"baichuan", "chatglm", "deepseek", "internlm", "internlm2", "qwen", "minicpm", "phi3small"}
MULTIMODAL = {"gemma3", "llama4", "llava", "mistral3", "qwen2_vl", "qwen2_5_vl"}
VISION = re.compile(r"(^|\.)(vision_tower|visual|vision_model)\.")
PROJECTOR = re.compile(r"(^|\.)(multi_modal_projector|mm_projector)\.")


def _config(name: str) -> dict[str, Any]:
    return json.loads((CONFIGS / f"{name}.json").read_text())


def _native(path: Path) -> bool:
    return json.loads(path.read_text())["model_type"] not in REMOTE_CODE


NATIVE_FIXTURES = [p for p in FIXTURES if _native(p)]


@pytest.mark.parametrize("path", [p for p in FIXTURES if p.stem in IN_CATALOG], ids=lambda p: p.stem)
def test_catalog_agrees_with_config(path: Path, catalog: lc.Catalog) -> None:
    """from_hf_config on the real config gives the catalog's sourced architecture and count."""
    cfg = json.loads(path.read_text())
    model = lc.Model.from_hf_config(cfg, id=path.stem, name=path.stem, sources=["https://huggingface.co"])
    entry = catalog.get_model(path.stem)
    assert model.n_params == entry.n_params
    assert model.architecture == entry.architecture


def test_fixture_coverage() -> None:
    """The transformers cross-check covers at least 30 real checkpoints of at least 20 model types."""
    types = {json.loads(p.read_text())["model_type"] for p in NATIVE_FIXTURES}
    assert len(NATIVE_FIXTURES) >= 30
    assert len(types) >= 20


def _hf_config(cfg: dict[str, Any]) -> Any:
    from transformers import AutoConfig

    kw = {k: v for k, v in cfg.items() if k not in {"model_type", "architectures", "_name_or_path"}}
    return AutoConfig.for_model(cfg["model_type"], **kw)


def _build_on_meta(cfg: dict[str, Any]) -> Any:
    """transformers' own model for ``cfg`` on the meta device (no memory, no weights read)."""
    torch = pytest.importorskip("torch")
    import transformers

    hf = _hf_config(cfg)
    auto = (
        transformers.AutoModelForImageTextToText
        if cfg["model_type"] in MULTIMODAL
        else transformers.AutoModelForCausalLM
    )
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        return auto.from_config(hf), hf


def _transformers_counts(model: Any, hf: Any) -> dict[str, int]:
    """total / embedding / lm_head / active / vision / projector, from transformers' module tree."""
    params = dict(model.named_parameters())  # named_parameters() yields a tied tensor once
    total = sum(p.numel() for p in params.values())
    embed = model.get_input_embeddings().weight
    head = model.get_output_embeddings()
    head_n = 0 if head.weight is embed else head.weight.numel() + (head.bias.numel() if head.bias is not None else 0)
    text = hf.get_text_config()
    top_k = getattr(text, "num_experts_per_tok", None) or getattr(text, "experts_per_token", None)
    if isinstance(top_k, list) and len(set(top_k)) == 1:  # Hunyuan: per-layer moe_topk, uniform in its fixture
        top_k = top_k[0]
    inactive = 0
    for name, p in params.items():
        # Routed experts: fused tensors [n_experts, ...]; only top_k of them run per token.
        if re.search(r"\.experts\.", name) and not re.search(r"shared_expert", name):
            n_experts = p.shape[0]
            inactive += p.numel() // n_experts * (n_experts - top_k)
    return {
        "total": total,
        "embedding": embed.numel(),
        "lm_head": head_n,
        "active": total - inactive,
        "vision": sum(p.numel() for n, p in params.items() if VISION.search(n)),
        "projector": sum(p.numel() for n, p in params.items() if PROJECTOR.search(n)),
    }


@pytest.mark.trace
@pytest.mark.parametrize("path", NATIVE_FIXTURES, ids=lambda p: p.stem)
def test_count_matches_the_transformers_model(path: Path) -> None:
    """Total, embeddings, LM head and active (MoE) counts equal transformers' model built from the config.

    That is the real checkpoint's layout, built on the meta device (no memory is used); tied
    weights are counted once. Multimodal configs: the Architecture is the language model, and
    Model.n_params adds the vision tower and projector.
    """
    cfg = json.loads(path.read_text())
    model, hf = _build_on_meta(cfg)
    theirs = _transformers_counts(model, hf)
    pb = param_breakdown(lc.architecture_from_hf_config(cfg))
    language = theirs["total"] - theirs["vision"] - theirs["projector"]
    assert (pb.total, pb.embedding, pb.lm_head) == (language, theirs["embedding"], theirs["lm_head"])
    assert pb.active == theirs["active"] - theirs["vision"] - theirs["projector"]
    ours = lc.Model.from_hf_config(cfg)
    assert ours.n_params == theirs["total"]
    if cfg["model_type"] in MULTIMODAL:
        roles = {c.role: c.n_params for c in ours.components}
        assert roles["language-model"] == pb.total
        assert roles["vision-encoder"] == theirs["vision"]
        assert roles.get("projector", 0) == theirs["projector"]
        assert sum(roles.values()) == ours.n_params


@pytest.mark.trace
def test_deepseek_v3_mtp_module() -> None:
    """DeepSeek-V3: transformers builds 671B without the MTP module; the checkpoint adds it (685B on the hub).

    The MTP module is one more MoE decoder layer (the same as transformers' layer 3) plus its own
    embedding and head copies, eh_proj Linear(2h, h) and three RMSNorms (DeepSeek-V3 README_WEIGHTS.md).
    """
    cfg = _config("deepseek-v3")
    model, hf = _build_on_meta(cfg)
    pb = param_breakdown(lc.architecture_from_hf_config(cfg))
    h, v = hf.hidden_size, hf.vocab_size
    layer = sum(p.numel() for p in model.model.layers[3].parameters())
    assert pb.mtp == layer + 2 * v * h + 2 * h * h + 3 * h
    assert round(pb.total / 1e9) == 671  # model card: 671B total
    assert round(pb.active / 1e9) == 38  # 37B activated, not counting one copy of the 0.93B embedding
    assert 684e9 < pb.checkpoint_total < 686e9  # hub: 685B with the MTP module


@pytest.mark.trace
@pytest.mark.parametrize("path", NATIVE_FIXTURES, ids=lambda p: p.stem)
def test_omitted_keys_take_the_transformers_defaults(path: Path) -> None:
    """Dropping any key reads the same Architecture as transformers' resolved config (class defaults)."""
    cfg = json.loads(path.read_text())
    nested = "text_config" in cfg
    keys = list(cfg["text_config"] if nested else cfg)
    for key in keys:
        if key in {"model_type", "architectures", "_name_or_path", "vision_config", "text_config"}:
            continue
        trimmed = json.loads(json.dumps(cfg))
        (trimmed["text_config"] if nested else trimmed).pop(key)
        try:
            resolved = _hf_config(trimmed).to_dict()
        except Exception:
            continue
        resolved["model_type"] = cfg["model_type"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HFConfigWarning)
            try:
                ours = lc.architecture_from_hf_config(trimmed)
            except lc.CatalogDataError:  # a key without a usable default (DeepSeek-V2 top-k): both refuse
                with pytest.raises(lc.CatalogDataError):
                    lc.architecture_from_hf_config(resolved)
                continue
            full = lc.architecture_from_hf_config(resolved)
        assert lc.count_params(ours) == lc.count_params(full), key
        if cfg["model_type"] == "gemma":  # transformers 5 rewrites Gemma's hidden_act "gelu" to gelu_pytorch_tanh
            full = attrs.evolve(full, activation=ours.activation)
        assert ours == full, key


def test_phi2_without_hidden_act_is_gelu_new() -> None:
    """A trimmed phi-2 config without hidden_act takes PhiConfig's default gelu_new, not SiLU."""
    cfg = _config("phi-2")
    cfg.pop("hidden_act", None)
    assert lc.architecture_from_hf_config(cfg).activation == "gelu-new"


def test_published_counts(catalog: lc.Catalog) -> None:
    """Exact counts the authors published (tests/data/hf_configs/param_counts.csv) within 0.1%."""
    rows = list(csv.DictReader((CONFIGS / "param_counts.csv").open()))
    assert rows
    for row in rows:
        model = catalog.get_model(row["model"])
        assert model.architecture is not None, row["model"]
        ours = lc.count_params(model.architecture)
        assert abs(ours - int(row["n_params"])) / int(row["n_params"]) < 1e-3, (row["model"], ours)


@pytest.mark.parametrize(
    ("fixture", "published_b", "active_b"),
    [
        # Model cards / release posts (rounded to the figure they print).
        ("qwen3-8b", 8.2, None),  # Qwen3-8B card: 8.2B
        ("qwen3-30b-a3b", 30.5, 3.3),  # Qwen3-30B-A3B card: 30.5B total, 3.3B activated
        ("llama-3.1-8b", 8.0, None),
        ("gemma-2-9b", 9.2, None),  # 9.24B
        ("phi-3-mini-4k-instruct", 3.8, None),  # 3.8B
        ("mixtral-8x7b-v0.1", 46.7, 12.9),  # Mistral: 46.7B total, 12.9B active
        ("phi-3.5-moe-instruct", 41.9, 6.6),  # 42B total, 6.6B active
        ("qwen1.5-moe-a2.7b", 14.3, 2.7),  # 14.3B total, 2.7B activated
        ("llama-4-maverick-17b-128e-text", 400.7, 17.2),  # 400B total, 17B active
        ("gpt-oss-120b", 116.8, None),  # OpenAI model card: 116.8B total
        ("gpt-oss-20b", 20.9, None),  # 20.9B total
        ("gpt-neox-20b", 20.6, None),  # 20.55B
        # qwen: the Qwen2 release table (blog, 2024-06-07): 57.41B for Qwen2-57B-A14B, 0.49B and 1.54B
        ("qwen2-57b-a14b", 57.41, None),
        ("qwen2-0.5b", 0.49, None),
        ("qwen2-1.5b", 1.54, None),
    ],
)
def test_published_totals(fixture: str, published_b: float, active_b: float | None) -> None:
    """Counts agree with the totals (and active counts) the model authors published, to their rounding."""
    pb = param_breakdown(lc.architecture_from_hf_config(_config(fixture)))
    assert abs(pb.total / 1e9 - published_b) < 0.06
    if active_b is not None:
        assert abs(pb.active / 1e9 - active_b) < 0.06


def test_gpt_oss_active_without_embeddings() -> None:
    """gpt-oss card: 3.6B (20b) and 5.1B (120b) active, counting the unembedding but not the embedding."""
    for fixture, active_b in (("gpt-oss-20b", 3.6), ("gpt-oss-120b", 5.1)):
        pb = param_breakdown(lc.architecture_from_hf_config(_config(fixture)))
        assert round((pb.active - pb.embedding) / 1e9, 1) == active_b


def test_families_supported() -> None:
    """The families of the brief and of the "any model" issue are read natively."""
    families = [
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
        "qwen2_moe",
        "qwen3",
        "qwen3_moe",
        "gemma2",
        "gemma3",
        "gemma3_text",
        "phi3",
        "phimoe",
        "deepseek_v2",
        "deepseek_v3",
        "glm",
        "glm4",
        "llama4",
        "llama4_text",
        "gpt_oss",
        "gpt_neox",
        "olmo2",
        "starcoder2",
        "cohere",
        "granite",
        "minicpm",
        "mistral3",
        "llava",
        "qwen2_5_vl",
    ]
    for family in families:
        assert family in lc.SUPPORTED_FAMILIES, family


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


def test_new_architecture_fields() -> None:
    """The fields new families need are read from their configs."""
    llama = lc.architecture_from_hf_config(_config("llama-3.1-8b"))
    assert (llama.rope_scaling_type, llama.rope_scaling_factor) == ("llama3", 8.0)
    assert lc.architecture_from_hf_config(_config("qwen3-8b")).qk_norm == "head"
    assert lc.architecture_from_hf_config(_config("olmo-2-1124-7b")).qk_norm == "full"
    v3 = lc.architecture_from_hf_config(_config("deepseek-v3"))
    assert (v3.q_lora_rank, v3.kv_lora_rank, v3.qk_rope_head_dim, v3.v_head_dim, v3.head_dim) == (
        1536,
        512,
        64,
        128,
        192,
    )
    assert (v3.mtp_layers, v3.n_dense_layers, v3.n_moe_layers) == (1, 3, 58)
    assert v3.rope_scaling_type == "yarn"
    lite = lc.architecture_from_hf_config(_config("deepseek-v2-lite"))
    assert lite.q_lora_rank is None
    maverick = lc.architecture_from_hf_config(_config("llama-4-maverick-17b-128e-text"))
    assert maverick.n_moe_layers == 24
    assert [maverick.is_moe_layer(i) for i in range(4)] == [False, True, False, True]
    oss = lc.architecture_from_hf_config(_config("gpt-oss-20b"))
    assert oss.attn_sinks
    assert oss.router_bias
    assert oss.sliding_window == 128
    assert lc.architecture_from_hf_config(_config("qwen1.5-moe-a2.7b")).shared_expert_gate


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
        ({"model_type": 7}, "'model_type'.*non-empty string"),
        ({"model_type": "llama", "hidden_size": 8}, "'hidden_size': 8 is not a multiple of num_attention_heads"),
        ({"model_type": "chatglm", "hidden_size": 8}, "key 'num_attention_heads': missing"),
        ("not a mapping", "expected a mapping"),
        ({"model_type": "llama", "num_attention_heads": 0}, "key 'num_attention_heads': expected an integer >= 1"),
        ({"model_type": "llama", "hidden_size": "4096"}, r"key 'hidden_size': expected an integer, got '4096' \(str\)"),
        ({"model_type": "llama", "hidden_size": 4095}, "'hidden_size': 4095 is not a multiple of num_attention_heads"),
        ({"model_type": "llama", "tie_word_embeddings": "false"}, "key 'tie_word_embeddings': expected a JSON boolean"),
        ({"model_type": "llama", "num_hidden_layers": 2.0}, "key 'num_hidden_layers': expected an integer"),
        ({"model_type": "llama", "rope_scaling": {"type": "linear", "factor": "2"}}, "key 'factor': expected a finite"),
        ({"model_type": "llama", "rope_scaling": "linear"}, "key 'rope_scaling': expected a JSON object"),
        ({"model_type": "llama", "num_attention_heads": 4, "num_key_value_heads": 3}, "must divide"),
        ({"model_type": "qwen3_moe", "mlp_only_layers": [99]}, "key 'mlp_only_layers': layer indices must be in"),
    ],
)
def test_bad_configs(config: object, message: str) -> None:
    """Malformed configs raise CatalogDataError naming the config key and what is wrong."""
    with pytest.raises(lc.CatalogDataError, match=message):
        lc.architecture_from_hf_config(config)  # type: ignore[arg-type]


def test_string_false_is_not_true() -> None:
    """'tie_word_embeddings': 'false' is an error, not a silent 6,607,343,616-parameter Llama-2-7B."""
    cfg = _config("llama-2-7b") | {"tie_word_embeddings": "false"}
    with pytest.raises(lc.CatalogDataError, match="tie_word_embeddings"):
        lc.Model.from_hf_config(cfg)


def test_context_keys_never_block_a_count() -> None:
    """Baichuan2 without max_position_embeddings, or with a junk one, still has its count."""
    cfg = _config("baichuan2-7b-base")
    expected = lc.count_params(lc.architecture_from_hf_config(cfg))
    for key in ("max_position_embeddings", "model_max_length"):
        cfg.pop(key, None)
    assert lc.count_params(lc.architecture_from_hf_config(cfg)) == expected
    with pytest.warns(HFConfigWarning, match="max_position_embeddings"):
        arch = lc.architecture_from_hf_config(cfg | {"max_position_embeddings": "4k"})
    assert lc.count_params(arch) == expected


#: A hybrid attention + state-space family that has no reader: counted through transformers.
FALCON_H1_TINY = {
    "model_type": "falcon_h1",
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
    "mamba_d_ssm": 256,
    "mamba_n_heads": 8,
    "mamba_d_head": 32,
    "mamba_d_state": 16,
}


@pytest.mark.trace
def test_unknown_model_type_is_counted_on_the_meta_device() -> None:
    """An unknown model_type gets transformers' exact count and a warning stating the assumptions."""
    model, _ = _build_on_meta(FALCON_H1_TINY)
    expected = sum(p.numel() for p in model.parameters())
    with pytest.warns(HFConfigWarning) as record:
        ours = lc.Model.from_hf_config(FALCON_H1_TINY)
    messages = [str(r.message) for r in record]
    assert any("no reader" in m for m in messages), messages
    assert any("state-space" in m for m in messages), messages
    assert ours.n_params == expected


def test_unknown_model_type_without_transformers_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without transformers the standard keys are read and a warning says the count is approximate."""
    import builtins

    real_import = builtins.__import__

    def no_transformers(name: str, *args: Any, **kwargs: Any) -> Any:
        if name in {"transformers", "torch"}:
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    with pytest.warns(HFConfigWarning) as record:
        model = lc.Model.from_hf_config(FALCON_H1_TINY)
    assert any("trace" in str(w.message) for w in record)
    assert model.architecture is not None
    assert model.n_params == lc.count_params(model.architecture)


@pytest.mark.trace
def test_unknown_hybrid_family_is_counted_but_not_estimated() -> None:
    """A model_type without a reader whose transformers model has state-space or expert layers gets its
    exact count but no Architecture: a Llama-style approximation would misstate its KV cache and active
    parameters, so the estimate refuses and says why rather than printing a wrong number."""
    cfg = {
        "model_type": "jamba", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000, "num_experts": 4,
        "num_experts_per_tok": 2,
    }  # fmt: skip
    with pytest.warns(HFConfigWarning) as record:
        m = lc.Model.from_hf_config(cfg)
    messages = [str(r.message) for r in record]
    assert any("no reader" in msg for msg in messages), messages  # the family is unknown to the importer
    assert any("state-space" in msg for msg in messages), messages  # and why no Architecture is built
    assert m.architecture is None
    assert m.n_params is not None
    assert m.n_params > 0
    with pytest.raises(lc.NotEstimableError, match="state-space"):
        lc.estimate_vram(m, lc.Inference())


@pytest.mark.trace
def test_a_model_type_transformers_does_not_know_reads_the_standard_keys() -> None:
    """With transformers installed, a model_type it does not know is read from the standard keys with a
    warning (as without transformers), not refused with transformers' whole list of model types."""
    cfg = {
        "model_type": "totally_new_arch", "hidden_size": 256, "intermediate_size": 512,
        "num_hidden_layers": 4, "num_attention_heads": 4, "vocab_size": 1000, "max_position_embeddings": 2048,
    }  # fmt: skip
    with pytest.warns(UserWarning, match="totally_new_arch"):
        m = lc.Model.from_hf_config(cfg)
    a = m.architecture
    assert a is not None
    # embeddings + LM head + 4 Llama-style layers (q, k, v, o; gate, up, down; two RMSNorms) + final norm
    layer = 4 * 256 * 256 + 3 * 256 * 512 + 2 * 256
    assert m.n_params == 2 * 1000 * 256 + 4 * layer + 256


def test_explicit_null_sliding_window_is_full_attention() -> None:
    """``"sliding_window": null`` (Mistral 7B v0.2+, Mistral Small 3.x) is no window, as transformers
    reads it, not the MistralConfig default of 4096."""
    cfg = {
        "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32768,
        "max_position_embeddings": 32768, "sliding_window": None,
    }  # fmt: skip
    assert lc.architecture_from_hf_config(cfg).sliding_window is None
    cfg.pop("sliding_window")
    assert lc.architecture_from_hf_config(cfg).sliding_window == 4096  # MistralConfig's default when absent


def test_a_config_without_any_core_size_is_refused() -> None:
    """{"model_type": "llama"} names no model: refused, naming the missing core keys (it used to
    become transformers' default 6.74B Llama, named after its folder)."""
    for config in ({"model_type": "llama"}, {"model_type": "qwen2", "vocab_size": 1000}):
        with pytest.raises(lc.CatalogDataError) as info:
            lc.architecture_from_hf_config(config)
        for key in ("hidden_size", "num_hidden_layers", "num_attention_heads"):
            assert key in str(info.value)


def test_defaulted_core_sizes_are_named_in_a_warning() -> None:
    """A config leaving out some core sizes warns, naming each and the default taken: the values
    of transformers' own LlamaConfig()."""
    transformers = pytest.importorskip("transformers")
    defaults = transformers.LlamaConfig()
    config = {"model_type": "llama", "hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4}
    with pytest.warns(HFConfigWarning) as caught:
        arch = lc.architecture_from_hf_config(config)
    text = " ".join(str(w.message) for w in caught)
    assert f"intermediate_size (took {defaults.intermediate_size})" in text
    assert f"vocab_size (took {defaults.vocab_size})" in text
    assert "hidden_size" not in text
    assert "num_hidden_layers" not in text
    assert (arch.ffn_size, arch.vocab_size) == (defaults.intermediate_size, defaults.vocab_size)


def test_full_configs_and_multimodal_text_configs_do_not_warn() -> None:
    """The real configs give their core sizes (LFM2 as block_ff_dim); LLaVA 1.5's text_config relies
    on LlamaConfig's defaults by design: neither warns about defaulted sizes."""
    for name in ("llama-2-7b", "lfm2-1.2b", "llava-1.5-7b-hf", "gpt2", "falcon-7b"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lc.architecture_from_hf_config(_config(name))
        assert not [w for w in caught if "missing" in str(w.message)], name
