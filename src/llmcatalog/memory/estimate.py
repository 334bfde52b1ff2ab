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

Before computing, the workload is checked against the model it is applied to:

- a context (``context_tokens``, or ``seq_len`` for fine-tuning) longer than the model's
  ``max_context`` warns with :class:`~llmcatalog.ContextLengthWarning` (the memory is still
  estimated; the model was not trained for it). Learned absolute positions (GPT-2, OPT,
  ``position_embedding="learned"``) have no row for a position past ``max_context``: a
  :class:`~llmcatalog.WorkloadError`;
- tensor and pipeline parallel sizes must be ones the engines can run (:func:`tensor_parallel_sizes`);
- the weight format: an :class:`Inference` without a ``precision`` uses the model's
  ``weight_format`` (read from the checkpoint's ``quantization_config``) when it has one, else
  bf16; the assumptions say which format was used and why;
- models with more than :data:`MAX_ESTIMATE_BYTES` worth of parameters, and estimates above it,
  are refused: no GPU comes near it, so such a figure only ever comes from a wrong input.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..errors import (
    CompatibilityWarning,
    ContextLengthWarning,
    NoFitWarning,
    NotEstimableError,
    UncountedPartsWarning,
    WorkloadError,
    outside_stacklevel,
)
from ..values.compat import kv_cache_supports, runtime_format, single_device, supports
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.precision import DTYPE_BYTES, FORMATS, WeightFormat
from ..values.workload import BASE_FORMATS, CHATGLM_BASES, FineTune, Inference, Parallelism, _show
from .activations import decode_step_bytes, dequantized_weight_bytes, prefill_bytes
from .fit import HEADROOM_FRACTION, FitCheck, check_headroom, fit_check
from .kvcache import kv_per_layer_token_bytes, state_bytes_per_sequence
from .litgpt import litgpt_terms
from .overhead import ALLOCATOR_FRACTION, CUDA_CONTEXT_BYTES, overhead_bytes
from .params import param_breakdown
from .result import MemoryEstimate
from .sharding import nccl_buffer_bytes
from .training import estimate_finetune
from .weights import weight_split

__all__ = [
    "MAX_ESTIMATE_BYTES",
    "FitCheck",
    "MemoryEstimate",
    "as_run",
    "check",
    "estimate_vram",
    "fits",
    "incompatibilities",
    "min_gpus",
    "split_over",
    "tensor_parallel_sizes",
    "with_run_note",
]

#: The largest estimate returned: 2**60 bytes (1 EiB) per GPU, millions of times the memory of
#: any GPU. Models whose parameters alone pass it, and workloads that would, raise instead.
MAX_ESTIMATE_BYTES = 2**60


@functools.lru_cache(maxsize=4096)
def _canonical(arch: Architecture) -> Architecture:
    """The first-seen instance equal to ``arch``. The calculus caches per architecture (parameter
    breakdown, layer profiles, weight splits); handing every cache one instance turns their look-ups
    into identity hits instead of comparing ~50 fields per look-up (equal architectures built
    separately, e.g. a base model and its chat model, are common)."""
    return arch


def _unwrap(model: object) -> object:
    """An importer's result (``from_local``, ``from_gguf``, ``from_hub``) stands for the Model it holds."""
    inner = getattr(model, "model", None)
    return inner if not isinstance(model, (Model, Architecture)) and isinstance(inner, Model) else model


#: The Python advice for a model whose architecture comes from its base (the CLI words it its own way).
LINEAGE_ADVICE = "look it up with llmcatalog.get_model() so lineage is resolved, or pass an Architecture"


def _arch_of(model: Model | Architecture) -> tuple[Architecture, int, str]:
    """(architecture, extra non-LM parameters, name) or NotEstimableError saying what to fix."""
    if isinstance(model, Architecture):
        return _bounded(model, 0, f"this {model.family} architecture")
    if not isinstance(model, Model):
        raise TypeError(f"expected a llmcatalog.Model or Architecture, got {type(model).__name__}")
    if model.open_weights is False:
        raise NotEstimableError(
            f"{model.name} ({model.id}) has closed weights: it runs only behind its vendor's API, "
            "so there is no GPU memory to estimate"
        )
    if model.architecture is None:
        if model.architecture_differs:
            hint = f"it differs from its base's ({model.architecture_differs})"
        elif model.base_model and not model.sources:
            hint = (
                f"its base model {model.base_model!r} has none either or is not in the catalog used; " + LINEAGE_ADVICE
            )
        elif model.notes and not model.sources:
            hint = model.notes  # what an importer could not describe, and why (one sentence)
        elif model.sources:
            # A catalog entry: its notes (why no architecture is recorded) can be a paragraph of
            # provenance; point to them instead of dumping them into the error.
            lineage = f" (nor has its base model {model.base_model!r})" if model.base_model else ""
            raise NotEstimableError(
                f"{model.name} ({model.id}) has no architecture recorded{lineage}, so its memory cannot be "
                "estimated. Pass the checkpoint's config.json instead (llmcatalog.Model.from_hf_config(config), or "
                f"`llmcatalog estimate path/to/config.json`); `llmcatalog show {model.id}` shows the notes on why."
            )
        else:
            hint = "add an [models.architecture] table, or use Model.from_hf_config() with its config.json"
        raise NotEstimableError(f"{model.name} ({model.id}) has no architecture: {hint}")
    extra = _unsized_parts_params(model, model.architecture)
    for c in model.components:
        if c.role != "language-model" and c.n_params:
            extra += c.n_params
    return _bounded(model.architecture, extra, model.id)


def _unsized_parts_params(model: Model, arch: Architecture) -> int:
    """Parameters of non-language parts whose own size is unknown (a vision tower listed without a
    count), taken from the model's published total: ``n_params - language model - sized parts``.
    0 when every part is sized, no total is known, or the total leaves nothing over. The estimate
    then says so in its assumptions (:func:`estimate_vram`)."""
    parts = [c for c in model.components if c.role != "language-model"]
    if not model.n_params or not any(c.n_params is None for c in parts):
        return 0
    sized = sum(c.n_params or 0 for c in parts)
    return max(model.n_params - param_breakdown(arch).total - sized, 0)


def _bounded(arch: Architecture, extra: int, name: str) -> tuple[Architecture, int, str]:
    """Refuse architectures whose parameters alone exceed :data:`MAX_ESTIMATE_BYTES` (exact int
    arithmetic); below it every size the calculus multiplies stays far inside float range."""
    n = param_breakdown(arch).total + extra
    if n > MAX_ESTIMATE_BYTES:
        raise NotEstimableError(
            f"{name} has {n:.3g} parameters, more than 2**60: check its sizes "
            f"(n_layers={arch.n_layers:.3g}, hidden_size={arch.hidden_size:.3g}, vocab_size={arch.vocab_size:.3g})"
        )
    return arch, extra, name


def tensor_parallel_sizes(arch: Architecture, *, limit: int = 1024) -> tuple[int, ...]:
    """The tensor-parallel sizes up to ``limit`` that ``arch`` can be split over.

    Rule (vLLM's attention layers, ``vllm/model_executor/models/llama.py`` ``LlamaAttention``,
    and Megatron-LM's query groups): the query heads are divided evenly, so ``tp`` divides
    ``n_heads``; the KV heads are divided evenly when there are at least ``tp`` of them
    (``n_kv_heads % tp == 0``) and replicated otherwise, which needs ``tp % n_kv_heads == 0``.
    """
    return tuple(t for t in range(1, min(arch.n_heads, limit) + 1) if _tp_ok(arch, t))


def _tp_ok(arch: Architecture, tp: int) -> bool:
    kv = arch.n_kv_heads
    return arch.n_heads % tp == 0 and (kv % tp == 0 if kv >= tp else tp % kv == 0)


def _check_parallel(arch: Architecture, p: Parallelism, name: str) -> None:
    """WorkloadError unless ``p`` splits ``arch`` in a way the engines can run."""
    tp, pp = p.tensor_parallel, p.pipeline_parallel
    if not _tp_ok(arch, tp):
        valid = ", ".join(map(str, tensor_parallel_sizes(arch)))
        raise WorkloadError(
            f"tensor_parallel={tp} cannot split {name}'s {arch.n_heads} attention heads "
            f"({arch.n_kv_heads} KV heads): it must divide the attention heads and divide or be a "
            f"multiple of the KV heads; valid sizes: {valid}"
        )
    if pp > arch.n_layers:
        raise WorkloadError(
            f"pipeline_parallel={pp} exceeds the model's {arch.n_layers} layers: "
            f"each stage needs at least one layer (use 1..{arch.n_layers})"
        )
    if p.offload_optimizer and p.shard_stage == 0:
        # DeepSpeed's ``offload_optimizer`` is a ZeRO option (valid for stages 1-3; DeepSpeed docs,
        # "ZeRO-Offload"), and FSDP's ``CPUOffload(offload_params=True)`` moves parameters and gradients with
        # the optimizer step; plain data parallelism has no CPU optimizer, so the flag would change nothing.
        raise WorkloadError(
            "offload_optimizer needs ZeRO or FSDP: DeepSpeed offloads optimizer states only with zero_stage >= 1 "
            "(give zero_stage=2, or --zero 2 on the command line) and FSDP offloads through fsdp='full-shard' "
            "with offload_params; a run without sharding keeps its optimizer states on the GPU"
        )


def _check_finetune(arch: Architecture, w: FineTune, name: str) -> None:
    """WorkloadError for fine-tuning settings the model cannot have (rather than clamping them silently)."""
    if w.method == "freeze" and w.trainable_layers > arch.n_layers:
        raise WorkloadError(
            f"trainable_layers={w.trainable_layers} exceeds {name}'s {arch.n_layers} layers "
            f"(use 1..{arch.n_layers}; all {arch.n_layers} is full fine-tuning of the blocks)"
        )
    if w.quantized_base in CHATGLM_BASES and arch.family != "chatglm":
        # ChatGLM's remote code quantizes its own Linears (quantization.py, model.quantize(bits)); other
        # architectures have no such int8/int4 path: their quantized bases are bitsandbytes, GPTQ or AWQ.
        field = "qlora_format" if w.method == "qlora" else "base_format"
        others = ", ".join(f for f in BASE_FORMATS if f not in CHATGLM_BASES)
        raise WorkloadError(
            f"{field}={w.quantized_base!r} is ChatGLM's built-in quantizer (quantization_bit), which "
            f"{name} ({arch.family}) does not have; use one of {others} "
            f"(e.g. --base-format bnb-nf4 on the command line)"
        )
    if w.method in ("lora", "qlora") and w.lora_rank > arch.hidden_size:
        # A rank above the input size of the adapted Linear adds parameters without adding rank
        # (Hu et al., arXiv 2106.09685: r << min(d, k)); it is a typo, not a recipe.
        raise WorkloadError(
            f"lora_rank={w.lora_rank} exceeds {name}'s hidden size {arch.hidden_size}: a LoRA rank is at most "
            "the smaller side of the adapted matrix (common ranks: 8-256)"
        )


def _check_context(arch: Architecture, workload: Inference | FineTune, name: str) -> None:
    """Warn (or, for learned positions, raise) when the sequence is longer than ``max_context``."""
    if isinstance(workload, Inference):
        field, tokens = "context_tokens", workload.context_tokens
    else:
        field, tokens = "seq_len", workload.seq_len
    limit = arch.max_context
    if tokens <= limit:
        return
    if arch.position_embedding == "learned":
        raise WorkloadError(
            f"{field}={tokens} exceeds {name}'s max_context of {limit} tokens, and its learned absolute "
            f"position embeddings have no row past position {limit}: use {field} <= {limit}"
        )
    message = (
        f"{field}={tokens} exceeds {name}'s max_context of {limit} tokens (max_position_embeddings): "
        "the model was not trained for longer sequences; the memory is estimated anyway"
    )
    if arch.rope_scaling_type is not None:
        factor = arch.rope_scaling_factor
        scaled = f", factor {factor:g}" if factor else ""
        message += (
            f". Its config has rope scaling ({arch.rope_scaling_type}{scaled}): a longer context may work "
            "with that scaling enabled, see the model card"
        )
    elif arch.position_embedding == "alibi":
        message += " (ALiBi extrapolates past its training length, with some loss of quality)"
    warnings.warn(message, ContextLengthWarning, stacklevel=outside_stacklevel())


def _check_precision_arch(arch: Architecture, workload: Inference) -> None:
    """A named GPTQ/AWQ precision put on any architecture needs whole groups of 128 inputs (the
    kernels' layout). A format read from a real checkpoint's config describes tensors that exist."""
    fmt = workload.weight_format
    if fmt.method in ("gptq", "awq") and fmt.group_size:
        bad = _ungrouped_sizes(arch, fmt)
        if bad:
            raise WorkloadError(
                f"{fmt.name} needs Linear input sizes divisible by its group size {fmt.group_size}; "
                f"this architecture has {list(bad)}"
            )


@functools.lru_cache(maxsize=4096)
def _ungrouped_sizes(arch: Architecture, fmt: WeightFormat) -> tuple[int, ...]:
    if FORMATS.get(fmt.name) != fmt or not fmt.group_size:
        return ()
    return tuple(n for n in (arch.hidden_size, arch.ffn_size) if n % fmt.group_size)


def _resolve_format(model: Model | Architecture, workload: Inference | FineTune) -> tuple[Inference | FineTune, str]:
    """The workload with the weight format in effect, and the assumption line saying why.

    An :class:`Inference` without a precision takes the model's ``weight_format`` (the
    checkpoint's ``quantization_config``) when it has one, else bf16.
    """
    if not isinstance(workload, Inference):
        return workload, ""
    stored = model.weight_format if isinstance(model, Model) else None
    if workload.precision_given:
        fmt = workload.weight_format
        note = f"weights: {fmt.description} (precision given)"
        if stored is not None and stored != fmt:
            note += f"; the checkpoint itself stores {stored.description}"
        return workload, note
    if stored is not None:
        origin = "from the GGUF file" if stored.method == "gguf" else "from the checkpoint's quantization_config"
        # a format resolved from a repository's name says so in its first note ("inferred from ...")
        origin = next((n for n in stored.notes if n.startswith("inferred from ")), origin)
        note = f"weights: {stored.description} (as stored: {origin})"
        return attrs.evolve(workload, precision=stored), note
    why = "the model records no stored weight format" if isinstance(model, Model) else "no precision given"
    return workload, f"weights: {workload.weight_format.description} ({why})"


def _training_weights_note(model: Model | Architecture, workload: Inference | FineTune) -> str:
    """A fine-tune of a checkpoint stored quantized (its ``weight_format``) is counted with the base
    weights dequantized, in the workload's precision, unless ``base_format``/QLoRA says otherwise:
    the assumption line that says so ("" when it does not apply).

    MXFP4 (gpt-oss) cannot be trained as stored: transformers' ``Mxfp4HfQuantizer.is_trainable`` is
    False and asks for ``Mxfp4Config(dequantize=True)``, which loads the experts as bf16. FP8 and
    GPTQ/AWQ checkpoints can carry PEFT adapters over their quantized Linears in transformers, which
    would take less memory than counted here.
    """
    stored = model.weight_format if isinstance(model, Model) else None
    if not isinstance(workload, FineTune) or stored is None or workload.quantized_base is not None:
        return ""
    note = f"base weights: the checkpoint stores {stored.description}; counted dequantized, as a {workload.precision} "
    note += "checkpoint would be"
    if stored.method == "mxfp4":
        return note + (
            " (transformers does not train MXFP4 weights as stored: it loads them dequantized to bf16 for "
            "training, Mxfp4Config(dequantize=True))"
        )
    hint = f"; base_format={stored.name!r} counts that" if stored.name in BASE_FORMATS else ""
    return note + f" (PEFT over the {stored.method} weights as stored would take less{hint})"


def _stage_layers(n_layers: int, stages: int) -> int:
    return math.ceil(n_layers / stages)


def _tokens_assumption(prefill_tokens: int, context_tokens: int) -> str:
    """The token budget in words, totals unambiguous: the context holds the prompt and the generated tokens."""
    if prefill_tokens >= context_tokens:
        return f"a {context_tokens:,}-token context: all {context_tokens:,} tokens prefilled as the prompt"
    return (
        f"a {context_tokens:,}-token context: prefill of {prefill_tokens:,} prompt tokens, then decoding to "
        f"{context_tokens:,} tokens in all ({context_tokens - prefill_tokens:,} generated)"
    )


@functools.lru_cache(maxsize=4096)
def _inference_assumptions(
    w: Inference, weights_note: str, cuda_context_bytes: int, allocator_fraction: float
) -> tuple[str, ...]:
    """The assumptions of an inference estimate (they depend on the workload only: cached)."""
    tp, pp = w.parallelism.tensor_parallel, w.parallelism.pipeline_parallel
    assumptions = [
        (
            "engine: litgpt generate/base.py (its own GPT model; a KV cache preallocated for the whole context)"
            if w.framework == "litgpt"
            else "engine: Hugging Face transformers generate() with "
            + ("tuple caches rebuilt each step, full-prompt logits" if w.legacy_cache else "a DynamicCache")
        ),
        f"attention: {w.attention}",
        weights_note or f"weights: {w.weight_format.description}",
        f"compute dtype: {w.compute}; KV cache: {w.kv_dtype}",
        _tokens_assumption(w.prefill_tokens, w.context_tokens),
        f"overhead: CUDA context {cuda_context_bytes / 2**20:.0f} MiB"
        f" + allocator reserve {allocator_fraction:.0%} of dynamic memory",
    ]
    if w.prompt_tokens is None:
        assumptions.append("prompt_tokens not given: the whole context is prefilled at once (worst case)")
    if tp > 1 or pp > 1:
        assumptions.append(f"split: tensor_parallel={tp}, pipeline_parallel={pp}; figures are for the most loaded GPU")
    return tuple(assumptions)


@attrs.frozen(slots=True)
class _InferenceProfile:
    """What an inference estimate needs that depends on the architecture and the dtypes, not on
    the batch or the lengths: computed once per (architecture, formats, parallel split) and then
    combined with the workload's sizes by plain arithmetic (the same expressions as
    :func:`~llmcatalog.memory.kvcache.kv_cache_bytes`, :func:`~llmcatalog.memory.activations.prefill_bytes`
    and :func:`~llmcatalog.memory.activations.decode_step_bytes`; checked equal to them in
    ``tests/test_estimate.py``)."""

    per_gpu_weights: int
    layer_frac: float
    n_full: int
    n_sliding: int
    window: int | None
    kv_per_layer_token: float  # cache bytes per layer and token (kv dtype)
    state_per_seq: int  # conv-layer state per sequence (compute dtype)
    n_params: int
    active_params: int


@functools.lru_cache(maxsize=4096)
def _inference_profile(
    arch: Architecture, fmt: WeightFormat, compute: str, kv_dtype: str, tp: int, pp: int, mla: str, extra_params: int
) -> _InferenceProfile:
    e = DTYPE_BYTES[compute]
    pb = param_breakdown(arch)
    split = weight_split(arch, fmt, compute)
    extra_weights = math.ceil(extra_params * e)  # vision/audio encoders etc. kept in the compute dtype
    # Layers go evenly over pipeline stages (device_map="auto"); the first stage also holds the
    # embeddings (and any encoder), the last the final norm and LM head. Tensor parallelism
    # divides what each stage holds.
    layers_here = _stage_layers(arch.n_layers, pp)
    per_layer = split.layers / arch.n_layers
    if pp > 1:
        per_gpu_weights: float = per_layer * layers_here + max(split.embedding + extra_weights, split.head)
    else:
        per_gpu_weights = split.total + extra_weights
    return _InferenceProfile(
        per_gpu_weights=math.ceil(per_gpu_weights / tp),
        layer_frac=layers_here / arch.n_layers,
        n_full=arch.count_layers("full"),
        n_sliding=arch.count_layers("sliding"),
        window=arch.sliding_window,
        kv_per_layer_token=kv_per_layer_token_bytes(arch, kv_dtype, tensor_parallel=tp, mla_layout=mla),
        state_per_seq=state_bytes_per_sequence(arch, compute, tensor_parallel=tp),
        n_params=pb.total + extra_params,
        active_params=pb.active + extra_params,
    )


def _profile_kv(prof: _InferenceProfile, batch: int, tokens: int, new_tokens: int) -> int:
    """:func:`kv_cache_bytes` times the stage's share of layers, from a profile."""
    new_tokens = min(new_tokens, max(tokens, 1))
    sliding = min(tokens, prof.window - 1 + new_tokens) if prof.window else tokens
    token_layers = prof.n_full * tokens + prof.n_sliding * sliding
    return math.ceil(math.ceil(batch * (token_layers * prof.kv_per_layer_token + prof.state_per_seq)) * prof.layer_frac)


def _estimate_inference(
    arch: Architecture,
    extra_params: int,
    w: Inference,
    *,
    cuda_context_bytes: int,
    allocator_fraction: float,
    weights_note: str = "",
) -> MemoryEstimate:
    _check_precision_arch(arch, w)
    par = w.parallelism
    tp, pp = par.tensor_parallel, par.pipeline_parallel
    fmt = w.weight_format
    compute = w.compute_dtype or fmt.default_compute
    kv_dtype = w.kv_cache_precision or compute
    prof = _inference_profile(arch, fmt, compute, kv_dtype, tp, pp, w.mla_cache, extra_params)
    batch, context = w.batch_size, w.context_tokens
    prompt = w.prompt_tokens if w.prompt_tokens is not None else context

    kv_full = _profile_kv(prof, batch, context, 1)
    # Right after the prefill a sliding-window layer still holds the whole prompt (transformers keeps a
    # view of the last W - 1 tokens of the concatenated storage): see memory/kvcache.py.
    kv_prompt = _profile_kv(prof, batch, prompt, prompt)
    legacy = w.legacy_cache
    # litgpt's generate (memory/litgpt.py): its own LM head, logits over the whole prompt, bitsandbytes'
    # dequantized weight in every matmul over more than one token row, and KV buffers of the whole
    # context allocated before the prompt and filled in place (no torch.cat growth while decoding).
    litgpt = w.framework == "litgpt"
    if litgpt:
        kv_prompt = kv_full
    head, dequant = litgpt_terms(arch, fmt, compute, par.n_gpus) if litgpt else (0, 0)
    pre = prefill_bytes(
        arch,
        batch_size=batch,
        tokens=prompt,
        dtype=compute,
        attention=w.attention,
        tensor_parallel=tp,
        all_logits=legacy or litgpt,
    )
    dec = decode_step_bytes(
        arch,
        batch_size=batch,
        context=context,
        dtype=compute,
        kv_dtype=kv_dtype,
        tensor_parallel=tp,
        legacy_cache=legacy or litgpt,  # no growth term: a tuple cache counts its copy apart, litgpt has none
    )
    # Formats that dequantize a whole weight per matmul (ChatGLM's built-in int4/int8): inside a layer.
    dequantized = dequantized_weight_bytes(arch, fmt.method, compute, tp)
    pre, dec = pre + dequantized, dec + dequantized
    # Tuple caches (Inference.legacy_cache): each layer's ``torch.cat`` makes a new tensor while
    # generate() still holds the previous step's tuple, so the last step ends with both caches.
    previous = _profile_kv(prof, batch, context - 1, 1) if legacy and context > prompt else 0
    pre_dequant, dec_dequant = (dequant if batch * prompt > 1 else 0), (dequant if batch > 1 else 0)
    prefill_peak = kv_prompt + pre + pre_dequant
    decode_peak = kv_full + previous + dec + dec_dequant
    if prefill_peak > decode_peak:
        phase, activations, previous, dequant = "prefill", prefill_peak - kv_full, 0, pre_dequant
    else:
        phase, activations, dequant = "decode", dec + dec_dequant, dec_dequant
    context_bytes, reserve = overhead_bytes(
        kv_full + previous + activations, cuda_context_bytes=cuda_context_bytes, allocator_fraction=allocator_fraction
    )
    weights = prof.per_gpu_weights + head
    # Tensor-parallel ranks are processes joined by an NCCL communicator (memory/sharding.py); pipeline
    # stages here are device_map="auto" splits inside one process, which need none.
    nccl = nccl_buffer_bytes(tensor_parallel=tp) if tp > 1 else 0
    return MemoryEstimate(
        weights_bytes=weights,
        kv_cache_bytes=kv_full + previous,
        activations_bytes=activations,
        gradients_bytes=0,
        optimizer_bytes=0,
        overhead_bytes=context_bytes + reserve + nccl,
        components={
            "weights.model": weights,
            "kv_cache": kv_full,
            **({"kv_cache.previous_step": previous} if previous else {}),
            "activations": activations - dequant,
            **({"activations.dequantize": dequant} if dequant else {}),
            "overhead.cuda_context": context_bytes,
            "overhead.allocator": reserve,
            **({"overhead.nccl": nccl} if nccl else {}),
        },
        n_gpus=par.n_gpus,
        peak_phase=phase,
        n_params=prof.n_params,
        active_params=prof.active_params,
        trainable_params=0,
        assumptions=_inference_assumptions(w, weights_note, cuda_context_bytes, allocator_fraction),
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
    architecture, :class:`WorkloadError` for settings the model cannot run with (see the module
    docstring), and warns with :class:`ContextLengthWarning` for a context past ``max_context``.
    """
    model = _unwrap(model)  # type: ignore[assignment]
    arch, extra, name = _arch_of(model)
    arch = _canonical(arch)
    _check_workload(workload)
    _check_overhead(cuda_context_bytes, allocator_fraction)
    _check_context(arch, workload, name)
    _check_parallel(arch, workload.parallelism, name)
    if isinstance(workload, FineTune):
        _check_finetune(arch, workload, name)
    workload, note = _resolve_format(model, workload)
    est = _estimate(arch, extra, workload, cuda_context_bytes, allocator_fraction, note)
    dequantized = _training_weights_note(model, workload)
    if dequantized:
        est = attrs.evolve(est, assumptions=(*est.assumptions, dequantized))
    if isinstance(model, Model) and model.architecture is not None:
        rest = _unsized_parts_params(model, model.architecture)
        missing = [c.name for c in model.components if c.role != "language-model" and c.n_params is None]
        if missing and not rest:
            text = (
                f"not counted: {', '.join(missing)} (size unknown, and no published total gives it): the estimate "
                "covers the language model and the sized parts only, so it is low by their weights"
            )
            warnings.warn(f"{name}: {text}", UncountedPartsWarning, stacklevel=outside_stacklevel())
            est = attrs.evolve(est, assumptions=(*est.assumptions, text))
        if rest and model.n_params:
            unsized = ", ".join(c.name for c in model.components if c.role != "language-model" and c.n_params is None)
            est = attrs.evolve(
                est,
                assumptions=(
                    *est.assumptions,
                    f"non-language parts of unknown size ({unsized}): {rest / 1e9:.2f}B parameters taken from the "
                    f"published total {model.n_params / 1e9:.1f}B minus the language model, in the compute dtype",
                ),
            )
    if est.total_bytes > MAX_ESTIMATE_BYTES:
        raise WorkloadError(
            f"{name} with this workload would need {est.total_bytes / 2**60:.3g} EiB per GPU, above the "
            "2**60-byte bound of an estimate: check batch_size and the context or sequence length"
        )
    return est


def _check_workload(workload: object) -> None:
    if not isinstance(workload, (Inference, FineTune)):
        raise TypeError(f"expected an Inference or FineTune workload, got {type(workload).__name__}")


def _check_overhead(cuda_context_bytes: object, allocator_fraction: object) -> None:
    if (
        not isinstance(cuda_context_bytes, int)
        or isinstance(cuda_context_bytes, bool)
        or not 0 <= cuda_context_bytes <= 2**40
    ):
        raise WorkloadError(f"cuda_context_bytes must be an int from 0 to 2**40, got {_show(cuda_context_bytes)}")
    if (
        not isinstance(allocator_fraction, (int, float))
        or isinstance(allocator_fraction, bool)
        or not 0 <= allocator_fraction <= 1
    ):
        raise WorkloadError(f"allocator_fraction must be between 0 and 1, got {_show(allocator_fraction)}")


def _estimate(
    arch: Architecture,
    extra: int,
    workload: Inference | FineTune,
    cuda_context_bytes: int,
    allocator_fraction: float,
    weights_note: str = "",
) -> MemoryEstimate:
    """The estimate of a workload already checked against ``arch`` (and its format resolved)."""
    if isinstance(workload, Inference):
        return _estimate_inference(
            arch,
            extra,
            workload,
            cuda_context_bytes=cuda_context_bytes,
            allocator_fraction=allocator_fraction,
            weights_note=weights_note,
        )
    return estimate_finetune(
        arch, extra, workload, cuda_context_bytes=cuda_context_bytes, allocator_fraction=allocator_fraction
    )


def _check_gpu(gpu: object) -> None:
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU (use llmcatalog.get_gpu(name)), got {type(gpu).__name__}")


def incompatibilities(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference | FineTune,
    *,
    known_only: bool = True,
    defaults: bool = False,
) -> tuple[str, ...]:
    """Why the formats the user chose cannot run on ``gpu`` with transformers (:func:`llmcatalog.supports`):
    a given ``precision`` or a quantized checkpoint's own format (inference), a given ``compute_dtype``,
    a k-bit base (QLoRA / ``base_format``) and a bitsandbytes optimizer (fine-tuning). With ``known_only``
    (warnings) only verdicts on known figures count: an unknown GPU's assumed capability, or a kernel no
    source documents either way, never warns; planning passes False (it recommends only what is known to
    run). A given FP8 KV cache (``kv_cache_precision="fp8"``) counts too
    (:func:`~llmcatalog.values.compat.kv_cache_supports`).
    With ``defaults`` (``check`` and the CLI) a bf16 compute dtype taken by default on a GPU without bf16
    (V100, T4) is said as well: fp16 is what runs there, with the same memory, so planning does not
    count it. Empty when everything runs."""
    model = _unwrap(model)  # type: ignore[assignment]
    asked: list[str | WeightFormat] = []
    if isinstance(workload, Inference):
        stored = model.weight_format if isinstance(model, Model) else None
        if workload.precision_given:
            asked.append(workload.weight_format)
        elif stored is not None and stored.quantized:
            asked.append(stored)
        if workload.compute_dtype is not None:
            asked.append(workload.compute_dtype)
    else:
        if workload.quantized_base is not None:
            asked.append(workload.quantized_base)
        if workload.optimizer.endswith("-8bit") or workload.optimizer.startswith("paged-"):
            # bitsandbytes' optimizers (8-bit and paged) need its backend, as its 4-bit layers do (cc >= 5.0)
            asked.append("bnb-nf4")
    out = []
    for a in asked:
        verdict = supports(gpu, a)
        if not verdict.ok and (verdict.known or not known_only):
            name = a if isinstance(a, str) else a.name
            where = "" if gpu.name in verdict.reason else f" on the {gpu.name}"
            out.append(f"{name}{where}: {verdict.reason}")
    if isinstance(workload, Inference) and workload.kv_cache_precision == "fp8":
        kv = kv_cache_supports(gpu, "fp8")
        if not kv.ok and (kv.known or not known_only):
            out.append(f"kv_cache_precision fp8 on the {gpu.name}: {kv.reason}")
    if defaults:
        if isinstance(workload, Inference):
            given = workload.compute_dtype is not None
            resolved = _resolve_format(model, workload)[0]
            dtype = resolved.compute if isinstance(resolved, Inference) else workload.compute
        else:
            given, dtype = False, workload.precision
        verdict = supports(gpu, dtype)
        if dtype == "bf16" and not given and not verdict.ok and verdict.known:
            if isinstance(workload, Inference):
                out.append(
                    f"bf16 (the default compute dtype) on the {gpu.name}: {verdict.reason.removesuffix('; use fp16')}; "
                    "fp16 is what runs "
                    "there (compute_dtype='fp16', --compute fp16; the memory is the same)"
                )
            else:  # the workload is transformers training: its words, not an engine's
                cc = gpu.capability
                has = f" (compute capability {cc[0]}.{cc[1]})" if cc else ""
                out.append(
                    f"bf16 (the default training precision) on the {gpu.name}: no bf16 tensor cores{has}, so "
                    "transformers training there would run bf16 emulated, slowly: train with fp16 mixed precision "
                    "instead (Trainer fp16=True; precision='fp16', --compute fp16; fp16 is what runs there and the "
                    "memory is the same)"
                )
    return tuple(dict.fromkeys(out))


def as_run(model: Model | Architecture, gpu: GPU, workload: Inference | FineTune) -> tuple[Inference | FineTune, str]:
    """``workload`` with the weight format the runtime (transformers) actually holds on ``gpu``, and the
    note saying so ("" when it runs as asked): an FP8 checkpoint or ``precision="fp8"`` below compute
    capability 8.9, or without a CUDA device, is loaded dequantized to bf16
    (:func:`~llmcatalog.values.compat.runtime_format`), so :func:`check`, :func:`fits` and
    :func:`min_gpus` count bf16 weights there. :func:`estimate_vram` (no GPU) counts the format asked."""
    model = _unwrap(model)  # type: ignore[assignment]
    if not isinstance(workload, Inference):
        return workload, ""
    resolved, _ = _resolve_format(model, workload)
    if not isinstance(resolved, Inference):  # pragma: no cover - an Inference stays one
        return workload, ""
    fmt = resolved.weight_format
    instead = runtime_format(gpu, fmt)
    if instead is None:
        return workload, ""
    name, why = instead
    return attrs.evolve(resolved, precision=name), f"{fmt.name} on the {gpu.name}: {why}; counted as {name} weights"


def with_run_note(est: MemoryEstimate, note: str) -> MemoryEstimate:
    """``est`` (the estimate of what runs, from :func:`as_run`'s workload) with its ``weights:``
    assumption line replaced by ``note``, :func:`as_run`'s reason (appended if it has no such line)."""
    lines = tuple(f"weights: {note}" if a.startswith("weights: ") else a for a in est.assumptions)
    return attrs.evolve(est, assumptions=lines if lines != est.assumptions else (*lines, note))


def check(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference | FineTune,
    *,
    headroom_fraction: float = HEADROOM_FRACTION,
    **kwargs: Any,
) -> FitCheck:
    """The verdict ("fits", "tight" or "does not fit") of ``workload`` on one ``gpu``, with the figures:
    the per-GPU estimate against the memory a process can allocate there, keeping ``headroom_fraction``
    of it free (:mod:`llmcatalog.memory.fit`). ``kwargs`` go to :func:`estimate_vram`.

    A format the user chose that ``gpu`` cannot run (:func:`incompatibilities`, with ``defaults``: a
    default bf16 compute dtype on a card without bf16 too) warns with
    :class:`~llmcatalog.CompatibilityWarning`; the verdict on the memory is still given. Where the
    runtime runs the format in a bigger form (FP8 dequantized to bf16 below compute capability 8.9:
    :func:`as_run`), the verdict counts what runs, and the warning says so with both figures."""
    model = _unwrap(model)  # type: ignore[assignment]
    _check_gpu(gpu)
    headroom = check_headroom(headroom_fraction)
    running, note = as_run(model, gpu, workload)
    est = estimate_vram(model, running, **kwargs)
    for why in incompatibilities(model, gpu, workload, defaults=True):
        warnings.warn(why, CompatibilityWarning, stacklevel=outside_stacklevel())
    if note:
        asked = estimate_vram(model, workload, **kwargs).total_bytes
        gib = 2**30
        note += f" ({est.total_bytes / gib:.2f} GiB, not the {asked / gib:.2f} GiB of the format asked)"
        warnings.warn(note, CompatibilityWarning, stacklevel=outside_stacklevel())
    return fit_check(est.total_bytes, gpu, headroom_fraction=headroom, n_gpus=est.n_gpus)


def fits(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference | FineTune,
    *,
    headroom_fraction: float = HEADROOM_FRACTION,
    **kwargs: Any,
) -> bool:
    """True when the per-GPU estimate fits in the memory a process can allocate on ``gpu`` with
    ``headroom_fraction`` of it left free: the "fits" verdict of :func:`check` ("tight" is False).
    ``headroom_fraction=0`` gives the bare boundary."""
    return check(model, gpu, workload, headroom_fraction=headroom_fraction, **kwargs).fits


def split_over(workload: Inference | FineTune, n_gpus: int, arch: Architecture) -> Parallelism:
    """``workload``'s parallelism on ``n_gpus`` GPUs as :func:`min_gpus` counts them: an inference's
    tensor parallelism scaled to ``n_gpus`` over its pipeline stages when it has some, else ``n_gpus``
    pipeline stages (at most one per layer); a fine-tune's data parallelism over its tensor x pipeline
    groups."""
    p = workload.parallelism
    if isinstance(workload, Inference):
        if p.tensor_parallel > 1:
            return attrs.evolve(p, tensor_parallel=n_gpus // p.pipeline_parallel)
        return attrs.evolve(p, pipeline_parallel=min(n_gpus, arch.n_layers))
    return attrs.evolve(p, data_parallel=n_gpus // (p.tensor_parallel * p.pipeline_parallel))


def min_gpus(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference | FineTune,
    *,
    max_gpus: int = 1024,
    cuda_context_bytes: int = CUDA_CONTEXT_BYTES,
    allocator_fraction: float = ALLOCATOR_FRACTION,
    headroom_fraction: float = HEADROOM_FRACTION,
) -> int | None:
    """The fewest GPUs of type ``gpu`` that fit ``workload``, or None if ``max_gpus`` do not.

    "Fit" is :func:`fits`'s rule: the "fits" verdict, ``headroom_fraction`` of the allocatable
    memory left free.

    Inference is split by pipeline stages (``device_map="auto"``, at most one stage per layer)
    unless the workload already uses tensor parallelism, which is then scaled instead over the
    sizes :func:`tensor_parallel_sizes` allows (times the workload's pipeline stages).
    Fine-tuning scales data parallelism; with no sharding configured this only helps if one GPU
    already fits, so the search uses the workload's ZeRO/FSDP setting as given (set
    ``zero_stage=3`` to shard the model itself). Memory per GPU never grows with more pipeline
    stages or data-parallel ranks past the second (the second adds NCCL buffers, so one GPU is
    tried first), so those are found by bisection; ``max_gpus`` is at most 2**20.
    The workload's context is checked (and warned about) once, as by :func:`estimate_vram`.

    None means no count up to ``max_gpus`` fits. It comes with a :class:`~llmcatalog.NoFitWarning`
    saying why: the memory per GPU at the most GPUs tried against the GPU's limit, and what would
    help (sharding for a fine-tune without it; :func:`llmcatalog.recommend` for the remedies). Catch
    it with ``warnings.catch_warnings(record=True)`` to read the reason, or filter it out to silence it.
    A GPU a machine holds only one of (Apple silicon: :func:`~llmcatalog.values.compat.single_device`)
    answers 1 or None: there is no second one to split over. Weights the runtime holds in a bigger
    form on ``gpu`` (:func:`as_run`: FP8 as bf16 below compute capability 8.9) are counted as they run.
    """
    model = _unwrap(model)  # type: ignore[assignment]
    _check_gpu(gpu)
    arch, extra, name = _arch_of(model)
    arch = _canonical(arch)
    _check_workload(workload)
    _check_overhead(cuda_context_bytes, allocator_fraction)
    headroom = check_headroom(headroom_fraction)
    if not isinstance(max_gpus, int) or isinstance(max_gpus, bool) or not 1 <= max_gpus <= 2**20:
        raise WorkloadError(f"max_gpus must be an int from 1 to 2**20, got {_show(max_gpus)}")
    if single_device(gpu):
        max_gpus = 1
    _check_context(arch, workload, name)
    p = workload.parallelism
    _check_parallel(arch, p, name)
    workload, _ = _resolve_format(model, workload)
    workload, _ = as_run(model, gpu, workload)  # what the runtime holds on this GPU (FP8 -> bf16 below 8.9)
    last: dict[str, int] = {}
    parts: dict[str, Mapping[str, int]] = {}

    def fit(par: Parallelism) -> bool:
        est = _estimate(arch, extra, attrs.evolve(workload, parallelism=par), cuda_context_bytes, allocator_fraction)
        total = est.total_bytes
        last.update(total=total, n=par.n_gpus)
        parts["last"] = est.components
        return total <= MAX_ESTIMATE_BYTES and fit_check(total, gpu, headroom_fraction=headroom).fits

    def none(how: str) -> int | None:
        reason = _no_fit_reason(gpu, workload, headroom, max_gpus, last, how, parts.get("last", {}))
        warnings.warn(reason, NoFitWarning, stacklevel=outside_stacklevel())
        return None

    if isinstance(workload, Inference) and p.tensor_parallel > 1:
        pp = p.pipeline_parallel
        for tp in tensor_parallel_sizes(arch, limit=max_gpus // pp):
            if fit(attrs.evolve(p, tensor_parallel=tp)):
                return tp * pp
        return none("tensor parallelism at the sizes the model's heads allow")
    candidates: Sequence[int]
    if isinstance(workload, Inference):
        candidates = range(1, min(arch.n_layers, max_gpus) + 1)
        how = "pipeline stages (at most one per layer)"
    else:
        fixed = p.tensor_parallel * p.pipeline_parallel
        candidates = range(fixed, min(max_gpus, fixed * 2**20) + 1, fixed)
        how = "data-parallel GPUs"

    def at(n: int) -> Parallelism:
        return split_over(workload, n, arch)

    if not candidates:
        return none(how)
    if fit(at(candidates[0])):
        return candidates[0]
    # From one rank to two, memory can grow: a second rank brings the communicators' NCCL buffers
    # (memory/sharding.py). From two on, it never grows: bisect over the rest.
    candidates = candidates[1:]
    if not candidates or not fit(at(candidates[-1])):
        return none(how)
    lo, hi = 0, len(candidates) - 1  # candidates[hi] fits
    while lo < hi:
        mid = (lo + hi) // 2
        if fit(at(candidates[mid])):
            hi = mid
        else:
            lo = mid + 1
    return candidates[hi]


def _no_fit_reason(
    gpu: GPU,
    workload: Inference | FineTune,
    headroom: float,
    max_gpus: int,
    last: dict[str, int],
    how: str,
    components: Mapping[str, int],
) -> str:
    """Why :func:`min_gpus` answers None, for its :class:`~llmcatalog.NoFitWarning`: the memory per GPU
    at the most GPUs tried, its largest components there (what more GPUs do not split), and a hint."""
    gib = 2**30
    limit = gpu.available_bytes - fit_check(0, gpu, headroom_fraction=headroom).headroom_bytes
    p = workload.parallelism
    if not last:
        fixed = p.tensor_parallel * p.pipeline_parallel
        return (
            f"min_gpus: None: the workload's own tensor x pipeline parallelism ({fixed} GPUs) is more than "
            f"max_gpus={max_gpus}; raise max_gpus"
        )
    text = (
        f"min_gpus: None: with {last['n']} GPU(s) ({how}, max_gpus={max_gpus}) the job still needs "
        f"{last['total'] / gib:.2f} GiB per GPU; the {gpu.name} takes at most {limit / gib:.2f} GiB "
        f"(its allocatable memory less {headroom:.0%} headroom)"
    )
    if isinstance(workload, FineTune) and p.shard_stage == 0:
        text += (
            "; without sharding every data-parallel GPU holds the whole job, so more GPUs cannot help: "
            "set Parallelism(zero_stage=3) or fsdp"
        )
    elif components:
        text += _unsplit_parts(workload, last["n"], components)
    return text + "; llmcatalog.recommend() lists the remedies"


def _unsplit_parts(workload: Inference | FineTune, n_gpus: int, components: Mapping[str, int]) -> str:
    """The largest components per GPU at ``n_gpus`` (what adding GPUs does not split), and what shrinks
    the largest: gradient checkpointing for saved activations, else shorter or fewer sequences."""
    gib = 2**30
    top = sorted(((v, k) for k, v in components.items() if v > 0), reverse=True)[:3]
    if not top:
        return ""
    listed = ", ".join(f"{k} {v / gib:.2f} GiB" for v, k in top)
    text = f"; at {n_gpus} GPU(s) the largest parts per GPU, which more GPUs do not split, are {listed}"
    largest = top[0][1]
    if largest.startswith("activations") and isinstance(workload, FineTune):
        if not workload.checkpointing and largest == "activations.saved":
            text += " (activations are saved per layer with checkpointing off: set gradient_checkpointing=True)"
        else:
            text += " (activations grow with batch_size x seq_len: lower batch_size or seq_len)"
    elif largest.startswith("activations") or largest.startswith("kv_cache"):
        text += " (they grow with batch_size x context_tokens: lower batch_size or context_tokens)"
    return text
