"""Fine-tuning defaults that follow the common recipe, framework profiles, and the PEFT settings of
issue 10 (quantized bases, paged optimizers, the plain loop) against published figures."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.values.frameworks import FRAMEWORKS
from llmcatalog.values.workload import METHODS

pytestmark = pytest.mark.filterwarnings("ignore::llmcatalog.ContextLengthWarning")

LLAMA2_7B = lc.Architecture(
    family="llama", n_layers=32, hidden_size=4096, n_heads=32, ffn_size=11008, vocab_size=32000, max_context=4096
)
LLAMA2_70B = lc.Architecture(
    family="llama",
    n_layers=80,
    hidden_size=8192,
    n_heads=64,
    n_kv_heads=8,
    ffn_size=28672,
    vocab_size=32000,
    max_context=4096,
)
CONFIGS = Path(__file__).parent / "data" / "hf_configs"


# -- the method's recipe --------------------------------------------------------------------
@pytest.mark.parametrize("base", ["bnb-nf4", "bnb-nf4-dq", "gptq-int4", "awq-int4", "bnb-int8"])
def test_peft_on_a_kbit_base_checkpoints_by_default(base: str) -> None:
    """PEFT's prepare_model_for_kbit_training(use_gradient_checkpointing=True) and the QLoRA scripts
    (artidoro/qlora qlora.py: gradient_checkpointing=True) turn checkpointing on: so does the default."""
    assert lc.FineTune(method="qlora", qlora_format=base).checkpointing
    assert lc.FineTune(method="lora", base_format=base).checkpointing
    assert lc.FineTune(method="p-tuning-v2", base_format=base).checkpointing


@pytest.mark.parametrize("method", ["full", "freeze", "lora", "p-tuning-v2", "prefix-tuning", "llama-adapter"])
def test_other_methods_follow_the_trainer_default(method: str) -> None:
    """Without a 4/8-bit base the HF Trainer default holds: no checkpointing (and ChatGLM's own int8 neither)."""
    assert not lc.FineTune(method=method).checkpointing
    assert not lc.FineTune(method="p-tuning-v2", base_format="int8").checkpointing


@given(method=st.sampled_from(["full", "lora", "qlora", "p-tuning-v2"]), gc=st.booleans())
def test_an_explicit_setting_always_wins(method: str, gc: bool) -> None:
    """gradient_checkpointing given is what the estimate uses, whatever the recipe."""
    w = lc.FineTune(method=method, gradient_checkpointing=gc)
    assert w.checkpointing is gc
    assert lc.FineTune.for_framework("llama-factory", method=method, gradient_checkpointing=gc).checkpointing is gc


def test_qlora_70b_fits_one_a100_80gb_with_its_recipe() -> None:
    """Issue 10: QLoRA of Llama-2-70B on one A100 80GB. Without checkpointing the step needs more
    than 80 GiB; with it (QLoRA's recipe, now the default) about 40 GiB (QLoRA paper, arXiv 2305.14314:
    65B models finetune on one 48 GB GPU with checkpointing)."""
    default = lc.estimate_vram(LLAMA2_70B, lc.FineTune(method="qlora"))
    off = lc.estimate_vram(LLAMA2_70B, lc.FineTune(method="qlora", gradient_checkpointing=False))
    assert off.total_bytes > 80 * 2**30
    assert default.total_bytes < 48 * 2**30
    assert "the method's recipe" in " ".join(default.assumptions)


# -- framework profiles --------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_every_profile_builds_and_cites_its_source(name: str) -> None:
    """Each profile (every version) makes a valid FineTune for every method and names a source with a version."""
    for prof in FRAMEWORKS[name]:
        assert prof.source
        assert prof.version
        for method in METHODS:
            if method in prof.refuses:
                with pytest.raises(lc.WorkloadError, match=f"cannot run method={method!r}"):
                    lc.FineTune.for_framework(name, prof.version, method=method)
                continue
            w = lc.FineTune.for_framework(name, prof.version, method=method)
            assert (w.framework, w.framework_version, w.method) == (name, prof.version, method)
            assert lc.estimate_vram(LLAMA2_7B, attrs.evolve(w, seq_len=256)).total_bytes > 0


def test_profiles_say_what_the_tools_do() -> None:
    """A few defaults read from the tools' sources (values/frameworks.py names files and commits)."""
    lf = lc.FineTune.for_framework("llama-factory")
    assert (lf.method, lf.checkpointing, lf.lora_targets, lf.lora_alpha) == ("lora", True, ("all-linear",), 16)
    trl = lc.FineTune.for_framework("trl")
    assert trl.checkpointing
    assert trl.loss == "chunked-tokens"
    assert lc.FineTune.for_framework("trl", "0.22").loss == "full-logits"
    assert not lc.FineTune.for_framework("trl", "0.21").checkpointing
    assert lc.FineTune.for_framework("transformers", "4").moe_layout == "transformers-4"
    assert lc.FineTune.for_framework("transformers").optimizer_impl == "fused"
    tt = lc.FineTune.for_framework("torchtune", method="lora")
    assert (tt.mixed_precision, tt.loss) == (False, "chunked-output")
    un = lc.FineTune.for_framework("unsloth")
    assert (un.method, un.offload_checkpoints, un.loss) == ("qlora", True, "fused-linear")
    assert lc.FineTune.for_framework("litgpt", method="lora").frozen_precision == "fp32"


def test_profile_errors_name_the_choices() -> None:
    """Unknown tools and versions raise WorkloadError listing what exists."""
    with pytest.raises(lc.WorkloadError, match="llama-factory"):
        lc.FineTune.for_framework("llama-fact")
    with pytest.raises(lc.WorkloadError, match=r"\['1.7', '0.22', '0.21'\]"):
        lc.FineTune.for_framework("trl", "0.1")
    with pytest.raises(lc.WorkloadError, match="needs framework"):
        lc.FineTune(framework_version="0.22")


def test_what_the_profiles_change_moves_the_estimate() -> None:
    """Checkpointing, chunked losses and offloaded checkpoints each lower the estimate of the same step."""
    base = lc.FineTune(method="lora", seq_len=4096, batch_size=2, gradient_checkpointing=False)
    qwen = attrs.evolve(LLAMA2_7B, vocab_size=152064)
    plain = lc.estimate_vram(qwen, base).total_bytes
    for change in (
        {"gradient_checkpointing": True},
        {"loss": "chunked-output"},
        {"loss": "chunked-tokens"},
        {"loss": "fused-linear"},
    ):
        assert lc.estimate_vram(qwen, attrs.evolve(base, **change)).total_bytes < plain, change
    ckpt = attrs.evolve(base, gradient_checkpointing=True)
    assert (
        lc.estimate_vram(qwen, attrs.evolve(ckpt, offload_checkpoints=True)).total_bytes
        < lc.estimate_vram(qwen, ckpt).total_bytes
    )


# -- settings -------------------------------------------------------------------------------
def test_invalid_peft_settings_say_how_to_fix() -> None:
    """Combinations PEFT cannot run raise WorkloadError naming the field."""
    with pytest.raises(lc.WorkloadError, match="dora"):
        lc.FineTune(method="full", dora=True)
    with pytest.raises(lc.WorkloadError, match="base_format"):
        lc.FineTune(method="full", base_format="bnb-int8")
    with pytest.raises(lc.WorkloadError, match="qlora_format"):
        lc.FineTune(method="qlora", base_format="bnb-int8")
    with pytest.raises(lc.WorkloadError, match="modules_to_save"):
        lc.FineTune(method="lora", modules_to_save="q_proj")
    with pytest.raises(lc.WorkloadError, match="precision='fp32'"):
        lc.FineTune(method="full", autocast=False)
    with pytest.raises(lc.WorkloadError, match="offload_checkpoints"):
        lc.FineTune(offload_checkpoints=True, gradient_checkpointing=False)
    with pytest.raises(lc.WorkloadError, match="copies_precision"):
        lc.FineTune(method="lora", copies_precision="bf16")  # no modules_to_save copies to keep in bf16
    assert lc.FineTune(method="lora", modules_to_save="wte,lm_head").modules_to_save == ("embed_tokens", "lm_head")


def test_paged_states_sit_outside_torch_allocator() -> None:
    """bitsandbytes pages the states of tensors with >= 1e5 elements: a LoRA r=8 matrix on a 4096-wide
    model (32,768 elements) stays in torch's allocator, full fine-tuning's matrices are paged."""
    small = lc.estimate_vram(LLAMA2_7B, lc.FineTune(method="lora", optimizer="paged-adamw-32bit", seq_len=256))
    assert small.components["optimizer.paged_states"] == 0
    big = lc.estimate_vram(LLAMA2_7B, lc.FineTune(method="lora", lora_rank=64, optimizer="paged-adamw-32bit"))
    assert big.components["optimizer.paged_states"] > 0
    assert big.components["optimizer.states"] == 0
    full = lc.estimate_vram(
        LLAMA2_7B, lc.FineTune(method="full", optimizer="paged-adamw-8bit", mixed_precision=False, seq_len=256)
    )
    assert full.components["optimizer.paged_states"] > 0.99 * 2 * 6.7e9


def test_plain_loop_keeps_the_outputs() -> None:
    """The plain loop adds the previous step's logits, and its KV cache unless checkpointing turned it off."""
    w = lc.FineTune(method="lora", seq_len=2048, batch_size=4, gradient_checkpointing=False)
    tokens, e = 4 * 2048, 2
    trainer = lc.estimate_vram(LLAMA2_7B, w)
    plain = lc.estimate_vram(LLAMA2_7B, attrs.evolve(w, loop="plain"))
    cache = tokens * 32 * 2 * 4096 * e
    assert plain.components["activations.kept_outputs"] == tokens * 32000 * e + cache
    assert plain.total_bytes > trainer.total_bytes
    ckpt = lc.estimate_vram(LLAMA2_7B, attrs.evolve(w, loop="plain", gradient_checkpointing=True))
    assert ckpt.components["activations.kept_outputs"] == tokens * 32000 * e


# -- published figures (provenance in the docstrings) ---------------------------------------
def _open_llama_3b() -> lc.Model:
    cfg = json.loads((CONFIGS / "open_llama_3b_v2.json").read_text())
    return lc.Model.from_hf_config(cfg, name="open_llama_3b_v2")


#: axolotl-ai-cloud/axolotl pull request 602 (2023-09-19, commit 674c576), "more sane defaults for
#: openllama 3b used for quickstarts": the author reports the VRAM each example config used on one GPU
#: (rounded, in GB): LoRA on an 8-bit base 7 GB, QLoRA 4.5 GB. The configs at that commit
#: (examples/openllama-3b/lora.yml, qlora.yml): openlm-research/open_llama_3b_v2, fp16 AMP, micro batch 2,
#: sequence_len 1024 with sample packing, gradient checkpointing, flash attention, LoRA r=8 on the seven
#: projections (lora: alpha 16, dropout 0, load_in_8bit, adamw_bnb_8bit; qlora: alpha 32, dropout 0.05,
#: lora_target_linear, NF4 without double quantization, paged_adamw_32bit). requirements.txt at that commit:
#: bitsandbytes>=0.41.1 (MatMul8bitLt of the 0.39-0.44 releases).
AXOLOTL_OPENLLAMA = {
    "lora-8bit": (
        7.0,
        {
            "qlora_format": "bnb-int8",
            "optimizer": "adamw-8bit",
            "lora_dropout": 0.0,
            "bitsandbytes_version": "0.39-0.44",
        },
    ),
    "qlora-nf4": (4.5, {"qlora_format": "bnb-nf4", "optimizer": "paged-adamw-32bit", "lora_dropout": 0.05}),
}


@pytest.mark.parametrize("case", list(AXOLOTL_OPENLLAMA))
def test_axolotl_openllama_quickstart(case: str) -> None:
    """The axolotl quickstart figures, with axolotl's own handling (embeddings and norms converted back to
    fp16 for flash attention, so upcast_non_quantized=False): QLoRA within 8% (measured -6%); LoRA on
    LLM.int8 within 21% (measured -20%). bitsandbytes 0.41's MatMul8bitLt tensors (the int8 input copy per
    Linear, the int8 and int32 forward buffers, the quantized gradient, the tiled weight's int8 copy in
    backward; memory/bnb_int8.py) are modelled but, under checkpointing at 2 x 1024 tokens, stay below the
    loss's 12 V bytes per token, so the estimate hardly moves: about 1 GiB more than the QLoRA case misses is
    not explained (candidates: the data-dependent outlier columns, subA / state.subB; docs/finetuning-methods.md).
    A rounded one-line report, so not a tight target."""
    figure, settings = AXOLOTL_OPENLLAMA[case]
    w = lc.FineTune.for_framework(
        "axolotl",
        method="qlora",
        precision="fp16",
        batch_size=2,
        seq_len=1024,
        gradient_checkpointing=True,
        attention="flash",
        lora_rank=8,
        lora_targets="all-linear",
        **settings,
    )
    est = lc.estimate_vram(_open_llama_3b(), w)
    error = est.total_bytes / (figure * 1e9) - 1
    assert abs(error) <= (0.08 if case == "qlora-nf4" else 0.21), f"{error:+.1%}"


# -- properties -----------------------------------------------------------------------------
peft_settings = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["lora", "qlora", "p-tuning-v2", "llama-adapter"]),
        "dora": st.booleans(),
        "modules_to_save": st.sampled_from([(), ("lm_head",), ("embed_tokens", "lm_head")]),
        "lora_targets": st.sampled_from([("q_proj", "v_proj"), ("all-linear",), ("q_proj", "lm_head", "embed_tokens")]),
        "autocast": st.sampled_from([None, True, False]),
        "frozen_precision": st.sampled_from([None, "fp32"]),
        "loop": st.sampled_from(["trainer", "plain"]),
        "loss": st.sampled_from(["full-logits", "chunked-output", "chunked-tokens", "fused-linear"]),
        "optimizer": st.sampled_from(["adamw", "adamw-8bit", "paged-adamw-8bit", "paged-adamw-32bit"]),
        "gradient_checkpointing": st.sampled_from([None, True, False]),
        "seq_len": st.integers(1, 8192),
        "batch_size": st.integers(1, 8),
        "lora_dropout": st.sampled_from([0.0, 0.1]),
    }
)


