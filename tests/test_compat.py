"""values/compat.py: which formats a GPU runs (supports), and planning/estimates that respect it.

Facts the rules encode (sources, in my words):
- NVIDIA's CUDA GPUs page (https://developer.nvidia.com/cuda-gpus) gives the compute capability per
  generation: Volta 7.0, Turing 7.5, A100/A30/A800 8.0, other Ampere 8.6, Ada 8.9, Hopper 9.0,
  B200 10.0, B300 10.3, GeForce/RTX PRO Blackwell 12.0.
- vLLM's quantization "Supported Hardware" table: AWQ not on Volta; GPTQ from Volta; FP8 W8A8 on Ada,
  Hopper and AMD; Marlin (GPTQ/AWQ/FP8 weight-only) from Ampere; no AMD kernel for AWQ/GPTQ/bitsandbytes.
- transformers 5.x quantizer_finegrained_fp8.py: below compute capability 8.9 FP8 checkpoints are
  dequantized to bf16 (checked against the installed transformers below).
- bitsandbytes' multi-backend page: Apple Silicon support is only planned (no Metal backend).
"""

from __future__ import annotations

import inspect
import re
import warnings

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main
from llmcatalog.memory.fit import fit_check
from llmcatalog.values.compat import ASSUMED_CAPABILITY, runtime_name, single_device

GiB = 2**30
#: NVIDIA's compute capability per catalog architecture name (NVIDIA CUDA GPUs page).
CC_BY_ARCHITECTURE = {
    "Volta": {"7.0"},
    "Turing": {"7.5"},
    "Ampere": {"8.0", "8.6"},
    "Ada Lovelace": {"8.9"},
    "Hopper": {"9.0"},
    "Blackwell": {"10.0", "12.0"},
    "Blackwell Ultra": {"10.3"},
}


@pytest.fixture(scope="module")
def cat() -> lc.Catalog:
    return lc.catalog()


# -- data --------------------------------------------------------------------------------------------
def test_every_nvidia_gpu_has_a_compute_capability_of_its_generation(cat: lc.Catalog) -> None:
    """Every NVIDIA catalog GPU records a compute capability matching its architecture; others record none."""
    for g in cat.gpus:
        if g.vendor != "NVIDIA":
            assert g.compute_capability is None, f"{g.id}: compute_capability is NVIDIA-only"
            continue
        assert g.compute_capability in CC_BY_ARCHITECTURE[g.architecture or ""], (
            f"{g.id}: compute_capability {g.compute_capability} is not that of {g.architecture} "
            "(fix it from https://developer.nvidia.com/cuda-gpus)"
        )
        assert "https://developer.nvidia.com/cuda-gpus" in g.sources, f"{g.id}: cite NVIDIA's CUDA GPUs page"


def test_compute_capability_agrees_with_the_datasheet_tensor_figures(cat: lc.Catalog) -> None:
    """Datasheet FP8/BF16 tensor figures (sourced separately) exist only from 8.9 / 8.0 on, and never below."""
    nvidia = [g for g in cat.gpus if g.vendor == "NVIDIA"]
    assert len(nvidia) > 40
    for g in nvidia:
        cc = g.capability
        assert cc is not None
        if g.fp8_tflops is not None:
            assert cc >= (8, 9), g.id
        if g.bf16_tflops is not None:
            assert cc >= (8, 0), g.id
        if cc < (8, 0):
            assert g.bf16_tflops is None, g.id


def test_the_field_is_validated() -> None:
    """A malformed compute capability names the field and the expected form."""
    with pytest.raises(ValueError, match="compute_capability"):
        lc.GPU(id="x", name="x", vendor="NVIDIA", memory_bytes=GiB, compute_capability="sm_80")
    assert lc.GPU(id="x", name="x", vendor="NVIDIA", memory_bytes=GiB, compute_capability="8.9").capability == (8, 9)


