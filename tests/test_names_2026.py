"""Names people type (issue "catalog of 2026", part 5): suggestions by family and size, Hub ids,
series names, Chinese and English synonyms of domains and languages."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest

import llmcatalog as lc
from llmcatalog.registry.domains import DOMAINS
from llmcatalog.registry.names import DOMAIN_SYNONYMS, LANGUAGE_SYNONYMS, domain_id, name_parts, normalize


@pytest.fixture(scope="module")
def catalog() -> lc.Catalog:
    return lc.catalog()


def _miss(catalog: lc.Catalog, name: str) -> tuple[str, ...]:
    with pytest.raises(lc.UnknownModelError) as info:
        catalog.get_model(name)
    return info.value.suggestions


# -- suggestions ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("Qwen3-9B", "qwen3-8b"),
        ("Qwen3-7B", "qwen3-8b"),
        ("Llama-3.1-9B", "llama-3.1-8b"),
        ("gemma-2-8b", "gemma-2-9b"),
        ("Qwen3-8b-instrct", "qwen3-8b"),
        ("GLM-4-10B", "glm-4-9b"),
        ("Yi-1.5-10B-Chat", "yi-1.5-9b-chat"),
        ("DeepSeek-R1-Distill-Qwen-8B", "deepseek-r1-distill-qwen-7b"),
        ("gpt-oss-30b", "gpt-oss-20b"),
        ("phi-4-mini-instruc", "phi-4-mini-instruct"),
    ],
)
def test_a_miss_suggests_the_same_family_at_the_nearest_size_first(catalog: lc.Catalog, typed: str, first: str) -> None:
    """A name the catalog lacks offers the same family's nearest size (or the fixed typo) first."""
    suggestions = _miss(catalog, typed)
    assert suggestions[0] == first, suggestions


def test_qwen3_suggestions_stay_in_the_family(catalog: lc.Catalog) -> None:
    """ "Qwen3-9B" offers Qwen3 models (by their series), never qwen-1_8b (the old complaint)."""
    suggestions = _miss(catalog, "Qwen3-9B")
    assert "qwen-1_8b" not in suggestions
    assert [catalog.get_model(s).series for s in suggestions[:3]] == ["qwen3"] * 3


def test_a_related_family_at_the_same_size_is_offered(catalog: lc.Catalog) -> None:
    """After the family's own sizes come neighbouring families at the size typed."""
    suggestions = _miss(catalog, "Qwen3-7B")
    assert suggestions[0] == "qwen3-8b"
    assert {"qwen-7b", "qwen2-7b", "qwen2.5-7b"} & set(suggestions)


def _resized(model_id: str) -> str | None:
    m = re.fullmatch(r"(.+)-(\d+)b(-.+)?", model_id)
    if m is None:
        return None
    return f"{m.group(1)}-{int(m.group(2)) * 1.12:g}b{m.group(3) or ''}"


def test_every_resized_catalog_name_suggests_its_own_series_first(catalog: lc.Catalog) -> None:
    """For every "<family>-<N>b" model of a series, the same id at 1.12 x N (not in the catalog)
    suggests a model of that series first (the series field is the oracle, not the ranker)."""
    wrong, tried = [], 0
    for m in catalog.models:
        typed = _resized(m.id)
        if typed is None or not m.series:
            continue
        try:
            catalog.get_model(typed)
            continue
        except lc.UnknownModelError as exc:
            tried += 1
            top = exc.suggestions[0] if exc.suggestions else None
            if top is None or catalog.get_model(top).series != m.series:
                wrong.append((typed, exc.suggestions[:3], m.series))
    assert tried > 300
    assert not wrong, wrong


@pytest.mark.parametrize(
    ("name", "size_b"),
    [("Qwen3-8B", 8.0), ("qwen-1_8b", 1.8), ("Mixtral-8x7B", 56.0), ("bloom-560m", 0.56), ("Qwen3-30B-A3B", 30.0)],
)
def test_name_parts_reads_the_size_as_written(name: str, size_b: float) -> None:
    """Sizes are read as written: "1_8b" is 1.8B, "8x7B" is 8 x 7B, "560m" 0.56B, the first size wins."""
    assert name_parts(name).size_b == pytest.approx(size_b)


