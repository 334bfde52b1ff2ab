"""Every shipped entry: valid, sourced, unique, resolvable lineage, estimable when it should be."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from pathlib import Path

import pytest

import llmcatalog as lc
from llmcatalog.registry.domains import DOMAINS
from llmcatalog.registry.names import normalize

SEED = Path(__file__).resolve().parents[1] / "tests" / "data" / "seed_names.txt"


def _entries(catalog: lc.Catalog) -> list:
    return [*catalog.models, *catalog.gpus, *catalog.tools]


def test_every_domain_plugin_loads(catalog: lc.Catalog) -> None:
    """All built-in plugins load in strict mode, each through its entry point."""
    names = {(p.group, p.name) for p in catalog.plugins if p.builtin}
    for d in DOMAINS:
        assert ("llmcatalog.models", d) in names, f"domain {d} has no entry point in pyproject.toml"
    assert ("llmcatalog.gpus", "builtin") in names
    assert ("llmcatalog.tools", "builtin") in names
    assert not catalog.plugin_errors
    assert set(catalog.domains()) == set(DOMAINS)


def test_sources_are_urls(catalog: lc.Catalog) -> None:
    """Every entry names at least one http(s) source."""
    bad = [e.id for e in _entries(catalog) if not e.sources or not all(re.match(r"https?://", s) for s in e.sources)]
    assert not bad, f"entries without a source URL: {bad}"


def test_names_are_unique(catalog: lc.Catalog) -> None:
    """No two models share an id, name or alias after normalisation (the catalog would refuse to build)."""
    owners: dict[str, set[str]] = {}
    for m in catalog.models:
        for n in (m.id, m.name, *m.aliases):
            owners.setdefault(normalize(n), set()).add(m.id)
    clashes = {k: v for k, v in owners.items() if len(v) > 1}
    assert not clashes, f"shared names (drop the alias from one entry): {clashes}"


def test_lineage_resolves_and_is_acyclic(catalog: lc.Catalog) -> None:
    """Every base_model is in the catalog and following bases always ends."""
    ids = {m.id for m in catalog.models}
    missing = sorted({(m.id, m.base_model) for m in catalog.models if m.base_model and m.base_model not in ids})
    assert not missing, f"base_model not in the catalog: {missing}"
    for m in catalog.models:
        seen = {m.id}
        cur = m
        while cur.base_model:
            assert cur.base_model not in seen, f"lineage cycle through {m.id}"
            seen.add(cur.base_model)
            cur = catalog.get_model(cur.base_model)


def test_params_match_architecture(catalog: lc.Catalog) -> None:
    """An entry's own architecture reproduces its stated parameter count exactly: the language model's
    count plus the published sizes of its other components (vision tower, projector), the one rule for
    totals (tests/test_catalog_facts.py)."""
    bad = []
    for m in catalog.models:
        if m.architecture is not None and m.architecture_from is None and m.n_params is not None:
            others = [c.n_params for c in m.components if c.role != "language-model"]
            if any(n is None for n in others):
                continue  # a component of unknown size: the total is stated by its source, not derived
            count = lc.count_params(m.architecture) + sum(n for n in others if n is not None)
            if count != m.n_params:
                bad.append((m.id, count, m.n_params))
    assert not bad, f"architecture count != n_params (fix the architecture or n_params): {bad}"


def _is_llm(m: lc.Model) -> bool:
    return m.modality == "text" and m.architecture_type in (None, "decoder-only")


def test_open_llms_are_estimable(catalog: lc.Catalog) -> None:
    """Every open-weight LLM has an architecture, its own or inherited, and estimates -- except the
    documented gaps of tests/data/not_estimable.txt (and that list holds no stale entries)."""
    known = {
        line.split("|")[0].strip()
        for line in (SEED.parent / "not_estimable.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    lacking = {m.id for m in catalog.models if _is_llm(m) and m.open_weights is True and m.architecture is None}
    assert not lacking - known, f"open-weight LLMs without an architecture: {sorted(lacking - known)}"
    assert not known - lacking, f"now estimable, drop from not_estimable.txt: {sorted(known - lacking)}"
    w = lc.Inference(precision="bf16", batch_size=1, context_tokens=512)
    for m in catalog.models:
        if m.architecture is not None and m.open_weights is not False:
            assert lc.estimate_vram(m, w).total_bytes > 0


def test_closed_models_refuse_estimates(catalog: lc.Catalog) -> None:
    """Closed-weight models are listed and looked up, but estimating them says why it cannot."""
    closed = catalog.find_models(open_weights=False)
    assert {"gpt-4", "claude-3-opus", "gemini-1.0-pro", "glm-4"} <= {m.id for m in closed}
    with pytest.raises(lc.NotEstimableError, match="closed weights"):
        lc.estimate_vram(catalog.get_model("GPT-4"), lc.Inference())


def test_figures_name_catalog_gpus(catalog: lc.Catalog) -> None:
    """A figure's gpu field is a catalog GPU id."""
    gpu_ids = {g.id for g in catalog.gpus}
    bad = [(m.id, f.gpu) for m, f in catalog.figures() if f.gpu and f.gpu not in gpu_ids]
    assert not bad, f"figures naming unknown GPUs: {bad}"


def test_gpu_facts_are_plausible(catalog: lc.Catalog) -> None:
    """Memory is whole GiB (or the vendor's stated size); throughput ordering FP32 <= tensor FP16."""
    for g in catalog.gpus:
        assert 4 * 2**30 <= g.memory_bytes <= 512 * 2**30, g.id
        if g.fp32_tflops and g.fp16_tflops:
            assert g.fp16_tflops >= g.fp32_tflops * 0.9, g.id


def test_seed_names_resolve(catalog: lc.Catalog) -> None:
    """Every model, tool and GPU the survey names resolves (tests/data/seed_names.txt)."""
    missing = []
    for line in SEED.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind, _, name = line.partition(":")
        getter = {"model": catalog.get_model, "tool": catalog.get_tool, "gpu": catalog.get_gpu}[kind]
        try:
            with (
                warnings.catch_warnings()
            ):  # "LLaMA2" resolves, warning that it is a series (test_names_series_warning)
                warnings.simplefilter("ignore", lc.SeriesNameWarning)
                getter(name)
        except lc.UnknownEntryError:
            missing.append(line)
    assert not missing, "names from the survey that do not resolve:\n" + "\n".join(missing)


def test_counts_per_domain(catalog: lc.Catalog) -> None:
    """Each domain has entries (no empty plugin)."""
    counts = Counter(m.domain for m in catalog.models)
    assert all(counts[d] > 0 for d in DOMAINS), counts