@given(settings=peft_settings, base=st.sampled_from([None, "bnb-int8", "gptq-int4", "int4"]))
def test_any_peft_combination_estimates_or_says_why(settings: dict, base: str | None) -> None:
    """Every combination either builds and estimates (parts non-negative, summing to the total) or
    raises WorkloadError; plain-loop and DoRA additions never lower the estimate."""
    if base is not None and settings["method"] != "qlora":
        settings = {**settings, "base_format": base}
    try:
        w = lc.FineTune(**settings)
        est = lc.estimate_vram(LLAMA2_7B, w)
    except lc.WorkloadError:
        return
    assert all(v >= 0 for v in est.components.values())
    assert sum(est.components.values()) == est.total_bytes
    if w.loop == "plain":
        assert est.total_bytes >= lc.estimate_vram(LLAMA2_7B, attrs.evolve(w, loop="trainer")).total_bytes
    if w.dora:
        assert est.total_bytes >= lc.estimate_vram(LLAMA2_7B, attrs.evolve(w, dora=False)).total_bytes


def test_trainer_profiles_leave_checkpointing_to_the_method() -> None:
    """The HF Trainer does not turn checkpointing off: a QLoRA script's prepare_model_for_kbit_training
    (PEFT, use_gradient_checkpointing=True by default) turns it on, so the transformers profiles follow the
    method's recipe; axolotl passes its own config value (default False) to that call, so it stays off."""
    for version in ("5", "4"):
        assert lc.FineTune.for_framework("transformers", version, method="qlora").checkpointing
        assert not lc.FineTune.for_framework("transformers", version, method="lora").checkpointing
        assert lc.FineTune.for_framework("transformers", version, method="qlora").checkpointing == (
            lc.FineTune(method="qlora").checkpointing
        )
    assert not lc.FineTune.for_framework("axolotl", method="qlora").checkpointing


