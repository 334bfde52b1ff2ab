"""GPUs: the shipped data (names, sizes, datasheet figures) and how names people type resolve."""

from __future__ import annotations

import re

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmcatalog as lc

GiB = 2**30

# What people type for each GPU added for the 2026 catalog, and the entry it must find.
USUAL_NAMES: list[tuple[str, str]] = [
    ("RTX 3060 12GB", "rtx-3060-12gb"),
    ("RTX 3060", "rtx-3060-12gb"),
    ("GeForce RTX 3060", "rtx-3060-12gb"),
    ("RTX 3060 Ti", "rtx-3060-ti"),
    ("3060Ti", "rtx-3060-ti"),
    ("RTX 3070", "rtx-3070"),
    ("RTX 3070 Ti", "rtx-3070-ti"),
    ("RTX 3080 12GB", "rtx-3080-12gb"),
    ("RTX 3080 Ti", "rtx-3080-ti"),
    ("RTX 4060", "rtx-4060"),
    ("RTX 4060 Ti 8GB", "rtx-4060-ti-8gb"),
    ("RTX 4070", "rtx-4070"),
    ("RTX 4070 Super", "rtx-4070-super"),
    ("RTX 4070 Ti", "rtx-4070-ti"),
    ("RTX 4070 Ti Super", "rtx-4070-ti-super"),
    ("RTX 4080 Super", "rtx-4080-super"),
    ("RTX 5060 Ti 16GB", "rtx-5060-ti-16gb"),
    ("RTX 5060 Ti 8GB", "rtx-5060-ti-8gb"),  # cog
    ("RTX 5070", "rtx-5070"),
    ("RTX 5070 Ti", "rtx-5070-ti"),
    ("RTX 5080", "rtx-5080"),
    ("TITAN RTX", "titan-rtx"),
    ("RTX A4000", "rtx-a4000"),
    ("RTX A5000", "rtx-a5000"),
    ("RTX PRO 6000 Blackwell", "rtx-pro-6000-blackwell"),
    ("A10G", "a10g"),
    ("H20", "h20"),
    ("L20", "l20"),
    ("H800", "h800-sxm5-80gb"),
    ("A800 40GB", "a800-40gb-active"),
    ("GH200 96GB", "gh200-96gb"),
    ("GH200 144GB", "gh200-144gb"),
    ("B300", "b300"),
    ("MI210", "mi210"),
    ("MI250", "mi250"),
    ("MI325X", "mi325x"),
    ("MI355X", "mi355x"),
    ("RX 7900 XTX", "rx-7900-xtx"),
    ("Gaudi 2", "gaudi-2"),
    ("Intel Gaudi 3", "gaudi-3"),
    ("M1 Max 64GB", "apple-m1-max-64gb"),
    ("M1 Ultra 128GB", "apple-m1-ultra-128gb"),
    ("M2 Max 96GB", "apple-m2-max-96gb"),
    ("M2 Ultra 192GB", "apple-m2-ultra-192gb"),
    ("M3 Max 36GB", "apple-m3-max-36gb"),
    ("M3 Max 128GB", "apple-m3-max-128gb"),
    ("Apple M3 Ultra 512GB", "apple-m3-ultra-512gb"),
    ("M4 Max 128GB", "apple-m4-max-128gb"),
    ("M4 Max 36GB", "apple-m4-max-36gb"),
]


@pytest.mark.parametrize(("name", "gpu_id"), USUAL_NAMES)
def test_usual_names_resolve(catalog: lc.Catalog, name: str, gpu_id: str) -> None:
    """Every GPU added for 2026 resolves by the name people use for it."""
    assert catalog.get_gpu(name).id == gpu_id


