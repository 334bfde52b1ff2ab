"""Malformed configs: mutations of the real config.json fixtures raise CatalogDataError, nothing else."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.importers.hfconfig import HFConfigWarning
from llmcatalog.memory.params import param_breakdown

CONFIGS = {
    p.stem: json.loads(p.read_text()) for p in sorted((Path(__file__).parent / "data" / "hf_configs").glob("*.json"))
}

#: Any JSON value (plus NaN/inf, which Python's json module reads), with explicit bounds.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
REPLACEMENTS = st.one_of(
    JSON,
    st.sampled_from([0, -1, -4096, 10**30, 1, "4096", "32", "false", "true", "", [], {}, [[1]], {"a": {"b": []}}]),
    st.integers(min_value=-3, max_value=3),
)


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A real config with one to three keys dropped or replaced (top level or inside text_config)."""
    cfg = copy.deepcopy(CONFIGS[draw(st.sampled_from(sorted(CONFIGS)))])
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        target = cfg
        if isinstance(cfg.get("text_config"), dict) and draw(st.booleans()):
            target = cfg["text_config"]
        if not target:
            break
        key = draw(st.sampled_from(sorted(target)))
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            del target[key]
        else:
            target[key] = draw(REPLACEMENTS)
    return cfg


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_configs())
@example(CONFIGS["llama-2-7b"] | {"num_attention_heads": 0})
@example(CONFIGS["llama-2-7b"] | {"hidden_size": 4095})
@example(CONFIGS["deepseek-v3"] | {"num_hidden_layers": 10**30})
def test_only_catalog_data_error_escapes(cfg: dict[str, Any]) -> None:
    """Only CatalogDataError escapes; any Architecture returned has positive sizes and consistent heads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HFConfigWarning)
        try:
            arch = lc.architecture_from_hf_config(cfg)
        except lc.CatalogDataError:
            return
    for field in (
        "n_layers",
        "hidden_size",
        "n_heads",
        "n_kv_heads",
        "head_dim",
        "ffn_size",
        "vocab_size",
        "max_context",
    ):
        value = getattr(arch, field)
        assert type(value) is int, (field, value)
        assert value > 0, (field, value)
    assert arch.n_heads % arch.n_kv_heads == 0
    if arch.is_mla:
        assert arch.n_kv_heads == arch.n_heads
    pb = param_breakdown(arch)
    assert isinstance(pb.total, int)
    assert 0 < pb.active <= pb.total == lc.count_params(arch)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


@st.composite
def junk_typed_keys(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config with one int/bool/float key given a value of another JSON type, the config without that key)."""
    name = draw(st.sampled_from(sorted(CONFIGS)))
    cfg = copy.deepcopy(CONFIGS[name])
    target = cfg["text_config"] if isinstance(cfg.get("text_config"), dict) and draw(st.booleans()) else cfg
    typed = sorted(k for k, v in target.items() if isinstance(v, (bool, int, float)))
    key = draw(st.sampled_from(typed))
    original = _json_type(target[key])
    junk = draw(REPLACEMENTS.filter(lambda v: v is not None and _json_type(v) != original))
    dropped = copy.deepcopy(cfg)
    (dropped["text_config"] if target is not cfg else dropped).pop(key)
    target[key] = junk
    return cfg, dropped


def _read(cfg: dict[str, Any]) -> lc.Architecture | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HFConfigWarning)
        try:
            return lc.architecture_from_hf_config(cfg)
        except lc.CatalogDataError:
            return None


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk_typed_keys())
@example((CONFIGS["llama-2-7b"] | {"tie_word_embeddings": "false"}, dict(CONFIGS["llama-2-7b"])))
@example((CONFIGS["llama-2-7b"] | {"hidden_size": "4096"}, dict(CONFIGS["llama-2-7b"])))
def test_a_wrongly_typed_value_is_never_used(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """A key given a value of the wrong JSON type raises, or is a key the reader ignores (same as absent)."""
    junk, dropped = pair
    arch = _read(junk)
    if arch is not None:
        assert arch == _read(dropped)
