"""API and input problems a fresh user trial found: each test fails on the code before its fix."""

from __future__ import annotations

import warnings

import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main


def _ds(optimizer: str, **params: object) -> lc.DeepSpeedWorkloadWarning:
    block: dict[str, object] = {"type": optimizer}
    if params:
        block["params"] = params
    config = {"optimizer": block, "zero_optimization": {"stage": 2}}
    with pytest.warns(lc.DeepSpeedWorkloadWarning) as caught:
        lc.Parallelism.from_deepspeed_config(config, data_parallel=2)
    found = [w.message for w in caught if isinstance(w.message, lc.DeepSpeedWorkloadWarning)]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize(
    ("optimizer", "params", "field"),
    [
        # DeepSpeed docs "Optimizer Parameters": Adam/AdamW run as FusedAdam (DeepSpeedCPUAdam offloaded);
        # other types come from torch.optim by name (deepspeed/runtime/engine.py _configure_basic_optimizer).
        ("AdamW", {}, "adamw"),
        ("Adam", {}, "adamw"),
        ("SGD", {}, "sgd"),
        ("SGD", {"momentum": 0.9}, "sgd-momentum"),
        ("Lamb", {}, "adamw"),  # FusedLamb: exp_avg and exp_avg_sq, as AdamW
        ("Lion", {}, "lion"),
    ],
)
def test_deepspeed_optimizer_names_the_finetune_optimizer(
    optimizer: str, params: dict[str, object], field: str
) -> None:
    """A DeepSpeed config's optimizer section warns which FineTune optimizer has its state bytes."""
    w = _ds(optimizer, **params)
    assert f"optimizer='{field}'" in str(w)
    assert ("optimizer.type", "optimizer", field) == (w.notes[-1][0][:14], w.notes[-1][1], w.notes[-1][2])


@pytest.mark.parametrize("optimizer", ["OneBitAdam", "ZeroOneAdam", "OneBitLamb"])
def test_deepspeed_compressed_optimizers_say_not_modelled(optimizer: str) -> None:
    """1-bit Adam / 0/1 Adam / 1-bit LAMB keep error-feedback buffers: said to be not modelled."""
    assert "not modelled" in str(_ds(optimizer))


def test_deepspeed_unknown_optimizer_names_the_known_ones() -> None:
    """An optimizer type nobody knows warns, naming the known types."""
    text = str(_ds("Bogus"))
    assert "'Bogus'" in text
    assert "OneBitAdam" in text
    assert "SGD" in text


