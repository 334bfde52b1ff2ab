"""The llmcatalog command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from llmcatalog.cli.main import main, table


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_estimate_inference_on_a_gpu(capsys) -> None:
    """The README's main job: a known model on a known GPU, breakdown and verdict."""
    code, out, _ = run(capsys, "estimate", "Llama-2-7b", "--gpu", "RTX 4090")
    assert code == 0
    assert "weights.model" in out
    assert "12.55" in out
    assert "fits" in out


def test_estimate_that_does_not_fit_suggests_gpus(capsys) -> None:
    """Exit 1 when it does not fit, with the fewest GPUs that would."""
    code, out, _ = run(capsys, "estimate", "llama-2-70b", "--gpu", "A100 80GB", "--context", "1024")
    assert code == 1
    assert "does NOT fit" in out
    assert "fewest NVIDIA A100 SXM4 80GB that fit: 2" in out


def test_estimate_finetune(capsys) -> None:
    """Fine-tuning from the command line, with parallelism flags."""
    code, out, _ = run(
        capsys,
        "estimate",
        "chatglm3-6b",
        "--finetune",
        "lora",
        "--seq-len",
        "384",
        "--lora-targets",
        "query_key_value",
        "--compute",
        "fp16",
    )
    assert code == 0
    assert "activations.saved" in out
    assert "fine-tune (lora)" in out
    code, out, _ = run(
        capsys,
        "estimate",
        "llama-2-7b",
        "--finetune",
        "full",
        "--zero",
        "3",
        "--dp",
        "8",
        "--gradient-checkpointing",
        "--json",
    )
    data = json.loads(out)
    assert data["n_gpus"] == 8
    assert data["components"]["optimizer.master_weights"] > 0


def test_estimate_json(capsys) -> None:
    """--json gives machine-readable output with the fit verdict."""
    code, out, _ = run(capsys, "estimate", "qwen-7b-chat", "--precision", "gptq-int4", "--gpu", "T4", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["fits"] is True
    assert data["model"] == "qwen-7b-chat"


def test_bad_input_exits_2(capsys) -> None:
    """Unknown names and bad values: a clear message on stderr, exit status 2."""
    code, _, err = run(capsys, "estimate", "Lama-2-7b")
    assert code == 2
    assert "Did you mean" in err
    assert "llama-2-7b" in err
    code, _, err = run(capsys, "estimate", "llama-2-7b", "--batch", "0")
    assert code == 2
    assert "batch_size must be a positive integer" in err
    code, _, err = run(capsys, "estimate", "gpt-4")
    assert code == 2
    assert "closed weights" in err
    with pytest.raises(SystemExit) as info:
        main(["estimate", "llama-2-7b", "--precision", "int3"])
    assert info.value.code == 2


def test_list_search_show_lineage(capsys) -> None:
    """Listing, searching (Chinese names too), showing and lineage."""
    code, out, _ = run(capsys, "list", "models", "--domain", "medical", "--language", "zh")
    assert code == 0
    assert "model(s)" in out
    assert "medical" in out
    code, out, _ = run(capsys, "list", "gpus")
    assert "rtx-4090" in out
    code, out, _ = run(capsys, "list", "domains")
    assert "public-opinion" in out
    code, out, _ = run(capsys, "search", "本草")
    assert code == 0
    assert "bentsao" in out
    code, out, _ = run(capsys, "search", "zzzz-no-such")
    assert code == 1
    code, out, _ = run(capsys, "show", "华佗")
    assert "built on" in out
    assert "baichuan" in out
    code, out, _ = run(capsys, "show", "H100 SXM")
    assert "3350" in out or "HBM3" in out
    code, out, _ = run(capsys, "show", "DeepKE")
    assert "knowledge" in out.lower()
    code, out, _ = run(capsys, "lineage", "llama-7b")
    assert "built upon by" in out
    assert "bentsao" in out
    code, out, _ = run(capsys, "figures", "chatglm3-6b")
    assert "48346" in out


def test_list_json(capsys) -> None:
    """list models --json is valid JSON."""
    code, out, _ = run(capsys, "list", "models", "--domain", "legal", "--json")
    assert code == 0
    rows = json.loads(out)
    assert rows
    assert all(r["domain"] == "legal" for r in rows)


def test_validate(capsys, tmp_path) -> None:
    """validate reports OK for good files and the error path for bad ones."""
    good = tmp_path / "good.toml"
    good.write_text('[[models]]\nid = "x"\nname = "X"\ndomain = "d"\nsources = ["https://example.org"]\n')
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[models]]\nid = "x"\nname = "X"\ndomain = "d"\nsources = ["https://example.org"]\nn_params = "7B"\n'
    )
    code, out, err = run(capsys, "validate", str(good), str(bad))
    assert code == 2
    assert "good.toml: OK (1 models)" in out
    assert "models[0].n_params: expected an integer" in err


def test_plugins(capsys) -> None:
    """plugins lists the built-in entry points."""
    code, out, _ = run(capsys, "plugins")
    assert code == 0
    assert "built-in" in out
    assert "medical" in out


def test_table_handles_cjk() -> None:
    """Columns line up with Chinese text (two columns per character)."""
    lines = table(["name", "n"], [["本草", 1], ["BenTsao", 22]], right=(1,)).splitlines()
    assert len({len(line.encode("gbk", "ignore")) for line in lines[2:]}) == 1


def test_console_script() -> None:
    """The installed entry point runs."""
    out = subprocess.run(
        [sys.executable, "-m", "llmcatalog", "show", "phi-2"], capture_output=True, text=True, check=True
    ).stdout
    assert "2,779,683,840" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["estimate", "llama-2-7b", "--finetune", "full", "--lora-rank", "8"],
        ["estimate", "llama-2-7b", "--finetune", "lora", "--trainable-layers", "4"],
        ["estimate", "llama-2-7b", "--finetune", "freeze", "--prefix-tokens", "64"],
        ["estimate", "llama-2-7b", "--lora-targets", "q_proj"],
        ["estimate", "llama-2-7b", "--finetune", "lora", "--context", "4096"],
    ],
)
def test_options_the_workload_would_ignore_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """An option the chosen method or workload does not read is an error naming it, not silently ignored."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert next(a for a in argv if a.startswith("--") and a != "--finetune") in err
