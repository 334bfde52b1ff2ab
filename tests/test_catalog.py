"""Catalog look-ups, queries and lineage."""

from __future__ import annotations

import pytest

import llmcatalog as lc


def test_lookup_by_any_spelling(catalog: lc.Catalog) -> None:
    """Ids, display names, aliases (Chinese too), hub paths; case and punctuation ignored."""
    m = catalog.get_model("llama-2-7b")
    for name in ("Llama-2-7b", "LLAMA 2 7B", "llama2_7b", "meta-llama/Llama-2-7b-hf"):
        assert catalog.get_model(name) is m
    assert catalog.get_model("本草").id == catalog.get_model("BenTsao").id
    assert catalog.get_model(m) is m


def test_unknown_names_suggest_close_matches(catalog: lc.Catalog) -> None:
    """An unknown name raises UnknownModelError (a LookupError) listing close names."""
    with pytest.raises(lc.UnknownModelError) as info:
        catalog.get_model("Lama-2-7b")
    assert "llama-2-7b" in info.value.suggestions
    assert isinstance(info.value, LookupError)
    with pytest.raises(lc.UnknownGPUError, match="Did you mean"):
        catalog.get_gpu("RTX 4099")
    with pytest.raises(lc.UnknownToolError):
        catalog.get_tool("no such tool")


def test_gpu_aliases(catalog: lc.Catalog) -> None:
    """What users type for GPUs resolves, "80G" included."""
    assert catalog.get_gpu("4090").id == "rtx-4090"
    assert catalog.get_gpu("A100 80G").id == catalog.get_gpu("A100 80GB").id == "a100-sxm4-80gb"
    assert catalog.get_gpu("H100 SXM").memory_bytes == 80 * 2**30


def test_find_models(catalog: lc.Catalog) -> None:
    """Queries by domain, sub-field, organisation, language, modality, size, openness and base."""
    medical = catalog.find_models(domain="medical")
    assert medical
    assert all(m.domain == "medical" for m in medical)
    tcm = catalog.find_models(subdomain="traditional-chinese-medicine")
    assert tcm
    assert all("traditional-chinese-medicine" in m.subdomains for m in tcm)
    assert all("Meta" in (m.organization or "") for m in catalog.find_models(organization="meta"))
    zh = catalog.find_models(language="zh", domain="legal")
    assert zh
    assert all("zh" in m.languages for m in zh)
    vl = catalog.find_models(modality="vision-language")
    assert vl
    assert all(m.modality == "vision-language" for m in vl)
    mid = catalog.find_models(min_params=6e9, max_params=8e9)
    assert mid
    assert all(6e9 <= m.n_params <= 8e9 for m in mid)
    assert all(m.open_weights is False for m in catalog.find_models(open_weights=False))
    kids = catalog.find_models(base_model="llama-7b")
    assert kids
    assert all(m.base_model == "llama-7b" for m in kids)
    assert all(m.architecture is not None for m in catalog.find_models(estimable=True))


def test_lineage_both_ways(catalog: lc.Catalog) -> None:
    """What a model is built on, and what is built on it; inherited architecture is recorded."""
    bentsao = catalog.get_model("本草")
    assert [m.id for m in catalog.ancestors(bentsao)] == ["llama-7b"]
    assert bentsao.architecture_from == "llama-7b"
    assert bentsao.architecture == catalog.get_model("llama-7b").architecture
    built_on_llama = {m.id for m in catalog.descendants("llama-7b")}
    assert bentsao.id in built_on_llama
    direct = {m.id for m in catalog.descendants("llama-7b", recursive=False)}
    assert direct <= built_on_llama


def test_search(catalog: lc.Catalog) -> None:
    """Full-text search over names, aliases and descriptions, exact names first."""
    hits = catalog.search("华佗")
    assert hits
    assert hits[0].id.startswith("huatuogpt")
    assert catalog.search("medical chest x-ray") or catalog.search("x-ray")
    assert catalog.search("qwen 7b")[0].id == "qwen-7b"
    for blank in ("", "   "):  # no word to match: a QueryError, like "((((" (not an empty answer)
        with pytest.raises(lc.QueryError, match="empty"):
            catalog.search(blank)
    assert catalog.search_tools("rag")


def test_with_entries_returns_a_new_catalog(catalog: lc.Catalog) -> None:
    """Adding models never mutates a catalog; conflicting entries raise naming both providers."""
    new = lc.Model(
        id="my-llama",
        name="My Llama",
        domain="custom",
        base_model="llama-2-7b",
        sources=["https://example.org/my-llama"],
    )
    bigger = catalog.with_entries(new)
    assert len(bigger) == len(catalog) + 1
    with pytest.raises(lc.UnknownModelError):
        catalog.get_model("my-llama")
    inherited = bigger.get_model("my-llama")
    assert inherited.architecture_from == "llama-2-7b"
    assert inherited.n_params == 6_738_415_616
    clash = lc.Model(id="llama-2-7b", name="Other", domain="x", sources=["https://example.org"])
    with pytest.raises(lc.DuplicateEntryError, match="llama-2-7b"):
        catalog.with_entries(clash)
    alias_clash = lc.Model(id="other", name="Other", aliases=("本草",), domain="x", sources=["https://example.org"])
    with pytest.raises(lc.DuplicateEntryError, match="already used by"):
        catalog.with_entries(alias_clash)
    with pytest.raises(TypeError):
        catalog.with_entries("llama")  # type: ignore[arg-type]


def test_lineage_cycle_is_an_error() -> None:
    """A base_model cycle is reported, not followed forever."""
    a = lc.Model(id="a", name="A", domain="x", base_model="b", sources=["https://example.org"])
    b = lc.Model(id="b", name="B", domain="x", base_model="a", sources=["https://example.org"])
    with pytest.raises(lc.CatalogDataError, match="cycle"):
        lc.Catalog.from_entries(a, b)


def test_catalog_repr_and_views(catalog: lc.Catalog) -> None:
    """Read-only views and a summary repr."""
    assert "models" in repr(catalog)
    with pytest.raises(TypeError):
        catalog.index["x"] = "y"  # type: ignore[index]
    assert catalog.domains()["medical"] > 0
    assert all(f.source for _, f in catalog.figures())
