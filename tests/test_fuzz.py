"""Fuzzing the public API: junk in gives a typed error naming what to fix, never a crash or a wild number.

What may escape: :class:`llmcatalog.LLMCatalogError` subclasses, or ``ValueError``/``TypeError``
whose message names the offending field. What an estimate may return: non-negative int parts,
summing to ``total_bytes``, at most 2**60 bytes (1 EiB: "absurd" is anything above; no GPU has a
millionth of it). Bigger batch, longer context or more layers never give less memory, and ``fits``
is never True above the GPU's available bytes. (``Model.from_hf_config`` is fuzzed elsewhere.)
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.cli.main import main
from llmcatalog.memory.estimate import MAX_ESTIMATE_BYTES, as_run
from llmcatalog.memory.fit import HEADROOM_FRACTION
from llmcatalog.values import workload as wl
from strategies import architectures

# Random workloads: past-context lengths, other families' LoRA target names, formats a GPU cannot run
# and jobs that fit on no GPU count are expected here (each warning has its own test elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::llmcatalog.ContextLengthWarning"),
    pytest.mark.filterwarnings("ignore::llmcatalog.LoraTargetWarning"),
    pytest.mark.filterwarnings("ignore::llmcatalog.CompatibilityWarning"),
    pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning"),
]


def fuzz(n: int) -> settings:
    """Explicit example counts (the suite's profile would give 60): about 6,000 examples in all."""
    return settings(
        max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
    )


# -- junk ------------------------------------------------------------------------------------
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 2**31, 2**32 + 1, 2**63, 10**310, 10**5000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=6),
    st.lists(st.one_of(st.integers(), st.text(max_size=6)), max_size=3),
    st.tuples(st.text(max_size=8)),
    st.sets(st.text(max_size=6), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object),
    st.complex_numbers(max_magnitude=10),
)


def _ints(high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(1, 64), st.integers(-3, high + 3))


def _field_values(cls: type) -> dict[str, st.SearchStrategy[Any]]:
    """Per field: plausible values (to get past the first check) or junk of any type."""
    choices: dict[str, tuple[Any, ...]] = {
        "precision": wl.PRECISIONS + wl.COMPUTE_DTYPES,
        "compute_dtype": wl.COMPUTE_DTYPES,
        "kv_cache_precision": wl.KV_CACHE_DTYPES,
        "attention": wl.ATTENTION_IMPLEMENTATIONS,
        "method": wl.METHODS,
        "optimizer": wl.OPTIMIZERS,
        "optimizer_impl": wl.OPTIMIZER_IMPLS,
        "qlora_format": ("bnb-nf4", "bnb-nf4-dq", "gptq-int4", "awq-int4", "bnb-int8"),
        "fsdp": wl.FSDP_MODES,
        "zero_stage": (0, 1, 2, 3),
        "lora_targets": ("q_proj,v_proj", ("all-linear",), ["q_proj"], "c_attn", "q", ("q_proj", 3)),
    }
    bounds = {
        "batch_size": wl.MAX_BATCH_SIZE,
        "context_tokens": wl.MAX_TOKENS,
        "prompt_tokens": wl.MAX_TOKENS,
        "seq_len": wl.MAX_TOKENS,
        "lora_rank": wl.MAX_LORA_RANK,
        "lora_alpha": wl.MAX_LORA_RANK,
        "prefix_tokens": wl.MAX_PREFIX_TOKENS,
        "trainable_layers": wl.MAX_TRAINABLE_LAYERS,
        "data_parallel": wl.MAX_PARALLEL,
        "tensor_parallel": wl.MAX_PARALLEL,
        "pipeline_parallel": wl.MAX_PARALLEL,
    }
    out: dict[str, st.SearchStrategy[Any]] = {}
    for f in attrs.fields(cls):
        if f.name in choices:
            good: st.SearchStrategy[Any] = st.sampled_from(choices[f.name])
        elif f.name in bounds:
            good = _ints(bounds[f.name])
        elif f.name == "lora_dropout":
            good = st.floats(-1, 2)
        elif f.name == "parallelism":
            good = st.builds(lc.Parallelism)
        else:
            good = st.booleans()
        out[f.name] = st.one_of(good, junk)
    return out


