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
from llmcatalog.cli.main import main
from llmcatalog.planning import PRECISION_LADDER

ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refuses bad input with exit status 2
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


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
