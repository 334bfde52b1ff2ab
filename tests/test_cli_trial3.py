"""A user trial of the command line (plan without --gpu, the docs' synopsis, one-line usage errors,
best_precision's silence, the T4 warning of a fine-tune, the token totals): each gap pinned by a test
that failed before the fix."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

import llmcatalog as lc
from cli_run import run
from llmcatalog.planning import PRECISION_LADDER

ROOT = Path(__file__).resolve().parents[1]


# -- 3. argparse errors: one line and a hint, not a 60-line usage block ------------------------------
@pytest.mark.parametrize(
    ("argv", "prog", "what"),
    [
        (("estimate", "qwen2.5-7b", "--gpu-memory", "0"), "llmcatalog estimate", "--gpu-memory"),
        (("estimate", "qwen2.5-7b", "--precision", "int3"), "llmcatalog estimate", "--precision"),
        (("plan", "qwen3-8b", "--gpus", "0"), "llmcatalog plan", "--gpus"),
        (("list",), "llmcatalog list", "what"),
        (("bogus",), "llmcatalog", "bogus"),
    ],
)
def test_usage_errors_are_one_line_and_a_hint(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], prog: str, what: str
) -> None:
    """The error names the subcommand and the option; the next line says where the options are; exit 2."""
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(f"{prog}: error: ")
    assert what in lines[0]
    assert lines[1] == f"({prog} --help lists the options)"
    assert "usage:" not in err


# -- 5. the T4 warning of a transformers fine-tune names transformers training, not vLLM --------------
def test_t4_lora_warning_speaks_of_transformers_training(capsys: pytest.CaptureFixture[str]) -> None:
    """`estimate --finetune lora --gpu T4`: no vLLM (not used), but fp16 mixed precision for training."""
    _, _, err = run(capsys, "estimate", "qwen2.5-7b", "--finetune", "lora", "--gpu", "T4")
    assert "bf16" in err
    assert "vLLM" not in err
    assert "training" in err
    assert "fp16 mixed precision" in err
    assert "--compute fp16" in err


def test_bf16_reason_names_only_the_engine_asked() -> None:
    """supports(T4, bf16): transformers' reason is PyTorch's emulation; vLLM's is vLLM's refusal."""
    t4 = lc.get_gpu("T4")
    plain = lc.supports(t4, "bf16")
    assert not plain.ok
    assert "vLLM" not in plain.reason
    assert "emulates" in plain.reason
    served = lc.supports(t4, "bf16", "vllm")
    assert not served.ok
    assert "vLLM" in served.reason


def test_t4_inference_warning_names_no_engine_it_does_not_use(capsys: pytest.CaptureFixture[str]) -> None:
    """The transformers inference on a T4 says fp16 runs, without naming vLLM."""
    _, _, err = run(capsys, "estimate", "qwen2.5-7b", "--gpu", "T4")
    assert "fp16 is what runs" in err
    assert "vLLM" not in err


# -- 6. the token assumption: the totals read unambiguously ------------------------------------------
def _token_line(est: lc.MemoryEstimate) -> str:
    (line,) = [a for a in est.assumptions if a.startswith("a ") and "-token context" in a]
    return line


def test_token_assumption_states_the_context_as_the_total() -> None:
    """A 2,048-token context with a 512-token prompt reads as 2,048 in all (1,536 generated), never 4,096."""
    est = lc.estimate_vram(lc.get_model("qwen2.5-7b"), lc.Inference(context_tokens=2048, prompt_tokens=512))
    line = _token_line(est)
    assert "2,048-token context" in line
    assert "512 prompt tokens" in line
    assert "2,048 tokens in all" in line
    assert "1,536 generated" in line
    assert "up to 2048" not in line


def test_token_assumption_when_the_whole_context_is_the_prompt() -> None:
    """The default (no prompt given): the whole context prefilled, with no decoding 'up to' more tokens."""
    est = lc.estimate_vram(lc.get_model("qwen2.5-7b"), lc.Inference(context_tokens=2048))
    line = _token_line(est)
    assert line.startswith("a 2,048-token context")
    assert "decoding" not in line
    assert re.search(r"\b2,048\b", line)


# -- 4. best_precision: None comes with the reason, as min_gpus' does -------------------------------
def test_best_precision_none_warns_with_the_smallest_format_against_the_gpu() -> None:
    """Llama-3.1-70B on one RTX 4090: no format fits; the warning names the smallest format tried, the
    GiB it needs (what check says for it) and what the card takes."""
    m, g = lc.get_model("llama-3.1-70b"), lc.get_gpu("RTX 4090")
    w = lc.Inference(context_tokens=2048)
    with pytest.warns(lc.NoFitWarning, match="best_precision: None") as record:
        assert lc.best_precision(m, g, w) is None
    text = str(record[0].message)
    needed = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in PRECISION_LADDER:
            needed[p] = lc.check(m, g, lc.Inference(context_tokens=2048, precision=p)).required_bytes
    smallest = min(needed, key=needed.__getitem__)
    assert f"{smallest}, needs {needed[smallest] / 2**30:.2f} GiB" in text
    assert g.name in text
    assert f"at most {g.available_bytes * 0.95 / 2**30:.2f} GiB" in text


def test_best_precision_none_says_when_no_candidate_runs() -> None:
    """Only AWQ and bitsandbytes on an Apple GPU: nothing runs there, and the warning says so."""
    g = lc.get_gpu("Apple M1 Max 32GB")
    with pytest.warns(lc.NoFitWarning, match="no candidate format could be tried.*cannot run them"):
        assert lc.best_precision("qwen3-8b", g, lc.Inference(), candidates=["awq-int4", "bnb-nf4"]) is None


def test_best_precision_that_fits_and_recommend_stay_quiet() -> None:
    """A format that fits answers without a warning; recommend() uses best_precision without leaking it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.NoFitWarning)
        assert lc.best_precision("qwen3-8b", lc.get_gpu("RTX 4090"), lc.Inference()) is not None
        lc.recommend("llama-3.1-70b", lc.get_gpu("RTX 4090"), lc.Inference(context_tokens=2048))


