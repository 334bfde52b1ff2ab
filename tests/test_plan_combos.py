"""Planning after a user trial: remedies that keep the user's method (sharding, offload, checkpointing,
8-bit optimizer, fused loss, micro-batch) are searched in combination and listed before LoRA/QLoRA, which
are labelled as method changes; the CLI's hints say the memory they lead to; a --gpu-memory card reads
well; min_gpus says why it answers None.

Every verdict a test relies on is re-checked with :func:`llmcatalog.check` on the remedy's own workload,
so a remedy listed as fitting that does not fit, or a hint whose figure is not the estimate, fails here.
"""

from __future__ import annotations

import re
import warnings

import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main

# The trial's two jobs: (model, GPU, workload, GPUs the user has).
LLAMA31 = (
    "llama-3.1-70b",
    "H100",
    lc.FineTune(method="full", parallelism=lc.Parallelism(data_parallel=8, zero_stage=3, offload_params=True)),
    8,
)
ZERO3_ON_H100 = ("llama-3.1-70b", "--finetune", "full", "--zero", "3", "--dp", "8", "--gpu", "H100")
LLAMA2 = ("llama-2-70b", "A100 80GB", lc.FineTune(method="full"), 8)


def _is_zero3_offload_checkpointed(w: lc.FineTune | lc.Inference) -> bool:
    p = w.parallelism
    return (
        isinstance(w, lc.FineTune)
        and w.method == "full"
        and w.checkpointing
        and p.zero_stage == 3
        and p.offload_optimizer
        and p.data_parallel == 8
    )


@pytest.mark.parametrize("job", [LLAMA31, LLAMA2], ids=["llama-3.1-70b-offload-params", "llama-2-70b-plain"])
def test_zero3_optimizer_offload_checkpointing_is_offered_before_lora(job: tuple) -> None:  # type: ignore[type-arg]
    """Full fine-tuning of a 70B on 8 x 80 GB: ZeRO-3 + optimizer offload + checkpointing fits (checked
    again here) and is listed before any LoRA/QLoRA; every remedy that fits keeping the method comes
    before every one that changes it, and each method change is labelled so."""
    name, gpu_name, w, n = job
    m, g = lc.get_model(name), lc.get_gpu(gpu_name)
    assert not lc.fits(m, g, w)
    ranked = lc.recommend(m, g, w, n_gpus=n)
    combo = [i for i, r in enumerate(ranked) if _is_zero3_offload_checkpointed(r.workload) and r.fits]
    assert combo, [r.options for r in ranked]
    assert lc.fits(m, g, ranked[combo[0]].workload)
    assert "--offload-optimizer" in ranked[combo[0]].options
    assert "--gradient-checkpointing" in ranked[combo[0]].options
    first_change = min(i for i, r in enumerate(ranked) if r.changes)
    assert combo[0] < first_change
    assert ranked[0].fits
    assert not ranked[0].changes
    for r in ranked:
        assert isinstance(r.workload, lc.FineTune)
        assert lc.check(m, g, r.workload).verdict == r.check.verdict
        assert (r.workload.method != "full") == (r.changes == "method")
        assert r.description.startswith("changes the method: ") == bool(r.changes)
        if name == "llama-3.1-70b":  # the user's own settings stay: params remain offloaded
            assert r.workload.parallelism.offload_params
    fitting = [r for r in ranked if r.fits]
    kinds = [bool(r.changes) for r in fitting]
    assert kinds == sorted(kinds), "a remedy that keeps the method ranked after a method change"


def test_combinations_are_minimal() -> None:
    """A listed combination never contains a remedy that fits on its own (it would be a detour)."""
    name, gpu_name, w, n = LLAMA2
    ranked = lc.recommend(lc.get_model(name), lc.get_gpu(gpu_name), w, n_gpus=n)
    alone = {r.name for r in ranked if r.fits and "+" not in r.name}
    assert alone
    for r in ranked:
        if "+" in r.name:
            assert not set(r.name.split("+")) & alone, r.name


