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
    """--framework starts from the tool's defaults; an option given on the command line wins."""
    code, out, _ = run(capsys, "estimate", "llama-2-7b", "--framework", "llama-factory")
    assert code == 0
    assert "framework profile: llama-factory" in out
    assert "gradient checkpointing on" in out
    assert "all-linear" not in out
    assert "gate_proj" in out
    code, out, _ = run(capsys, "estimate", "llama-2-7b", "--framework", "llama-factory", "--no-gradient-checkpointing")
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
