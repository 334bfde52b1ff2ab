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


def test_organisation_filter_finds_every_spelling(cat: lc.Catalog) -> None:
    # DeepSeek's models are written "DeepSeek (深度求索)", "DeepSeek" and "DeepSeek AI": the Chinese
    # name finds all three, as the English one does.
    zh = {m.id for m in cat.find_models(organization="深度求索")}
    en = {m.id for m in cat.find_models(organization="DeepSeek")}
    assert zh == en
    assert {m.organization for m in cat.models if m.id in zh} >= {"DeepSeek", "DeepSeek (深度求索)"}
    assert zh <= {m.id for m in cat.search("深度求索")}


def test_organisation_filter_matches_whole_words(cat: lc.Catalog) -> None:
    meta = cat.find_models(organization="Meta")
    assert meta
    assert not [m.id for m in meta if "metamath" in (m.organization or "").casefold()]
    # the count the error gives is the count the list command gives
    with pytest.raises(lc.OrganizationNameError) as info:
        cat.get_model("Meta")
    assert f"{len(meta)} catalog models" in str(info.value)
    # a name that is no whole word still filters as a substring
    assert cat.find_models(organization="Shanghai AI Lab")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        # ollama.com/library: the tags are the chat models, and deepseek-r1's small tags the distills
        ("deepseek-r1:7b", "deepseek-r1-distill-qwen-7b"),
        ("deepseek-r1:70b", "deepseek-r1-distill-llama-70b"),
        ("phi3:mini", "phi-3-mini-4k-instruct"),
        ("qwen2.5:72b", "qwen2.5-72b-instruct"),
        ("llama3.1:8b", "llama-3.1-8b-instruct"),
        ("qwen2.5:7b-instruct-q4_K_M", "qwen2.5-7b-instruct"),
        ("mixtral:8x22b", "mixtral-8x22b-instruct-v0.1"),
        ("llama3.1:8b-text-q8_0", "llama-3.1-8b"),
        ("smollm2:135m", "smollm2-135m-instruct"),
        ("llama3.2-vision:11b", "llama-3.2-11b-vision-instruct"),
        ("deepseek-coder-v2:16b", "deepseek-coder-v2-lite-instruct"),
        ("yi:9b", "yi-1.5-9b-chat"),
        ("glm4:9b", "glm-4-9b-chat"),
        ("gemma3:27b-it-qat", "gemma-3-27b-it"),
    ],
)
def test_ollama_tags(cat: lc.Catalog, tag: str, expected: str) -> None:
    assert cat.get_model(tag).id == expected


def test_size_written_first(cat: lc.Catalog) -> None:
    assert cat.get_model("72B Qwen2.5").id == cat.get_model("Qwen2.5-72B").id


def test_suggestions_prefer_the_nearest_generation(cat: lc.Catalog) -> None:
    # The example: the same family at the nearest size, then the previous generation.
    with pytest.raises(lc.UnknownModelError) as info:
        cat.get_model("Qwen3-7B")
    s = info.value.suggestions
    assert s[0] == "qwen3-8b"
    assert "qwen2.5-7b" in s
    assert "qwen-7b" not in s[: s.index("qwen2.5-7b")]  # Qwen (1) is further from Qwen3 than Qwen2.5


@pytest.mark.parametrize(
    ("typed", "base", "fmt"),
    [
        ("Qwen3-8B-AWQ", "qwen3-8b", "awq-int4"),
        ("GLM-4.5-Air-FP8", "glm-4.5-air", "fp8"),
        ("Qwen2.5-7B-Instruct-GPTQ-Int4", "qwen2.5-7b-instruct", "gptq-int4"),
    ],
)
def test_quantized_names_without_a_repository(typed: str, base: str, fmt: str) -> None:
    m = lc.get_model(typed)
    assert m.base_model == base
    assert m.weight_format is not None
    assert m.weight_format.name == fmt
    assert m.links.hub is None  # no repository was named
    assert "inferred from the name" in (m.notes or "")
    # 4-bit weights are about a quarter of the base's 16-bit ones
    q = lc.estimate_vram(m, lc.Inference()).weights_bytes
    full = lc.estimate_vram(base, lc.Inference()).weights_bytes
    if fmt != "fp8":
        assert q < 0.45 * full


def test_unknown_base_with_a_quant_suffix_stays_unknown() -> None:
    with pytest.raises(lc.UnknownModelError):
        lc.get_model("NoSuchModel-7B-AWQ")