def test_cli_deepspeed_warning_names_cli_flags(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    """Shown by the CLI, the workload warning names --batch / --optimizer, not FineTune(...)."""
    import json
    from pathlib import Path

    path = Path(str(tmp_path)) / "ds.json"
    path.write_text(
        json.dumps(
            {"train_micro_batch_size_per_gpu": 4, "optimizer": {"type": "SGD"}, "zero_optimization": {"stage": 2}}
        )
    )
    rc = main(["estimate", "llama-3.1-8b", "--finetune", "full", "--deepspeed-config", str(path), "--dp", "2"])
    err = capsys.readouterr().err
    assert rc == 0
    assert "--batch 4" in err
    assert "--optimizer sgd" in err
    assert "FineTune(" not in err


@pytest.mark.parametrize("name", ["Hugging Face Trainer", "hf", "HF Trainer", "huggingface"])
def test_framework_aliases(name: str) -> None:
    """README's "the HF Trainer" and its short names are the transformers profile."""
    assert lc.FineTune.for_framework(name, method="lora") == lc.FineTune.for_framework("transformers", method="lora")


@pytest.mark.parametrize("name", ["LLaMAFactory-Z3", "llamafactory_z3", "LlamaFactory Z3"])
def test_deepspeed_preset_names_ignore_case_and_separators(name: str) -> None:
    """DeepSpeed preset names match ignoring case and separators."""
    expected = lc.Parallelism.from_deepspeed_config("llamafactory-z3", data_parallel=2)
    assert lc.Parallelism.from_deepspeed_config(name, data_parallel=2) == expected


def test_from_fsdp_takes_fsdp_version() -> None:
    """from_fsdp(fsdp_version=2) as the field and docs spell it; version= still works; both disagreeing raise."""
    assert lc.Parallelism.from_fsdp(data_parallel=2, fsdp_version=2).fsdp_version == 2
    assert lc.Parallelism.from_fsdp(data_parallel=2, version=2).fsdp_version == 2
    assert lc.Parallelism.from_fsdp(data_parallel=2).fsdp_version == 1
    with pytest.raises(lc.WorkloadError, match="fsdp_version"):
        lc.Parallelism.from_fsdp(data_parallel=2, fsdp_version=2, version=1)


def test_nothing_warns_without_workload_keys() -> None:
    """A config with only zero_optimization warns nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lc.Parallelism.from_deepspeed_config({"zero_optimization": {"stage": 2}})


@pytest.mark.parametrize(("method", "field"), [("lora", "base_format"), ("p-tuning-v2", "base_format")])
@pytest.mark.parametrize("fmt", ["int4", "int8"])
def test_chatglm_builtin_formats_refused_elsewhere(method: str, field: str, fmt: str) -> None:
    """ChatGLM's built-in int8/int4 (its remote code's quantization.py) is refused on Llama, naming
    the formats that apply; a ChatGLM model takes it."""
    w = lc.FineTune(method=method, **{field: fmt})
    with pytest.raises(lc.WorkloadError, match=r"ChatGLM's built-in.*bnb-nf4.*gptq-int4.*awq-int4"):
        lc.estimate_vram("llama-3.1-8b", w)
    assert lc.estimate_vram("chatglm2-6b", w).total_bytes > 0


def test_lora_target_of_another_family_warns() -> None:
    """`wqkv` (InternLM2's fused q/k/v Linear) on Llama is mapped to q/k/v with a typed warning naming them;
    on InternLM2 itself it is silent."""
    w = lc.FineTune(method="lora", lora_targets=("q_proj", "wqkv"), lora_rank=13)  # a rank no other test uses
    with pytest.warns(lc.LoraTargetWarning, match=r"'wqkv'.*llama.*q_proj, v_proj|'wqkv'.*k_proj, q_proj, v_proj"):
        lc.estimate_vram("llama-3.1-8b", w)
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.LoraTargetWarning)
        lc.estimate_vram("internlm2-chat-7b", lc.FineTune(method="lora", lora_targets=("wqkv",)))
        lc.estimate_vram("llama-3.1-8b", lc.FineTune(method="lora", lora_targets=("q_proj", "v_proj")))


def test_gate_proj_on_a_plain_mlp_warns_dropped() -> None:
    """gate_proj on a non-gated MLP (GPT-NeoX) is dropped, and a warning says so."""
    model = next(m for m in lc.catalog().models if m.architecture and m.architecture.mlp != "gated")
    with pytest.warns(lc.LoraTargetWarning, match="gate_proj.*dropped"):
        lc.estimate_vram(model, lc.FineTune(method="lora", lora_targets=("q_proj", "gate_proj"), lora_rank=13))


def test_sweep_skips_unknown_model_names() -> None:
    """sweep(errors="skip") records an unknown model name in ``skipped`` (one per workload) and goes on;
    errors="raise" still raises UnknownModelError."""
    workloads = [lc.Inference(context_tokens=1024), lc.Inference(context_tokens=2048)]
    s = lc.sweep(["llama-3.1-8b", "nonexistent-x"], "RTX 4090", workloads, errors="skip")
    assert len(s) == 2
    assert {r.model.id for r in s} == {"llama-3.1-8b"}
    assert [e.model for e in s.skipped] == ["nonexistent-x", "nonexistent-x"]
    assert all("nonexistent-x" in e.error for e in s.skipped)
    with pytest.raises(lc.UnknownModelError):
        lc.sweep(["llama-3.1-8b", "nonexistent-x"], "RTX 4090", workloads)


def test_unknown_model_type_says_so_and_names_the_keys() -> None:
    """A config of a model_type llmcatalog has no reader for, missing standard keys, says the model_type
    is unknown and which keys it needs (not only "num_attention_heads missing")."""
    cfg = {"model_type": "totally_new_arch", "hidden_size": 64, "num_hidden_layers": 2}
    with pytest.raises(lc.CatalogDataError, match=r"'totally_new_arch' is unknown.*lacks num_attention_heads, "):
        lc.architecture_from_hf_config(cfg)


def test_token_bound_message_agrees_with_the_bound() -> None:
    """MAX_TOKENS (2**32) is accepted, 2**32 + 1 refused, and the message says the bound is the largest
    value accepted; a bound that is no power of two is not written as one."""
    from llmcatalog.values import workload as wl

    assert lc.FineTune(seq_len=wl.MAX_TOKENS).seq_len == 2**32
    with pytest.raises(lc.WorkloadError, match=r"above the bound of 4,294,967,296 \(2\*\*32\), the largest value"):
        lc.FineTune(seq_len=wl.MAX_TOKENS + 1)
    import attrs

    @attrs.frozen
    class _Odd:
        n: int = attrs.field(validator=wl._int_in(1, 1000))

    with pytest.raises(lc.WorkloadError, match=r"bound of 1,000, the largest") as info:
        _Odd(1001)
    assert "2**" not in str(info.value)


def test_count_params_and_models_that_fit_take_names() -> None:
    """count_params takes a catalog name or Model (their architecture); models_that_fit a GPU name;
    llamacpp_decode_speed and compare_figure a GPU name."""
    arch = lc.get_model("llama-3.1-8b").architecture
    assert arch is not None
    assert lc.count_params("llama-3.1-8b") == lc.count_params(arch) == lc.count_params(lc.get_model("llama-3.1-8b"))
    gpu = lc.get_gpu("RTX 3060 12GB")
    named = lc.models_that_fit("RTX 3060 12GB", lc.Inference())
    assert [f.model.id for f in named] == [f.model.id for f in lc.models_that_fit(gpu, lc.Inference())]
    with pytest.raises(TypeError, match="count_params takes"):
        lc.count_params(3)


def test_every_public_face_taking_a_model_or_gpu_takes_names() -> None:
    """Every public function with a Model/Architecture/GPU parameter either says it takes str or is
    wrapped by the name-accepting layer of llmcatalog/__init__.py (README: names work everywhere)."""
    import inspect

    missing = []
    for name in lc.__all__:
        obj = getattr(lc, name)
        if not inspect.isfunction(obj):
            continue
        for p in list(inspect.signature(obj).parameters.values())[:3]:
            ann = str(p.annotation)
            named = any(t in ann for t in ("Model", "Architecture", "GPU"))
            if named and "str" not in ann and not hasattr(obj, "__wrapped__"):
                missing.append(f"{name}({p.name})")
    assert not missing, missing


@pytest.mark.parametrize("query", ["((((", ".*", "[", "+?"])
def test_search_without_word_characters_is_refused(query: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A query with no letters or digits is a QueryError (the CLI: rc 2 and a message), not the whole catalog."""
    with pytest.raises(lc.QueryError, match="no letters or digits"):
        lc.search(query)
    assert main(["search", query]) == 2
    assert "no letters or digits" in capsys.readouterr().err


def test_search_text_is_matched_literally() -> None:
    """A punctuation word next to a real one is text to find, not a pattern nor an empty match."""
    assert lc.search("llama ((((") == ()
    assert lc.search("llama")


def test_cli_search_suggests_close_names(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt name that matches nothing gets get_model's did-you-mean suggestions."""
    assert main(["search", "Qwen3-8b-instrcut"]) == 1
    out = capsys.readouterr().out
    assert "nothing matches" in out
    assert "Did you mean" in out
    assert "qwen3-8b" in out