def test_optimizer_offload_is_offered_on_top_of_param_offload() -> None:
    """Parameters already on the CPU: offloading the optimizer states too is a remedy (it was never offered)."""
    name, gpu_name, w, n = LLAMA31
    m, g = lc.get_model(name), lc.get_gpu(gpu_name)
    single = [r for r in lc.recommend(m, g, w, n_gpus=n) if r.name == "offload-optimizer"]
    assert len(single) == 1
    p = single[0].workload.parallelism
    assert p.offload_optimizer
    assert p.offload_params
    assert p.zero_stage == 3
    assert single[0].saved_bytes > 0


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_cli_plan_lists_the_method_keeping_combination_first(capsys: pytest.CaptureFixture[str]) -> None:
    """`plan`: the row with ZeRO-3 + optimizer offload + checkpointing that fits comes before the LoRA rows."""
    for argv in (
        ("llama-3.1-70b", "--finetune", "full", "--zero", "3", "--dp", "8", "--offload-params", "--gpu", "H100"),
        ("llama-2-70b", "--finetune", "full", "--gpu", "A100 80GB"),
    ):
        code, out = run(capsys, "plan", *argv, "--gpus", "8")
        assert code == 1
        rows = [line for line in out.splitlines() if re.match(r"\s*\d+\s", line)]
        combo = next(
            i
            for i, line in enumerate(rows)
            if "--zero 3" in line and "--offload-optimizer" in line and "--gradient-checkpointing" in line
        )
        assert rows[combo].rstrip().endswith("fits")
        lora = next(i for i, line in enumerate(rows) if "changes the method: " in line)
        assert combo < lora