#: Parallelism fields that count elements (DeepSpeed's buckets and thresholds).
_ELEMENT_FIELDS = frozenset(
    {
        "reduce_bucket_size",
        "allgather_bucket_size",
        "prefetch_bucket_size",
        "max_live_parameters",
        "max_reuse_distance",
        "param_persistence_threshold",
        "sub_group_size",
    }
)


def _assert_named(exc: BaseException, names: list[str]) -> None:
    """A ValueError/TypeError that is not one of ours must name one of the fields it was given."""
    if isinstance(exc, lc.LLMCatalogError):
        return
    assert isinstance(exc, (ValueError, TypeError)), f"{type(exc).__name__} escaped: {exc}"
    assert any(n in str(exc) for n in names), f"{type(exc).__name__} names no field: {exc}"


@fuzz(1200)
@given(data=st.data(), cls=st.sampled_from([lc.Inference, lc.FineTune, lc.Parallelism]))
def test_constructors_refuse_junk_by_name(data: st.DataObject, cls: type) -> None:
    """Workload constructors either build a valid value or raise WorkloadError naming the field."""
    values = _field_values(cls)
    names = data.draw(st.lists(st.sampled_from(sorted(values)), max_size=5, unique=True))
    kwargs = {n: data.draw(values[n], label=n) for n in names}
    try:
        w = cls(**kwargs)
    except Exception as exc:  # the point is to see what escapes
        _assert_named(exc, names)
        assert isinstance(exc, lc.WorkloadError), f"{type(exc).__name__}: {exc}"  # noqa: PT017
        return
    for f in attrs.fields(cls):  # what was built holds only sound values
        value = getattr(w, f.name)
        if f.type in ("int", "int | None") and value is not None:
            assert type(value) is int, (f.name, value)
            # DeepSpeed bucket and live-parameter sizes count elements of a whole model (bound 2**44)
            bound = wl.MAX_BUCKET_ELEMENTS if f.name in _ELEMENT_FIELDS else wl.MAX_TOKENS
            assert 0 <= value <= bound, f.name
        elif f.type == "bool":
            assert type(value) is bool, (f.name, value)
        elif f.type in ("str", "str | None") and value is not None:
            assert type(value) is str, (f.name, value)
    if isinstance(w, lc.FineTune):
        assert all(isinstance(t, str) and t and "," not in t for t in w.lora_targets), w.lora_targets
        assert 0 <= w.lora_dropout < 1


# -- estimates ---------------------------------------------------------------------------------
def _parallelism(training: bool) -> st.SearchStrategy[lc.Parallelism]:
    sizes = st.one_of(st.sampled_from([1, 1, 2, 4, 8]), st.integers(1, 200))
    if not training:
        return st.builds(lc.Parallelism, tensor_parallel=sizes, pipeline_parallel=sizes)
    return st.builds(
        lc.Parallelism,
        data_parallel=sizes,
        tensor_parallel=sizes,
        pipeline_parallel=sizes,
        zero_stage=st.sampled_from([0, 0, 1, 2, 3]),
    )


big_tokens = st.one_of(st.integers(1, 8192), st.integers(1, wl.MAX_TOKENS))
big_batch = st.one_of(st.integers(1, 16), st.integers(1, wl.MAX_BATCH_SIZE))

inference = st.builds(
    lc.Inference,
    precision=st.sampled_from(wl.PRECISIONS),
    batch_size=big_batch,
    context_tokens=big_tokens,
    kv_cache_precision=st.sampled_from((None, *wl.KV_CACHE_DTYPES)),
    attention=st.sampled_from(wl.ATTENTION_IMPLEMENTATIONS),
    parallelism=_parallelism(training=False),
)
finetune = st.builds(
    lc.FineTune,
    method=st.sampled_from(wl.METHODS),
    precision=st.sampled_from(wl.COMPUTE_DTYPES),
    mixed_precision=st.booleans(),
    optimizer=st.sampled_from(wl.OPTIMIZERS),
    optimizer_impl=st.sampled_from(wl.OPTIMIZER_IMPLS),
    batch_size=big_batch,
    seq_len=big_tokens,
    gradient_checkpointing=st.booleans(),
    attention=st.sampled_from(wl.ATTENTION_IMPLEMENTATIONS),
    lora_rank=st.one_of(st.integers(1, 64), st.integers(1, wl.MAX_LORA_RANK)),
    lora_targets=st.sampled_from([("q_proj", "v_proj"), ("all-linear",), "query_key_value,dense", ("c_attn",)]),
    prefix_tokens=st.integers(1, 4096),
    trainable_layers=st.integers(1, 200),
    train_embeddings=st.booleans(),
    parallelism=_parallelism(training=True),
)
workloads = st.one_of(inference, finetune)


