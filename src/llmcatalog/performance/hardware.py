"""The GPU figures the speed calculus reads, or a typed error naming the missing field.

Datasheet throughput is dense tensor-core TFLOPS per dtype (:class:`~llmcatalog.GPU` fields
``fp32_tflops``, ``fp16_tflops``, ``bf16_tflops``, ``fp8_tflops``); bandwidth is ``bandwidth_gb_s``
(10**9 bytes/s). The link between GPUs is read from the free-text ``interconnect`` field: half
the first ``N GB/s`` (or ``N TB/s``) it quotes -- vendors quote NVLink and PCIe as the total of
both directions (A100 NVLink 600 GB/s = 12 links x 25 GB/s x 2 directions; "PCIe Gen5 (128 GB/s)"
is 64 GB/s each way), and a ring all-reduce sends one way at a time -- else the PCIe generation's
x16 rate per direction (Gen3 16, Gen4 32, Gen5 64, Gen6 128 GB/s; PCI-SIG). An explicit
``interconnect_gb_s`` (per direction) always wins.

Compute-bound figures (prefill, training, the roofline) need the dtype's own throughput field and
raise :class:`~llmcatalog.MissingGPUFigureError` without it. Decode is bandwidth bound, so
:func:`decode_peak_flops` falls back instead, and says how: to the other 16-bit field (fp16 for
bf16 and back; every catalog GPU that lists both lists the same rate), fp8 to the 16-bit rate, and
otherwise to an unknown compute roof (the step is then memory or host bound and its tokens/s an
upper bound).
"""

from __future__ import annotations

import math
import re

from ..errors import MissingGPUFigureError
from ..values.gpu import GPU

__all__ = [
    "PCIE_X16_GB_S",
    "bandwidth_bytes_s",
    "decode_peak_flops",
    "host_link_bytes_s",
    "interconnect_bytes_s",
    "peak_flops",
]

#: One-direction x16 PCIe bandwidth by generation, GB/s (PCI-SIG: 8, 16, 32, 64 GT/s per lane).
PCIE_X16_GB_S = {3: 16.0, 4: 32.0, 5: 64.0, 6: 128.0}

_FIELDS = {"fp32": "fp32_tflops", "fp16": "fp16_tflops", "bf16": "bf16_tflops", "fp8": "fp8_tflops"}
#: Architectures whose tensor cores have no bf16 path (bf16 arrived with Ampere / CDNA 2): their
#: fp16 figure says nothing about bf16 matmuls.
_NO_BF16_TENSOR = frozenset({"Pascal", "Volta", "Turing"})
_RATE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(GB|TB)/s", re.IGNORECASE)
_PCIE = re.compile(r"PCIe\s*Gen\s*(\d)", re.IGNORECASE)


