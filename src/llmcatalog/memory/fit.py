"""Whether an estimate fits a GPU: the one rule that ``fits``, ``min_gpus`` and every planning answer use.

Three verdicts, from the per-GPU estimate (``MemoryEstimate.total_bytes``, CUDA context and
allocator reserve included) and the memory a process can allocate on the GPU
(:attr:`GPU.available_bytes`: the CUDA total where a source gives it, else a documented
fallback, see :data:`~llmcatalog.values.gpu.ALLOCATABLE_FALLBACK_FRACTION`):

- ``"fits"``: the estimate leaves at least the headroom free;
- ``"tight"``: it is within the allocatable memory but eats into the headroom: it may run, or
  fail on fragmentation or on what the estimate does not see;
- ``"does not fit"``: it exceeds the allocatable memory.

The headroom, :data:`HEADROOM_FRACTION` of the allocatable memory (5%), is kept free for what a
peak estimate cannot promise:

- fragmentation of PyTorch's caching allocator beyond the reserve the estimate already counts:
  out-of-memory reports show 0.2-1 GiB "reserved by PyTorch but unallocated" on 24 GiB cards
  (2-4% of the memory in use; e.g. pinokiofactory/flux-webui#11, ali-vilab/VGen#104), and
  torchtitan reports node failures at about 96% of device memory (pytorch/torchtitan#1789);
- the estimate's own error on single-GPU runs (median -3.6% for litgpt LoRA, -6% for QLoRA
  against published measurements; ``docs/accuracy.md``).

:func:`llmcatalog.fits` is True only for ``"fits"``; ``headroom_fraction=0`` gives the bare
boundary (``total <= allocatable``).
"""

from __future__ import annotations

import math
from typing import Literal

import attrs

from ..errors import WorkloadError
from ..values.gpu import GPU

__all__ = ["HEADROOM_FRACTION", "VERDICTS", "FitCheck", "Verdict", "check_headroom", "fit_check"]

#: Share of a GPU's allocatable memory kept free before a job is said to fit (see the module docstring).
HEADROOM_FRACTION = 0.05

Verdict = Literal["fits", "tight", "does not fit"]
#: The verdicts, best first (the order planning ranks by).
VERDICTS: tuple[Verdict, ...] = ("fits", "tight", "does not fit")


@attrs.frozen(kw_only=True)
class FitCheck:
    """A workload's per-GPU memory against one GPU: the verdict and the figures behind it (bytes)."""

    verdict: Verdict
    required_bytes: int
    available_bytes: int
    headroom_bytes: int
    n_gpus: int = 1

    @property
    def fits(self) -> bool:
        """True only for the ``"fits"`` verdict (with the headroom left free)."""
        return self.verdict == "fits"

    @property
    def margin_bytes(self) -> int:
        """Allocatable memory left at the peak (negative: short by that much)."""
        return self.available_bytes - self.required_bytes

    @property
    def share(self) -> float:
        """Required / allocatable (1.0 = exactly full)."""
        return self.required_bytes / self.available_bytes

    @property
    def rank(self) -> int:
        """0 fits, 1 tight, 2 does not fit (to sort by)."""
        return VERDICTS.index(self.verdict)

    def __str__(self) -> str:
        gib = 2**30
        return (
            f"{self.verdict} ({self.required_bytes / gib:.2f} of {self.available_bytes / gib:.2f} GiB allocatable, "
            f"{self.share:.0%}; headroom {self.headroom_bytes / gib:.2f} GiB)"
        )


def check_headroom(headroom_fraction: object) -> float:
    """``headroom_fraction`` if it is a number in [0, 0.5], else a WorkloadError saying so."""
    if (
        isinstance(headroom_fraction, bool)
        or not isinstance(headroom_fraction, (int, float))
        or not 0 <= headroom_fraction <= 0.5
    ):
        raise WorkloadError(
            f"headroom_fraction must be a number from 0 to 0.5 (default {HEADROOM_FRACTION}), got {headroom_fraction!r}"
        )
    return float(headroom_fraction)


def fit_check(
    required_bytes: int, gpu: GPU, *, headroom_fraction: float = HEADROOM_FRACTION, n_gpus: int = 1
) -> FitCheck:
    """The verdict for ``required_bytes`` per GPU on ``gpu`` (see the module docstring)."""
    available = gpu.available_bytes
    headroom = math.ceil(available * headroom_fraction)
    if required_bytes > available:
        verdict: Verdict = "does not fit"
    elif required_bytes > available - headroom:
        verdict = "tight"
    else:
        verdict = "fits"
    return FitCheck(
        verdict=verdict,
        required_bytes=required_bytes,
        available_bytes=available,
        headroom_bytes=headroom,
        n_gpus=n_gpus,
    )
