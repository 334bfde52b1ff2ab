"""Typed entries: validators name the field and say what to fix."""

from __future__ import annotations

import attrs
import pytest

import llmcatalog as lc

LLAMA = {
    "family": "llama",
    "n_layers": 32,
    "hidden_size": 4096,
    "n_heads": 32,
    "ffn_size": 11008,
    "vocab_size": 32000,
    "max_context": 4096,
}


def test_architecture_defaults_are_derived() -> None:
    """n_kv_heads defaults to n_heads, head_dim to hidden/heads; an explicit head_dim wins."""
    a = lc.Architecture(**LLAMA)
    assert (a.n_kv_heads, a.head_dim, a.kv_groups) == (32, 128, 1)
    g = lc.Architecture(**{**LLAMA, "hidden_size": 3072, "n_heads": 16, "head_dim": 256})
    assert g.head_dim == 256


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("n_layers", 0, "'n_layers' must be a positive integer"),
        ("n_layers", True, "'n_layers' must be a positive integer"),
        ("hidden_size", -4096, "'hidden_size' must be a positive integer"),
        ("mlp", "swiglu", "'mlp' must be one of"),
        ("family", "Llama 2", "'family' must be a lower-case id"),
        ("n_kv_heads", 5, "must be a multiple of 'n_kv_heads'"),
    ],
)
def test_architecture_rejects_bad_values(field: str, value: object, message: str) -> None:
    """Every bad value raises ValueError naming the field."""
    with pytest.raises(ValueError, match=message):
        lc.Architecture(**{**LLAMA, field: value})


def test_moe_needs_its_fields() -> None:
    """A mixture-of-experts architecture needs experts per token and the expert FFN size."""
    with pytest.raises(ValueError, match="n_experts_per_token"):
        lc.Architecture(**LLAMA, n_experts=8)
    with pytest.raises(ValueError, match="cannot exceed"):
        lc.Architecture(**LLAMA, n_experts=2, n_experts_per_token=4, expert_ffn_size=100)


def test_activation_names_are_canonical() -> None:
    """gelu_new and gelu-new are the same activation."""
    assert lc.Architecture(**LLAMA, activation="gelu_new").activation == "gelu-new"


def test_model_validators() -> None:
    """Ids are lower-case slugs, dates partial ISO, URLs http(s), a model is not its own base."""
    ok = lc.Model(id="x", name="X", domain="general", sources=["https://example.org"])
    assert ok.open_weights is None
    assert ok.architecture is None
    for kw, msg in [
        ({"id": "Bad Id"}, "'id' must be a lower-case id"),
        ({"release_date": "2023/05"}, "'release_date' must look like"),
        ({"sources": ["ftp://x"]}, "'sources' must be an http"),
        ({"modality": "smell"}, "'modality' must be one of"),
        ({"base_model": "x"}, "names the model itself"),
        ({"n_params": 7.5}, "'n_params' must be a positive integer"),
    ]:
        with pytest.raises(ValueError, match=msg):
            attrs.evolve(ok, **kw)


def test_published_figure_units() -> None:
    """memory_bytes honours GB (1e9) versus GiB (2**30) and MiB."""
    f = lc.PublishedFigure(
        workload="train_lora", metric="nvidia-smi", source="https://example.org", memory_value=14082, memory_unit="MiB"
    )
    assert f.memory_bytes == 14082 * 2**20
    assert attrs.evolve(f, memory_value=13.52, memory_unit="GB").memory_bytes == 13_520_000_000
    assert attrs.evolve(f, memory_value=None, memory_unit=None, metric="fits").memory_bytes is None
    with pytest.raises(ValueError, match="'memory_unit' is required"):
        lc.PublishedFigure(workload="train_lora", metric="approximate", source="https://example.org", memory_value=40)


def test_gpu_memory() -> None:
    """Physical memory in GiB; fits() uses the CUDA-reported total when known, else the documented
    fallback share of the driver total or of the physical size."""
    from llmcatalog.values.gpu import ALLOCATABLE_FALLBACK_FRACTION as f

    g = lc.GPU(id="g", name="G", vendor="V", memory_bytes=24 * 2**30, sources=["https://example.org"])
    assert g.memory_gib == 24
    assert g.available_bytes == int(g.memory_bytes * f)
    assert not g.allocatable_known
    g2 = attrs.evolve(g, usable_memory_bytes=24564 * 2**20)
    assert g2.available_bytes == int(24564 * 2**20 * f)
    g3 = attrs.evolve(g2, allocatable_memory_bytes=24175 * 2**20)
    assert g3.available_bytes == 24175 * 2**20
    assert g3.allocatable_known
    with pytest.raises(ValueError, match="cannot exceed"):
        attrs.evolve(g2, allocatable_memory_bytes=24565 * 2**20)
    with pytest.raises(ValueError, match="cannot exceed"):
        attrs.evolve(g, usable_memory_bytes=25 * 2**30)