def test_cli_estimate_names_the_cheapest_keeping_remedy_then_the_method_change(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After "does NOT fit": the cheapest remedy that keeps full fine-tuning, then separately the cheapest
    method change; each GiB figure is the estimate of that remedy's workload (checked with recommend)."""
    code, out = run(capsys, "estimate", *ZERO3_ON_H100)
    assert code == 1
    keep = next(line for line in out.splitlines() if "cheapest remedy that fits on 8 such GPU(s):" in line)
    change = next(line for line in out.splitlines() if "cheapest method change that fits on 8 such GPU(s):" in line)
    assert "LoRA" not in keep
    assert "--finetune" not in keep
    assert "--finetune lora" in change or "--finetune qlora" in change
    assert out.index(keep) < out.index(change)
    m, g = lc.get_model("llama-3.1-70b"), lc.get_gpu("H100")
    w = lc.FineTune(parallelism=lc.Parallelism(data_parallel=8, zero_stage=3))
    ranked = lc.recommend(m, g, w)
    first_keep = next(r for r in ranked if r.fits and not r.changes)
    assert f"{first_keep.check.required_bytes / 2**30:.2f} GiB)" in keep
    assert lc.fits(m, g, first_keep.workload)


def _hint_figure(line: str) -> tuple[float, str]:
    found = re.search(r"([0-9.]+) GiB per GPU: (fits|tight|does not fit)\)", line)
    assert found, line
    return float(found.group(1)), found.group(2)


@pytest.mark.filterwarnings("ignore::llmcatalog.ContextLengthWarning")  # llama-2-7b at 16k: past its 4k on purpose
def test_hints_state_the_memory_they_lead_to(capsys: pytest.CaptureFixture[str]) -> None:
    """Each "try" line says the memory per GPU it leads to and its verdict, and they agree with the
    estimate of the changed workload (the 4-bit hint's figure is the 4-bit estimate, not today's weights)."""
    m, g = lc.get_model("llama-3.1-70b"), lc.get_gpu("H100")
    code, out = run(capsys, "estimate", "llama-3.1-70b", "--gpu", "H100")
    assert code == 1
    hint = next(line for line in out.splitlines() if "try a 4-bit --precision" in line)
    gib, verdict = _hint_figure(hint)
    four_bit = lc.check(m, g, lc.Inference(precision="awq-int4"))
    assert gib == pytest.approx(four_bit.required_bytes / 2**30, abs=0.006)
    assert verdict == four_bit.verdict
    weights_now = lc.estimate_vram(m, lc.Inference()).weights_bytes / 2**30
    assert f"weights now {weights_now:.1f} GiB" in hint
    assert gib < weights_now  # the figure is where 4-bit leads, not the current weights
    code, out = run(capsys, "estimate", *ZERO3_ON_H100)
    tries = [line for line in out.splitlines() if line.strip().startswith("try ")]
    assert tries
    for line in tries:
        _hint_figure(line)
    ckpt = next(line for line in tries if "--gradient-checkpointing" in line)
    w = lc.FineTune(parallelism=lc.Parallelism(data_parallel=8, zero_stage=3), gradient_checkpointing=True)
    assert _hint_figure(ckpt)[0] == pytest.approx(lc.check(m, g, w).required_bytes / 2**30, abs=0.006)
    # The KV-cache hint names the longest context that fits, and that context fits (and one more token does not).
    code, out = run(
        capsys, "estimate", "llama-2-7b", "--gpu", "RTX 4090", "--context", "16384", "--batch", "4", "--prompt", "256"
    )
    kv = next(line for line in out.splitlines() if "try a shorter --context" in line)
    n = int(re.search(r"--context (\d+):", kv).group(1))  # type: ignore[union-attr]
    m7, g4090 = lc.get_model("llama-2-7b"), lc.get_gpu("RTX 4090")
    assert _hint_figure(kv)[1] == "fits"
    assert lc.fits(m7, g4090, lc.Inference(context_tokens=n, batch_size=4, prompt_tokens=256))
    assert not lc.fits(m7, g4090, lc.Inference(context_tokens=n + 1, batch_size=4, prompt_tokens=256))


@pytest.mark.parametrize(
    "argv",
    [
        ("estimate", "qwen3-8b", "--gpu-memory", "12"),
        ("estimate", "qwen3-8b", "--gpu-memory", "12", "--context", "32768"),
        ("plan", "qwen3-8b", "--gpu-memory", "12"),
        ("fit", "--gpu-memory", "12GiB", "--gpus", "2"),
    ],
)
def test_custom_gpu_is_named_grammatically(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    """A --gpu-memory card is "custom 12.00 GiB GPU" wherever named: never "the a ..", "fewest a ..", "2x a .."."""
    _, out = run(capsys, *argv)
    assert "custom 12.00 GiB GPU" in out
    assert not re.search(r"\b(the|fewest|of|for|\dx) a \d", out), out


def test_min_gpus_says_why_it_answers_none() -> None:
    """None comes with a NoFitWarning naming the memory per GPU at the most GPUs tried (the estimate at
    that count) and the GPU's limit; a count that fits comes without one."""
    m, t4 = lc.get_model("llama-2-70b"), lc.get_gpu("T4")
    with pytest.warns(lc.NoFitWarning, match="GiB per GPU") as caught:
        assert lc.min_gpus(m, t4, lc.Inference(), max_gpus=2) is None
    at_two = lc.estimate_vram(m, lc.Inference(parallelism=lc.Parallelism(pipeline_parallel=2))).total_bytes
    assert f"{at_two / 2**30:.2f} GiB per GPU" in str(caught[0].message)
    assert caught[0].filename == __file__  # points at the caller's line, through the public wrapper
    with pytest.warns(lc.NoFitWarning, match="zero_stage=3"):
        assert lc.min_gpus(m, lc.get_gpu("A100 80GB"), lc.FineTune(), max_gpus=4) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lc.min_gpus(m, lc.get_gpu("A100 80GB"), lc.Inference(context_tokens=1024)) == 2
        # which_gpus reports n_gpus None in its rows without warning per card
        lc.which_gpus(m, lc.Inference(), gpus=[t4], max_gpus=2)
