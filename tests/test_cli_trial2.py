"""Second user trial of the command line and the speed APIs (stream clis)."""

from __future__ import annotations

import re

import pytest

from llmcatalog.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_tight_estimate_gives_a_speed_and_exits_like_plan(capsys) -> None:
    """A tight job can run: its speed is given and estimate exits 0, as plan does; exit 1 is for "does not fit"."""
    argv = ("gpt-oss-20b", "--gpu", "RTX 4090", "--context", "95300")
    code, out, _ = run(capsys, "estimate", *argv)
    assert "-> tight" in out
    assert "not estimated" not in out
    assert "tokens/s decode" in out
    plan_code, plan_out, _ = run(capsys, "plan", *argv)
    assert ": tight," in plan_out
    assert code == plan_code == 0
    json_code, _, _ = run(capsys, "estimate", *argv, "--format", "json")
    assert json_code == 0


@pytest.mark.parametrize("engine", ["llama.cpp", "ollama"])
def test_generic_speed_refuses_llamacpp_by_name(engine: str) -> None:
    """decode_speed/prefill_speed read bf16 weights; llama.cpp runs Q4_K_M: refused, naming llamacpp_decode_speed."""
    import llmcatalog as lc

    m, gpu, w = lc.get_model("qwen3-8b"), lc.get_gpu("H100"), lc.Inference(context_tokens=2048)
    for func in (lc.decode_speed, lc.prefill_speed, lc.generation_time):
        with pytest.raises(lc.WorkloadError, match="llamacpp_decode_speed"):
            func(m, gpu, w, engine=engine)
    assert lc.llamacpp_decode_speed(m, gpu, w).tokens_per_s > 0  # the way it names works


def test_speed_and_time_of_a_job_that_does_not_fit_warn() -> None:
    """A 70B full fine-tune needs over a TiB per GPU (weights + grads + AdamW states alone: 70e9 x 16 bytes),
    far above a 24 GB RTX 4090: the figure is still returned, with a NoFitWarning naming both memories."""
    import warnings

    import llmcatalog as lc

    big, gpu = lc.get_model("llama-3.1-70b"), lc.get_gpu("RTX 4090")
    with pytest.warns(lc.NoFitWarning, match=r"GiB per GPU.*RTX 4090 allocates") as caught:
        t = lc.training_time(big, gpu, lc.FineTune(method="full"), tokens=1e6)
    assert t.step_s > 0
    needed = float(re.search(r"needs ([\d.]+) GiB", str(caught[0].message)).group(1))
    assert needed > 70e9 * 16 / 2**30  # at least the mixed-precision AdamW state (Rajbhandari et al. 2020)
    w = lc.Inference(context_tokens=4096, prompt_tokens=1024)
    for func in (lc.decode_speed, lc.prefill_speed, lc.generation_time):
        with pytest.warns(lc.NoFitWarning, match="does not fit"):
            func(big, gpu, w)
    with warnings.catch_warnings():  # a job that fits is not warned of
        warnings.simplefilter("error", lc.NoFitWarning)
        lc.decode_speed(lc.get_model("qwen3-0.6b"), gpu, w)


def test_litgpt_labels_and_methods() -> None:
    """litgpt runs its own generate script and its own chunked cross-entropy (Lightning-AI/litgpt litgpt/utils.py
    chunked_cross_entropy, chunk_size=128), and has no freeze / P-Tuning v2 / prefix-tuning script
    (litgpt/finetune/ holds full, lora, adapter, adapter_v2)."""
    import llmcatalog as lc

    m = lc.get_model("microsoft/phi-1_5")
    inf = lc.estimate_vram(m, lc.Inference(precision="bnb-nf4", framework="litgpt"))
    assert not any("transformers generate()" in a for a in inf.assumptions)
    assert any(a.startswith("engine: litgpt") for a in inf.assumptions)
    full = lc.estimate_vram(m, lc.FineTune.for_framework("litgpt", method="full"))
    (loss,) = [a for a in full.assumptions if a.startswith("loss:")]
    assert "chunked_cross_entropy" in loss
    assert "approximated" in loss
    for method in ("p-tuning-v2", "prefix-tuning", "freeze"):
        with pytest.raises(lc.WorkloadError, match="litgpt"):
            lc.FineTune.for_framework("litgpt", method=method)
    for method in ("full", "lora", "qlora", "llama-adapter"):
        lc.FineTune.for_framework("litgpt", method=method)


def test_framework_without_finetune_means_inference(capsys) -> None:
    """--framework litgpt alone is litgpt inference (so --precision bnb-nf4 applies); a fine-tuning-only preset
    without --finetune says to add --finetune METHOD, never "drop --finetune"."""
    code, out, err = run(capsys, "estimate", "microsoft/phi-1_5", "--framework", "litgpt", "--precision", "bnb-nf4")
    assert code == 0, err
    assert "inference" in out.splitlines()[0]
    assert "fine-tune" not in out
    assert "engine: litgpt" in out
    code, out, err = run(capsys, "estimate", "qwen3-8b", "--framework", "llama-factory")
    assert code == 2
    assert "--finetune METHOD" in err
    assert "drop --finetune" not in err
    code, out, _ = run(capsys, "estimate", "qwen3-8b", "--framework", "llama-factory", "--finetune", "lora")
    assert code == 0
    assert "fine-tune (lora)" in out


def test_llamacpp_says_precision_was_not_used(capsys) -> None:
    """llama.cpp runs GGUF quants: --precision awq-int4 is not what it runs; the note names the quant used."""
    code, _out, err = run(capsys, "estimate", "qwen3-8b", "--engine", "llama.cpp", "--precision", "awq-int4")
    assert code == 0
    assert "--precision awq-int4 was not used" in err
    assert "Q4_K_M" in err
    code, _, err = run(capsys, "estimate", "qwen3-8b", "--engine", "llama.cpp", "--quant", "Q8_0")
    assert "note" not in err  # nothing to say when --precision was not given


def test_gguf_repo_points_to_llamacpp(capsys) -> None:
    """A Hub -GGUF repository holds llama.cpp files: the transformers estimate says so and names --engine llama.cpp."""
    _, _, err = run(capsys, "estimate", "bartowski/Qwen2.5-7B-Instruct-GGUF", "--gpu", "RTX 3060 12GB")
    assert "GGUF repository" in err
    assert "--engine llama.cpp --quant Q4_K_M" in err
    _code, _out, err = run(capsys, "estimate", "qwen2.5-7b-instruct")
    assert "GGUF" not in err


def test_figures_search_and_lineage_words(capsys) -> None:
    """figures with none says so and exits 1 (like search with no match); an empty or blank search is a
    QueryError (exit 2) like "(((("; the lineage advice is worded for the command line, not Python."""
    import llmcatalog as lc

    with_figures = next(m for m, _ in lc.catalog().figures())
    without = next(m for m in lc.catalog().models if m.id != with_figures.id and not m.figures)
    code, out, _ = run(capsys, "figures", without.id)
    assert code == 1
    assert "no published figures" in out
    code, out, _ = run(capsys, "figures", with_figures.id)
    assert code == 0
    assert with_figures.id in out
    for blank in ("", "  "):
        code, out, err = run(capsys, "search", blank)
        assert code == 2
        assert "empty" in err
    assert run(capsys, "search", "((((")[0] == 2
    code, _, err = run(capsys, "estimate", "mentalbart")
    assert code == 2
    assert "get_model()" not in err
    assert "llmcatalog estimate" in err
