"""What the third fresh-eyes trial found confusing: an ambiguous GPU called "unknown", and --gpu-memory 24GB
silently read as 22.35 GiB."""

from __future__ import annotations

import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main


@pytest.mark.parametrize(("typed", "member"), [("M2 Ultra", "apple-m2-ultra-192gb"), ("A100 PCIe", "a100-pcie-80gb")])
def test_an_ambiguous_gpu_name_says_so(typed: str, member: str, catalog: lc.Catalog) -> None:
    with pytest.raises(lc.AmbiguousGPUError) as info:
        catalog.get_gpu(typed)
    assert isinstance(info.value, lc.UnknownGPUError)  # callers catching the old error still do
    assert member in info.value.suggestions
    assert "fits" in str(info.value)
    assert "unknown" not in str(info.value)
    size = member.rsplit("-", 1)[1].upper()  # the example names a memory size one of them has
    assert any(f"{typed} {s.rsplit('-', 1)[1].upper()}'" in str(info.value) for s in info.value.suggestions)
    assert size in str(info.value).upper()


def test_a_name_no_gpu_has_is_still_unknown(catalog: lc.Catalog) -> None:
    with pytest.raises(lc.UnknownGPUError) as info:
        catalog.get_gpu("Voodoo 5 6000")
    assert not isinstance(info.value, lc.AmbiguousGPUError)


def test_decimal_gpu_memory_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "qwen2.5-7b", "--gpu-memory", "24GB"]) == 0
    err = capsys.readouterr().err
    assert "22.35 GiB" in err
    assert "24GiB" in err
    assert main(["estimate", "qwen2.5-7b", "--gpu-memory", "24GiB"]) == 0
    assert "note" not in capsys.readouterr().err


def test_zero2_names_what_overlap_comm_would_change(capsys: pytest.CaptureFixture[str]) -> None:
    """Qwen1.5-7B full SFT, ZeRO-2 on 8 x A100-40GB, 1 x 512 (LLaMA-Factory issue 4133: OOM with overlap_comm on):
    --zero 2 alone takes DeepSpeed's default (off) and fits; the output says that with it on it does not."""
    args = ["estimate", "Qwen1.5-7B", "--finetune", "full", "--zero", "2", "--dp", "8", "--gpu", "A100 40GB"]
    assert main([*args, "--batch", "1", "--seq-len", "512"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "overlap_comm on" in x)
    assert "does NOT fit" in line
    w = lc.FineTune(
        method="full",
        batch_size=1,
        seq_len=512,
        parallelism=lc.Parallelism(data_parallel=8, zero_stage=2, overlap_comm=True),
    )
    assert not lc.fits("Qwen1.5-7B", "A100 40GB", w)
    assert f"{lc.estimate_vram('Qwen1.5-7B', w).total_bytes / 2**30:.2f} GiB" in line


def test_a_shorter_context_remedy_stays_within_the_trained_context(capsys: pytest.CaptureFixture[str]) -> None:
    """Llama-3.1-8B at 1M tokens on an H100: the remedy is its trained 131,072 (config max_position_embeddings),
    not the 232,721 that would merely fit in memory."""
    main(["estimate", "llama-3.1-8b", "--context", "1000000", "--gpu", "H100"])
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "cheapest remedy" in x)
    arch = lc.get_model("llama-3.1-8b").architecture
    assert arch is not None
    assert f"--context {arch.max_context}" in line


def test_sweep_tables_show_the_verdict_not_a_yes_no() -> None:
    """A tight row runs (and has a speed) but is not "fits": the table says "tight", not "no"."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = lc.sweep(["phi-3-mini-4k-instruct"], ["RTX 3060 12GB"], [lc.Inference(batch_size=b) for b in (1, 4)])
    verdicts = [r.verdict for r in rows]
    lines = rows.to_markdown().splitlines()
    assert "| verdict |" in lines[0]
    for line, verdict in zip(lines[2:], verdicts, strict=True):
        assert f"| {verdict} |" in line


def test_uncounted_encoders_are_said() -> None:
    """BioMedGPT-10B lists a GIN molecule encoder and an ESM-2 3B protein encoder without sizes and no
    total: the estimate (its language model only) warns that it is low, and says so in its assumptions."""
    with pytest.warns(lc.UncountedPartsWarning, match="ESM-2 3B"):
        est = lc.estimate_vram("biomedgpt-10b", lc.Inference())
    assert any(a.startswith("not counted:") for a in est.assumptions)
    model = lc.get_model("biomedgpt-10b")
    assert model.architecture is not None
    assert est.n_params == lc.count_params(model.architecture)  # the language model alone


def test_a_model_with_every_part_sized_does_not_warn() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.UncountedPartsWarning)
        lc.estimate_vram("qwen2.5-vl-7b-instruct", lc.Inference())


def test_show_reports_an_ambiguous_gpu_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "M2 Ultra"]) == 2
    err = capsys.readouterr().err
    assert "apple-m2-ultra-192gb" in err
    assert "unknown model" not in err


def test_an_unknown_gpu_does_not_point_to_the_model_search(catalog: lc.Catalog) -> None:
    with pytest.raises(lc.UnknownGPUError) as info:
        catalog.get_gpu("Voodoo 5 6000")
    assert "search()" not in str(info.value)
    assert "llmcatalog list gpus" in str(info.value)
