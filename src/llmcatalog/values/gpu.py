"""GPUs (and other accelerators) with their datasheet figures."""

from __future__ import annotations

import re
from typing import Any

import attrs

from . import render
from . import validators as v

__all__ = ["ALLOCATABLE_FALLBACK_FRACTION", "GPU"]

#: When a GPU's allocatable memory is not known: the share of its driver total (``nvidia-smi``),
#: or lacking that of its nominal memory, that a process is assumed to get. It is the smallest
#: ratio (allocatable / driver total, or allocatable / nominal for cards whose driver total is the
#: nominal size) among the catalog's sourced cards: a T4 reports 14.56 GiB to CUDA of the 15360 MiB
#: nvidia-smi shows (0.971); A100 40GB 0.985, RTX 4090 0.984, L4 0.980, A30 0.980 of 24 GiB, RTX 3080
#: 0.978 of 10 GiB, RTX A4000 0.976 of 16 GiB. Rounded down, so a fallback never promises more than
#: a sourced card gives (tests/test_fit.py checks it over the catalog). Caveat: datacenter GDDR cards
#: with ECC on (T4, A10, L4, L40S) lose a further 1/16 to ECC before the driver total, which is why
#: their driver totals are recorded; a card of that kind with neither figure is overestimated.
ALLOCATABLE_FALLBACK_FRACTION = 0.97


_CAPABILITY = re.compile(r"^[1-9][0-9]?\.[0-9]$")