def test_deepspeed_chat_refuses_qlora() -> None:
    """DeepSpeed-Chat has no quantized base (its step-1 script loads the model in --dtype)."""
    with pytest.raises(lc.WorkloadError, match=r"deepspeed-chat.*qlora.*method='lora'"):
        lc.FineTune.for_framework("deepspeed-chat", method="qlora")
    with pytest.raises(lc.WorkloadError, match="cannot run"):
        lc.FineTune(method="qlora", framework="deepspeed-chat")
    assert lc.FineTune.for_framework("deepspeed-chat", method="lora").method == "lora"


def test_unsloth_targets_every_projection() -> None:
    """unsloth's get_peft_model defaults to all seven projections of a Llama block (unslothai/unsloth@015bdef
    unsloth/models/llama.py), as its README and notebooks write them out."""
    un = lc.FineTune.for_framework("unsloth")
    assert set(un.lora_targets) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.mark.parametrize("name", ["LLaMA-Factory", "llama_factory", "LlamaFactory", "llama factory"])
def test_framework_names_ignore_case_and_separators(name: str) -> None:
    assert lc.FineTune.for_framework(name).framework == "llama-factory"
    assert lc.FineTune(method="lora", framework=name).framework == "llama-factory"


@pytest.mark.parametrize(
    ("name", "version", "profile"),
    [("transformers", "4.57", "4"), ("transformers", "4.57.1", "4"), ("transformers", "5.0", "5"),
     ("transformers", "5.24", "5"), ("trl", "0.23", "0.22"), ("trl", "0.22.2", "0.22"), ("trl", "1.8", "1.7")],
)  # fmt: skip
def test_framework_version_takes_any_release(name: str, version: str, profile: str) -> None:
    """A release maps to the newest profile at or before it (each profile is a release whose defaults changed)."""
    assert lc.FineTune.for_framework(name, version).framework_version == profile
    with pytest.raises(lc.WorkloadError, match="profiles are"):
        lc.FineTune.for_framework("transformers", "3.36")


@pytest.mark.parametrize(
    ("given", "regime"), [("2.5", ">=2.1"), ("2.1", ">=2.1"), ("2.13.0", ">=2.1"), ("2.5.1+cu121", ">=2.1"),
                          ("2.0", "2.0"), ("2.0.1", "2.0"), (">=2.1", ">=2.1")],
)  # fmt: skip
def test_torch_version_takes_any_release(given: str, regime: str) -> None:
    assert lc.Parallelism(torch_version=given).torch_version == regime
    with pytest.raises(lc.WorkloadError, match="torch_version"):
        lc.Parallelism(torch_version="1.13")
