"""A fresh user's trial of the CLI and the public API (GPU names, speed notes, doc claims, dir(), fit columns)."""

from __future__ import annotations

import pytest

from llmcatalog.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_geforce_name_is_not_read_as_an_sxm_module(capsys) -> None:
    """`--gpu 'RTX 3060'`: the SXM wording is for data-centre modules; the 3060 Ti is another card."""
    _, out, _ = run(capsys, "estimate", "llama-2-7b", "--gpu", "RTX 3060")
    line = next(x for x in out.splitlines() if "read as" in x)
    assert "SXM" not in line
    assert "rtx-3060-ti" not in line
    assert "RTX 3060 12GB" in line
    _, out, _ = run(capsys, "estimate", "llama-2-7b", "--gpu", "A100")
    assert "a bare name is the SXM module" in out


def test_no_bf16_gpu_speed_note_names_the_cli_option(capsys) -> None:
    """A T4 has no bf16 figure: the CLI says --compute fp16, not the Python API's attrs.evolve advice (QLoRA:
    a job that fits, since a job that does not fit gets no speed line at all)."""
    _, out, _ = run(capsys, "estimate", "llama-2-7b", "--finetune", "qlora", "--gpu", "T4")
    note = next(x for x in out.splitlines() if "speed" in x)
    assert "attrs.evolve" not in note
    assert "--compute fp16" in note
    _, out, _ = run(capsys, "estimate", "llama-2-7b", "--finetune", "qlora", "--gpu", "T4", "--compute", "fp16")
    assert "training tokens/s" in out


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_fit_column_is_free_memory_not_headroom(capsys, fmt: str) -> None:
    """`fit`'s column is allocatable minus required ("free GiB"); "headroom" is the 5% margin elsewhere."""
    _, out, _ = run(capsys, "fit", "--gpu", "RTX 4090", "--domain", "medical", "--format", fmt)
    assert "free GiB" in out
    assert "headroom GiB" not in out


def test_speed_doc_claim_matches_the_cli(capsys) -> None:
    """docs/planning.md: QLoRA of Llama-2-70B fits an A100 80GB (the recipe checkpoints); without
    checkpointing the CLI names the cheapest remedy."""
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "planning.md").read_text(encoding="utf-8")
    line = next(x for x in doc.splitlines() if x.startswith("llmcatalog estimate llama-2-70b --finetune qlora --gpu"))
    assert "fits" in line
    assert "tight" not in line
    code, out, _ = run(capsys, "estimate", "llama-2-70b", "--finetune", "qlora", "--gpu", "A100 80GB")
    assert code == 0
    assert "-> fits" in out
    code, out, _ = run(
        capsys, "estimate", "llama-2-70b", "--finetune", "qlora", "--no-gradient-checkpointing", "--gpu", "A100 80GB"
    )
    assert code == 1
    assert "cheapest remedy" in out


def test_dir_lists_the_lazy_names() -> None:
    """dir(llmcatalog) shows the names loaded on first use (PEP 562 __dir__), before any of them is used."""
    import subprocess
    import sys

    code = (
        "import llmcatalog, sys; d = dir(llmcatalog); "
        "names = ['estimate_vram', 'fits', 'check', 'recommend', 'min_gpus', 'training_time', 'catalog', "
        "'DEEPSPEED_PRESETS']; "
        "missing = [n for n in names + list(llmcatalog.__all__) if n not in d]; "
        "print(missing); sys.exit(1 if missing else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
