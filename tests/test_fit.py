"""The fit rule (memory/fit.py): allocatable memory per GPU, headroom, three verdicts, and the
catalog's sourced CUDA totals (values/gpu.py ``allocatable_memory_bytes``)."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.memory.fit import HEADROOM_FRACTION, fit_check
from llmcatalog.values.gpu import ALLOCATABLE_FALLBACK_FRACTION

GiB = 2**30
GPU24 = lc.GPU(id="g24", name="G24", vendor="V", memory_bytes=24 * GiB, allocatable_memory_bytes=23 * GiB, sources=())

#: Sourced CUDA totals (GiB as printed by PyTorch's out-of-memory message, or deviceQuery), the URLs in
#: the catalog entry: the catalog must hold them, rounded down to whole MiB of the printed value's low end.
PRINTED = {
    "a100-sxm4-80gb": 79.15,  # vllm-project/vllm#4408
    "h100-sxm5-80gb": 79.11,  # vllm-project/vllm#27508
    "rtx-4090": 23.61,  # pinokiofactory/flux-webui#11
    "t4": 14.56,  # Zheng-Chong/CatVTON#133
    "l4": 22.05,  # vllm-project/vllm#20214
    "rtx-3090": 23.70,  # GaoLii/DSP#10
}

#: ECC GDDR cards whose driver total is not recorded: the fallback overestimates them (documented caveat).
ECC_WITHOUT_DRIVER_TOTAL = {"l40"}


@given(required=st.integers(0, 30 * GiB), headroom=st.floats(0, 0.5))
def test_three_verdicts_partition_the_axis(required: int, headroom: float) -> None:
    """'does not fit' above the allocatable memory, 'tight' within the headroom below it, 'fits' under that."""
    c = fit_check(required, GPU24, headroom_fraction=headroom)
    assert c.available_bytes == 23 * GiB
    if required > 23 * GiB:
        assert c.verdict == "does not fit"
    elif required > 23 * GiB - c.headroom_bytes:
        assert c.verdict == "tight"
    else:
        assert c.verdict == "fits"
    assert c.fits == (c.verdict == "fits")
    assert c.margin_bytes == 23 * GiB - required


def test_mixtral_gptq_on_a_4090_is_not_said_to_fit(catalog: lc.Catalog) -> None:
    """The issue's case: Mixtral GPTQ-int4 on a 4090 was 'fits (100%)'; the CUDA total of 23.6 GiB says otherwise."""
    m, g = catalog.get_model("mixtral-8x7b"), catalog.get_gpu("RTX 4090")
    c = lc.check(m, g, lc.Inference(precision="gptq-int4"))
    assert c.verdict != "fits"
    assert not lc.fits(m, g, lc.Inference(precision="gptq-int4"))


@pytest.mark.filterwarnings("ignore::llmcatalog.ContextLengthWarning")
def test_fits_is_the_fits_verdict_and_headroom_zero_is_the_bare_boundary(catalog: lc.Catalog) -> None:
    """fits() is True only for 'fits'; with headroom_fraction=0 it is total <= allocatable."""
    m, g = catalog.get_model("llama-2-7b"), catalog.get_gpu("RTX 4090")
    verdicts = set()
    for ctx in range(2048, 70000, 997):
        w = lc.Inference(context_tokens=ctx)
        total = lc.estimate_vram(m, w).total_bytes
        verdicts.add(lc.check(m, g, w).verdict)
        assert lc.fits(m, g, w) == (total <= g.available_bytes - math.ceil(g.available_bytes * HEADROOM_FRACTION))
        assert lc.fits(m, g, w, headroom_fraction=0) == (total <= g.available_bytes)
    assert verdicts == {"fits", "tight", "does not fit"}


@pytest.mark.parametrize("bad", [-0.1, 0.6, True, "0.05", float("nan")])
def test_headroom_is_validated(catalog: lc.Catalog, bad: object) -> None:
    """A headroom outside [0, 0.5] is a WorkloadError naming the field."""
    with pytest.raises(lc.WorkloadError, match="headroom_fraction"):
        lc.fits(catalog.get_model("llama-2-7b"), catalog.get_gpu("T4"), lc.Inference(), headroom_fraction=bad)  # type: ignore[arg-type]


def test_min_gpus_uses_the_same_rule(catalog: lc.Catalog) -> None:
    """min_gpus's answer fits by fits(); one fewer pipeline stage does not."""
    m, g = catalog.get_model("llama-2-70b"), catalog.get_gpu("RTX 4090")
    w = lc.Inference(context_tokens=4096)
    n = lc.min_gpus(m, g, w)
    assert n is not None
    assert lc.fits(m, g, attrs.evolve(w, parallelism=lc.Parallelism(pipeline_parallel=n)))
    assert not lc.fits(m, g, attrs.evolve(w, parallelism=lc.Parallelism(pipeline_parallel=n - 1)))


@pytest.mark.parametrize(("gpu_id", "printed_gib"), sorted(PRINTED.items()))
def test_sourced_cuda_totals(catalog: lc.Catalog, gpu_id: str, printed_gib: float) -> None:
    """The catalog's allocatable memory is the sourced figure: the low end of its two-decimal rounding, up
    to a whole MiB (so that it prints as the source printed it)."""
    g = catalog.get_gpu(gpu_id)
    assert g.allocatable_known
    assert g.allocatable_memory_bytes == math.ceil((printed_gib - 0.005) * 1024) * 2**20
    assert f"{g.allocatable_memory_bytes / 2**30:.2f}" == f"{printed_gib:.2f}"
    assert g.available_bytes == g.allocatable_memory_bytes


def test_fallback_never_promises_more_than_a_sourced_card_gives(catalog: lc.Catalog) -> None:
    """For every card with a sourced CUDA total, the fallback (from its driver total, else its nominal
    memory) is at most that total: the fallback fraction is conservative on the catalog's own data."""
    sourced = [g for g in catalog.gpus if g.allocatable_memory_bytes]
    assert len(sourced) >= 12
    for g in sourced:
        if g.id in ECC_WITHOUT_DRIVER_TOTAL:
            continue
        fallback = attrs.evolve(g, allocatable_memory_bytes=None).available_bytes
        assert fallback <= g.allocatable_memory_bytes, (
            f"{g.id}: fallback {fallback / GiB:.2f} GiB > sourced {g.allocatable_memory_bytes / GiB:.2f} GiB; "
            f"lower ALLOCATABLE_FALLBACK_FRACTION ({ALLOCATABLE_FALLBACK_FRACTION}) or record the driver total"
        )
        # and not needlessly pessimistic: within 4% of what the card gives
        assert fallback >= 0.96 * g.allocatable_memory_bytes, g.id


def test_every_gpu_has_an_allocatable_figure_no_larger_than_its_memory(catalog: lc.Catalog) -> None:
    """available_bytes is positive and at most the physical memory for every catalog GPU."""
    for g in catalog.gpus:
        assert 0 < g.available_bytes <= g.memory_bytes, g.id
