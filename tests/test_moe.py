"""Mixture-of-experts in the calculus: layer placement, active parameters, LoRA on experts."""

from __future__ import annotations

import copy
import json
import time
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.memory import training
from llmcatalog.memory.params import moe_layers_in, param_breakdown
from llmcatalog.memory.training import lora_params, resolve_lora_targets

CONFIGS = Path(__file__).parent / "data" / "hf_configs"


def _arch(name: str) -> lc.Architecture:
    return lc.architecture_from_hf_config(json.loads((CONFIGS / f"{name}.json").read_text()))


# --- active parameters against the authors' published figures -------------------------------

#: (fixture, published active parameters, whether the figure counts the input embedding, source)
PUBLISHED_ACTIVE = [
    # "46.7B total parameters but only uses 12.9B parameters per token" (https://mistral.ai/news/mixtral-of-experts)
    ("mixtral-8x7b-v0.1", 12.9e9, True),
    # "14.3B parameters in total and 2.7B activated parameters" (https://huggingface.co/Qwen/Qwen1.5-MoE-A2.7B)
    ("qwen1.5-moe-a2.7b", 2.7e9, True),
    # "671B total parameters with 37B activated for each token" (arXiv 2412.19437, abstract)
    ("deepseek-v3", 37e9, True),
    # "17B active parameters ... 400B total" (https://huggingface.co/meta-llama/Llama-4-Maverick-17B-128E)
    ("llama-4-maverick-17b-128e-text", 17e9, True),
    # "30.5B in total and 3.3B activated" (https://huggingface.co/Qwen/Qwen3-30B-A3B)
    ("qwen3-30b-a3b", 3.3e9, True),
    # "6.6B active parameters" (https://huggingface.co/microsoft/Phi-3.5-MoE-instruct)
    ("phi-3.5-moe-instruct", 6.6e9, True),
    # "2.4B activated" (https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite): without the embedding
    ("deepseek-v2-lite", 2.4e9, False),
    # gpt-oss model card (arXiv 2508.10925, table 1): 5.1B / 3.6B active, embeddings excluded
    ("gpt-oss-120b", 5.1e9, False),
    ("gpt-oss-20b", 3.6e9, False),
]


@pytest.mark.parametrize(("name", "active", "with_embedding"), PUBLISHED_ACTIVE, ids=[p[0] for p in PUBLISHED_ACTIVE])
def test_active_parameters_match_published(name: str, active: float, with_embedding: bool) -> None:
    """Active parameters per token agree with the published figure to its rounding (within 3%)."""
    pb = param_breakdown(_arch(name))
    ours = pb.active if with_embedding else pb.active - pb.embedding
    assert ours == pytest.approx(active, rel=0.03), f"{name}: {ours / 1e9:.3f}B vs published {active / 1e9}B"


def test_maverick_interleaves_dense_and_moe_layers() -> None:
    """Llama-4 Maverick: 24 of 48 layers are MoE (odd ones); dense layers use the 16384-wide MLP."""
    a = _arch("llama-4-maverick-17b-128e-text")
    assert a.n_moe_layers == 24
    assert [a.is_moe_layer(i) for i in range(4)] == [False, True, False, True]
    assert moe_layers_in(a, 0, a.n_layers) == a.n_moe_layers
    assert moe_layers_in(a, 10, 21) == sum(a.is_moe_layer(i) for i in range(10, 21))


def test_qwen2_moe_shared_expert_gate_is_counted() -> None:
    """Qwen2-MoE's shared_expert_gate (Linear(h, 1)) is in the total, the active count and linear_shapes."""
    a = _arch("qwen1.5-moe-a2.7b")
    without = attrs.evolve(a, shared_expert_gate=False)
    h = a.hidden_size
    assert param_breakdown(a).total - param_breakdown(without).total == a.n_layers * h
    assert param_breakdown(a).active - param_breakdown(without).active == a.n_layers * h
    shapes = {s.name: s for s in lc.memory.params.linear_shapes(a)}
    assert shapes["shared_expert_gate"].out_features == 1


def _brute_moe_count(a: lc.Architecture, start: int, stop: int) -> int:
    return sum(a.is_moe_layer(i) for i in range(start, stop))