def _capability(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not _CAPABILITY.match(value):
        raise ValueError(f"'{attr.name}' must be a CUDA compute capability 'major.minor' such as '8.9', got {value!r}")


@attrs.frozen(kw_only=True)
class GPU:
    """An accelerator as its vendor's datasheet describes it.

    ``memory_bytes`` is the physical capacity the card is sold with. Vendors write "80GB",
    but memory chips and HBM stacks come in binary sizes, so "80GB" is 80 GiB = 80 * 2**30
    bytes. ``usable_memory_bytes`` is what the driver reports as total (``nvidia-smi``),
    where a source gives it; it is slightly lower (ECC and firmware reservations), and
    :func:`llmcatalog.fits` uses it when known.

    ``allocatable_memory_bytes`` is the total the runtime reports to a process
    (``torch.cuda.mem_get_info()[1]``, ``torch.cuda.get_device_properties(i).total_memory``,
    deviceQuery's "Total amount of global memory", the "total capacity" of PyTorch's
    out-of-memory message): every allocation of the process, its CUDA context included, comes
    out of it. It is lower than the driver total (an A100 80GB: 79.15 GiB of 80 GiB) and can
    shrink a little with newer drivers, so the smallest recent sourced figure is recorded.
    :attr:`available_bytes` is what :func:`llmcatalog.fits` compares with.

    ``gpu_memory_fraction`` is the share of ``memory_bytes`` the accelerator may use by
    default when it shares memory with the CPU (Apple silicon: macOS lets the GPU wire about
    2/3 of unified memory up to 36 GB and 3/4 above; ``sysctl iogpu.wired_limit_mb`` changes
    it); :attr:`available_bytes` applies it (Metal's working-set limit is what a process may use).

    Throughput figures are dense (no 2:4 sparsity), in TFLOPS (10**12 / s); the tensor-core
    FP16/BF16 figures use FP32 accumulation where the datasheet distinguishes. ``None``
    means the datasheet gives no figure (e.g. no BF16 before Ampere).

    ``compute_capability`` is an NVIDIA GPU's CUDA compute capability as ``"major.minor"``
    (``"8.0"`` A100, ``"8.9"`` Ada, ``"9.0"`` Hopper; NVIDIA's list: https://developer.nvidia.com/cuda-gpus);
    ``None`` for other vendors and unknown cards. :func:`llmcatalog.supports` reads it to say which
    weight formats and compute dtypes the card can run.
    """

    id: str = attrs.field(validator=v.slug)
    name: str = attrs.field(validator=attrs.validators.min_len(1))
    vendor: str = attrs.field(validator=attrs.validators.min_len(1))
    memory_bytes: int = attrs.field(validator=v.pos_int)
    sources: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=v.urls)
    aliases: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=v.str_tuple)
    usable_memory_bytes: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    allocatable_memory_bytes: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    gpu_memory_fraction: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    memory_type: str | None = None
    bandwidth_gb_s: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    fp64_tflops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    fp32_tflops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    fp16_tflops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    bf16_tflops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    fp8_tflops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    int8_tops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    compute_capability: str | None = attrs.field(default=None, validator=v.optional(_capability))
    interconnect: str | None = None
    form_factor: str | None = None
    architecture: str | None = None
    release_year: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    tdp_watts: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    notes: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.usable_memory_bytes is not None and self.usable_memory_bytes > self.memory_bytes:
            raise ValueError("'usable_memory_bytes' cannot exceed 'memory_bytes'")
        if self.allocatable_memory_bytes is not None and self.allocatable_memory_bytes > (
            self.usable_memory_bytes or self.memory_bytes
        ):
            raise ValueError(
                "'allocatable_memory_bytes' (what CUDA reports to a process) cannot exceed the driver total "
                "'usable_memory_bytes' or, when that is unknown, 'memory_bytes'"
            )
        if self.gpu_memory_fraction is not None and self.gpu_memory_fraction > 1:
            raise ValueError(
                f"'gpu_memory_fraction' must be a share of memory_bytes in (0, 1], got {self.gpu_memory_fraction!r}"
            )

    def __repr__(self) -> str:
        # Short: the datasheet figures are in the fields (and in _repr_html_); eq/hash use them all.
        return f"GPU(id={self.id!r}, name={self.name!r}, memory_bytes={self.memory_bytes}, ...)"

    def _summary(self) -> list[tuple[str, object]]:
        rows: list[tuple[str, object]] = [
            ("id", self.id),
            ("name", self.name),
            ("vendor", self.vendor),
            ("memory", f"{self.memory_gib:g} GiB {self.memory_type or ''}".rstrip()),
            ("available", f"{render.gib(self.available_bytes)} GiB"),
            ("bandwidth", f"{self.bandwidth_gb_s:g} GB/s" if self.bandwidth_gb_s else None),
            ("FP32", f"{self.fp32_tflops:g} TFLOPS" if self.fp32_tflops else None),
            ("FP16 tensor", f"{self.fp16_tflops:g} TFLOPS" if self.fp16_tflops else None),
            ("BF16 tensor", f"{self.bf16_tflops:g} TFLOPS" if self.bf16_tflops else None),
            ("FP8 tensor", f"{self.fp8_tflops:g} TFLOPS" if self.fp8_tflops else None),
            ("INT8 tensor", f"{self.int8_tops:g} TOPS" if self.int8_tops else None),
            ("interconnect", self.interconnect),
            ("architecture", self.architecture),
            ("compute capability", self.compute_capability),
        ]
        return [(k, val) for k, val in rows if val not in (None, "")]

    def _repr_html_(self) -> str:
        """A table of the datasheet figures (Jupyter shows it)."""
        return render.html_table(["field", "value"], self._summary(), caption=self.name)

    def to_markdown(self) -> str:
        """The datasheet figures as a two-column markdown table."""
        return render.markdown_table(["field", "value"], self._summary())

    @property
    def memory_gib(self) -> float:
        """Physical memory in GiB (2**30 bytes)."""
        return self.memory_bytes / 2**30

    @property
    def available_bytes(self) -> int:
        """Memory a process can allocate into (the rule :func:`llmcatalog.fits` uses).

        In order: ``allocatable_memory_bytes`` when known (a sourced CUDA total); else the default
        share of shared memory (``memory_bytes * gpu_memory_fraction``, Apple silicon); else
        :data:`ALLOCATABLE_FALLBACK_FRACTION` of the driver total (``usable_memory_bytes``) or, lacking
        that, of ``memory_bytes``. :attr:`allocatable_known` says whether a sourced figure was used.
        """
        if self.allocatable_memory_bytes:
            return self.allocatable_memory_bytes
        if self.gpu_memory_fraction is not None:
            return int(self.memory_bytes * self.gpu_memory_fraction)
        return int((self.usable_memory_bytes or self.memory_bytes) * ALLOCATABLE_FALLBACK_FRACTION)

    @property
    def capability(self) -> tuple[int, int] | None:
        """:attr:`compute_capability` as ``(major, minor)`` for comparisons (None when unknown)."""
        if self.compute_capability is None:
            return None
        major, minor = self.compute_capability.split(".")
        return int(major), int(minor)

    @property
    def allocatable_known(self) -> bool:
        """True when :attr:`available_bytes` comes from a sourced figure (a CUDA total, or the shared-memory
        share of unified memory), False when it is the :data:`ALLOCATABLE_FALLBACK_FRACTION` fallback."""
        return bool(self.allocatable_memory_bytes) or self.gpu_memory_fraction is not None
