"""A user trial's name problems: get_model resolves as docs/names.md says, family names list their
members, an unreachable Hub still offers the catalog's close names, and a catalog model with no
architecture refuses an estimate in two sentences.

Facts from outside our code: the official Hub repository ids of the models and of their quantized or
GGUF uploads (hugging-quants, bartowski, unsloth, Qwen), and the members of each family as their
authors list them (Meditron 7B/70B, Llama3-Med42 8B/70B, OpenBioLLM 8B/70B, HuatuoGPT-o1 7B/8B/70B/72B).
Nothing touches the network (HF_HUB_OFFLINE).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import llmcatalog as lc


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("huggingface_hub")
    (tmp_path / "hub").mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize(
    ("repo", "base"),
    [
        ("Qwen/Qwen3-8B-AWQ", "qwen3-8b"),
        ("unsloth/Llama-3.2-3B-Instruct", "llama-3.2-3b-instruct"),
        ("hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4", "llama-3.1-8b-instruct"),
        ("bartowski/Qwen2.5-7B-Instruct-GGUF", "qwen2.5-7b-instruct"),
        ("unsloth/Qwen3-8B-GGUF", "qwen3-8b"),
    ],
)
def test_get_model_resolves_derived_hub_ids(offline: None, repo: str, base: str) -> None:
    """lc.get_model takes what estimate_vram and the CLI take (docs/names.md), and so does resolve_model."""
    m = lc.get_model(repo)
    assert m.base_model == base
    assert m.name == repo
    assert lc.resolve_model(repo).base_model == base
    assert "resolve_model" in lc.__all__


def test_a_gguf_repository_states_no_single_format(offline: None) -> None:
    """A -GGUF repository holds one file per quantization: no format is guessed, and the notes say so."""
    m = lc.get_model("bartowski/Qwen2.5-7B-Instruct-GGUF")
    assert m.weight_format == lc.get_model("qwen2.5-7b-instruct").weight_format
    assert m.notes is not None
    assert "GGUF repository" in m.notes
    assert "from_gguf" in m.notes


def test_catalog_get_model_stays_catalog_only(catalog: lc.Catalog) -> None:
    """Catalog.get_model answers from the catalog alone (no Hub, no disk)."""
    with pytest.raises(lc.UnknownModelError):
        catalog.get_model("Qwen/Qwen3-8B-AWQ")


def test_unreachable_hub_offers_suggestions(offline: None) -> None:
    """An org/name that is neither in the catalog nor cached, with the Hub unreachable: the error says
    the Hub could not be read AND lists the catalog's close names."""
    with pytest.raises(lc.CheckpointError) as info:
        lc.get_model("Qwen/Qwen3-8B-Instruct")
    text = str(info.value)
    assert "did you mean" in text
    assert "qwen3-8b" in text
    assert "HF_HUB_OFFLINE" in text


@pytest.mark.parametrize(
    ("family", "members"),
    [
        ("Meditron", {"meditron-7b", "meditron-70b"}),
        ("Llama3-Med42", {"llama3-med42-8b", "llama3-med42-70b"}),
        ("OpenBioLLM", {"llama3-openbiollm-8b", "llama3-openbiollm-70b"}),
        ("HuatuoGPT-o1", {"huatuogpt-o1-7b", "huatuogpt-o1-8b", "huatuogpt-o1-70b", "huatuogpt-o1-72b"}),
        (
            "SaulLM",
            {
                "saul-7b-base",
                "saul-7b-instruct-v1",
                "saullm-54-base",
                "saullm-54b-instruct",
                "saullm-141-base",
                "saullm-141b-instruct",
            },
        ),
        ("DeepSeek-Math", {"deepseek-math-7b-base", "deepseek-math-7b-instruct", "deepseek-math-7b-rl"}),
        (
            "Qwen2.5-Math",
            {
                "qwen2.5-math-1.5b",
                "qwen2.5-math-1.5b-instruct",
                "qwen2.5-math-7b",
                "qwen2.5-math-7b-instruct",
                "qwen2.5-math-72b",
                "qwen2.5-math-72b-instruct",
            },
        ),
    ],
)
def test_family_names_list_their_members(catalog: lc.Catalog, family: str, members: set[str]) -> None:
    """A family name is refused (it is ambiguous) with every member named in the message."""
    with pytest.raises(lc.FamilyNameError) as info:
        catalog.get_model(family)
    assert isinstance(info.value, lc.UnknownModelError)
    assert set(info.value.suggestions) == members
    for mid in members:
        assert mid in str(info.value)
    assert "Did you mean" not in str(info.value)


def test_an_unrelated_miss_is_not_a_family(catalog: lc.Catalog) -> None:
    with pytest.raises(lc.UnknownModelError) as info:
        catalog.get_model("qwen3-9b")
    assert not isinstance(info.value, lc.FamilyNameError)


@pytest.mark.parametrize(
    ("typed", "mid"),
    [
        ("mixtral-8x7b-instruct", "mixtral-8x7b-instruct-v0.1"),
        ("Mixtral 8x22B Instruct", "mixtral-8x22b-instruct-v0.1"),
    ],
)
def test_instruct_names_without_version(catalog: lc.Catalog, typed: str, mid: str) -> None:
    """Mixtral's only Instruct release of each size answers its name without the version suffix."""
    assert catalog.get_model(typed).id == mid


def test_no_architecture_message_is_short() -> None:
    """Baichuan-M1 (no architecture recorded) refuses in a short message that says what to do and where
    the notes are, instead of printing the whole notes field."""
    with pytest.raises(lc.NotEstimableError) as info:
        lc.estimate_vram("Baichuan-M1", lc.Inference())
    text = str(info.value)
    m = lc.get_model("Baichuan-M1")
    assert m.notes is not None
    assert m.notes not in text
    assert len(text) < 400
    assert "from_hf_config" in text
    assert f"llmcatalog show {m.id}" in text