@pytest.mark.parametrize(
    ("typed", "gpu_id"),
    [
        ("A100 80GB SXM", "a100-sxm4-80gb"),
        ("SXM A100 80GB", "a100-sxm4-80gb"),
        ("sxm4_a100-80g", "a100-sxm4-80gb"),
        ("3060 12GB", "rtx-3060-12gb"),
        ("12GB RTX3060", "rtx-3060-12gb"),
        ("RTX 3060 12 GB", "rtx-3060-12gb"),
        ("Ti 4070 Super", "rtx-4070-ti-super"),
        ("GeForce 4070 Ti", "rtx-4070-ti"),
        ("4090 24GB", "rtx-4090"),
        ("128GB M3 Max", "apple-m3-max-128gb"),
        ("Radeon 7900 XTX", "rx-7900-xtx"),
        ("A100", "a100-sxm4-40gb"),  # the catalog's long-standing reading of the bare name
    ],
)
def test_word_order_separators_and_memory_do_not_matter(catalog: lc.Catalog, typed: str, gpu_id: str) -> None:
    """Word order, separators and a memory size written as a word find the same card."""
    assert catalog.get_gpu(typed).id == gpu_id


@pytest.mark.parametrize(
    ("typed", "candidates"),
    [
        ("RTX 4060 Ti", {"rtx-4060-ti-8gb", "rtx-4060-ti-16gb"}),
        ("RTX 5060 Ti", {"rtx-5060-ti-8gb", "rtx-5060-ti-16gb"}),  # cog: both sizes launched together
        ("A100 PCIe", {"a100-pcie-40gb", "a100-pcie-80gb"}),
        ("GH200", {"gh200-96gb", "gh200-144gb"}),
        (
            "M3 Max",
            {"apple-m3-max-36gb", "apple-m3-max-48gb", "apple-m3-max-64gb", "apple-m3-max-96gb", "apple-m3-max-128gb"},
        ),
        ("M2 Ultra", {"apple-m2-ultra-64gb", "apple-m2-ultra-128gb", "apple-m2-ultra-192gb"}),
    ],
)
def test_ambiguous_names_raise_with_every_candidate(catalog: lc.Catalog, typed: str, candidates: set[str]) -> None:
    """A name that fits several memory sizes is refused, and the error lists all of them."""
    with pytest.raises(lc.UnknownGPUError) as info:
        catalog.get_gpu(typed)
    assert set(info.value.suggestions) == candidates
    assert all(c in str(info.value) for c in candidates)


@pytest.mark.parametrize("typed", ["A100 24GB", "RTX 3060 8GB", "RTX 4090 48GB", "M3 Max 192GB", "H100 40GB"])
def test_a_memory_size_the_card_lacks_is_never_swapped(catalog: lc.Catalog, typed: str) -> None:
    """A stated memory size no entry has is an error, not another size of the same card."""
    with pytest.raises(lc.UnknownGPUError):
        catalog.get_gpu(typed)


@pytest.mark.parametrize("typed", ["NVIDIA", "GeForce RTX", "", "   ", "---"])
def test_vendor_words_alone_find_nothing(catalog: lc.Catalog, typed: str) -> None:
    """Vendor and product-line words alone do not pick a GPU."""
    with pytest.raises(lc.UnknownGPUError):
        catalog.get_gpu(typed)


@settings(max_examples=150)
@given(data=st.data())
def test_shuffled_aliases_resolve_to_their_gpu(catalog: lc.Catalog, data: st.DataObject) -> None:
    """Any GPU name or alias with its words shuffled and re-joined still finds that GPU."""
    gpu = data.draw(st.sampled_from(catalog.gpus), label="gpu")
    name = data.draw(st.sampled_from([gpu.name, *gpu.aliases]), label="name")
    words = re.findall(r"\d+\s*GB|\S+", name, flags=re.IGNORECASE)  # "16 GB" is one word
    shuffled = data.draw(st.permutations(words), label="order")
    sep = data.draw(st.sampled_from([" ", "  ", "_", " - "]), label="separator")
    assert catalog.get_gpu(sep.join(shuffled)).id == gpu.id


