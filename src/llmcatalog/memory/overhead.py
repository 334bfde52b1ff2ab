"""Runtime overhead: memory a GPU process holds beyond its live tensors.

Two documented components, kept apart from the tensor estimate so that tensor-level figures
(``torch.cuda.max_memory_allocated``, :mod:`llmcatalog.trace`) compare with
``total_bytes - overhead_bytes`` and driver-level figures (``nvidia-smi``) with ``total_bytes``:

- **CUDA context** (driver state, kernels of PyTorch, cuBLAS/cuDNN handles and workspaces),
  per GPU and process. With lazy module loading (CUDA >= 11.7, PyTorch's default since 1.13)
  it measures about 0.3-0.45 GiB: ~0.29 GB in pytorch/pytorch PR #86509, "~300MB"/"around
  400MB" in pytorch/pytorch issues #107667 and #109888, 426 MiB on an RTX 6000 Ada with
  PyTorch 2.10 (unslothai/unsloth-zoo PR #1053); cuBLAS adds its workspace (up to 32 MiB per
  stream on Hopper). Default: :data:`CUDA_CONTEXT_BYTES` = 512 MiB.
- **Allocator reserve**: PyTorch's caching allocator keeps freed blocks reserved and rounds
  requests up (1 MiB small-pool pages, 2 MiB large-pool segments and splitting rules in
  ``CUDACachingAllocator.cpp``), so ``nvidia-smi`` shows more than the peak of live tensors.
  The reserve grows with the memory that is allocated and freed during the run (activations,
  the growing KV cache, gradients), not with weights loaded once. Default:
  :data:`ALLOCATOR_FRACTION` of that dynamic memory, calibrated against the published
  nvidia-smi figures in ``tests/data/published_vram.csv`` (see ``docs/accuracy.md``).
"""

from __future__ import annotations

import math

__all__ = ["ALLOCATOR_FRACTION", "CUDA_CONTEXT_BYTES", "overhead_bytes"]

#: CUDA context + library workspaces per GPU process (bytes).
CUDA_CONTEXT_BYTES = 512 * 2**20
#: Caching-allocator reserve as a fraction of the memory allocated and freed while running.
ALLOCATOR_FRACTION = 0.10


def overhead_bytes(
    dynamic_bytes: int, *, cuda_context_bytes: int = CUDA_CONTEXT_BYTES, allocator_fraction: float = ALLOCATOR_FRACTION
) -> tuple[int, int]:
    """(CUDA context, allocator reserve) for a process whose transient tensors total ``dynamic_bytes``."""
    if dynamic_bytes < 0:
        raise ValueError("dynamic_bytes must be >= 0")
    return cuda_context_bytes, math.ceil(dynamic_bytes * allocator_fraction)
