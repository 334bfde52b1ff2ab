"""llama.cpp's decode speed from the bytes of its GGUF weights (not the checkpoint's bf16 ones).

:func:`llmcatalog.decode_speed` reads the weights in the workload's format; for llama.cpp the
format is the GGUF file type, whose tensors carry a mix of ggml types (:mod:`.ggml_types`:
``Q4_K_M`` is about 4.9 bits per weight, not 16). :func:`llamacpp_decode_speed` takes the bytes
of llama.cpp's model buffers (:func:`.llamacpp.layout`, the same tensors and types as its memory
estimate) and puts them through the memory-bandwidth roofline of :mod:`llmcatalog.performance`
(Williams, Waterman & Patterson, CACM 2009), with the ``llama.cpp`` engine profile's fractions
(:data:`~llmcatalog.performance.engines.ENGINE_PROFILES`: not calibrated on llama.cpp yet):

- bytes read per decode step: every repeating block and the output head, but only the expected
  share of routed experts a batch touches (``expected_experts_fraction``), and not the token
  embeddings (rows are gathered; a tied head reads the table once as the output matrix);
- KV bytes read: each layer's K and V rows (``type_k``/``type_v``) for the context it attends to
  (the window on sliding layers), per sequence;
- FLOPs: ``2 x`` active matmul parameters per token plus attention, against the fp16 peak
  (llama.cpp's quantized matmuls dequantize to f16/f32 and run at that rate at best);
- host time: the profile's per-layer overhead, not overlapped.

It answers for a model held wholly on one GPU; a partial offload runs the CPU's layers at the
host memory's speed, which this does not model (the estimate says so in its assumptions).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from ..errors import ContextLengthWarning, WorkloadError
from ..importers.gguf import GGUFCheckpoint
from ..performance.engines import engine_profile
from ..performance.hardware import bandwidth_bytes_s, peak_flops
from ..performance.inference import DecodeSpeed, expected_experts_fraction
from ..values.gpu import GPU
from ..values.model import Model
from ..values.workload import Inference
from . import llamacpp
from .ggml_types import row_bytes

__all__ = ["llamacpp_decode_speed"]


def _expert_bytes(model: Model | GGUFCheckpoint, quant: str | None) -> int:
    """Bytes of the routed-expert tensors (``ffn_*_exps``) as llama.cpp stores them."""
    tensors = (
        model.tensors if isinstance(model, GGUFCheckpoint) else llamacpp.quantized_tensors(model, quant or "Q4_K_M")
    )
    return sum(t.nbytes for t in tensors if "_exps." in t.name)


def llamacpp_decode_speed(
    model: Model | GGUFCheckpoint | str | os.PathLike[str],
    gpu: GPU,
    workload: Inference | None = None,
    *,
    quant: str | None = None,
    context_tokens: int | None = None,
    type_k: str | None = None,
    type_v: str | None = None,
    bandwidth_gb_s: float | None = None,
    tflops: float | None = None,
) -> DecodeSpeed:
    """Decode tokens/s of llama.cpp for ``workload.batch_size`` sequences (``-np``) at
    ``context_tokens`` (default ``workload.context_tokens``) with the weights in ``quant`` (default:
    the GGUF type standing for ``workload.precision``, Q4_K_M when left as stored; a ``.gguf`` file
    as stored). See the module docstring for what is counted."""
    w = workload or Inference()
    if not isinstance(w, Inference):
        raise TypeError(f"expected a llmcatalog.Inference workload, got {type(w).__name__}")
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU, got {type(gpu).__name__}")
    if w.parallelism.tensor_parallel > 1 or w.parallelism.pipeline_parallel > 1:
        raise WorkloadError("llamacpp_decode_speed answers for one GPU: set tensor/pipeline parallelism to 1")
    model = llamacpp._resolve(model)
    q, kv_type, _flash = llamacpp.workload_settings(model, w, quant)
    lay = llamacpp.layout(model, q)
    ctx = w.context_tokens if context_tokens is None else context_tokens
    if isinstance(ctx, bool) or not isinstance(ctx, int) or ctx < 1:
        raise ValueError(f"'context_tokens' must be a positive integer, got {ctx!r}")
    b = w.batch_size
    arch = model.architecture
    assert arch is not None  # layout() refused a model without one
    prof = engine_profile("llama.cpp")
    experts = _expert_bytes(model, lay.quant if not isinstance(model, GGUFCheckpoint) else None)
    top_k = arch.n_experts_per_token or 0
    frac = expected_experts_fraction(arch.n_experts, top_k, b)
    weights = sum(lay.block_bytes) - experts + experts * frac + lay.output_bytes
    tk, tv = (type_k or kv_type).upper(), (type_v or kv_type).upper()
    kv_row = row_bytes(tk, lay.n_embd_kv) + row_bytes(tv, lay.n_embd_kv)
    cells = sum(min(ctx, lay.n_swa) if i in lay.sliding_layers else ctx for i in range(lay.n_layers))
    kv_read = kv_row * cells * b
    bw = bandwidth_bytes_s(gpu, gb_s=bandwidth_gb_s)
    memory_s = weights / (prof.bandwidth_fraction * bw) + kv_read / ((prof.kv_bandwidth_fraction or 1.0) * bw)
    active = sum(t_params for t_params in _matmul_params(arch, top_k))
    attn_flops = 4 * lay.n_head * lay.head_dim * cells * b
    flops = 2 * active * b + attn_flops
    peak = peak_flops(gpu, "fp16", tflops=tflops, why="llama.cpp's decode compute time")
    compute_s = flops / (prof.compute_fraction * peak)
    host_s = prof.layer_overhead_s * lay.n_layers
    step = max(memory_s, compute_s) + host_s
    with warnings.catch_warnings():  # only the fit is wanted here
        warnings.simplefilter("ignore", ContextLengthWarning)
        est = llamacpp.estimate(model, quant=None if isinstance(model, GGUFCheckpoint) else lay.quant, gpu=gpu)
    assumptions: tuple[str, ...] = (
        f"engine: llama.cpp ({prof.source})",
        f"weights: GGUF {lay.quant}, {weights / 2**30:.2f} GiB read per step (llama.cpp's model buffers)",
        f"KV cache {tk.lower()}/{tv.lower()}",
    )
    if arch.n_experts:
        assumptions += (f"MoE: {frac:.0%} of routed experts read per step (uniform routing, batch {b})",)
    if est.unified_fits is False:
        assumptions += (f"the model does not fit {gpu.name}: {'; '.join(est.failed_limits())}",)
    elif est.fits is False:
        assumptions += (
            f"the model does not fit {gpu.name} wholly (at most {est.max_gpu_layers} layers): a partial offload"
            " runs slower than this, at the host memory's speed for the CPU's layers",
        )
    details: dict[str, Any] = {"memory_s": memory_s, "compute_s": compute_s, "host_s": host_s}
    return DecodeSpeed(
        tokens_per_s=b / step,
        tokens_per_s_per_sequence=1 / step,
        step_s=step,
        bytes_per_step=weights + kv_read,
        flops_per_step=flops,
        communication_s=0.0,
        bound="memory" if memory_s >= compute_s else "compute",
        batch_size=b,
        context_tokens=ctx,
        engine="llama.cpp",
        assumptions=assumptions,
        **details,
    )


def _matmul_params(arch: Any, top_k: int) -> list[float]:
    """Matmul parameters one token runs through: attention and dense/active-expert FFN per layer,
    and the output head."""
    h, hd = arch.hidden_size, arch.head_dim
    attn = h * hd * (2 * arch.n_heads + 2 * arch.n_kv_heads)
    gated = 3 if arch.mlp == "gated" else 2
    out = []
    for i in range(arch.n_layers):
        if arch.is_moe_layer(i):
            eff = arch.expert_ffn_size or arch.ffn_size
            ffn = gated * h * eff * top_k + gated * h * (arch.shared_expert_ffn_size or eff) * arch.n_shared_experts
        else:
            ffn = gated * h * arch.ffn_size
        out.append(float(attn + ffn))
    out.append(float(h * arch.vocab_size))
    return out