@pytest.mark.parametrize(
    ("step", "offset", "dense", "listed"),
    [(1, 0, 0, ()), (2, 1, 0, ()), (3, 0, 2, (6, 7)), (2, 0, 3, (4,)), (4, 3, 1, (1, 3, 11))],
)
def test_moe_layers_in_matches_a_layer_walk(step: int, offset: int, dense: int, listed: tuple[int, ...]) -> None:
    """moe_layers_in counts every sub-range exactly as walking is_moe_layer would."""
    a = attrs.evolve(
        _arch("mixtral-8x7b-v0.1"),
        n_layers=13,
        moe_layer_step=step,
        moe_layer_offset=offset,
        n_dense_layers=dense,
        dense_layer_ids=listed,
    )
    for start in range(14):
        for stop in range(start, 14):
            assert moe_layers_in(a, start, stop) == _brute_moe_count(a, start, stop), (start, stop)


# --- training runs over interleaved layers ----------------------------------------------------


def _per_layer_saved_sum(a: lc.Architecture, w: lc.FineTune) -> float:
    plan = training._plan(a, w)
    return sum(training._layer_saved(a, w, plan, i, a.is_moe_layer(i))[0] for i in range(a.n_layers))


@pytest.mark.parametrize(
    "w",
    [
        lc.FineTune(method="full", seq_len=256, mixed_precision=False),
        lc.FineTune(method="freeze", trainable_layers=3, seq_len=256),
        lc.FineTune(method="lora", lora_targets=("all-linear",), seq_len=256),
        lc.FineTune(method="lora", lora_targets=("q_proj", "v_proj"), seq_len=256),
    ],
    ids=["full", "freeze", "lora-all", "lora-qv"],
)
def test_layer_runs_equal_the_layer_by_layer_sum(w: lc.FineTune) -> None:
    """The run-grouped saved activations equal the sum over every single layer (interleaved MoE, listed dense)."""
    a = attrs.evolve(_arch("llama-4-maverick-17b-128e-text"), n_layers=9, dense_layer_ids=(5,))
    assert a.n_moe_layers == 3  # layers 1, 3, 7 (5 is listed dense)
    profile = training._layer_profile(a, w)
    assert profile[0] == pytest.approx(_per_layer_saved_sum(a, w), rel=1e-12)


def test_freeze_counts_the_last_layers_by_kind() -> None:
    """Freeze tuning of Maverick's last layer trains a MoE layer; of the last two, one of each kind."""
    from llmcatalog.memory.params import attention_params_per_layer, mlp_params_per_layer, norm_params

    a = _arch("llama-4-maverick-17b-128e-text")
    fixed = attention_params_per_layer(a) + a.norms_per_layer * norm_params(a)
    moe, dense = mlp_params_per_layer(a, 47)[0], mlp_params_per_layer(a, 46)[0]
    assert moe > 10 * dense  # 128 experts against one dense MLP
    one = lc.estimate_vram(a, lc.FineTune(method="freeze", trainable_layers=1, seq_len=64)).trainable_params
    two = lc.estimate_vram(a, lc.FineTune(method="freeze", trainable_layers=2, seq_len=64)).trainable_params
    assert one == fixed + moe
    assert two == 2 * fixed + moe + dense


def test_huge_layer_counts_stay_instant() -> None:
    """An interleaved MoE with 10**12 layers is estimated without walking the layers."""
    a = attrs.evolve(
        _arch("llama-4-maverick-17b-128e-text"),
        n_layers=10**12,
        hidden_size=8,
        n_heads=1,
        n_kv_heads=1,
        head_dim=8,
        ffn_size=8,
        expert_ffn_size=8,
        shared_expert_ffn_size=8,
        vocab_size=8,
        dense_layer_ids=(5, 9),
    )
    started = time.perf_counter()
    for method in ("full", "freeze", "lora"):
        lc.estimate_vram(a, lc.FineTune(method=method, lora_targets=("all-linear",), seq_len=64))
    lc.estimate_vram(a, lc.Inference(context_tokens=64))
    assert time.perf_counter() - started < 20.0  # a hang guard (per-layer work would not finish), not a target