@pytest.fixture(scope="session")
def estimable(catalog: lc.Catalog) -> list[lc.Model]:
    """Catalog models with an architecture and open weights (the ones estimate_vram accepts)."""
    return [m for m in catalog.models if m.architecture is not None and m.open_weights is not False]


def _check_estimate(e: lc.MemoryEstimate) -> None:
    parts = [e.weights_bytes, e.kv_cache_bytes, e.activations_bytes, e.gradients_bytes, e.optimizer_bytes]
    parts.append(e.overhead_bytes)
    for p in parts:
        assert isinstance(p, int)
        assert p >= 0
    assert e.total_bytes == sum(parts)
    assert 0 < e.total_bytes <= MAX_ESTIMATE_BYTES
    assert all(isinstance(v, int) and v >= 0 for v in e.components.values())
    assert sum(e.components.values()) == e.total_bytes


def _estimate(model: lc.Model | lc.Architecture, w: lc.Inference | lc.FineTune) -> lc.MemoryEstimate | None:
    """The estimate, or None when the library refused with one of its typed errors."""
    try:
        return lc.estimate_vram(model, w)
    except lc.LLMCatalogError as exc:
        assert str(exc)  # noqa: PT017
        return None


@fuzz(1200)
@given(data=st.data(), w=workloads, gpu=st.sampled_from(["T4", "RTX 4090", "A100 80GB", "H100 SXM"]))
def test_estimates_over_the_catalog_are_sane(
    catalog: lc.Catalog, estimable: list[lc.Model], data: st.DataObject, w: lc.Inference | lc.FineTune, gpu: str
) -> None:
    """Any catalog model, any valid workload: a typed error or a sane breakdown; fits agrees with it."""
    model = data.draw(st.sampled_from(estimable), label="model")
    g = catalog.get_gpu(gpu)
    e = _estimate(model, w)
    if e is None:
        with pytest.raises(lc.LLMCatalogError):
            lc.fits(model, g, w)
        return
    _check_estimate(e)
    # fits counts the weights as the runtime holds them on this GPU (FP8 as bf16 below compute
    # capability 8.9: as_run), with a CompatibilityWarning; compare with that estimate.
    running, note = as_run(model, g, w)
    if note:
        e = _estimate(model, running)
        assert e is not None
    headroom = math.ceil(g.available_bytes * HEADROOM_FRACTION)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.CompatibilityWarning)
        assert lc.fits(model, g, w) == (e.total_bytes <= g.available_bytes - headroom)
        assert lc.fits(model, g, w, headroom_fraction=0) == (e.total_bytes <= g.available_bytes)


@fuzz(800)
@given(arch=architectures(), w=workloads, layers=st.integers(1, 10**6))
def test_estimates_over_random_architectures_are_sane(
    arch: lc.Architecture, w: lc.Inference | lc.FineTune, layers: int
) -> None:
    """Random architectures (up to a million layers): a typed error or a sane breakdown."""
    arch = attrs.evolve(arch, n_layers=max(layers, arch.n_dense_layers))
    e = _estimate(arch, w)
    if e is not None:
        _check_estimate(e)


def _bigger(w: lc.Inference | lc.FineTune, what: str, factor: int) -> lc.Inference | lc.FineTune:
    if what == "batch":
        return attrs.evolve(w, batch_size=min(w.batch_size * factor, wl.MAX_BATCH_SIZE))
    if isinstance(w, lc.Inference):
        return attrs.evolve(w, context_tokens=min(w.context_tokens * factor, wl.MAX_TOKENS))
    return attrs.evolve(w, seq_len=min(w.seq_len * factor, wl.MAX_TOKENS))


