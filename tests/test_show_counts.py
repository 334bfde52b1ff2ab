"""What ``llmcatalog show`` says about a model's size: active parameters of MoE models in both
conventions publishers use, and the size explanation a fine-tune inherits with its layout."""

from __future__ import annotations

import re

import pytest

from cli_run import run

# Active parameters per token as their publishers state them (model cards / announcements):
# Mistral's "12.9B active" for Mixtral 8x7B, Qwen's "3.3B activated" for Qwen3-30B-A3B and DeepSeek's
# "37B activated" count the embedding tables; OpenAI's 3.6B / 5.1B for gpt-oss leave the input embedding out.
WITH_EMBEDDINGS = {"mixtral-8x7b-instruct-v0.1": 12.9, "qwen3-30b-a3b": 3.3, "deepseek-v3": 37.0}
WITHOUT_INPUT_EMBEDDING = {"gpt-oss-20b": 3.6, "gpt-oss-120b": 5.1}


def _active(capsys: pytest.CaptureFixture[str], mid: str) -> tuple[float, float]:
    code, out, _ = run(capsys, "show", mid)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("active/token"))
    with_emb, without = (float(x) for x in re.findall(r"([\d.]+)B (?:of|without)", line))
    return with_emb, without


@pytest.mark.parametrize(("mid", "published"), WITH_EMBEDDINGS.items())
def test_active_with_embeddings_matches_the_card(
    capsys: pytest.CaptureFixture[str], mid: str, published: float
) -> None:
    with_emb, _ = _active(capsys, mid)
    assert abs(with_emb - published) <= 0.03 * published + 0.05


@pytest.mark.parametrize(("mid", "published"), WITHOUT_INPUT_EMBEDDING.items())
def test_active_without_input_embedding_matches_openai(
    capsys: pytest.CaptureFixture[str], mid: str, published: float
) -> None:
    _, without = _active(capsys, mid)
    assert abs(without - published) <= 0.05


def test_fine_tune_carries_the_size_note_of_its_layout(capsys: pytest.CaptureFixture[str]) -> None:
    # gemma-7b-it carries gemma-7b's layout: 8.54B against the "7B" in its name, explained there.
    import llmcatalog as lc

    base, tuned = lc.get_model("gemma-7b"), lc.get_model("gemma-7b-it")
    assert tuned.architecture_from == "gemma-7b"
    assert "Size:" in (base.notes or "")
    assert "Size (as gemma-7b" in (tuned.notes or "")
    assert "8.54B" in (tuned.notes or "")
    code, out, _ = run(capsys, "show", "gemma-7b-it")
    assert code == 0
    assert "Size (as gemma-7b" in out
    # a model with its own explanation keeps only its own
    assert (base.notes or "").count("Size") == 1