def test_prefill_sees_the_wider_dense_layers() -> None:
    """Maverick's dense layers (16384 wide) dominate the MLP peak over its 8192-wide experts."""
    a = _arch("llama-4-maverick-17b-128e-text")
    from llmcatalog.memory.activations import prefill_bytes

    dense_only = attrs.evolve(a, n_experts=0, n_experts_per_token=None, expert_ffn_size=None, n_shared_experts=0)
    all_moe = attrs.evolve(a, moe_layer_step=1, moe_layer_offset=0)
    kw: dict[str, Any] = {"batch_size": 1, "tokens": 4096, "dtype": "bf16"}
    assert prefill_bytes(a, **kw) == prefill_bytes(dense_only, **kw)
    assert prefill_bytes(a, **kw) > prefill_bytes(all_moe, **kw)


# --- LoRA targets: family names and both expert layouts -----------------------------------------


def test_mixtral_experts_lora_count() -> None:
    """Mixtral-8x7B, r=64 on w1, w2, w3 as per-expert Linears (transformers 4): 905,969,664 parameters.

    32 layers x 8 experts x [w1: 64*(4096+14336) + w3: 64*(4096+14336) + w2: 64*(14336+4096)]
    (dims from the Mixtral config.json).
    """
    a = _arch("mixtral-8x7b-v0.1")
    expected = 32 * 8 * (64 * (4096 + 14336) * 2 + 64 * (14336 + 4096))
    assert expected == 905_969_664
    t4 = resolve_lora_targets(a, ("w1", "w2", "w3"), moe_layout="transformers-4")
    assert lora_params(a, t4, 64) == expected
    # transformers 5 fuses w1/w3 into gate_up_proj, which PEFT adapts at rank 2r:
    # 32*8*(128*(4096+2*14336) + 64*(14336+4096))
    t5 = resolve_lora_targets(a, ("w1", "w2", "w3"), moe_layout="transformers-5")
    assert lora_params(a, t5, 64) == 32 * 8 * (128 * (4096 + 2 * 14336) + 64 * (14336 + 4096))


def test_family_aware_w_names() -> None:
    """w2 is InternLM2's down projection, Qwen-1's gate half; Mixtral's w2 adapts the experts' down."""
    internlm2 = attrs.evolve(_arch("llama-2-7b"), family="internlm2")
    assert resolve_lora_targets(internlm2, ("w2",)) == {"down_proj"}
    assert resolve_lora_targets(internlm2, ("w1", "w3")) == {"gate_proj", "up_proj"}
    qwen = _arch("qwen-7b")
    assert resolve_lora_targets(qwen, ("w1", "w2")) == {"up_proj", "gate_proj"}
    mixtral = _arch("mixtral-8x7b-v0.1")
    assert resolve_lora_targets(mixtral, ("w2",), moe_layout="transformers-4") == {"experts.down_proj"}
    with pytest.raises(lc.WorkloadError, match="needs 'w3'"):
        resolve_lora_targets(mixtral, ("w1",), moe_layout="transformers-5")
    with pytest.raises(lc.WorkloadError, match="moe_layout"):
        resolve_lora_targets(mixtral, ("w1",), moe_layout="transformers-6")


def test_latent_attention_targets() -> None:
    """DeepSeek-V3 attention targets: q_a/q_b/kv_a/kv_b/o_proj; q_proj only without a query bottleneck."""
    a = _arch("deepseek-v3")
    names = ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj")
    assert resolve_lora_targets(a, names) == set(names)
    assert resolve_lora_targets(a, ("q_proj", "k_proj")) == set()
    lite = _arch("deepseek-v2-lite")
    assert resolve_lora_targets(lite, ("all-linear",)) >= {"q_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"}


# --- PEFT itself as the truth ---------------------------------------------------------------------

peft = pytest.importorskip("peft")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

