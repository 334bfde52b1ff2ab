"""``estimate_vram``: the GPU memory a workload needs, per GPU, as a breakdown.

Pure functions: a :class:`Model` (or :class:`Architecture`) and a workload in, a
:class:`MemoryEstimate` out; no catalog look-up, no I/O.

The estimate is the memory at the **peak moment** of the run on the most loaded GPU, split
into parts that add up to ``total_bytes``:

- ``weights_bytes``: parameters as stored (quantized formats, frozen and trainable parts,
  fp32 master copies kept as parameters under AMP, unsharded gathers under ZeRO-3/FSDP),
- ``kv_cache_bytes``: the attention cache (inference; full ``context_tokens``),
- ``activations_bytes``: activations and temporaries live at the peak (saved for backward in
  training; logits and loss buffers included),
- ``gradients_bytes``, ``optimizer_bytes``: training states (optimizer states, separate fp32
  master weights, the optimizer step's temporaries),
- ``overhead_bytes``: CUDA context and caching-allocator reserve (:mod:`llmcatalog.memory.overhead`).

``components`` refines that split (e.g. ``weights.frozen``, ``activations.logits``); the
parts of each top-level field add up to it. ``assumptions`` lists the defaults used.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from ..errors import NotEstimableError, WorkloadError
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.precision import DTYPE_BYTES, FORMATS
from ..values.workload import FineTune, Inference
from .activations import decode_step_bytes, prefill_bytes
from .kvcache import kv_cache_bytes
from .overhead import ALLOCATOR_FRACTION, CUDA_CONTEXT_BYTES, overhead_bytes
from .params import param_breakdown
from .result import MemoryEstimate
from .training import estimate_finetune
from .weights import weight_split

__all__ = ["MemoryEstimate", "estimate_vram", "fits", "min_gpus"]


def _arch_of(model: Model | Architecture) -> tuple[Architecture, int, str]:
    """(architecture, extra non-LM parameters, name) or NotEstimableError saying what to fix."""
    if isinstance(model, Architecture):
        return model, 0, model.family
    if not isinstance(model, Model):
        raise TypeError(f"expected a llmcatalog.Model or Architecture, got {type(model).__name__}")
    if model.open_weights is False:
        raise NotEstimableError(
            f"{model.name} ({model.id}) has closed weights: it runs only behind its vendor's API, "
            "so there is no GPU memory to estimate"
        )
    if model.architecture is None:
        if model.base_model:
            hint = (
                f"its base model {model.base_model!r} has none either or is not in the catalog used; "
                "look it up with llmcatalog.get_model() so lineage is resolved, or pass an Architecture"
            )
        else:
            hint = "add an [models.architecture] table, or use Model.from_hf_config() with its config.json"
        raise NotEstimableError(f"{model.name} ({model.id}) has no architecture: {hint}")
    extra = 0
    for c in model.components:
        if c.role != "language-model" and c.n_params:
            extra += c.n_params
    return model.architecture, extra, model.id


def _check_precision_arch(arch: Architecture, workload: Inference) -> None:
    fmt = FORMATS[workload.precision]
    if fmt.name.startswith("gptq-") or fmt.name == "awq-int4":
        bad = [n for n in (arch.hidden_size, arch.ffn_size) if n % 128]
        if bad:
            raise WorkloadError(
                f"{workload.precision} needs Linear input sizes divisible by its group size 128; "
                f"this architecture has {bad}"
            )


def _stage_layers(n_layers: int, stages: int) -> int:
    return math.ceil(n_layers / stages)


def _estimate_inference(
    arch: Architecture, extra_params: int, w: Inference, *, cuda_context_bytes: int, allocator_fraction: float
) -> MemoryEstimate:
    _check_precision_arch(arch, w)
    tp, pp = w.parallelism.tensor_parallel, w.parallelism.pipeline_parallel
    if pp > arch.n_layers:
        raise WorkloadError(f"pipeline_parallel={pp} exceeds the model's {arch.n_layers} layers")
    compute, kv_dtype = w.compute, w.kv_dtype
    e = DTYPE_BYTES[compute]
    pb = param_breakdown(arch)
    split = weight_split(arch, w.precision, compute)
    extra_weights = math.ceil(extra_params * e)  # vision/audio encoders etc. kept in the compute dtype
    # Layers go evenly over pipeline stages (device_map="auto"); the first stage also holds the
    # embeddings (and any encoder), the last the final norm and LM head. Tensor parallelism
    # divides what each stage holds.
    layers_here = _stage_layers(arch.n_layers, pp)
    per_layer = split.layers / arch.n_layers
    if pp > 1:
        per_gpu_weights = per_layer * layers_here + max(split.embedding + extra_weights, split.head)
    else:
        per_gpu_weights = split.total + extra_weights
    per_gpu_weights = math.ceil(per_gpu_weights / tp)
    layer_frac = layers_here / arch.n_layers

    kv_full = math.ceil(
        kv_cache_bytes(arch, batch_size=w.batch_size, tokens=w.context_tokens, dtype=kv_dtype, tensor_parallel=tp)
        * layer_frac
    )
    kv_prompt = math.ceil(
        kv_cache_bytes(arch, batch_size=w.batch_size, tokens=w.prefill_tokens, dtype=kv_dtype, tensor_parallel=tp)
        * layer_frac
    )
    pre = prefill_bytes(
        arch, batch_size=w.batch_size, tokens=w.prefill_tokens, dtype=compute, attention=w.attention, tensor_parallel=tp
    )
    dec = decode_step_bytes(
        arch, batch_size=w.batch_size, context=w.context_tokens, dtype=compute, kv_dtype=kv_dtype, tensor_parallel=tp
    )
    prefill_peak = kv_prompt + pre
    decode_peak = kv_full + dec
    if prefill_peak > decode_peak:
        phase, activations = "prefill", prefill_peak - kv_full
    else:
        phase, activations = "decode", dec
    context, reserve = overhead_bytes(
        kv_full + activations, cuda_context_bytes=cuda_context_bytes, allocator_fraction=allocator_fraction
    )
    assumptions = [
        "engine: Hugging Face transformers generate() with a DynamicCache",
        f"attention: {w.attention}",
        f"weights: {FORMATS[w.precision].description}",
        f"compute dtype: {compute}; KV cache: {kv_dtype}",
        f"prefill of {w.prefill_tokens} prompt tokens, then decoding up to {w.context_tokens} tokens",
        f"overhead: CUDA context {cuda_context_bytes / 2**20:.0f} MiB"
        f" + allocator reserve {allocator_fraction:.0%} of dynamic memory",
    ]
    if w.prompt_tokens is None:
        assumptions.append("prompt_tokens not given: the whole context is prefilled at once (worst case)")
    if tp > 1 or pp > 1:
        assumptions.append(f"split: tensor_parallel={tp}, pipeline_parallel={pp}; figures are for the most loaded GPU")
    return MemoryEstimate(
        weights_bytes=per_gpu_weights,
        kv_cache_bytes=kv_full,
        activations_bytes=activations,
        gradients_bytes=0,
        optimizer_bytes=0,
        overhead_bytes=context + reserve,
        components={
            "weights.model": per_gpu_weights,
            "kv_cache": kv_full,
            "activations": activations,
            "overhead.cuda_context": context,
            "overhead.allocator": reserve,
        },
        n_gpus=w.parallelism.n_gpus,
        peak_phase=phase,
        n_params=pb.total + extra_params,
        active_params=pb.active + extra_params,
        trainable_params=0,
        assumptions=tuple(assumptions),
    )


def estimate_vram(
    model: Model | Architecture,
    workload: Inference | FineTune,
    *,
    cuda_context_bytes: int = CUDA_CONTEXT_BYTES,
    allocator_fraction: float = ALLOCATOR_FRACTION,
) -> MemoryEstimate:
    """GPU memory per GPU for running ``workload`` on ``model``.

    ``model`` is a catalog :class:`Model` (its own or inherited architecture is used) or an
    :class:`Architecture`. ``cuda_context_bytes`` and ``allocator_fraction`` override the
    runtime-overhead model (:mod:`llmcatalog.memory.overhead`); pass 0 for both to get tensors only.

    Raises :class:`NotEstimableError` for closed-weight models and models without an
    architecture, :class:`WorkloadError` for settings the model cannot run with.
    """
    if not isinstance(cuda_context_bytes, int) or cuda_context_bytes < 0:
        raise WorkloadError(f"cuda_context_bytes must be an int >= 0, got {cuda_context_bytes!r}")
    if not isinstance(allocator_fraction, (int, float)) or not 0 <= allocator_fraction <= 1:
        raise WorkloadError(f"allocator_fraction must be between 0 and 1, got {allocator_fraction!r}")
    arch, extra, _name = _arch_of(model)
    if isinstance(workload, Inference):
        return _estimate_inference(
            arch, extra, workload, cuda_context_bytes=cuda_context_bytes, allocator_fraction=allocator_fraction
        )
    if isinstance(workload, FineTune):
        return estimate_finetune(
            arch, extra, workload, cuda_context_bytes=cuda_context_bytes, allocator_fraction=allocator_fraction
        )
    raise TypeError(f"expected an Inference or FineTune workload, got {type(workload).__name__}")


def fits(model: Model | Architecture, gpu: GPU, workload: Inference | FineTune, **kwargs: Any) -> bool:
    """True when the per-GPU estimate fits in ``gpu``'s memory (driver-reported total when known)."""
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU (use llmcatalog.get_gpu(name)), got {type(gpu).__name__}")
    return estimate_vram(model, workload, **kwargs).total_bytes <= gpu.available_bytes