def _override(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not value > 0:
        raise ValueError(f"'{name}' must be a finite positive number, got {value!r}")
    return float(value)


def peak_flops(gpu: GPU, dtype: str, *, tflops: float | None = None, why: str = "the compute time") -> float:
    """Dense peak FLOP/s of ``gpu`` for ``dtype`` (``fp32``, ``fp16``, ``bf16``, ``fp8``).

    ``tflops`` overrides the datasheet. A missing field raises
    :class:`~llmcatalog.MissingGPUFigureError` naming it and the ``tflops=`` override (no silent
    fallback: a V100 has no bf16); :func:`decode_peak_flops` is the stated fallback for decode.
    """
    if tflops is not None:
        return _override("tflops", tflops) * 1e12
    if dtype not in _FIELDS:
        raise ValueError(f"no tensor throughput field for dtype {dtype!r}; choose one of {sorted(_FIELDS)}")
    field = _FIELDS[dtype]
    value = getattr(gpu, field)
    if value is None:
        raise MissingGPUFigureError(gpu.id, field, why, override="tflops")
    return float(value) * 1e12


def decode_peak_flops(gpu: GPU, dtype: str, *, tflops: float | None = None) -> tuple[float | None, str | None]:
    """Peak FLOP/s for a decode step's compute time, and the assumption made when the GPU entry
    lacks the figure for ``dtype``: ``(flops, None)`` when ``tflops`` or the field is given;
    ``(flops, why)`` when the other 16-bit field stands in (fp16 for bf16 and back, except bf16 on
    Pascal/Volta/Turing, which have no bf16 tensor path) or fp8 runs at the 16-bit rate (a lower
    roof, so the compute time is not underestimated); ``(None, why)`` when no figure applies: the
    compute roof is unknown and the caller treats the step as memory or host bound.
    """
    if dtype not in _FIELDS:
        raise ValueError(f"no tensor throughput field for dtype {dtype!r}; choose one of {sorted(_FIELDS)}")
    field = _FIELDS[dtype]
    if tflops is not None or getattr(gpu, field) is not None:
        return peak_flops(gpu, dtype, tflops=tflops), None
    candidates = {"bf16": ("fp16",), "fp16": ("bf16",), "fp8": ("bf16", "fp16")}.get(dtype, ())
    if dtype == "bf16" and gpu.architecture in _NO_BF16_TENSOR:
        candidates = ()
    for other in candidates:
        value = getattr(gpu, _FIELDS[other])
        if value is not None:
            how = (
                "the same tensor rate on every GPU in the catalog that lists both"
                if dtype != "fp8"
                else "fp8 matmuls taken at the 16-bit rate, a lower roof"
            )
            return float(value) * 1e12, (
                f"compute roof: GPU {gpu.id!r} has no {field}; using its {_FIELDS[other]} ({value:g} TFLOPS), {how}"
            )
    return None, (
        f"compute roof unknown: GPU {gpu.id!r} has no {field}, so the step is taken as memory or host bound"
        f" and tokens/s is an upper bound (give tflops= to include compute)"
    )


def bandwidth_bytes_s(gpu: GPU, *, gb_s: float | None = None) -> float:
    """Memory bandwidth in bytes/s (``bandwidth_gb_s`` * 10**9, or the override ``gb_s``)."""
    if gb_s is not None:
        return _override("bandwidth_gb_s", gb_s) * 1e9
    if gpu.bandwidth_gb_s is None:
        raise MissingGPUFigureError(gpu.id, "bandwidth_gb_s", "the memory-bound (decode) time", "bandwidth_gb_s")
    return gpu.bandwidth_gb_s * 1e9


def interconnect_bytes_s(gpu: GPU, *, gb_s: float | None = None) -> float:
    """The GPU-to-GPU link per direction in bytes/s: ``gb_s`` if given, else read from
    ``gpu.interconnect`` (module docstring)."""
    if gb_s is not None:
        return _override("interconnect_gb_s", gb_s) * 1e9
    text = gpu.interconnect or ""
    m = _RATE.search(text)
    if m:
        return float(m.group(1).replace(",", "")) * (1e12 if m.group(2).upper() == "TB" else 1e9) / 2
    m = _PCIE.search(text)
    if m and int(m.group(1)) in PCIE_X16_GB_S:
        return PCIE_X16_GB_S[int(m.group(1))] * 1e9
    raise MissingGPUFigureError(gpu.id, "interconnect", "the tensor-parallel all-reduce time", "interconnect_gb_s")


def host_link_bytes_s(gpu: GPU) -> float | None:
    """The GPU's link to the host, bytes/s in one direction: the x16 rate of the PCIe generation its
    ``interconnect`` names (:data:`PCIE_X16_GB_S`, PCI-SIG's signalling rate; copies from pinned
    memory reach somewhat less), or None when it names none (SXM modules list their PCIe link too;
    Apple silicon has unified memory and no host link)."""
    match = _PCIE.search(gpu.interconnect or "")
    return PCIE_X16_GB_S[int(match.group(1))] * 1e9 if match and int(match.group(1)) in PCIE_X16_GB_S else None
