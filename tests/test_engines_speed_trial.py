"""A user trial of the serving-engine and speed answers: ``--engine all``'s exit status, ``--context`` as
the engines' request length, speed caveats (host bound, MoE under transformers, does not fit), and the
training dtype of dequantized checkpoints."""

from __future__ import annotations

import json

import pytest

from llmcatalog.cli.main import main


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_engine_all_exits_zero_when_some_engine_serves(capsys: pytest.CaptureFixture[str]) -> None:
    """Qwen3-8B at 8,192 tokens on a 24 GiB card: bf16 weights (15.3 GiB) leave room for the cache, so
    at least one engine serves it; `--engine all` answers "which engine", so the exit status is 0."""
    code, out, _ = _cli(capsys, "estimate", "qwen3-8b", "--engine", "all", "--gpu", "RTX 4090", "--context", "8192")
    assert code == 0
    assert "serves it:" in out


def test_engine_all_exits_one_when_none_serves(capsys: pytest.CaptureFixture[str]) -> None:
    """DeepSeek-V3 (671B parameters, >600 GiB as stored) fits no engine on one 24 GiB card: exit 1."""
    code, out, _ = _cli(capsys, "estimate", "deepseek-v3", "--engine", "all", "--gpu", "RTX 4090")
    assert code == 1
    assert "no engine serves" in out


def test_context_is_vllm_max_model_len(capsys: pytest.CaptureFixture[str]) -> None:
    """--context 8192 starts vLLM with max_model_len 8192 (qwen3-8b's config says 40,960, whose one
    request needs more KV cache than a 4090 leaves): its row holds requests of 8,192 tokens."""
    code, out, _ = _cli(
        capsys, "estimate", "qwen3-8b", "--engine", "vllm", "--gpu", "RTX 4090", "--context", "8192", "--json"
    )
    data = json.loads(out)["engines"]["vllm"]
    assert code == 0
    assert data["fits"] is True
    assert data["kv_tokens"] > 8192
    assert data["max_concurrency"] >= 1
    assert any("max_model_len 8,192" in n for n in data["notes"])


def test_given_max_model_len_wins_over_context(capsys: pytest.CaptureFixture[str]) -> None:
    """--max-model-len is vLLM's own option: it wins over --context."""
    _, out, _ = _cli(
        capsys,
        "estimate",
        "qwen3-8b",
        "--engine",
        "vllm",
        "--gpu",
        "RTX 4090",
        "--context",
        "8192",
        "--max-model-len",
        "16384",
        "--json",
    )
    notes = json.loads(out)["engines"]["vllm"]["notes"]
    assert any("max_model_len 16,384" in n for n in notes)


def test_context_is_sglang_context_length(capsys: pytest.CaptureFixture[str]) -> None:
    """SGLang's context_len follows --context (not the config's 40,960)."""
    _, out, _ = _cli(capsys, "estimate", "qwen3-8b", "--engine", "sglang", "--gpu", "RTX 4090", "--context", "8192")
    assert "context_len=8192" in out
    assert "context_len=40960" not in out


def test_vllm_refusal_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    """vLLM's refusal is in its own log; the section does not repeat it."""
    code, out, _ = _cli(capsys, "estimate", "qwen3-8b", "--engine", "vllm", "--gpu", "RTX 4090")
    assert code == 1
    assert out.count("estimated maximum model length") == 1
