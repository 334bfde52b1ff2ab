"""Names of the Phi, Mistral, Gemma 3, InternLM2.5 and Magistral/Devstral entries (misc stream):
what people type resolves to the entry the model cards name, and a bare family name that means
several checkpoints lists them instead of picking one."""

from __future__ import annotations

import pytest

import llmcatalog as lc


@pytest.mark.parametrize(
    ("typed", "members"),
    [
        # Microsoft ships each Phi-3 size at two context lengths, as separate checkpoints.
        ("Phi-3-mini", {"phi-3-mini-4k-instruct", "phi-3-mini-128k-instruct"}),
        ("Phi-3-small", {"phi-3-small-8k-instruct", "phi-3-small-128k-instruct"}),
        ("Phi-3-medium", {"phi-3-medium-4k-instruct", "phi-3-medium-128k-instruct"}),
        ("Devstral-Small", {"devstral-small-2505", "devstral-small-2507"}),
        ("Magistral", {"magistral-small-2506", "magistral-small-2507"}),
    ],
)
def test_bare_family_names_list_their_members(typed: str, members: set[str], catalog: lc.Catalog) -> None:
    """A name several checkpoints share raises FamilyNameError naming each of them."""
    with pytest.raises(lc.FamilyNameError) as info:
        catalog.get_model(typed)
    assert set(info.value.suggestions) == members


@pytest.mark.parametrize(
    ("typed", "mid"),
    [
        ("Mistral-Small-3.2", "mistral-small-3.2-24b-instruct-2506"),
        ("Mistral Small 3.2", "mistral-small-3.2-24b-instruct-2506"),
        ("InternLM2.5-7B", "internlm2_5-7b"),  # the base; the chat model says Chat
        ("书生·浦语2.5-7B", "internlm2_5-7b"),
        ("InternLM2.5-20B-Chat", "internlm2_5-20b-chat"),
        ("Ministral 8B", "ministral-8b-instruct-2410"),
        ("Phi-3-small-8k", "phi-3-small-8k-instruct"),
        ("microsoft/Phi-4-reasoning-plus", "phi-4-reasoning-plus"),
        ("google/gemma-3-27b-pt", "gemma-3-27b-pt"),
    ],
)
def test_usual_names_resolve(typed: str, mid: str, catalog: lc.Catalog) -> None:
    assert catalog.get_model(typed).id == mid


@pytest.mark.parametrize("size", ["1b", "4b", "12b", "27b"])
def test_gemma3_it_descends_from_its_pt(size: str, catalog: lc.Catalog) -> None:
    """The -it checkpoints are post-trained from the -pt ones, with the same architecture."""
    it = catalog.get_model(f"gemma-3-{size}-it")
    pt = catalog.get_model(f"gemma-3-{size}-pt")
    assert it.base_model == pt.id
    assert it.architecture == pt.architecture
    assert it.n_params == pt.n_params