@fuzz(1000)
@given(
    arch=architectures(moe=False),
    w=workloads,
    what=st.sampled_from(["batch", "context", "layers"]),
    factor=st.integers(1, 64),
)
def test_more_never_needs_less(arch: lc.Architecture, w: lc.Inference | lc.FineTune, what: str, factor: int) -> None:
    """Ordered pairs: more batch, context or layers never give a smaller total (or a refusal turned into a figure)."""
    if what == "layers":
        small_arch, big_arch = arch, attrs.evolve(arch, n_layers=arch.n_layers * factor)
        small, big = _estimate(small_arch, w), _estimate(big_arch, w)
    else:
        small, big = _estimate(arch, w), _estimate(arch, _bigger(w, what, factor))
    if small is None:
        # Refused for the smaller job: the bigger one must be refused too, unless only its parallel
        # split became valid (more layers allow more pipeline stages).
        if what != "layers":
            assert big is None
        return
    if big is not None:
        assert small.total_bytes <= big.total_bytes


@fuzz(300)
@given(data=st.data(), w=workloads, gpu=st.sampled_from(["T4", "A100 80GB"]), max_gpus=st.integers(1, 64))
@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # None is allowed here; its reason is tested elsewhere
def test_min_gpus_answers_a_fitting_count(
    catalog: lc.Catalog,
    estimable: list[lc.Model],
    data: st.DataObject,
    w: lc.Inference | lc.FineTune,
    gpu: str,
    max_gpus: int,
) -> None:
    """min_gpus: None, or a count within max_gpus; a typed error when the workload itself is wrong."""
    model = data.draw(st.sampled_from(estimable), label="model")
    try:
        n = lc.min_gpus(model, catalog.get_gpu(gpu), w, max_gpus=max_gpus)
    except lc.LLMCatalogError:
        return
    assert n is None or 1 <= n <= max_gpus


@fuzz(200)
@given(
    model=junk,
    gpu=junk,
    w=st.one_of(junk, workloads),
    kw=st.dictionaries(st.sampled_from(["cuda_context_bytes", "allocator_fraction", "max_gpus"]), junk, max_size=2),
)
def test_calculus_refuses_junk_arguments(model: Any, gpu: Any, w: Any, kw: dict[str, Any]) -> None:
    """estimate_vram / fits / min_gpus with junk arguments: typed errors or TypeErrors naming what was expected."""
    for call in (
        lambda: lc.estimate_vram(model, w, **{k: v for k, v in kw.items() if k != "max_gpus"}),
        lambda: lc.fits(model, gpu, w),
        lambda: lc.min_gpus(model, gpu, w, **kw),
    ):
        with pytest.raises((lc.LLMCatalogError, TypeError)) as info:
            call()
        if isinstance(info.value, TypeError):
            assert any(word in str(info.value) for word in ("expected", "argument")), str(info.value)


# -- look-ups ------------------------------------------------------------------------------------
@fuzz(700)
@given(text=st.text(max_size=40), which=st.sampled_from(["model", "gpu", "tool", "search"]))
# Hypothesis also draws the code's own string constants: a series name ("starcoder2") resolves, with this warning.
@pytest.mark.filterwarnings("ignore::llmcatalog.SeriesNameWarning")
def test_lookups_with_any_unicode(catalog: lc.Catalog, text: str, which: str) -> None:
    """Random unicode names: an entry, or UnknownEntryError with suggestions; search returns models."""
    if which == "search":
        if not text.strip():  # empty or blank: refused, said
            with pytest.raises(lc.QueryError, match="empty"):
                catalog.search(text)
            return
        if not any(ch.isalnum() for ch in text):  # nothing to match: refused, said
            with pytest.raises(lc.QueryError, match="no letters or digits"):
                catalog.search(text)
            return
        found = catalog.search(text)
        assert all(isinstance(m, lc.Model) for m in found)
        return
    getter = {"model": catalog.get_model, "gpu": catalog.get_gpu, "tool": catalog.get_tool}[which]
    try:
        entry = getter(text)
    except lc.UnknownEntryError as exc:
        assert text in str(exc) or repr(text) in str(exc)  # noqa: PT017
        return
    assert entry.id