@pytest.mark.parametrize("gpu_id", sorted({gid for _, gid in USUAL_NAMES}))
def test_new_entries_are_sourced_and_sized(catalog: lc.Catalog, gpu_id: str) -> None:
    """Each new entry has sources, positive memory and bandwidth, and memory in whole GiB."""
    g = catalog.get_gpu(gpu_id)
    assert g.sources, f"{gpu_id}: add the URLs its figures come from"
    assert g.memory_bytes > 0, gpu_id
    assert g.memory_bytes % GiB == 0, f"{gpu_id}: memory_bytes is the marketed size in GiB"
    assert g.bandwidth_gb_s is not None, f"{gpu_id}: bandwidth_gb_s missing"
    assert g.bandwidth_gb_s > 0, gpu_id


def test_memory_and_throughput_are_consistent(catalog: lc.Catalog) -> None:
    """Usable memory never exceeds physical; tensor rates rise as precision falls; shares are in (0, 1]."""
    for g in catalog.gpus:
        assert 0 < g.available_bytes <= g.memory_bytes, g.id
        if g.usable_memory_bytes is not None:
            assert g.usable_memory_bytes <= g.memory_bytes, g.id
            assert g.usable_memory_bytes >= 0.85 * g.memory_bytes, f"{g.id}: usable memory implausibly low"
        if g.gpu_memory_fraction is not None:
            assert 0.5 <= g.gpu_memory_fraction <= 1, g.id
        if g.fp16_tflops and g.fp8_tflops:
            assert g.fp8_tflops >= g.fp16_tflops, g.id
        if g.bf16_tflops and g.fp32_tflops:
            assert g.bf16_tflops >= g.fp32_tflops, g.id


def test_apple_entries_model_the_wired_share(catalog: lc.Catalog) -> None:
    """Apple silicon entries carry the GPU-wired share: 2/3 up to 36GB, 3/4 above (macOS default)."""
    apple = [g for g in catalog.gpus if g.vendor == "Apple"]
    assert len(apple) >= 20
    for g in apple:
        assert g.gpu_memory_fraction is not None, f"{g.id}: set gpu_memory_fraction"
        expected = 2 / 3 if g.memory_bytes <= 36 * GiB else 0.75
        assert g.gpu_memory_fraction == pytest.approx(expected), g.id
        assert g.available_bytes < g.memory_bytes, g.id