# -- the rules ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("gpu", "fmt", "engine", "ok"),
    [
        ("A100 80GB", "fp8", None, False),  # transformers dequantizes below 8.9
        ("A100 80GB", "fp8", "vllm", True),  # FP8 Marlin, weight-only
        ("T4", "fp8", "vllm", False),  # below Marlin's 8.0
        ("H100", "fp8", None, True),
        ("RTX 4090", "fp8", None, True),
        ("MI300X", "fp8", "vllm", True),
        ("MI250X", "fp8", "vllm", False),
        ("V100 32GB", "awq-int4", "vllm", False),
        ("T4", "awq-int4", "vllm", True),
        ("V100 32GB", "gptq-int4", "vllm", True),
        ("V100 32GB", "bf16", None, False),
        ("T4", "bf16", "vllm", False),
        ("A100", "bf16", "vllm", True),
        ("V100 32GB", "bnb-int8", None, False),  # LLM.int8 needs 7.5
        ("V100 32GB", "bnb-nf4", None, True),
        ("M3 Max 64GB", "bnb-nf4", None, False),
        ("M3 Max 64GB", "fp16", None, True),
        ("M3 Max 64GB", "fp16", "vllm", False),  # no Metal backend
        ("MI210", "awq-int4", "vllm", False),
        ("ascend-910b", "awq-int4", None, False),
        ("gaudi-2", "bnb-nf4", None, False),
        ("gaudi-2", "fp8", "vllm", True),
    ],
)
def test_supports(cat: lc.Catalog, gpu: str, fmt: str, engine: str | None, ok: bool) -> None:
    """Each rule of the module docstring, on a catalog GPU; the reason is a sentence, the answer unpacks."""
    verdict = lc.supports(cat.get_gpu(gpu), fmt, engine)
    got, reason = verdict
    assert got is ok, reason
    assert bool(verdict) is ok
    assert reason


def test_a_checkpoint_format_is_judged_by_its_method(cat: lc.Catalog) -> None:
    """DeepSeek-V3's block-scaled FP8 checkpoint runs on H100, not on A100 (transformers)."""
    fmt = cat.get_model("deepseek-v3").weight_format
    assert fmt is not None
    assert lc.supports(cat.get_gpu("H100"), fmt).ok
    assert not lc.supports(cat.get_gpu("A100 80GB"), fmt).ok


def test_transformers_dequantizes_fp8_below_8_9() -> None:
    """The installed transformers' FP8 quantizer falls back to bf16 below compute capability 8.9 (the rule's source)."""
    from transformers.quantizers import quantizer_finegrained_fp8 as q

    src = inspect.getsource(q)
    assert "minor < 9" in src
    assert "dequantiz" in src


def test_unknown_gpu_is_assumed_ampere_and_says_so() -> None:
    """A card of unknown kind (--gpu-memory) is not assumed to have FP8 tensor cores; answers say it is assumed."""
    card = lc.GPU(id="custom-gpu", name="a 12.00 GiB GPU", vendor="custom", memory_bytes=12 * GiB)
    fp8 = lc.supports(card, "fp8")
    assert not fp8.ok
    assert not fp8.known
    assert "assumed" in fp8.reason
    assert lc.supports(card, "awq-int4").ok == (ASSUMED_CAPABILITY >= (7, 5))
    with pytest.raises(ValueError, match="engine"):
        lc.supports(card, "fp8", "tensorrt")
    with pytest.raises(ValueError, match="format_or_dtype"):
        lc.supports(card, "fp6")


def test_runtime_words_and_single_device(cat: lc.Catalog) -> None:
    """Apple GPUs have a Metal context and are one per machine; AMD a ROCm/HIP context; NVIDIA CUDA."""
    apple, amd, nv = cat.get_gpu("M3 Max 64GB"), cat.get_gpu("RX 7900 XTX"), cat.get_gpu("H100")
    assert "Metal" in runtime_name(apple)
    assert "ROCm" in runtime_name(amd)
    assert runtime_name(nv) == "CUDA context"
    assert single_device(apple)
    assert not single_device(nv)


