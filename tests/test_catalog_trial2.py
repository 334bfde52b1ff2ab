"""Entries added after a user trial (Qwen3-2507). Facts from outside our code: the model card's counts
(30.5B total, 29.9B non-embedding, 48 layers, 32/4 heads, 128 experts, 262,144 native context) and the
Qwen3-30B-A3B config.json fixture in tests/data/hf_configs (provenance in its README)."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

import llmcatalog as lc

CONFIGS = Path(__file__).parent / "data" / "hf_configs"


def test_qwen3_30b_a3b_instruct_2507_is_the_30b_a3b_layout_with_256k_context(catalog: lc.Catalog) -> None:
    cfg = json.loads((CONFIGS / "qwen3-30b-a3b.json").read_text())
    layout = lc.architecture_from_hf_config({**cfg, "max_position_embeddings": 262144})
    m = catalog.get_model("Qwen/Qwen3-30B-A3B-Instruct-2507")
    assert m.architecture == layout
    assert m.n_params == lc.count_params(layout)
    assert round(m.n_params / 1e9, 1) == 30.5  # card: 30.5B in total
    original = catalog.get_model("qwen3-30b-a3b").architecture
    assert attrs.evolve(layout, max_context=cfg["max_position_embeddings"]) == original


def test_qwen3_4b_base_and_2507_are_the_4b_layout(catalog: lc.Catalog) -> None:
    """Qwen3-4B-Base (card: context 32,768) and Qwen3-4B-Instruct-2507 (card: 262,144 natively) share
    Qwen3-4B's layout; the cards give 4.0B parameters (3.6B non-embedding) for all three."""
    cfg = json.loads((CONFIGS / "qwen3-4b.json").read_text())
    for repo, context in (("Qwen/Qwen3-4B-Base", 32768), ("Qwen/Qwen3-4B-Instruct-2507", 262144)):
        layout = lc.architecture_from_hf_config({**cfg, "max_position_embeddings": context})
        m = catalog.get_model(repo)
        assert m.architecture == layout, repo
        assert m.n_params == lc.count_params(layout)
        assert round(m.n_params / 1e9, 1) == 4.0
    assert catalog.get_model("qwen3-4b").base_model == "qwen3-4b-base"


def test_qwen3_235b_2507_is_the_235b_layout_with_256k_context(
    catalog: lc.Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 2507 cards give Qwen3-235B-A22B's counts (235B total, 22B active, 94 layers, 64/4 heads,
    128 experts) and 262,144 native context."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no network: the FP8 repository resolves by its name
    base = catalog.get_model("qwen3-235b-a22b").architecture
    assert base is not None
    for repo in ("Qwen/Qwen3-235B-A22B-Instruct-2507", "Qwen/Qwen3-235B-A22B-Thinking-2507"):
        m = catalog.get_model(repo)
        assert m.architecture == attrs.evolve(base, max_context=262144), repo
        assert m.n_params is not None
        assert round(m.n_params / 1e9) == 235
        fp8 = lc.get_model(f"{repo}-FP8")  # the FP8 release resolves to it (offline: inferred format)
        assert fp8.base_model == m.id