#: Tiny configs of the MoE families transformers 5 builds (fused experts).
TINY: dict[str, dict[str, Any]] = {
    "mixtral": {"model_type": "mixtral", "intermediate_size": 24, "num_local_experts": 4, "num_experts_per_tok": 2},
    "qwen2_moe": {
        "model_type": "qwen2_moe",
        "intermediate_size": 40,
        "moe_intermediate_size": 24,
        "shared_expert_intermediate_size": 32,
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "decoder_sparse_step": 2,
    },
    "qwen3_moe": {
        "model_type": "qwen3_moe",
        "intermediate_size": 40,
        "moe_intermediate_size": 24,
        "num_experts": 4,
        "num_experts_per_tok": 2,
        "head_dim": 8,
        "mlp_only_layers": [2],
    },
    "deepseek_v3": {
        "model_type": "deepseek_v3",
        "intermediate_size": 40,
        "moe_intermediate_size": 24,
        "n_routed_experts": 4,
        "num_experts_per_tok": 2,
        "n_shared_experts": 1,
        "first_k_dense_replace": 1,
        "q_lora_rank": 8,
        "kv_lora_rank": 6,
        "qk_rope_head_dim": 4,
        "qk_nope_head_dim": 4,
        "v_head_dim": 4,
        "n_group": 1,
        "topk_group": 1,
    },
    "llama4_text": {
        "model_type": "llama4_text",
        "intermediate_size": 24,
        "intermediate_size_mlp": 40,
        "num_local_experts": 4,
        "num_experts_per_tok": 1,
        "interleave_moe_layer_step": 2,
        "head_dim": 8,
    },
    "phimoe": {"model_type": "phimoe", "intermediate_size": 24, "num_local_experts": 4, "num_experts_per_tok": 2},
}
COMMON = {
    "hidden_size": 16,
    "num_hidden_layers": 4,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "vocab_size": 50,
    "max_position_embeddings": 64,
}

#: (family, target_modules) pairs; a list is PEFT's target_modules, "experts" our target_parameters shorthand.
CASES = [
    ("mixtral", ("w1", "w2", "w3")),
    ("mixtral", ("all-linear",)),
    ("mixtral", ("q_proj", "v_proj", "w2")),
    ("mixtral", ("q_proj", "experts")),
    ("qwen2_moe", ("all-linear",)),
    ("qwen2_moe", ("gate_proj", "up_proj", "down_proj")),
    ("qwen2_moe", ("shared_expert_gate", "experts")),
    ("qwen3_moe", ("all-linear",)),
    ("qwen3_moe", ("q_proj", "gate_proj", "up_proj")),
    ("deepseek_v3", ("all-linear",)),
    ("deepseek_v3", ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj", "down_proj")),
    ("llama4_text", ("all-linear",)),
    ("llama4_text", ("gate_proj", "up_proj", "down_proj", "experts")),
    ("phimoe", ("all-linear",)),
]


def _quiet() -> Any:
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore")
    return ctx


@pytest.fixture(scope="module")
def tiny_models() -> dict[str, Any]:
    ctx = _quiet()
    try:
        out = {}
        for name, cfg in TINY.items():
            full = {**COMMON, **cfg}
            hf = transformers.AutoConfig.for_model(**full)
            out[name] = (full, transformers.AutoModelForCausalLM.from_config(hf))
        return out
    finally:
        ctx.__exit__(None, None, None)


def _peft_count(model: Any, targets: tuple[str, ...], rank: int) -> int:
    modules: Any = "all-linear" if targets == ("all-linear",) else [t for t in targets if t != "experts"]
    params = ["gate_up_proj", "down_proj"] if "experts" in targets else None
    ctx = _quiet()
    try:
        cfg = peft.LoraConfig(r=rank, target_modules=modules or None, target_parameters=params)
        wrapped = peft.get_peft_model(copy.deepcopy(model), cfg)
    finally:
        ctx.__exit__(None, None, None)
    return sum(p.numel() for p in wrapped.parameters() if p.requires_grad)


@pytest.mark.parametrize(("family", "targets"), CASES, ids=[f"{f}-{'+'.join(t)}" for f, t in CASES])
def test_lora_count_matches_peft_transformers5(
    tiny_models: dict[str, Any], family: str, targets: tuple[str, ...]
) -> None:
    """Our LoRA count on fused experts (transformers 5 layout) equals PEFT's trainable parameters."""
    cfg, model = tiny_models[family]
    arch = lc.architecture_from_hf_config(cfg)
    ours = lora_params(arch, resolve_lora_targets(arch, targets, moe_layout="transformers-5"), 4)
    assert ours == _peft_count(model, targets, 4), sorted(resolve_lora_targets(arch, targets))


def test_half_of_a_fused_pair_is_refused_like_peft(tiny_models: dict[str, Any]) -> None:
    """PEFT refuses w1 without w3 on transformers 5 Mixtral; so do we, with a typed error."""
    cfg, model = tiny_models["mixtral"]
    with pytest.raises(ValueError, match="without also targeting"):
        _peft_count(model, ("w1",), 4)
    with pytest.raises(lc.WorkloadError):
        resolve_lora_targets(lc.architecture_from_hf_config(cfg), ("w1",))


# transformers 4.x MoE blocks (separate expert Linears), rebuilt as plain modules with the 4.x
# attribute names (modeling_mixtral.py / modeling_qwen2_moe.py of transformers 4.46), so PEFT
# counts adapters on the very module tree a 4.x model has.


class _V4Expert(torch.nn.Module):
    def __init__(self, names: tuple[str, str, str], h: int, f: int) -> None:
        super().__init__()
        gate, up, down = names
        setattr(self, gate, torch.nn.Linear(h, f, bias=False))
        setattr(self, up, torch.nn.Linear(h, f, bias=False))
        setattr(self, down, torch.nn.Linear(f, h, bias=False))


class _V4Layer(torch.nn.Module):
    def __init__(self, arch: lc.Architecture, layer: int, names: tuple[str, str, str], block: str) -> None:
        super().__init__()
        h, q, kv = arch.hidden_size, arch.n_heads * arch.head_dim, arch.n_kv_heads * arch.head_dim
        attn = torch.nn.Module()
        for n, (i, o) in {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h)}.items():
            setattr(attn, n, torch.nn.Linear(i, o, bias=arch.qkv_bias and n != "o_proj"))
        self.self_attn = attn
        moe = torch.nn.Module()
        if arch.is_moe_layer(layer):
            assert arch.expert_ffn_size is not None
            moe.gate = torch.nn.Linear(h, arch.n_experts, bias=False)
            moe.experts = torch.nn.ModuleList(_V4Expert(names, h, arch.expert_ffn_size) for _ in range(arch.n_experts))
            if arch.n_shared_experts:
                moe.shared_expert = _V4Expert(names, h, arch.shared_expert_ffn_size or arch.expert_ffn_size)
            if arch.shared_expert_gate:
                moe.shared_expert_gate = torch.nn.Linear(h, 1, bias=False)
        else:
            moe = _V4Expert(names, h, arch.ffn_size)
        setattr(self, block, moe)