# Figures copied from the sources named with them, checked against the data file: if an entry
# drifts from its datasheet this fails. (field, expected) pairs; memory in GiB.
DATASHEET: list[tuple[str, dict[str, float], str]] = [
    (
        "rtx-3060-12gb",
        {"memory_gib": 12, "bandwidth_gb_s": 360.0, "tdp_watts": 170},
        "https://www.nvidia.com/en-us/geforce/graphics-cards/30-series/rtx-3060-3060ti/",
    ),
    (
        "rtx-a4000",
        # datasheet: "Tensor Performance 153.4 TFLOPS" (with sparsity) -> dense half
        {"memory_gib": 16, "bandwidth_gb_s": 448.0, "fp32_tflops": 19.2, "fp16_tflops": 153.4 / 2},
        "https://www.nvidia.com/content/dam/en-zz/Solutions/gtcs21/rtx-a4000/nvidia-rtx-a4000-datasheet.pdf",
    ),
    (
        "mi325x",
        {"memory_gib": 256, "bandwidth_gb_s": 6000.0, "bf16_tflops": 1307.4, "fp8_tflops": 2614.9},
        "https://www.amd.com/en/products/accelerators/instinct/mi300/mi325x.html",
    ),
    (
        "gaudi-3",
        # Intel, Hot Chips 2024: "BF16 Matrix TFLOPs 1835, FP8 Matrix TFLOPs 1835, HBM Capacity 128 GB,
        # HBM Bandwidth 3.67 TB/s", 900 W air-cooled
        {"memory_gib": 128, "bandwidth_gb_s": 3670.0, "bf16_tflops": 1835.0, "fp8_tflops": 1835.0, "tdp_watts": 900},
        "https://www.sgpjbg.com/baogao/465025.html",
    ),
    (
        "gaudi-2",
        # same table: "TDP 600W, Peak Compute (BF16) 432 TFLOPs, HBM 96 GB, 2.46 TB/s"
        {"memory_gib": 96, "bandwidth_gb_s": 2460.0, "bf16_tflops": 432.0, "tdp_watts": 600},
        "https://www.sgpjbg.com/baogao/465025.html",
    ),
    (
        "h20",
        # "96 GB HBM3 - 4,000 GB/s", "148 TFLOPS FP16 ... / 296 INT8 TOPS", 400W TDP
        {"memory_gib": 96, "bandwidth_gb_s": 4000.0, "fp16_tflops": 148.0, "int8_tops": 296.0, "tdp_watts": 400},
        "https://willitrunai.com/es/gpus/h20-96gb",
    ),
    (
        "b300",
        # HGX B300 per-GPU table: FP32 75, FP16/BF16 2250 (matrix), FP8 4500; 288 GB, 8 TB/s
        {"memory_gib": 288, "bandwidth_gb_s": 8000.0, "fp32_tflops": 75.0, "bf16_tflops": 2250.0, "fp8_tflops": 4500.0},
        "https://glennklockwood.com/garden/processors/B300",
    ),
    (
        "a10g",
        # "24 gigabytes of GDDR6 VRAM with a memory bandwidth of 600 gigabytes per second"
        {"memory_gib": 24, "bandwidth_gb_s": 600.0},
        "https://www.baseten.co/blog/nvidia-a10-vs-a10g-for-ml-model-inference/",
    ),
    # facts: gaps filled on 2026-11-30
    (
        "mi300x",
        # AMD's MI300X peak table (ROCm docs, no sparsity): Vector FP64 81.7, FP32 163.4, Matrix FP16/BF16 1307.4,
        # Matrix FP8 2614.9, Matrix INT8 2614.9; 5.3 TB/s
        {
            "bandwidth_gb_s": 5300.0,
            "fp64_tflops": 81.7,
            "fp32_tflops": 163.4,
            "bf16_tflops": 1307.4,
            "fp8_tflops": 2614.9,
            "int8_tops": 2614.9,
        },
        "https://github.com/ROCm/ROCm/blob/e396b4898f459db094bfd60b876f419f77eb9f09/docs/conceptual/gpu-arch/mi300.md",
    ),
    (
        "l20",
        # '"NVIDIA_L20": {"mem_bandwidth": 864 * ..., "FP16": 119.5e12, "INT8": 239e12, "memsize": 48 * ...}'
        {"memory_gib": 48, "bandwidth_gb_s": 864.0, "fp16_tflops": 119.5, "int8_tops": 239.0},
        "https://github.com/citsjtu2020/LLM-Prof/blob/8434c8d19c396b2f95d92a67845a7c0a0e0dd512/hardware_spec.md",
    ),
    (
        "l20",
        # verl's dense peak table: '"L20": 119.5e12' (next to "A100": 312e12, "L40S": 362.05e12)
        {"bf16_tflops": 119.5},
        "https://github.com/volcengine/verl/blob/02cf355f17969b4a8e76ff981dda8b5a8ae440b9/verl/utils/flops_counter.py",
    ),
    # cog
    (
        "rtx-5060-ti-8gb",
        # TechPowerUp, Gainward RTX 5060 Ti 8 GB review: the 16 GB and 8 GB variants both use 28 Gbps GDDR7
        # for the same 448 GB/s
        {"memory_gib": 8, "bandwidth_gb_s": 448.0},
        "https://www.techpowerup.com/review/gainward-geforce-rtx-5060-ti-8-gb",
    ),
]