def test_suggestions_on_a_miss_are_bounded(catalog: lc.Catalog) -> None:
    """Sized names of up to MAX_SUGGEST_CHARS answer fast (the ranker skips far families cheaply)."""
    names = ["llama-2-7b " * 9, "x" * 90 + "-7b", "qwen" * 20 + "-8b-" + "9" * 10, "7b " * 30]
    for name in names:
        t = time.perf_counter()
        with pytest.raises(lc.UnknownModelError):
            catalog.get_model(name)
        assert time.perf_counter() - t < 5.0, name  # a hang guard; benchmarks/lookups.py prints the times


# -- Hub ids and series names ----------------------------------------------------------------------
_HUB_HOSTS = ("huggingface.co", "hf-mirror.com", "modelscope.cn")


def _repo(url: str) -> str | None:
    parts = urlsplit(url)
    host = parts.netloc.removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host == "modelscope.cn" and segments[:1] == ["models"]:
        segments = segments[1:]
    if host not in _HUB_HOSTS or len(segments) < 2:
        return None
    return "/".join(segments[:2])


_LINKED = [(m.id, r) for m in lc.catalog().models if m.links and m.links.hub and (r := _repo(m.links.hub))]


def test_hub_links_are_read() -> None:
    """Most catalog models link a Hub repository (guards the parametrisation below)."""
    assert len(_LINKED) > 500


@pytest.mark.parametrize(("model_id", "repo"), _LINKED, ids=[mid for mid, _ in _LINKED])
def test_every_hub_id_resolves_or_lists_its_models(catalog: lc.Catalog, model_id: str, repo: str) -> None:
    """Each model's "org/name" (as written, lower and upper case) finds it, or a model that names
    that repository as its own alias and links it too, or raises listing every model linking it."""
    linking = {m.id for m in catalog.models if m.links and m.links.hub and _repo(m.links.hub) == repo}
    for typed in (repo, repo.lower(), repo.upper()):
        if len(linking) > 1 and catalog.index.get(normalize(typed)) is None:
            with pytest.raises(lc.UnknownModelError) as info:
                catalog.get_model(typed)
            assert set(info.value.suggestions) == linking, (typed, info.value.suggestions)
            continue
        found = catalog.get_model(typed)
        if found.id != model_id:
            assert found.id in linking, (typed, found.id)
            assert normalize(repo) in {normalize(a) for a in found.aliases}, (typed, found.id)


def test_qwen_hub_ids_in_any_case(catalog: lc.Catalog) -> None:
    """The 2026 entries resolve by their Hub ids in any case."""
    for typed in ("Qwen/Qwen3-8B", "qwen/qwen3-8b", "QWEN/QWEN3-8B", " Qwen/Qwen3-8B "):
        assert catalog.get_model(typed).id == "qwen3-8b"


def test_a_series_with_one_member_resolves(catalog: lc.Catalog) -> None:
    """ "DALL-E" is the DALL·E series, of which the catalog has exactly one model."""
    (only,) = catalog.find_models(series="dall-e")
    for typed in ("DALL-E", "dall-e", "DALLE", "DALL·E"):
        assert catalog.get_model(typed) == only


def test_a_series_with_several_members_lists_them(catalog: lc.Catalog) -> None:
    """A series name that is no model's name raises listing every member."""
    members = {m.id for m in catalog.find_models(series="huatuogpt-o1")}
    assert len(members) > 1
    assert set(_miss(catalog, "HuatuoGPT-o1")) == members


# -- Chinese and synonyms -------------------------------------------------------------------------
def test_huatuo_in_chinese_finds_every_huatuogpt_model(catalog: lc.Catalog) -> None:
    """search("华佗") returns every HuatuoGPT model, also those whose own entry has no Chinese name
    (through the Chinese names of their series)."""
    huatuo = {m.id for m in catalog.models if m.id.startswith("huatuogpt")}
    assert len(huatuo) >= 10
    found = {m.id for m in catalog.search("华佗")}
    assert huatuo <= found, huatuo - found
    assert all("huatuo" in mid for mid in found)


@pytest.mark.parametrize("typed", ["医疗", "医学", "medicine", "healthcare", "Medical"])
def test_medical_domain_by_its_names(catalog: lc.Catalog, typed: str) -> None:
    """Chinese and English names of the medical domain filter and search it."""
    medical = catalog.find_models(domain="medical")
    assert len(medical) > 50
    assert catalog.find_models(domain=typed) == medical
    assert set(medical) <= set(catalog.search(typed))


