"""Lineage consistency: an instruct/chat model whose series has its base in the catalog names it.

A fine-tuned variant (``variant`` instruct or chat) without ``base_model`` is a gap when its series
holds a model it could descend from: a ``base`` variant of the same size, or a same-size sibling that
names its own base (``qwen2.5-7b-instruct`` next to ``qwen2.5-7b``; ``sunsimiao-01m-chat`` next to
``sunsimiao-01m``, built on baichuan-7b). Such an entry names its base_model, or its notes say why not
with the sentence marker "base_model left out" (or "base_model is left out") and the reason. The bases
named come from the model cards (sources in each entry).
"""

from __future__ import annotations

import re

import attrs
import pytest

import llmcatalog as lc

_WHY_NOT = re.compile(r"base_model (?:is )?left out", re.IGNORECASE)


def _gaps(catalog: lc.Catalog) -> list[tuple[str, list[str]]]:
    by_series: dict[str, list[lc.Model]] = {}
    for m in catalog.models:
        if m.series:
            by_series.setdefault(m.series, []).append(m)
    gaps = []
    for m in catalog.models:
        if m.variant not in ("instruct", "chat") or m.base_model or not m.series:
            continue
        could = [
            b.id
            for b in by_series[m.series]
            if b.id != m.id
            and (m.size_label is None or b.size_label == m.size_label)
            and (b.variant == "base" or b.base_model is not None)
        ]
        if could and not _WHY_NOT.search(m.notes or ""):
            gaps.append((m.id, could))
    return gaps


def test_fine_tuned_variants_name_their_base(catalog: lc.Catalog) -> None:
    """No instruct/chat entry leaves out a base its series offers without saying why."""
    assert _gaps(catalog) == []


def test_the_check_finds_a_gap(catalog: lc.Catalog) -> None:
    """The check fails on the trial's case: qwen2.5-7b-instruct without its base qwen2.5-7b."""
    m = catalog.get_model("qwen2.5-7b-instruct")
    gap = attrs.evolve(m, id="qwen2.5-7b-instruct-copy", name="copy", aliases=(), base_model=None, links=None)
    bigger = catalog.with_entries(gap)
    assert ("qwen2.5-7b-instruct-copy", ["qwen2.5-7b", "qwen2.5-7b-instruct"]) in _gaps(bigger)


@pytest.mark.parametrize(
    ("mid", "base"),
    [
        # Qwen2.5-7B-Instruct card: the instruction-tuned 7B Qwen2.5 model (as for 72B).
        ("qwen2.5-7b-instruct", "qwen2.5-7b"),
        ("qwen2.5-72b-instruct", "qwen2.5-72b"),
        # deepseek-ai/deepseek-vl-1.3b-chat card: an instructed version based on DeepSeek-VL-1.3b-base.
        ("deepseek-vl-1.3b-chat", "deepseek-vl-1.3b-base"),
        ("deepseek-vl-7b-chat", "deepseek-vl-7b-base"),
    ],
)
def test_trial_lineage(catalog: lc.Catalog, mid: str, base: str) -> None:
    assert catalog.get_model(mid).base_model == base