@pytest.mark.parametrize(
    ("family", "names", "block", "targets"),
    [
        ("mixtral", ("w1", "w3", "w2"), "block_sparse_moe", ("w1", "w2", "w3")),
        ("mixtral", ("w1", "w3", "w2"), "block_sparse_moe", ("all-linear",)),
        ("mixtral", ("w1", "w3", "w2"), "block_sparse_moe", ("q_proj", "w3", "gate")),
        ("qwen2_moe", ("gate_proj", "up_proj", "down_proj"), "mlp", ("all-linear",)),
        ("qwen2_moe", ("gate_proj", "up_proj", "down_proj"), "mlp", ("down_proj", "shared_expert_gate")),
    ],
)
def test_lora_count_matches_peft_transformers4(
    family: str, names: tuple[str, str, str], block: str, targets: tuple[str, ...]
) -> None:
    """Per-expert Linears (transformers 4 layout): our count equals PEFT's on the 4.x module tree."""
    arch = lc.architecture_from_hf_config({**COMMON, **TINY[family]})
    model = torch.nn.Module()
    model.layers = torch.nn.ModuleList(_V4Layer(arch, i, names, block) for i in range(arch.n_layers))
    # (no LM head: PEFT's all-linear finds a PreTrainedModel's output layer to leave out, a bare tree has none)
    for p in model.parameters():
        p.requires_grad_(False)
    modules: Any = "all-linear" if targets == ("all-linear",) else list(targets)
    ctx = _quiet()
    try:
        wrapped = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=modules))
    finally:
        ctx.__exit__(None, None, None)
    truth = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    ours = lora_params(arch, resolve_lora_targets(arch, targets, moe_layout="transformers-4"), 4)
    assert ours == truth
