"""The TOML/JSON converter: strict types, paths in errors, round trips of every type."""

from __future__ import annotations

import json
import tomllib

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.registry.converter import load_entries, structure, unstructure
from strategies import architectures, slugs, urls

GOOD = """
format = 1
[[models]]
id = "tiny"
name = "Tiny"
domain = "general"
sources = ["https://example.org/tiny"]
[models.architecture]
family = "llama"
n_layers = 2
hidden_size = 64
n_heads = 4
ffn_size = 128
vocab_size = 100
max_context = 128
"""


def test_loads_a_good_file() -> None:
    """A valid file gives typed entries."""
    entries = load_entries(GOOD, source="x.toml")
    (m,) = entries["models"]
    assert isinstance(m.architecture, lc.Architecture)
    assert m.architecture.n_layers == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[models]\nid=", "x.toml: not valid TOML"),
        (
            GOOD.replace("n_layers = 2", 'n_layers = "2"'),
            "x.toml: models[0].architecture.n_layers: expected an integer",
        ),
        (
            GOOD.replace("n_layers = 2", "n_layers = -2"),
            "x.toml: models[0].architecture: 'n_layers' must be a positive",
        ),
        (
            GOOD.replace('name = "Tiny"', 'name = "Tiny"\ncolour = "red"'),
            "x.toml: models[0]: extra fields found (colour)",
        ),
        (GOOD.replace('sources = ["https://example.org/tiny"]', "sources = []"), "'sources' must list the URL"),
        (GOOD.replace("format = 1", "format = 2"), "format = 2 is not supported"),
        (GOOD + "\n[[widgets]]\nid='w'\n", "unknown top-level key(s) ['widgets']"),
        (GOOD.replace('domain = "general"', 'domain = "general"\nopen_weights = "yes"'), "expected true or false"),
    ],
)
def test_errors_name_the_path(text: str, expected: str) -> None:
    """Malformed data raises CatalogDataError whose message points into the file."""
    with pytest.raises(lc.CatalogDataError) as info:
        load_entries(text, source="x.toml")
    assert expected in str(info.value)


def test_load_toml_missing_file(tmp_path) -> None:
    """A missing file is a CatalogDataError, not an OSError."""
    with pytest.raises(lc.CatalogDataError, match="cannot read"):
        lc.load_toml(tmp_path / "nope.toml")


def test_not_utf8() -> None:
    """Bytes that are not UTF-8 are reported as such."""
    with pytest.raises(lc.CatalogDataError, match="not UTF-8"):
        load_entries(b"\xff\xfe", source="x.toml")


figures = st.builds(
    lc.PublishedFigure,
    workload=st.sampled_from(sorted(lc.values.model.FIGURE_WORKLOADS)),
    metric=st.sampled_from(["nvidia-smi", "max_allocated", "approximate"]),
    source=urls,
    memory_value=st.floats(0.5, 500, allow_nan=False),
    memory_unit=st.sampled_from(sorted(lc.values.model.MEMORY_UNITS)),
    batch_size=st.none() | st.integers(1, 64),
    lora_targets=st.lists(st.sampled_from(["q_proj", "v_proj"]), unique=True).map(tuple),
    exact_setting=st.booleans(),
)
models = st.builds(
    lc.Model,
    id=slugs,
    name=st.text(min_size=1, max_size=20),
    domain=slugs,
    sources=st.lists(urls, min_size=1, max_size=3).map(tuple),
    aliases=st.lists(st.text(min_size=1, max_size=10).filter(str.strip), max_size=3).map(tuple),
    architecture=st.none() | architectures(),
    n_params=st.none() | st.integers(1, 10**12),
    open_weights=st.none() | st.booleans(),
    links=st.builds(lc.Links, code=st.none() | urls),
    components=st.lists(
        st.builds(
            lc.Component,
            role=st.just("vision-encoder"),
            name=st.just("ViT"),
            n_params=st.none() | st.integers(1, 10**10),
        ),
        max_size=2,
    ).map(tuple),
    figures=st.lists(figures, max_size=2).map(tuple),
)
gpus = st.builds(
    lc.GPU,
    id=slugs,
    name=st.just("G"),
    vendor=st.just("V"),
    memory_bytes=st.integers(2**30, 2**40),
    sources=st.lists(urls, min_size=1).map(tuple),
    bandwidth_gb_s=st.none() | st.floats(1, 10000),
    fp32_tflops=st.none() | st.floats(0.1, 1000),
)
tools = st.builds(
    lc.Tool, id=slugs, name=st.just("T"), category=slugs, url=urls, sources=st.lists(urls, min_size=1).map(tuple)
)


@given(st.one_of(models, gpus, tools))
def test_round_trip_json(entry) -> None:
    """unstructure -> JSON -> structure gives back an equal entry."""
    data = json.loads(json.dumps(unstructure(entry)))
    assert structure(data, type(entry)) == entry


@given(models)
def test_round_trip_toml(model: lc.Model) -> None:
    """A model written as a TOML data file reads back equal."""
    text = tomli_w.dumps({"models": [unstructure(model)]})
    assert load_entries(text, source="rt.toml")["models"] == (model,)


@given(architectures())
def test_round_trip_architecture(arch: lc.Architecture) -> None:
    """Architectures (defaults derived from other fields included) survive a round trip."""
    assert structure(tomllib.loads(tomli_w.dumps(unstructure(arch))), lc.Architecture) == arch


def test_unstructure_rejects_other_types() -> None:
    """Only catalog types are unstructured."""
    with pytest.raises(TypeError):
        unstructure({"id": "x"})


def test_the_json_shape_check_agrees_with_the_recursive_one() -> None:
    """The cache reader's iterative check (_json_well_formed) accepts exactly what _well_formed accepts for
    documents json.loads makes: no null leaves, at most MAX_DEPTH levels."""
    import json as _json
    import random

    from llmcatalog.registry.converter import MAX_DEPTH, _json_well_formed, _well_formed

    rng = random.Random(7)

    def gen(depth: int) -> object:
        r = rng.random()
        if depth < MAX_DEPTH + 3 and r < 0.3:
            return {f"k{i}": gen(depth + 1) for i in range(rng.randint(0, 3))}
        if depth < MAX_DEPTH + 3 and r < 0.5:
            return [gen(depth + 1) for _ in range(rng.randint(0, 3))]
        return rng.choice(["s", 1, 2.5, True, None])

    deep: object = "leaf"
    for _ in range(MAX_DEPTH + 1):
        deep = {"k": deep}
    docs = [_json.loads(_json.dumps(gen(0))) for _ in range(3000)] + [deep, {"a": None}, [1], {"a": [{"b": 1}]}]
    for doc in docs:
        assert _json_well_formed(doc) == (isinstance(doc, dict) and _well_formed(doc))
