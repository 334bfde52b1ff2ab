"""GPUs (and other accelerators) with their datasheet figures."""

from __future__ import annotations

import attrs

from . import render
from . import validators as v

__all__ = ["GPU"]


@attrs.frozen(kw_only=True)
class GPU:
    """An accelerator as its vendor's datasheet describes it.

    ``memory_bytes`` is the physical capacity the card is sold with. Vendors write "80GB",
    but memory chips and HBM stacks come in binary sizes, so "80GB" is 80 GiB = 80 * 2**30
    bytes. ``usable_memory_bytes`` is what the driver reports as total (``nvidia-smi``),
    where a source gives it; it is slightly lower (ECC and firmware reservations), and
    :func:`llmcatalog.fits` uses it when known.

    ``gpu_memory_fraction`` is the share of ``memory_bytes`` the accelerator may use by
    default when it shares memory with the CPU (Apple silicon: macOS lets the GPU wire about
    2/3 of unified memory up to 36 GB and 3/4 above; ``sysctl iogpu.wired_limit_mb`` changes
    it). :attr:`available_bytes` applies it when no driver-reported total is known.

    Throughput figures are dense (no 2:4 sparsity), in TFLOPS (10**12 / s); the tensor-core
    FP16/BF16 figures use FP32 accumulation where the datasheet distinguishes. ``None``
    means the datasheet gives no figure (e.g. no BF16 before Ampere).
    """

    id: str = attrs.field(validator=v.slug)
    name: str = attrs.field(validator=attrs.validators.min_len(1))
    vendor: str = attrs.field(validator=attrs.validators.min_len(1))
    memory_bytes: int = attrs.field(validator=v.pos_int)
    sources: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=v.urls)
    aliases: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=v.str_tuple)
    usable_memory_bytes: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    gpu_memory_fraction: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    memory_type: str | None = None
    bandwidth_gb_s: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    fp64_tflops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    fp32_tflops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    fp16_tflops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    bf16_tflops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    fp8_tflops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    int8_tops: float | None = attrs.field(default=None, validator=v.optional(v.pos_float))
    interconnect: str | None = None
    form_factor: str | None = None
    architecture: str | None = None
    release_year: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    tdp_watts: int | None = attrs.field(default=None, validator=v.optional(v.pos_int))
    notes: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.usable_memory_bytes is not None and self.usable_memory_bytes > self.memory_bytes:
            raise ValueError("'usable_memory_bytes' cannot exceed 'memory_bytes'")
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
        """Memory a process can allocate into: the driver's total when known, else the default
        share of shared memory (``gpu_memory_fraction``), else the physical size."""
        if self.usable_memory_bytes:
            return self.usable_memory_bytes
        if self.gpu_memory_fraction is not None:
            return int(self.memory_bytes * self.gpu_memory_fraction)
        return self.memory_bytes
