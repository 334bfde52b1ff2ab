"""A name that is also a series name with several sizes resolves with a SeriesNameWarning.

The survey calls models by their project or series name ("LLaMA2", "Baichuan2"); the catalog keeps
those names as aliases of one entry so that the survey's names resolve, but a user typing "Llama 2"
should learn that the memory figure is for the 7B and which other sizes exist.
"""

from __future__ import annotations

import warnings

import pytest

import llmcatalog as lc


@pytest.mark.parametrize(
    ("typed", "chosen", "other_size"),
    [
        ("Llama 2", "llama-2-7b", "llama-2-70b"),
        ("Baichuan2", "baichuan2-7b-base", "baichuan2-13b-base"),
        # Chinese names: other members carry names that start with it (通义千问-14B) ...
        ("通义千问", "qwen-7b", "qwen-72b"),
        # ... or it sits beside the series' English name on the one entry (华佗 beside HuatuoGPT).
        ("华佗", "huatuogpt-7b", "huatuogpt2-34b"),
    ],
)
def test_series_alias_warns_and_lists_the_sizes(typed: str, chosen: str, other_size: str, catalog: lc.Catalog) -> None:
    with pytest.warns(lc.SeriesNameWarning) as record:
        model = catalog.get_model(typed)
    assert model.id == chosen
    warning = record[0].message
    assert isinstance(warning, lc.SeriesNameWarning)
    assert warning.model_id == chosen
    assert other_size in warning.members
    assert other_size in str(warning)
    assert record[0].filename == __file__  # points at the caller's line, not at llmcatalog


@pytest.mark.parametrize("typed", ["llama-2-7b", "Llama-2-7B", "meta-llama/Llama-2-7b-hf", "Llama 2 7B"])
def test_a_sized_name_does_not_warn(typed: str, catalog: lc.Catalog) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.SeriesNameWarning)
        assert catalog.get_model(typed).id == "llama-2-7b"


@pytest.mark.parametrize(
    ("typed", "chosen"), [("microsoft/phi-4", "phi-4"), ("deepseek-ai/DeepSeek-R1", "deepseek-r1")]
)
def test_a_hub_id_does_not_warn(typed: str, chosen: str, catalog: lc.Catalog) -> None:
    """A Hub id names one repository, even when other repositories' ids start with it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.SeriesNameWarning)
        assert catalog.get_model(typed).id == chosen


def test_variants_of_one_size_do_not_warn(catalog: lc.Catalog) -> None:
    """'Mixtral-8x22B' is the base; the instruct model has the same size, so the figure does not depend on it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.SeriesNameWarning)
        assert catalog.get_model("Mixtral-8x22B").id == "mixtral-8x22b-v0.1"


def test_cli_prints_the_warning(capsys: pytest.CaptureFixture[str]) -> None:
    from llmcatalog.cli.main import main

    assert main(["show", "Llama 2"]) == 0
    err = capsys.readouterr().err
    assert "llama-2 series" in err
    assert "llama-2-70b" in err


@pytest.mark.parametrize(
    ("typed", "member"),
    [("书生·浦语2.5", "internlm2_5-20b"), ("通义千问2.5", "qwen2.5-72b"), ("通义千问2", "qwen2-57b-a14b")],
)
def test_a_chinese_series_name_lists_its_members(typed: str, member: str, catalog: lc.Catalog) -> None:
    """Like "InternLM2.5" or "Qwen2.5": the members' Chinese names start with it, followed by a size."""
    with pytest.raises(lc.FamilyNameError) as info:
        catalog.get_model(typed)
    assert member in info.value.suggestions
    # "通义千问2.5" is not "通义千问2-57B" (the version's dot counts), nor the Math series
    series = catalog.get_model(member).series
    assert all(catalog.get_model(s).series == series for s in info.value.suggestions)
