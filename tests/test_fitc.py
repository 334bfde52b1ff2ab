"""What runs, not the idealised bytes: the contradictions a user trial found between ``supports`` and the
memory verdicts (check/fits/which_gpus/models_that_fit/min_gpus/CLI), best_precision and the remedies.

Facts come from outside our code: transformers' own ``FineGrainedFP8HfQuantizer.validate_environment``
(run here with the compute capability patched) decides when FP8 weights are dequantized to bf16;
the vLLM issue threads vllm-project/vllm#47549 (FP8 KV cache refused by the Triton attention backend on
SM 7.5: native FP8 needs SM 8.9) and #4827 (an FP8 KV cache runs on an A10, compression only) say
where an FP8 KV cache runs; vLLM has no Metal backend (its install docs: macOS runs on the CPU).
"""

from __future__ import annotations

import warnings
from unittest import mock

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main
from llmcatalog.memory.estimate import as_run
from llmcatalog.planning.choose import scaled
from llmcatalog.planning.inverse import check_quietly
from llmcatalog.values.compat import kv_cache_supports, runtime_format


@pytest.fixture(scope="module")
def cat() -> lc.Catalog:
    return lc.catalog()


def _quiet(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# -- 1. FP8 that transformers dequantizes counts as bf16 ----------------------------------------------
def test_runtime_format_follows_transformers_own_quantizer(cat: lc.Catalog) -> None:
    """For every catalog NVIDIA GPU with a known capability, transformers' FP8 quantizer (patched to that
    capability) dequantizes exactly where runtime_format says bf16 runs instead."""
    torch = pytest.importorskip("torch")
    fp8 = pytest.importorskip("transformers.quantizers.quantizer_finegrained_fp8")
    from transformers import FineGrainedFP8Config

    seen = set()
    for g in cat.gpus:
        if g.vendor.lower() != "nvidia" or g.capability is None or g.capability in seen:
            continue
        seen.add(g.capability)
        q = fp8.FineGrainedFP8HfQuantizer(FineGrainedFP8Config())
        q.pre_quantized = True
        with (
            mock.patch.object(torch.cuda, "is_available", return_value=True),
            mock.patch.object(torch.cuda, "get_device_capability", return_value=g.capability),
        ):
            q.validate_environment(device_map="cuda")
        ours = runtime_format(g, "fp8")
        assert bool(q.quantization_config.dequantize) == (ours is not None), g.id
        assert ours is None or ours[0] == "bf16"
    assert {(8, 6), (8, 9), (9, 0)} <= seen


def test_check_counts_fp8_as_bf16_where_it_is_dequantized(cat: lc.Catalog) -> None:
    """The trial: qwen3-14b fp8 on an RTX 3090 said "fits (16.36 of 23.69 GiB)"; it runs as bf16."""
    m, g = cat.get_model("qwen3-14b"), cat.get_gpu("RTX 3090")
    bf16 = lc.estimate_vram(m, lc.Inference(precision="bf16")).total_bytes
    fp8 = lc.estimate_vram(m, lc.Inference(precision="fp8")).total_bytes  # estimate_vram: no GPU, as asked
    assert fp8 < bf16
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verdict = lc.check(m, g, lc.Inference(precision="fp8"))
    said = [str(w.message) for w in caught if issubclass(w.category, lc.CompatibilityWarning)]
    assert any("counted as bf16" in s for s in said), said
    assert verdict.required_bytes == bf16
    assert verdict.verdict == "does not fit"
    assert not _quiet(lc.fits, m, g, lc.Inference(precision="fp8"))
    # where FP8 runs natively the idealised figure stands
    h = cat.get_gpu("RTX 4090")
    assert _quiet(lc.check, m, h, lc.Inference(precision="fp8")).required_bytes == fp8


def test_min_gpus_and_which_gpus_count_what_runs(cat: lc.Catalog) -> None:
    """The trial: which_gpus('qwen3-32b', fp8) listed A100/A40/A6000 as fitting at the FP8 figure."""
    m = cat.get_model("qwen3-32b")
    w8, w16 = lc.Inference(precision="fp8"), lc.Inference(precision="bf16")
    a100 = cat.get_gpu("A100 40GB")
    assert _quiet(lc.min_gpus, m, a100, w8) == _quiet(lc.min_gpus, m, a100, w16)
    options = {o.gpu.id: o for o in _quiet(lc.which_gpus, m, w8, max_gpus=4)}
    for gid in ("a100-sxm4-40gb", "a40", "rtx-a6000"):
        if gid not in options:
            continue
        o = options[gid]
        assert o.one_gpu is not None
        assert o.one_gpu.required_bytes == _quiet(lc.check, m, o.gpu, w16).required_bytes
        assert not o.one_gpu.fits


def test_models_that_fit_counts_what_runs(cat: lc.Catalog) -> None:
    m, g = cat.get_model("qwen3-14b"), cat.get_gpu("RTX 3090")
    got = _quiet(lc.models_that_fit, g, lc.Inference(precision="fp8"), models=[m])
    assert got == ()  # 28.66 GiB of bf16 weights and cache on a 24 GB card
    assert _quiet(lc.models_that_fit, cat.get_gpu("RTX 4090"), lc.Inference(precision="fp8"), models=[m])


def test_cli_verdict_counts_what_runs(capsys: pytest.CaptureFixture[str], cat: lc.Catalog) -> None:
    rc = main(["estimate", "qwen3-14b", "--gpu", "RTX 3090", "--precision", "fp8"])
    got = capsys.readouterr()
    assert rc == 1
    assert "does NOT fit" in got.out
    assert "counted as bf16" in got.err


def test_as_run_leaves_other_formats_alone(cat: lc.Catalog) -> None:
    m = cat.get_model("qwen3-14b")
    for gpu in ("RTX 3090", "H100", "V100 32GB"):
        for p in ("bf16", "awq-int4", "bnb-nf4"):
            w = lc.Inference(precision=p)
            assert as_run(m, cat.get_gpu(gpu), w) == (w, "")


# -- 2. an engine that cannot run on the GPU at all --------------------------------------------------
@pytest.mark.parametrize("engine", ["vllm", "sglang"])
@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # None is an answer here
def test_best_precision_refuses_an_engine_without_a_backend(cat: lc.Catalog, engine: str) -> None:
    with pytest.raises(lc.WorkloadError, match="no Metal backend"):
        lc.best_precision("qwen3-14b", cat.get_gpu("apple-m3-max-48gb"), lc.Inference(), engine=engine)
    assert lc.best_precision("qwen3-14b", cat.get_gpu("apple-m3-max-48gb"), lc.Inference()) is not None


# -- 3. best_precision answers only real formats ------------------------------------------------------
@pytest.mark.parametrize("gpu", ["RTX 2080 Ti", "apple-m3-max-36gb", "T4", "RTX 3060"])
@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # None is an answer here
def test_best_precision_answers_only_real_runnable_formats(cat: lc.Catalog, gpu: str) -> None:
    g = cat.get_gpu(gpu)
    best = lc.best_precision("qwen3-14b", g)
    assert best not in ("int8", "int4")
    if best is not None:
        assert lc.supports(g, best).known
        assert lc.supports(g, best).ok
    # even when asked for by name, the idealised bounds are never the answer
    assert lc.best_precision("qwen3-14b", g, candidates=("int4",)) is None


# -- 4. FP8 KV cache only where it runs ---------------------------------------------------------------
@pytest.mark.parametrize(("model", "gpu"), [("qwen3-32b", "apple-m3-max-36gb"), ("qwen3-14b", "RTX 2080 Ti")])
def test_fp8_kv_cache_remedy_only_where_it_runs(cat: lc.Catalog, model: str, gpu: str) -> None:
    w = lc.Inference(context_tokens=32768)
    remedies = lc.recommend(model, cat.get_gpu(gpu), w)
    assert all("kv-precision fp8" not in r.options for r in remedies)


def test_fp8_kv_cache_remedy_still_offered_on_ampere_and_later(cat: lc.Catalog) -> None:
    w = lc.Inference(precision="awq-int4", context_tokens=40960, batch_size=32)
    for gpu in ("A100 40GB", "H100"):
        remedies = lc.recommend("qwen3-14b", cat.get_gpu(gpu), w)
        assert any("kv-precision fp8" in r.options for r in remedies), gpu


def test_kv_cache_rule() -> None:
    cat = lc.catalog()
    assert not kv_cache_supports(cat.get_gpu("T4"), "fp8").ok  # #47549: SM 7.5
    assert not kv_cache_supports(cat.get_gpu("V100 32GB"), "fp8").ok
    assert kv_cache_supports(cat.get_gpu("A10"), "fp8").ok  # #4827
    assert kv_cache_supports(cat.get_gpu("H100"), "fp8").ok
    assert not kv_cache_supports(cat.get_gpu("apple-m3-max-36gb"), "fp8").ok
    assert kv_cache_supports(cat.get_gpu("T4"), "bf16").ok


def test_check_warns_for_a_chosen_fp8_kv_cache_that_cannot_run(cat: lc.Catalog) -> None:
    w = lc.Inference(kv_cache_precision="fp8", compute_dtype="fp16")
    with pytest.warns(lc.CompatibilityWarning, match="FP8 KV cache"):
        lc.check("qwen3-8b", cat.get_gpu("T4"), w)
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.CompatibilityWarning)
        lc.check("qwen3-8b", cat.get_gpu("A100 40GB"), attrs.evolve(w, compute_dtype=None))