# -- planning ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "gpu"), [("qwen3-32b", "A100 40GB"), ("qwen3-32b", "M3 Max 64GB"), ("qwen3-14b", "RTX 3090")]
)
@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # None is an answer here
def test_best_precision_never_answers_fp8_where_it_cannot_run(cat: lc.Catalog, model: str, gpu: str) -> None:
    """The trial's cases: no fp8 on A100 / M3 Max / RTX 3090 (transformers); idealised fp8 bytes would fit
    there (the old answer), so fp8 was skipped, not too big."""
    m, g = cat.get_model(model), cat.get_gpu(gpu)
    best = lc.best_precision(m, g)
    assert best != "fp8"
    assert best is None or lc.supports(g, best).ok
    idealised = lc.estimate_vram(m, lc.Inference(precision="fp8")).total_bytes
    assert fit_check(idealised, g).fits


@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # None is an answer here
def test_best_precision_answers_fp8_on_hopper_and_under_vllm_on_ampere(cat: lc.Catalog) -> None:
    """llama-2-70b on one card: fp8 on H100; on A100 not with transformers, but with engine='vllm' (FP8 Marlin)."""
    m = cat.get_model("llama-2-70b")
    w = lc.Inference(context_tokens=1024)
    assert lc.best_precision(m, cat.get_gpu("H100"), w) == "fp8"
    assert lc.best_precision(m, cat.get_gpu("A100 80GB"), w) != "fp8"
    assert lc.best_precision(m, cat.get_gpu("A100 80GB"), w, engine="vllm") == "fp8"


def test_recommend_offers_fp8_only_where_it_runs(cat: lc.Catalog) -> None:
    """llama-2-70b on one 80 GB card: the quantize remedy is fp8 on H100, not on A100 (there: an integer format)."""
    m = cat.get_model("llama-2-70b")
    w = lc.Inference(context_tokens=1024)

    def quantize(gpu: str) -> str:
        (r,) = [r for r in lc.recommend(m, cat.get_gpu(gpu), w) if r.name == "quantize-weights"]
        return str(r.workload.precision)

    assert quantize("H100") == "fp8"
    assert quantize("A100 80GB") != "fp8"
    assert lc.supports(cat.get_gpu("A100 80GB"), quantize("A100 80GB")).ok


def test_recommend_skips_bitsandbytes_and_splits_on_apple(cat: lc.Catalog) -> None:
    """On an Apple GPU no remedy uses bitsandbytes (QLoRA, 8-bit optimizers, bnb weights) or several GPUs."""
    m, g = cat.get_model("llama-3.1-8b"), cat.get_gpu("M3 Max 36GB")
    ft = lc.FineTune(method="full", seq_len=2048)
    names = {r.name for r in lc.recommend(m, g, ft, n_gpus=2)}
    assert names, "the full fine-tune of an 8B model does not fit 36 GB: remedies expected"
    assert not names & {"qlora", "8-bit-optimizer", "paged-8-bit-optimizer"}
    nv = {r.name for r in lc.recommend(m, cat.get_gpu("RTX 4090"), ft, n_gpus=2)}
    assert "qlora" in nv or "8-bit-optimizer" in nv  # the same job on CUDA does get them
    big = cat.get_model("llama-2-70b")
    inf = {r.name: r for r in lc.recommend(big, g, lc.Inference(context_tokens=1024), n_gpus=4)}
    assert "tensor-parallel" not in inf
    assert "pipeline-split" not in inf
    q = inf.get("quantize-weights")
    assert q is None or not str(q.workload.precision).startswith("bnb")
    with pytest.warns(lc.NoFitWarning, match="Apple"):
        assert lc.min_gpus(big, g, lc.Inference(context_tokens=1024)) is None  # one GPU per Mac


def test_which_gpus_puts_incompatible_cards_last_with_the_reason(cat: lc.Catalog) -> None:
    """AWQ: V100s, Apple, MI210, Ascend and Gaudi rows say why and rank after every runnable row."""
    options = lc.which_gpus(cat.get_model("qwen3-32b"), lc.Inference(precision="awq-int4"))
    flagged = {o.gpu.id for o in options if not o.runnable}
    assert {"v100-sxm2-32gb", "mi210", "ascend-910b", "gaudi-2", "apple-m3-max-64gb"} <= flagged
    assert {"h100-sxm5-80gb", "t4", "a100-sxm4-80gb"}.isdisjoint(flagged)
    order = [o.runnable for o in options]
    assert order == sorted(order, reverse=True)
    v100 = next(o for o in options if o.gpu.id == "v100-sxm2-32gb")
    assert "7.5" in v100.incompatible[0]


