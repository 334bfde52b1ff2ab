"""Name normalisation and suggestions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llmcatalog.registry.names import normalize, suggest


def test_spellings_of_one_name_collapse() -> None:
    """Case, spaces and punctuation do not matter."""
    keys = {normalize(n) for n in ("Llama-2-7b", "llama 2 7B", "LLaMA2_7B", "llama.2.7b", "Llama (2) 7b")}
    assert keys == {"llama27b"}


def test_cjk_and_full_width_are_kept_and_folded() -> None:
    """Chinese names survive; full-width Latin letters fold to ASCII (NFKC)."""
    assert normalize("本草") == "本草"
    assert normalize("ＢｅｎＴｓａｏ（本草）") == "bentsao本草"
    assert normalize("夫子•明察") == normalize("夫子明察")


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    """normalize(normalize(x)) == normalize(x)."""
    assert normalize(normalize(text)) == normalize(text)


def test_suggest_prefers_substrings_then_fuzzy() -> None:
    """Typing part of a name offers the names containing it; typos get close matches."""
    names = {normalize(n): n for n in ("qwen-7b", "qwen-14b", "llama-2-7b", "gemma-7b")}
    assert suggest("qwen", names, names)[:2] == ("qwen-7b", "qwen-14b")
    assert "llama-2-7b" in suggest("lama-2-7b", names, names)
    assert suggest("", names, names) == ()