def min_gpus(
    model: Model | Architecture, gpu: GPU, workload: Inference | FineTune, *, max_gpus: int = 1024, **kwargs: Any
) -> int | None:
    """The fewest GPUs of type ``gpu`` that fit ``workload``, or None if ``max_gpus`` do not.

    Inference is split by pipeline stages (``device_map="auto"``) unless the workload already
    uses tensor parallelism, which is then scaled instead. Fine-tuning scales data parallelism;
    with no sharding configured this only helps if one GPU already fits, so the search uses the
    workload's ZeRO/FSDP setting as given (set ``zero_stage=3`` to shard the model itself).
    """
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU, got {type(gpu).__name__}")
    arch, _extra, _ = _arch_of(model)
    p = workload.parallelism

    def with_n(n: int) -> Inference | FineTune | None:
        if isinstance(workload, Inference):
            if p.tensor_parallel > 1:
                if arch.n_heads % n:
                    return None
                par = attrs.evolve(p, tensor_parallel=n)
            else:
                if n > arch.n_layers:
                    return None
                par = attrs.evolve(p, pipeline_parallel=n)
        else:
            fixed = p.tensor_parallel * p.pipeline_parallel
            if n % fixed:
                return None
            par = attrs.evolve(p, data_parallel=n // fixed)
        return attrs.evolve(workload, parallelism=par)

    n = 1
    while n <= max_gpus:
        candidate = with_n(n)
        if candidate is not None and fits(model, gpu, candidate, **kwargs):
            return n
        n += 1
    return None