def test_models_that_fit_skips_checkpoints_the_gpu_cannot_run(cat: lc.Catalog) -> None:
    """An FP8 checkpoint (DeepSeek-V3) is listed on 8 H200 but not on 8 of the same card given Ampere's capability."""
    ds = [cat.get_model("deepseek-v3")]
    w = lc.Inference(context_tokens=1024)
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.CompatibilityWarning)
        on_h200 = lc.models_that_fit(cat.get_gpu("H200"), w, models=ds, n_gpus=8, include_tight=True)
        on_a100 = lc.models_that_fit(
            attrs.evolve(cat.get_gpu("H200"), id="h200-as-ampere", compute_capability="8.0"),
            w,
            models=ds,
            n_gpus=8,
            include_tight=True,
        )
    assert [f.model.id for f in on_h200] == ["deepseek-v3"]
    assert on_a100 == ()  # same memory, Ampere's capability: left out


# -- warnings on the user's own choice ---------------------------------------------------------------
def test_check_warns_but_still_answers(cat: lc.Catalog) -> None:
    """A chosen format the GPU cannot run warns with CompatibilityWarning; the verdict is still given."""
    m = cat.get_model("qwen3-8b")
    with pytest.warns(lc.CompatibilityWarning, match="awq-int4"):
        verdict = lc.check(m, cat.get_gpu("V100 32GB"), lc.Inference(precision="awq-int4"))
    assert verdict.required_bytes > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.CompatibilityWarning)
        lc.check(m, cat.get_gpu("H100"), lc.Inference(precision="fp8"))
        lc.check(m, lc.GPU(id="c", name="c", vendor="custom", memory_bytes=80 * GiB), lc.Inference(precision="fp8"))
        lc.check(m, cat.get_gpu("V100 32GB"), lc.Inference(compute_dtype="fp16"))


# -- command line ------------------------------------------------------------------------------------
def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    main(list(argv))
    got = capsys.readouterr()
    return got.out, got.err


def test_cli_cheapest_remedy_is_runnable(capsys: pytest.CaptureFixture[str]) -> None:
    """The trial: A100 80GB no longer hears 'fp8 weights'; H100 does."""
    out, _ = _run(capsys, "estimate", "llama-2-70b", "--gpu", "A100 80GB", "--context", "1024")
    assert "cheapest remedy" in out
    assert "fp8" not in out
    out, _ = _run(capsys, "estimate", "llama-2-70b", "--gpu", "H100", "--context", "1024")
    assert "cheapest remedy that fits on 1 such GPU(s): fp8 weights" in out
    out, _ = _run(capsys, "estimate", "llama-2-70b", "--gpu-memory", "12", "--context", "1024")
    assert "fp8" not in out


def test_cli_warns_on_engine_format(capsys: pytest.CaptureFixture[str]) -> None:
    """vLLM: AWQ on a V100 and FP8 on a T4 warn on stderr; FP8 on an A100 is noted as weight-only."""
    _, err = _run(capsys, "estimate", "qwen3-8b", "--precision", "awq-int4", "--engine", "vllm", "--gpu", "V100 32GB")
    assert "warning: vllm: awq-int4" in err
    _, err = _run(capsys, "estimate", "qwen3-8b", "--precision", "fp8", "--engine", "vllm", "--gpu", "T4")
    assert "warning: vllm: fp8" in err
    _, err = _run(capsys, "estimate", "qwen3-8b", "--precision", "fp8", "--engine", "vllm", "--gpu", "A100")
    assert "warning" not in err
    assert "weight-only" in err
    _, err = _run(capsys, "estimate", "qwen3-8b", "--precision", "fp8", "--gpu", "A100")
    assert "warning: fp8" in err
    assert "dequantizes" in err