@pytest.mark.parametrize(("gpu_id", "expected", "source"), DATASHEET, ids=[d[0] for d in DATASHEET])
def test_datasheet_figures_match_their_source(
    catalog: lc.Catalog, gpu_id: str, expected: dict[str, float], source: str
) -> None:
    """The data file holds the numbers its sources print."""
    g = catalog.get_gpu(gpu_id)
    assert source in g.sources, f"{gpu_id}: cite {source}"
    for field, value in expected.items():
        assert getattr(g, field) == pytest.approx(value, rel=1e-3), f"{gpu_id}.{field} (source: {source})"


# Memory a process can really allocate, as reported by the driver or Metal.
MEASURED_AVAILABLE: list[tuple[str, int, str]] = [
    # deviceQuery: 'NVIDIA A100-SXM4-40GB ... Total amount of global memory: 40339 MBytes (42298834944 bytes)'
    ("a100-sxm4-40gb", 42298834944, "https://github.com/bottlerocket-os/bottlerocket/pull/3873"),
    # llama.cpp on a 32GB M2 Max: 'recommendedMaxWorkingSetSize = 21845.34 MB' (MiB)
    ("apple-m2-max-32gb", round(21845.34 * 2**20), "https://github.com/ollama/ollama/issues/434"),
    # llama.cpp on a 32GB M1 Max: 'recommendedMaxWorkingSetSize = 21845.34 MB'
    ("apple-m1-max-32gb", round(21845.34 * 2**20), "https://github.com/ggml-org/llama.cpp/pull/2011"),
    # llama.cpp on a 96GB M2 Max: 'recommendedMaxWorkingSetSize  = 73728,00 MB'
    ("apple-m2-max-96gb", 73728 * 2**20, "https://github.com/ggml-org/llama.cpp/issues/3213"),
]


@pytest.mark.parametrize(("gpu_id", "reported", "source"), MEASURED_AVAILABLE, ids=[m[0] for m in MEASURED_AVAILABLE])
def test_available_memory_matches_what_devices_report(
    catalog: lc.Catalog, gpu_id: str, reported: int, source: str
) -> None:
    """available_bytes equals the memory the driver (CUDA, Metal) reports, to 0.01 MiB."""
    g = catalog.get_gpu(gpu_id)
    assert source in g.sources, f"{gpu_id}: cite {source}"
    assert abs(g.available_bytes - reported) <= 0.01 * 2**20


def _gpu(**changes: object) -> lc.GPU:
    base = {"id": "x", "name": "X", "vendor": "V", "memory_bytes": 64 * GiB}
    return lc.GPU(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, float("nan"), float("inf"), True, "0.75"])
def test_gpu_memory_fraction_is_validated(bad: object) -> None:
    """gpu_memory_fraction outside (0, 1] is refused, naming the field."""
    with pytest.raises(ValueError, match="gpu_memory_fraction"):
        _gpu(gpu_memory_fraction=bad)


def test_available_bytes_prefers_driver_total_then_share() -> None:
    """available_bytes: the CUDA total if known, else the wired share, else the fallback share of the
    driver total or of the physical size."""
    from llmcatalog.values.gpu import ALLOCATABLE_FALLBACK_FRACTION as f

    assert _gpu().available_bytes == int(64 * GiB * f)
    assert _gpu(usable_memory_bytes=60 * GiB).available_bytes == int(60 * GiB * f)
    assert _gpu(gpu_memory_fraction=0.75).available_bytes == 48 * GiB
    assert _gpu(gpu_memory_fraction=0.75, allocatable_memory_bytes=50 * GiB).available_bytes == 50 * GiB
    g = attrs.evolve(_gpu(), gpu_memory_fraction=0.5)
    assert g.available_bytes == 32 * GiB


def test_fits_respects_the_wired_share(catalog: lc.Catalog) -> None:
    """fits() on an Apple entry compares against the GPU-wired share, not the whole unified memory."""
    m3 = catalog.get_gpu("M3 Max 128GB")
    assert m3.available_bytes == int(128 * GiB * 0.75)