# -- 5. which_gpus: the option's check describes its n_gpus setup --------------------------------------
def test_which_gpus_check_describes_the_recommended_setup(cat: lc.Catalog) -> None:
    m = cat.get_model("qwen3-32b")
    w = lc.Inference()
    arch = m.architecture
    assert arch is not None
    several = 0
    for o in _quiet(lc.which_gpus, m, w, max_gpus=4, gpus=[cat.get_gpu(g) for g in ("A100 40GB", "L4", "H100")]):
        assert o.one_gpu is not None
        assert o.one_gpu == check_quietly(m, o.gpu, w, 0.05)
        if o.n_gpus is None:
            continue
        assert o.check.n_gpus == o.n_gpus
        assert o.check.fits  # what min_gpus found to fit
        if o.n_gpus > 1:
            several += 1
            assert o.check == check_quietly(m, o.gpu, scaled(w, o.n_gpus, arch), 0.05)
            assert o.check.required_bytes < o.one_gpu.required_bytes
    assert several


# -- 6. the default bf16 compute dtype on a card without bf16 -----------------------------------------
@pytest.mark.parametrize("gpu", ["T4", "V100 32GB"])
def test_default_bf16_warns_where_fp16_runs(cat: lc.Catalog, gpu: str) -> None:
    g = cat.get_gpu(gpu)
    with pytest.warns(lc.CompatibilityWarning, match="fp16 is what runs"):
        a = lc.check("qwen3-8b", g, lc.Inference())
    b = _quiet(lc.check, "qwen3-8b", g, lc.Inference(compute_dtype="fp16"))
    assert a.required_bytes == b.required_bytes  # the memory is the same
    with pytest.warns(lc.CompatibilityWarning, match="fp16"):
        lc.check("qwen3-0.6b", g, lc.FineTune(method="lora"))
    # not an incompatibility for planning: fp16 runs with the same memory
    (row,) = _quiet(lc.which_gpus, "qwen3-8b", lc.Inference(), gpus=[g])
    assert row.runnable


def test_cli_warns_for_the_default_bf16(capsys: pytest.CaptureFixture[str]) -> None:
    main(["estimate", "qwen3-8b", "--gpu", "T4"])
    assert "--compute fp16" in capsys.readouterr().err