def test_pinyin_and_synonyms(cat: lc.Catalog) -> None:
    assert cat.get_model("qianwen2.5-7b").id == "qwen2.5-7b"
    legal = {m.id for m in cat.find_models(domain="legal")}
    assert {m.id for m in cat.search("律师")} >= legal
    assert {m.id for m in cat.search("falv")} >= legal


def test_max_context_none_says_why() -> None:
    # Qwen3-8B's bf16 weights alone (15.3 GiB) exceed a 12 GB card: no context fits, and a warning says so.
    with pytest.warns(lc.NoFitWarning, match="even one token of context does not fit"):
        assert lc.max_context("qwen3-8b", "RTX 3060 12GB", lc.Inference()) is None
    with pytest.warns(lc.NoFitWarning, match="a batch of one"):
        assert lc.max_batch("qwen3-8b", "RTX 3060 12GB", lc.Inference()) is None


def test_ollama_tag_estimate_says_what_it_is() -> None:
    # The transformers estimate of an Ollama tag warns that Ollama runs a GGUF file ...
    with pytest.warns(lc.OllamaTagWarning, match="estimate_ollama"):
        lc.estimate_vram("qwen2.5:7b", lc.Inference())
    # ... and Ollama's own estimate reads the quantization the tag names (Q4_K_M when it names none).
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.OllamaTagWarning)
        assert lc.estimate_ollama("qwen2.5:7b-instruct-q8_0", gpu="RTX 4090").quant == "Q8_0"
        assert lc.estimate_ollama("qwen2.5:7b", gpu="RTX 4090").quant == "Q4_K_M"
        assert lc.estimate_ollama("gemma3:27b-it-qat", gpu="RTX 4090").quant == "Q4_0"  # QAT files are Q4_0
        lc.get_model("qwen2.5:7b")  # a look-up is not an estimate: no warning


def test_cli_ollama_tag_estimates_what_ollama_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "estimate", "qwen2.5:7b-instruct-q4_K_M", "--gpu", "RTX 3060 12GB")
    assert "is an Ollama tag" in err
    assert "Q4_K_M" in out
    assert code == 0  # 4-bit 7B fits a 12 GB card; the bf16 checkpoint (15 GiB) would not
    code, out, _ = run(capsys, "estimate", "qwen2.5:7b", "--gpu", "RTX 3060 12GB", "--engine", "transformers")
    assert code == 1


@pytest.mark.parametrize(
    ("typed", "hub_org"),
    [("Qwen", "qwen"), ("deepseek-ai", "deepseek-ai"), ("01-ai", "01-ai"), ("meta-llama", "meta-llama")],
)
def test_organisation_by_hub_organisation(cat: lc.Catalog, typed: str, hub_org: str) -> None:
    found = {m.id for m in cat.find_models(organization=typed)}
    linked = {
        m.id
        for m in cat.models
        if m.links and (m.links.hub or "").lower().startswith(f"https://huggingface.co/{hub_org}/")
    }
    assert linked
    assert linked <= found


def test_organisation_chinese_company_names(cat: lc.Catalog) -> None:
    assert cat.find_models(organization="谷歌") == cat.find_models(organization="Google")
    assert cat.find_models(organization="微软") == cat.find_models(organization="Microsoft")
    # a parenthesised Chinese name with Latin letters in it finds its organisation's other spellings
    assert cat.find_models(organization="上海AI实验室") == cat.find_models(organization="上海人工智能实验室")


def test_gpu_with_a_chinese_vendor_word() -> None:
    assert lc.get_gpu("英伟达RTX 4090").id == lc.get_gpu("RTX 4090").id


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("instruct 8b llama3.1", "Llama-3.1-8B-Instruct"),
        ("qwen 7b 2.5 instruct", "Qwen2.5-7B-Instruct"),
        ("mistral instruct 7b v0.3", "Mistral-7B-Instruct-v0.3"),
        ("Instruct-Qwen2.5-7B", "Qwen2.5-7B-Instruct"),
    ],
)
def test_model_words_in_any_order(cat: lc.Catalog, typed: str, name: str) -> None:
    assert cat.get_model(typed).id == cat.get_model(name).id


def test_words_in_another_order_must_name_one_model(cat: lc.Catalog) -> None:
    # "7b qwen" could be several Qwen 7B models: it is not guessed.
    with pytest.raises(lc.UnknownModelError):
        cat.get_model("instruct qwen")