@pytest.mark.parametrize(
    ("typed", "domain"),
    [
        ("law", "legal"),
        ("法律", "legal"),
        ("financial", "finance"),
        ("金融", "finance"),
        ("programming", "code"),
        ("coding", "code"),
        ("代码", "code"),
        ("编程", "code"),
        ("数学", "math"),
        ("教育", "education"),
        ("科学", "science"),
        ("农业", "agriculture"),
        ("多模态", "multimodal"),
    ],
)
def test_domain_synonyms(catalog: lc.Catalog, typed: str, domain: str) -> None:
    """Common names of a domain mean its id in find_models(domain=...) and in search."""
    assert domain in DOMAINS
    expected = catalog.find_models(domain=domain)
    assert expected
    assert catalog.find_models(domain=typed) == expected
    assert set(expected) <= set(catalog.search(typed))


def test_every_domain_has_a_chinese_name() -> None:
    """The synonym table covers every built-in domain in Chinese and names only real domains."""
    assert set(DOMAIN_SYNONYMS.values()) <= set(DOMAINS)
    chinese = {d for k, d in DOMAIN_SYNONYMS.items() if re.search(r"[\u4e00-\u9fff]", k)}
    assert set(DOMAINS) == chinese, set(DOMAINS) - chinese
    assert all(normalize(k) == k for k in DOMAIN_SYNONYMS), "keys are matched after normalize()"
    assert domain_id("no-such-domain") == "no-such-domain"


def test_search_by_language_name(catalog: lc.Catalog) -> None:
    """A language's name in search finds its models, and combines with a domain name."""
    chinese = set(catalog.find_models(language="zh"))
    assert LANGUAGE_SYNONYMS["中文"] == "zh"
    assert chinese <= set(catalog.search("中文"))
    both = {m for m in chinese if m.domain == "medical"}
    assert both
    assert both <= set(catalog.search("中文 医疗"))
    assert all(m.domain == "medical" or "医疗" in (m.description_zh or "") for m in catalog.search("中文 医疗"))


# -- the chinese extra (traditional characters, pinyin) -----------------------------------------
def test_without_the_chinese_extra_lookups_still_work(catalog: lc.Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """With opencc and pypinyin absent, simplified Chinese, synonyms and suggestions work as before."""
    import llmcatalog.registry.names as names

    monkeypatch.setattr(names, "_t2s", lambda: None)
    monkeypatch.setattr(names, "_to_pinyin", lambda: None)
    assert names.simplified("華佗") == "華佗"
    assert names.pinyin("华佗") == []
    fresh = lc.Catalog.from_entries(*catalog.models)  # haystacks built without pinyin
    assert {m.id for m in fresh.search("华佗")} == {m.id for m in catalog.search("华佗")}
    assert not fresh.search("bencao")
    assert fresh.find_models(domain="医疗") == fresh.find_models(domain="medical")
    assert _miss(fresh, "Qwen3-9B")[0] == "qwen3-8b"


@pytest.mark.filterwarnings("ignore::llmcatalog.SeriesNameWarning")  # 华佗 is also a series name
def test_traditional_characters_find_simplified_names(catalog: lc.Catalog) -> None:
    """With opencc: "華佗" is "华佗" in get_model, search and filters ("醫藥" is not in the table)."""
    pytest.importorskip("opencc")
    assert catalog.get_model("華佗") == catalog.get_model("华佗")
    assert catalog.search("華佗") == catalog.search("华佗")
    assert "醫藥" not in DOMAIN_SYNONYMS
    assert catalog.find_models(domain="醫藥") == catalog.find_models(domain="medical")
    assert catalog.find_models(language="漢語") == catalog.find_models(language="zh")


def test_pinyin_finds_chinese_names(catalog: lc.Catalog) -> None:
    """With pypinyin: "bencao" finds every model whose name or alias, or whose series, is 本草."""
    pytest.importorskip("pypinyin")
    bencao = {m.id for m in catalog.models if any("本草" in a for a in (m.name, *m.aliases))}
    series = {m.series for m in catalog.models if m.id in bencao}
    assert bencao
    found = {m.id for m in catalog.search("bencao")}
    assert bencao <= found
    assert all(catalog.get_model(mid).series in series for mid in found)
