"""Names people type that are not any entry's alias: Chinese brand words, organisation names,
a size after a sizeless name, sub-domain synonyms (fresh-eyes trial 6)."""

from __future__ import annotations

import json
import warnings

import pytest

import llmcatalog as lc
from cli_run import run
from llmcatalog.registry.names import english_name, subdomain_id


@pytest.fixture(scope="module")
def cat() -> lc.Catalog:
    return lc.catalog()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # Alibaba names Qwen 通义千问 and, since 2025, 千问; the size after the brand is the model's.
        ("千问2.5-7B", "qwen2.5-7b"),
        ("通义千问 2.5 7B", "qwen2.5-7b"),
        ("通义千问2.5-7B-Instruct", "qwen2.5-7b-instruct"),
        # DeepSeek's distills, with the Chinese word for "distill".
        ("DeepSeek-R1-蒸馏-Qwen-7B", "deepseek-r1-distill-qwen-7b"),
        # Baidu's ERNIE is 文心, Tencent's Hunyuan 混元.
        ("文心4.5-21B-A3B", "ernie-4.5-21b-a3b-pt"),
        ("混元-A13B", "hunyuan-a13b-instruct"),
        # An organisation's Chinese name before the model's English name.
        ("智谱GLM-4-9B-Chat", "glm-4-9b-chat"),
        ("阿里Qwen2.5-7B", "qwen2.5-7b"),
        # A size after a name that has one model of that size.
        ("Fin-R1-7B", "fin-r1"),
        ("Phi-4-14B", "phi-4"),
    ],
)
def test_typed_names_resolve(cat: lc.Catalog, typed: str, expected: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of these is a series name: no warning either
        assert cat.get_model(typed).id == expected


def test_size_after_a_name_must_match_its_count(cat: lc.Catalog) -> None:
    # Fin-R1 has 7.6B parameters: "Fin-R1-70B" is not it.
    with pytest.raises(lc.UnknownModelError):
        cat.get_model("Fin-R1-70B")


@pytest.mark.parametrize("typed", ["千问3", "通义千问3", "Qwen3"])
def test_chinese_series_names_list_the_same_members(cat: lc.Catalog, typed: str) -> None:
    with pytest.raises(lc.FamilyNameError) as info:
        cat.get_model(typed)
    assert typed in str(info.value)
    assert set(info.value.suggestions) == {m.id for m in cat.find_models(series="qwen3")}


def test_chinese_and_english_family_names_agree(cat: lc.Catalog) -> None:
    # "通义千问2.5" used to miss qwen2.5-7b-instruct, the one member without a Chinese alias.
    with pytest.raises(lc.FamilyNameError) as zh:
        cat.get_model("通义千问2.5")
    with pytest.raises(lc.FamilyNameError) as en:
        cat.get_model("Qwen2.5")
    assert zh.value.suggestions == en.value.suggestions
    assert "qwen2.5-7b-instruct" in zh.value.suggestions


def test_series_warning_names_what_was_typed(cat: lc.Catalog) -> None:
    # 千问 is 通义千问 is Qwen: the survey's qwen-7b, with the series listed.
    with pytest.warns(lc.SeriesNameWarning) as caught:
        model = cat.get_model("千问")
    with pytest.warns(lc.SeriesNameWarning):
        assert model.id == cat.get_model("通义千问").id
    assert caught[0].message.name == "千问"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("typed", "org_word"),
    [
        ("深度求索", "深度求索"),
        ("智谱", "智谱"),
        ("零一万物", "零一万物"),
        ("月之暗面", "月之暗面"),
        ("面壁", "面壁"),
        ("Meta", "Meta"),
    ],
)
def test_organisation_names_say_so(cat: lc.Catalog, typed: str, org_word: str) -> None:
    with pytest.raises(lc.OrganizationNameError) as info:
        cat.get_model(typed)
    err = info.value
    assert isinstance(err, lc.UnknownModelError)  # callers catching UnknownModelError still do
    members = cat.find_models(organization=org_word)
    assert members, org_word
    assert f"--org {typed}" in str(err)
    assert set(err.suggestions) <= {m.id for m in members}
    assert f"{len({m.id for m in members if m.organization in err.organizations})} catalog models" in str(err)


def test_organisation_error_needs_a_whole_word(cat: lc.Catalog) -> None:
    # "Met" is no organisation's word; a name with a size is a model name, not an organisation.
    for typed in ("Met", "Meta-7B"):
        with pytest.raises(lc.UnknownModelError) as info:
            cat.get_model(typed)
        assert not isinstance(info.value, lc.OrganizationNameError)


def test_family_lists_the_rest_of_its_series(cat: lc.Catalog) -> None:
    with pytest.raises(lc.FamilyNameError) as info:
        cat.get_model("Saul")
    series = {m.id for m in cat.find_models(series=info.value.family)}
    assert set(info.value.suggestions) | set(info.value.others) == series
    assert set(info.value.others)
    assert all(o in str(info.value) for o in info.value.others)


def test_english_name_keeps_other_text() -> None:
    assert english_name("Llama-3.1-8B") == "Llama-3.1-8B"
    assert english_name("华佗GPT") == "华佗GPT"  # not a brand word of another name
    assert english_name("书生·浦语2.5-7B") == "InternLM2.5-7B"


def test_subdomain_synonyms(cat: lc.Catalog) -> None:
    tcm = {m.id for m in cat.models if "traditional-chinese-medicine" in m.subdomains}
    assert len(tcm) >= 5
    for typed in ("中医", "TCM", "traditional chinese medicine", "中醫"):
        assert subdomain_id(typed) == "traditional-chinese-medicine" or typed == "traditional chinese medicine"
        assert {m.id for m in cat.find_models(subdomain=typed)} == tcm
    # search: every TCM model, including those whose text never says 中医
    assert tcm <= {m.id for m in cat.search("中医")}


def test_domain_that_is_a_subdomain_says_so(cat: lc.Catalog) -> None:
    with pytest.raises(lc.QueryError, match="sub-domain of medical"):
        cat.find_models(domain="tcm")


def test_cli_org_name_exits_2_with_the_list_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", "深度求索")
    assert code == 2
    assert "--org 深度求索" in out + err


def test_cli_figures_mark_claims(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "figures", "llama-2-7b", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    claims = [r for r in rows if r["claimed_by"]]
    assert claims
    assert all(r["metric"] == "minimum" for r in claims)
    measured = [r for r in rows if r["metric"] == "max_allocated"]
    assert measured
    assert not any(r["claimed_by"] for r in measured)
    code, out, _ = run(capsys, "show", "llama-2-7b")
    assert "not a measurement" in out


def test_cli_negative_value_reaches_the_option_check(capsys: pytest.CaptureFixture[str]) -> None:
    # argparse alone reads "-12GiB" as an option and says "expected one argument".
    code, _, err = run(capsys, "estimate", "llama-2-7b", "--gpu-memory", "-12GiB")
    assert code == 2
    assert "negative" in err
    assert "expected one argument" not in err