def test_cli_apple_words(capsys: pytest.CaptureFixture[str]) -> None:
    """An Apple GPU: a Metal context (not CUDA), no bnb/AWQ hint, no pipeline-stage count."""
    out, _ = _run(capsys, "estimate", "llama-2-70b", "--gpu", "M3 Max 64GB", "--context", "1024")
    assert "Metal (MPS) context" in out
    assert "overhead: CUDA context" not in out
    assert "bnb-nf4" not in out
    assert "awq-int4" not in out
    assert "pipeline stages" not in out
    assert "--engine llama.cpp" in out


@pytest.mark.parametrize(
    ("model", "gpu"),
    [
        ("qwen3-8b", ("--gpu", "T4")),
        ("qwen3-8b", ("--gpu-memory", "12")),
        ("qwen3-32b", ("--gpu", "M3 Max 64GB")),
        ("qwen3-14b", ("--gpu", "RX 7900 XTX")),
    ],
)
def test_cli_trial_cards_hear_no_fp8(capsys: pytest.CaptureFixture[str], model: str, gpu: tuple[str, str]) -> None:
    """The trial's other cards (which were told 'fp8 weights') now get a format they run, or none."""
    out, _ = _run(capsys, "estimate", model, *gpu, "--context", "1024")
    assert "does NOT fit" in out
    assert "fp8" not in out


def test_fit_refuses_several_apple_gpus(capsys: pytest.CaptureFixture[str], cat: lc.Catalog) -> None:
    """A Mac has one GPU: models_that_fit(n_gpus=2) and `fit --gpus 2` say so instead of splitting."""
    with pytest.raises(lc.WorkloadError, match="one Apple"):
        lc.models_that_fit(cat.get_gpu("M3 Max 64GB"), n_gpus=2)
    assert main(["fit", "--gpu", "M3 Max 64GB", "--gpus", "2"]) == 2
    assert "one Apple" in capsys.readouterr().err


def test_cli_amd_words(capsys: pytest.CaptureFixture[str]) -> None:
    """An AMD GPU's overhead line names a ROCm/HIP context."""
    out, _ = _run(capsys, "estimate", "qwen3-8b", "--gpu", "MI300X")
    assert "overhead: ROCm/HIP context" in out


def test_engine_estimate_warns_for_the_engine(cat: lc.Catalog) -> None:
    """engine_estimate: AWQ on a V100 warns under vLLM; FP8 on an A100 warns under transformers, not vLLM."""
    v100, a100 = cat.get_gpu("V100 32GB"), cat.get_gpu("A100")
    with pytest.warns(lc.CompatibilityWarning, match="vllm: awq-int4"):
        b = lc.engine_estimate("qwen3-8b", v100, "vllm", lc.Inference(precision="awq-int4"))
    assert b.weights_bytes > 0
    with pytest.warns(lc.CompatibilityWarning, match="transformers: fp8"):
        lc.engine_estimate("qwen3-8b", a100, "transformers", lc.Inference(precision="fp8"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.CompatibilityWarning)
        lc.engine_estimate("qwen3-8b", a100, "vllm", lc.Inference(precision="fp8"))


def test_show_gpu_lists_capability_and_formats(capsys: pytest.CaptureFixture[str]) -> None:
    """`show V100` gives its compute capability and leaves bf16, fp8 and AWQ out of what it runs."""
    out, _ = _run(capsys, "show", "V100 32GB")
    assert re.search(r"^CUDA capability +7\.0$", out, re.M)
    runs = next(line for line in out.splitlines() if line.startswith("runs "))
    assert "fp16" in runs
    assert "bf16" not in runs
    assert "fp8" not in runs
    assert "awq" not in runs


@pytest.mark.parametrize("optimizer", ["adamw-8bit", "paged-adamw-8bit", "paged-adamw-32bit"])
def test_bitsandbytes_optimizers_warn_on_apple(cat: lc.Catalog, optimizer: str) -> None:
    """Every bitsandbytes optimizer (8-bit or paged) warns on an Apple GPU; plain AdamW does not."""
    m, g = cat.get_model("qwen3-0.6b"), cat.get_gpu("M3 Max 64GB")
    with pytest.warns(lc.CompatibilityWarning, match="bitsandbytes"):
        lc.check(m, g, lc.FineTune(method="lora", optimizer=optimizer))
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.CompatibilityWarning)
        lc.check(m, g, lc.FineTune(method="lora"))