@fuzz(100)
@given(text=st.text(max_size=20))
def test_top_level_lookups_with_any_unicode(text: str) -> None:
    """lc.get_model / lc.get_gpu / lc.search (through the cached catalog) behave as the Catalog's; a name
    that reads as a path or Hub id ("~", "a/b") may also be a CheckpointError (lc.get_model resolves those)."""
    with contextlib.suppress(lc.UnknownEntryError, lc.CheckpointError):
        assert lc.get_model(text).id
    with contextlib.suppress(lc.UnknownEntryError):
        assert lc.get_gpu(text).id
    if not any(ch.isalnum() for ch in text):  # empty, blank or only symbols: refused, said
        with pytest.raises(lc.QueryError):
            lc.search(text)
    else:
        assert isinstance(lc.search(text), tuple)


# -- the command line --------------------------------------------------------------------------
_FLAG_VALUES: dict[str, st.SearchStrategy[str] | None] = {
    "--gpu": st.sampled_from(["T4", "RTX 4090", "a100-sxm4-80gb", "nope"]),
    "--finetune": st.sampled_from([*wl.METHODS, "dpo"]),
    "--precision": st.sampled_from([*wl.PRECISIONS, "int3"]),
    "--compute": st.sampled_from(wl.COMPUTE_DTYPES),
    "--kv-precision": st.sampled_from(wl.KV_CACHE_DTYPES),
    "--batch": None,
    "--context": None,
    "--prompt": None,
    "--seq-len": None,
    "--attention": st.sampled_from(wl.ATTENTION_IMPLEMENTATIONS),
    "--optimizer": st.sampled_from(wl.OPTIMIZERS),
    "--lora-rank": None,
    "--lora-targets": st.sampled_from(["q_proj,v_proj", "all-linear", ",", "q", "c_attn,dense"]),
    "--prefix-tokens": None,
    "--trainable-layers": None,
    "--dp": None,
    "--tp": None,
    "--pp": None,
    "--zero": st.sampled_from(["0", "1", "2", "3", "4"]),
    "--fsdp": st.sampled_from(["none", "full-shard", "shard-grad-op"]),
}
_SWITCHES = ["--json", "--gradient-checkpointing", "--no-mixed", "--train-embeddings", "--offload-optimizer"]
number_text = st.one_of(
    st.integers(-5, 5000).map(str),
    st.sampled_from(["0", "-1", "1e9", "2.5", "4294967297", "1" + "0" * 310, "", "ten"]),
    st.text(max_size=6),
)


@st.composite
def estimate_argv(draw: st.DrawFn) -> list[str]:
    argv = ["estimate", draw(st.sampled_from(["llama-2-7b", "Qwen-7B", "opt-6.7b", "chatglm3-6b", "gpt-4", "??"]))]
    for flag in draw(st.lists(st.sampled_from(sorted(_FLAG_VALUES)), max_size=6, unique=True)):
        values = _FLAG_VALUES[flag]
        argv += [flag, draw(values if values is not None else number_text)]
    argv += draw(st.lists(st.sampled_from(_SWITCHES), max_size=2, unique=True))
    return argv


@fuzz(500)
@given(argv=estimate_argv())
def test_cli_estimate_with_random_flags(catalog: lc.Catalog, argv: list[str]) -> None:
    """`llmcatalog estimate` with real flags and junk values: exit 0/1/2 with a one-line error, never a traceback."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refusing a flag's value
            assert exc.code == 2, argv  # noqa: PT017
            return
    assert code in (0, 1, 2), argv
    if code == 2:
        assert err.getvalue().startswith("llmcatalog: error:"), err.getvalue()
    elif "--json" in argv:
        result = json.loads(out.getvalue())
        assert 0 < result["total_bytes"] <= MAX_ESTIMATE_BYTES
        if "fits" in result:
            room = result["gpu_available_bytes"] - result["headroom_bytes"]
            assert result["fits"] == (result["total_bytes"] <= room)
            assert (result["verdict"] == "does not fit") == (result["total_bytes"] > result["gpu_available_bytes"])
    else:
        assert "total" in out.getvalue()
    for line in err.getvalue().splitlines():
        assert line.startswith("llmcatalog: "), line