# -- 1. `plan MODEL` without --gpu: which catalog GPUs fit --------------------------------------------
AWQ_70B = ("plan", "llama-3.1-70b", "--precision", "awq-int4", "--context", "32768")


def _rows(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code, out, err = run(capsys, *argv, "--format", "json")
    assert "Traceback" not in err
    return code, json.loads(out)


def test_plan_without_gpu_lists_the_gpus_that_fit(capsys: pytest.CaptureFixture[str]) -> None:
    """The trial's command answers (exit 0) instead of 'name the GPU'; each row agrees with lc.check and
    lc.min_gpus on that GPU (the fewest cards that fit, per-GPU GiB vs allocatable)."""
    code, out, err = run(capsys, *AWQ_70B)
    assert code == 0, err
    assert "name the GPU" not in err
    assert "h100-sxm5-80gb" in out
    code, data = _rows(capsys, *AWQ_70B)
    assert code == 0
    rows = {r["gpu"]: r for r in data["gpus"]}
    w = lc.Inference(precision="awq-int4", context_tokens=32768)
    m = lc.get_model("llama-3.1-70b")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for gid in ("h100-sxm5-80gb", "a100-sxm4-40gb", "rtx-4090"):
            g = lc.get_gpu(gid)
            n = lc.min_gpus(m, g, w, max_gpus=8)
            assert rows[gid]["n_gpus"] == n
            assert rows[gid]["verdict"] == "fits"
            assert rows[gid]["available_bytes"] == g.available_bytes
            if n == 1:
                assert rows[gid]["required_bytes"] == lc.check(m, g, w).required_bytes
        assert rows["a100-sxm4-40gb"]["n_gpus"] >= 2  # 70B in 4 bits: ~35 GiB of weights alone
        # a GPU that cannot hold it even on 8 cards is not listed, but named as left out
        assert "rtx-3060-12gb" not in rows
        assert "rtx-3060-12gb" in data["not_listed"]
        assert lc.min_gpus(m, lc.get_gpu("rtx-3060-12gb"), w, max_gpus=8) is None


def test_plan_without_gpu_marks_gpus_that_cannot_run_the_format(capsys: pytest.CaptureFixture[str]) -> None:
    """AWQ: AMD, Apple, Gaudi and the V100 are never a plain 'fits' but 'cannot run: <reason>', ranked
    after every GPU that can run it; each agrees with lc.supports."""
    _, data = _rows(capsys, *AWQ_70B)
    rows = data["gpus"]
    for r in rows:
        ok = lc.supports(lc.get_gpu(r["gpu"]), "awq-int4").ok
        if ok:
            assert r["verdict"] in ("fits", "tight") or r["verdict"].startswith("tight"), r
        else:
            assert r["verdict"].startswith("cannot run: "), r
            assert r["n_gpus"] is None
    bad = {r["gpu"]: r for r in rows if not r["runnable"]}
    assert {"mi300x", "gaudi-2", "v100-sxm2-32gb"} <= set(bad)
    assert any(g.startswith("apple-") for g in bad)
    assert "7.5" in bad["v100-sxm2-32gb"]["verdict"]  # AWQ needs compute capability 7.5
    assert "ROCm" in bad["mi300x"]["verdict"]
    flags = [r["runnable"] for r in rows]
    assert flags == sorted(flags, reverse=True)
    # the table says it the same way
    _, out, _ = run(capsys, *AWQ_70B)
    (mi300x,) = [line for line in out.splitlines() if line.startswith("mi300x ")]
    assert "cannot run: awq-int4" in mi300x
    assert not re.search(r"\bfits\b", mi300x)


@pytest.mark.parametrize(
    "argv", [AWQ_70B, ("plan", "qwen2.5-32b", "--precision", "awq-int4", "--context", "8192", "--gpus", "2")]
)
def test_plan_without_gpu_ranks_by_verdict_then_fewest_cards_then_smallest(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    """Runnable rows: those that fit as given, then tight ones, then those needing more cards; fewer cards
    first, then the smaller card (the least memory that does the job). A tight row says how many fit."""
    _, data = _rows(capsys, *argv)
    rows = [r for r in data["gpus"] if r["runnable"]]
    order = ("fits", "tight", "does not fit")
    keys = [(order.index(r["memory_verdict_as_given"]), r["n_gpus"], r["available_bytes"]) for r in rows]
    assert len(keys) > 5
    assert keys == sorted(keys)
    for r in rows:
        if r["memory_verdict_as_given"] == "tight":
            assert r["verdict"] == f"tight (fits on {r['fewest_gpus_that_fit']})"


def test_plan_without_gpu_fp8_below_compute_capability_8_9_cannot_run(capsys: pytest.CaptureFixture[str]) -> None:
    """FP8 with transformers: the A100 (8.0) is 'cannot run' (it would load bf16), the H100 (9.0) fits."""
    _, data = _rows(capsys, "plan", "qwen3-8b", "--precision", "fp8")
    rows = {r["gpu"]: r for r in data["gpus"]}
    assert rows["h100-sxm5-80gb"]["verdict"] == "fits"
    assert rows["a100-sxm4-80gb"]["verdict"].startswith("cannot run: ")
    assert "8.9" in rows["a100-sxm4-80gb"]["verdict"]


def test_plan_without_gpu_gpus_bounds_the_cards(capsys: pytest.CaptureFixture[str]) -> None:
    """--gpus N: at most N cards of a type; nothing fits 405B on one card: exit 1 and a line that says so."""
    _, data = _rows(capsys, *AWQ_70B, "--gpus", "2")
    assert data["max_gpus"] == 2
    assert all(r["n_gpus"] in (None, 1, 2) for r in data["gpus"])
    assert "rtx-4090" in data["not_listed"]
    code, out, _ = run(capsys, "plan", "llama-3.1-405b", "--gpus", "1")
    assert code == 1
    assert "do not fit even on 1 card" in out


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
def test_plan_without_gpu_other_formats(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """--format csv gives raw bytes, markdown a GitHub table; both keep the 'cannot run' verdicts."""
    code, out, _ = run(capsys, *AWQ_70B, "--format", fmt)
    assert code == 0
    first = out.splitlines()[0]
    if fmt == "csv":
        assert first.startswith("gpu,n_gpus,required_bytes,available_bytes,verdict")
    else:
        assert first.startswith("| gpu |")
    assert "cannot run: awq-int4" in out


def test_which_gpus_verdict_is_never_a_plain_fits_where_it_cannot_run() -> None:
    """lc.which_gpus: the MI300X's memory check says 'fits', but its verdict says it cannot run AWQ."""
    m = lc.get_model("llama-3.1-70b")
    w = lc.Inference(precision="awq-int4", context_tokens=32768)
    gpus = [lc.get_gpu(g) for g in ("MI300X", "H100 SXM")]
    options = {o.gpu.id: o for o in lc.which_gpus(m, w, gpus=gpus)}
    mi = options["mi300x"]
    assert mi.check.verdict == "fits"  # memory only
    assert mi.verdict.startswith("cannot run: ")
    assert "awq-int4" in mi.verdict
    assert options["h100-sxm5-80gb"].verdict == "fits"


# -- 2. docs/cli.md's synopsis has `plan` and `fit`, each with an example checked against the real output
def test_cli_docs_synopsis_has_plan_and_fit_with_checked_examples() -> None:
    """The synopsis names both subcommands; each has an output-of example (tests/test_docs_outputs.py
    compares those with what the command prints), `plan` one without --gpu too."""
    text = (ROOT / "docs" / "cli.md").read_text()
    synopsis = re.search(r"```\n(.*?)```", text, re.S)
    assert synopsis is not None
    assert "llmcatalog plan MODEL" in synopsis.group(1)
    assert "llmcatalog fit " in synopsis.group(1)
    examples = re.findall(r"<!-- output-of: cli\('([a-z]+)([^']*)'", text)
    assert any(cmd == "plan" and "--gpu" in rest for cmd, rest in examples)
    assert any(cmd == "plan" and "--gpu" not in rest for cmd, rest in examples)
    assert any(cmd == "fit" for cmd, _ in examples)


def test_cli_docs_usage_error_block_is_what_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """The one-line usage error shown in docs/cli.md is the real stderr of that command."""
    text = (ROOT / "docs" / "cli.md").read_text()
    block = re.search(r"```text\n(llmcatalog estimate: error: .*?)```", text, re.S)
    assert block is not None
    code, _, err = run(capsys, "estimate", "qwen2.5-7b", "--gpu-memory", "0")
    assert code == 2
    assert err == block.group(1)


def test_fit_on_a_gpu_that_cannot_run_the_format_is_never_a_plain_fits(capsys: pytest.CaptureFixture[str]) -> None:
    """`fit --gpu MI300X --precision awq-int4`: the memory would do, but every row says it cannot run
    (lc.supports: no ROCm AWQ kernel) and the exit status is 1; AWQ on an H100 still fits (exit 0)."""
    assert not lc.supports(lc.get_gpu("MI300X"), "awq-int4").ok
    code, out, _ = run(capsys, "fit", "--gpu", "MI300X", "--precision", "awq-int4", "--domain", "medical")
    assert code == 1
    rows = [line for line in out.splitlines() if "medical" in line]
    assert rows
    assert all("cannot run: awq-int4" in line and not re.search(r"\bfits\b", line) for line in rows)
    assert "no model can run" in out
    code, out, _ = run(capsys, "fit", "--gpu", "H100", "--precision", "awq-int4", "--domain", "medical")
    assert code == 0
    assert "cannot run" not in out


def test_which_gpus_with_a_split_workload_gives_the_fewest_cards_its_check_describes() -> None:
    """A tp=2 job that fits on one H100: n_gpus is what lc.min_gpus answers, and the row's check is the
    verdict on that many cards (before, n_gpus said 1 while the check described a 1-card split that did
    not fit on an RTX 4090)."""
    m = lc.get_model("llama-3.1-70b")
    w = lc.Inference(precision="awq-int4", parallelism=lc.Parallelism(tensor_parallel=2))
    gpus = [lc.get_gpu("H100 SXM"), lc.get_gpu("RTX 4090")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for o in lc.which_gpus(m, w, gpus=gpus):
            assert o.n_gpus == lc.min_gpus(m, o.gpu, w)
            assert o.check.n_gpus == o.n_gpus
            assert o.check.fits
            assert o.one_gpu is not None
            assert o.one_gpu.n_gpus == 2


def test_plan_without_gpu_refuses_fewer_gpus_than_the_split(capsys: pytest.CaptureFixture[str]) -> None:
    """--gpus 1 with --tp 2 is a contradiction: a clear error, exit 2."""
    code, _, err = run(capsys, "plan", "qwen3-8b", "--tp", "2", "--gpus", "1")
    assert code == 2
    assert "--gpus 1" in err
    assert "--tp" in err
