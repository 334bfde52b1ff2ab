"""The fine-tuning options of `llmcatalog estimate` added for issue 10: recipes, frameworks, PEFT settings."""

from __future__ import annotations

import pytest

from llmcatalog.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_qlora_70b_follows_its_recipe_and_fits(capsys) -> None:
    """Issue 10's new-user case: QLoRA of Llama-2-70B on one A100 80GB fits with QLoRA's checkpointing."""
    code, out, _ = run(capsys, "estimate", "llama-2-70b", "--finetune", "qlora", "--gpu", "A100 80GB")
    assert code == 0
    assert "gradient checkpointing on (the method's recipe)" in out
    assert "-> fits" in out
    code, out, _ = run(
        capsys, "estimate", "llama-2-70b", "--finetune", "qlora", "--no-gradient-checkpointing", "--gpu", "A100 80GB"
    )
    assert "does NOT fit" in out


def test_framework_profile_and_given_options(capsys) -> None:
    """--framework starts from the tool's defaults; an option given on the command line wins. (A fine-tuning
    preset needs --finetune: without it --framework means inference, tests/test_cli_trial2.py.)"""
    code, out, _ = run(capsys, "estimate", "llama-2-7b", "--finetune", "lora", "--framework", "llama-factory")
    assert code == 0
    assert "framework profile: llama-factory" in out
    assert "gradient checkpointing on" in out
    assert "all-linear" not in out
    assert "gate_proj" in out
    code, out, _ = run(
        capsys, "estimate", "llama-2-7b", "--finetune", "lora", "--framework", "llama-factory",
        "--no-gradient-checkpointing",
    )  # fmt: skip
    assert "gradient checkpointing off" in out


def test_peft_options(capsys) -> None:
    """--dora, --modules-to-save, --loop and --loss reach the workload (its assumptions say so)."""
    code, out, _ = run(
        capsys,
        "estimate",
        "llama-2-7b",
        "--finetune",
        "lora",
        "--dora",
        "--modules-to-save",
        "lm_head",
        "--loop",
        "plain",
        "--loss",
        "chunked-output",
    )
    assert code == 0
    assert "DoRA r=8" in out
    assert "modules_to_save): lm_head" in out
    assert "plain loop" in out
    assert "torchtune" in out


def test_dora_with_another_method_is_refused(capsys) -> None:
    """--dora with --finetune full is a usage error naming the option."""
    code, _, err = run(capsys, "estimate", "llama-2-7b", "--finetune", "full", "--dora")
    assert code != 0
    assert "--dora" in err


def test_framework_version_4_gives_the_transformers_4_moe_layout(capsys) -> None:
    """--framework-version 4 lays MoE experts out as transformers 4 did (one Linear per expert): the CLI's own
    --moe-layout default must not override the profile; a given --moe-layout still wins."""
    argv = ["estimate", "qwen3-30b-a3b", "--finetune", "lora", "--lora-targets", "all-linear"]
    code, out, _ = run(capsys, *argv, "--framework", "transformers", "--framework-version", "4")
    assert code == 0
    assert "fused_experts" not in out
    code, v5, _ = run(capsys, *argv, "--framework", "transformers", "--framework-version", "4", "--moe-layout",
                      "transformers-5")  # fmt: skip
    assert "fused_experts" in v5
    code, out457, _ = run(capsys, *argv, "--framework", "Transformers", "--framework-version", "4.57")
    assert code == 0
    assert "fused_experts" not in out457


def test_gpu_memory_takes_g_as_gib(capsys) -> None:
    """--gpu-memory 24G is 24 GiB (like a bare 24 and 24GiB); 24GB stays 24*10**9 bytes."""
    from llmcatalog.cli.main import _memory_size

    assert _memory_size("24G") == _memory_size("24GiB") == _memory_size("24") == 24 * 2**30
    assert _memory_size("16000M") == 16000 * 2**20
    assert _memory_size("24GB") == 24 * 10**9
    code, out, _ = run(capsys, "estimate", "llama-2-7b", "--gpu-memory", "24G")
    assert code == 0
    assert "24.00 GiB" in out


def test_no_sharding_says_more_gpus_cannot_help(capsys) -> None:
    """Full fine-tuning without ZeRO/FSDP: every data-parallel rank holds the whole job, so the answer is
    not "not even 1024 GPUs" but that more GPUs cannot help as configured."""
    code, out, _ = run(capsys, "estimate", "qwen2.5-7b", "--finetune", "full", "--gpu", "RTX 4090")
    assert code == 1
    assert "not even 1024" not in out
    assert "more data-parallel GPUs cannot help: without --zero or --fsdp each GPU holds a whole copy" in out


def test_fewer_gpus_than_asked_is_worded_as_such(capsys) -> None:
    """A 2-GPU LoRA run that does not fit where one GPU would (no NCCL buffers on a single GPU)."""
    code, out, _ = run(
        capsys, "estimate", "llama-3.1-8b", "--finetune", "lora", "--dp", "2", "--seq-len", "1024", "--gpu", "RTX 4090"
    )
    assert code == 1
    assert "fewest NVIDIA GeForce RTX 4090 that fit: 1" not in out
    assert "1 NVIDIA GeForce RTX 4090 would fit where your 2 do not: a single GPU needs no NCCL" in out
    assert "shards 0.0 GiB" not in out  # a ZeRO hint that would shard almost nothing is left out


def test_qlora_base_format_hint_is_in_cli_terms(capsys) -> None:
    """--finetune qlora --base-format X: the error names the CLI options, and --qlora-format exists."""
    code, _, err = run(capsys, "estimate", "llama-2-7b", "--finetune", "qlora", "--base-format", "gptq-int4")
    assert code != 0
    assert "--qlora-format gptq-int4" in err
    code, out, _ = run(capsys, "estimate", "llama-2-7b", "--finetune", "qlora", "--qlora-format", "gptq-int4")
    assert code == 0
    assert "gptq-int4" in out
    code, _, err = run(capsys, "estimate", "llama-2-7b", "--finetune", "lora", "--qlora-format", "gptq-int4")
    assert "--finetune qlora only" in err


def test_inference_hints_are_applicable(capsys) -> None:
    """Mixtral in 4-bit GPTQ on a 4090: the weights alone are above the fit limit, so neither a shorter
    context nor "a 4-bit --precision" (it is 4-bit already) is offered."""
    for argv in (["mixtral-8x7b", "--precision", "gptq-int4"], ["TheBloke/Mixtral-8x7B-Instruct-v0.1-GPTQ"]):
        code, out, _ = run(capsys, "estimate", *argv, "--gpu", "RTX 4090")
        assert code == 1
        assert "does NOT fit" in out
        assert "4-bit --precision" not in out
        assert "shorter --context" not in out
    code, out, _ = run(capsys, "estimate", "llama-2-13b", "--gpu", "RTX 4090")  # bf16 weights: 4-bit helps
    assert "try a 4-bit --precision" in out


def test_precision_under_finetune_names_only_what_was_given(capsys) -> None:
    """--precision under --finetune: the error points at the fine-tune's format and dtype options, and says
    nothing of the length unless a length option (--context/--prompt) was given."""
    code, _, err = run(capsys, "estimate", "llama-2-7b", "--finetune", "lora", "--precision", "bf16")
    assert code != 0
    assert "--seq-len" not in err
    assert "--compute" in err
    code, _, err = run(capsys, "estimate", "llama-2-7b", "--finetune", "lora", "--context", "4096")
    assert "a fine-tune's length is --seq-len" in err
