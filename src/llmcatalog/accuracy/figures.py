"""Compare :func:`estimate_vram` with a published hardware figure.

A :class:`PublishedFigure` records the setting it was measured in. :func:`workload_for_figure`
turns that setting into a workload when the figure says enough (batch, lengths, method,
precision); :func:`compare_figure` estimates it and compares like with like:

- ``max_allocated`` figures (``torch.cuda.max_memory_allocated``) against the tensor part
  (``total_bytes - overhead_bytes``),
- driver-level, unspecified, approximate and minimum figures against ``total_bytes``,
- ``fits`` / ``oom`` statements against the GPU's memory (does the estimate agree?).

Figures with ``claimed_by`` (numbers a survey states that nobody measured) are never compared.

Figures from other frameworks (``framework``) are estimated as the Hugging Face equivalent, except
those the calculus models in their own right (litgpt: ``FineTune.framework`` / ``Inference.framework``).
"""

from __future__ import annotations

import functools

import attrs

from ..errors import LLMCatalogError
from ..memory.estimate import MemoryEstimate, estimate_vram
from ..values.gpu import GPU
from ..values.model import Model, PublishedFigure
from ..values.precision import FORMATS, WeightFormat
from ..values.workload import BASE_FORMATS, FineTune, Inference, Parallelism

__all__ = ["FigureComparison", "compare_figure", "workload_for_figure"]

_METHODS = {
    "train_full": "full",
    "train_freeze": "freeze",
    "train_lora": "lora",
    "train_qlora": "qlora",
    "train_ptuning_v2": "p-tuning-v2",
    "train_adapter": "llama-adapter",
}
_QUANT_BASES = ("bnb-nf4", "bnb-nf4-dq", "gptq-int4", "awq-int4", "bnb-int8")
#: Software whose preparation of a quantized base leaves the other weights in 16 bits: litgpt, and PEFT
#: before 0.3.0 (label "peft<0.4"; ``prepare_model_for_int8_training`` upcast only 1-D parameters named
#: ``layer_norm``, which no Llama norm is, and cast the head's output, not its weight, until PEFT PR 389 of
#: 2023-05-03 cast every non-int8 parameter to fp32).
_NO_UPCAST = ("litgpt", "peft<0.4")
#: Frameworks the calculus models in their own right (``FineTune.framework``): the figure's workload names it.
_MODELLED_FRAMEWORKS = frozenset({"litgpt"})
#: The bitsandbytes release an LLM.int8 base trained with (FineTune.bitsandbytes_version): early-2023 PEFT
#: scripts ran 0.37 (Facico/Chinese-Vicuna requirements.txt pins bitsandbytes==0.37.0; Huatuo's unpinned
#: install of 2023-04-01 got 0.37.2, the release before 0.38.0 of 2023-04-12).
_BNB_VERSION = {"peft<0.4": "0.37-0.38"}
#: Weight formats of the sources that the catalog's FORMATS do not name. THUDM's ChatGLM/ChatGLM2
#: ``quantization.py`` (``quantize(model, weight_bit_width)``) replaces only the four block Linears
#: (``query_key_value``, ``dense``, ``dense_h_to_4h``, ``dense_4h_to_h``) by ``QuantizedLinear``: int8
#: weights (int4 packed two per byte) with one scale per output row in the model's fp16; the word
#: embeddings and the output layer stay fp16.
SOURCE_FORMATS: dict[str, WeightFormat] = {
    f"chatglm-int{b}": WeightFormat(
        name=f"chatglm-int{b}",
        linear_bits=b,
        linear_only=True,
        default_compute="fp16",
        description=f"ChatGLM built-in int{b}: block Linears at {b} bits + fp16 row scales, fp16 elsewhere",
        bits=b,
        row_scale_bits=16,
        method="chatglm",
    )
    for b in (4, 8)
}
#: Bases that PEFT's ``prepare_model_for_kbit_training`` leaves in their dtype: it casts the
#: non-quantized parameters to fp32 only when the model is not GPTQ/AQLM/EETQ/HQQ-quantized
#: (``peft/utils/other.py``, ``if not is_gptq_quantized ...``).
_NO_UPCAST_BASES = ("gptq-int4", "awq-int4")
#: Frameworks whose model code keeps tuple KV caches rebuilt by ``torch.cat`` every step and computes
#: the LM head over the whole prompt: Qwen-1's remote ``modeling_qwen.py`` (2023; ``QWenAttention``
#: concatenates ``layer_past`` with the new key/value, ``QWenLMHeadModel`` runs ``lm_head`` on every
#: hidden state) under transformers 4.3x ``generate()`` (``Inference.legacy_cache``).
_LEGACY_CACHE_FRAMEWORKS = frozenset({"qwen-remote-code", "qwen-remote-code-2023-08"})

#: The DeepSpeed ``zero_optimization`` sections a framework's scripts ship, by ZeRO stage: QwenLM/Qwen
#: ``finetune/ds_config_zero2.json`` and ``finetune/ds_config_zero3.json`` (commit 2df8e8a).
_FRAMEWORK_ZERO_CONFIGS: dict[tuple[str, int], dict[str, object]] = {
    ("qwen-remote-code", 2): {
        "stage": 2,
        "allgather_partitions": True,
        "allgather_bucket_size": 2e8,
        "overlap_comm": True,
        "reduce_scatter": True,
        "reduce_bucket_size": 2e8,
        "contiguous_gradients": True,
    },
    ("qwen-remote-code", 3): {
        "stage": 3,
        "overlap_comm": True,
        "contiguous_gradients": True,
        "sub_group_size": 1e9,
        "reduce_bucket_size": "auto",
        "stage3_prefetch_bucket_size": "auto",
        "stage3_param_persistence_threshold": "auto",
        "stage3_max_live_parameters": 1e9,
        "stage3_max_reuse_distance": 1e9,
    },
}


def _framework_buffer_bytes(framework: str | None, model: Model) -> int:
    """Static buffers a figure's model code allocated that today's code does not (0 for most).

    ``qwen-remote-code-2023-08``: Qwen-7B's ``modeling_qwen.py`` of August 2023 registered in every
    ``QWenAttention`` a boolean causal-mask buffer ``tril(ones(P, P))`` with ``P = n_positions``
    (mirror undefdev/Qwen-7B-Chat@04df5dd, ``QWenAttention.__init__``; removed by September 2023, when
    one model-level mask remained for the non-flash path only): ``n_layers * P**2`` bytes on the GPU
    with the weights. ``P = 8192``: the README's own load figure (16.38 GiB for the bf16 model,
    QwenLM/Qwen@af6486a) is the 14.38 GiB of bf16 parameters plus 32 * 8192**2 B = 2.00 GiB.
    """
    if framework == "qwen-remote-code-2023-08" and model.architecture is not None:
        return model.architecture.n_layers * 8192**2
    return 0


@attrs.frozen(kw_only=True)
class FigureComparison:
    """The outcome of comparing one published figure with the estimate for its setting.

    ``status`` is ``"compared"`` (a number against a number: ``error`` is
    ``compared_bytes / published_bytes - 1``), ``"claim"`` (a fits/OOM statement:
    ``agrees`` says whether the estimate agrees) or ``"not-comparable"`` (``reason`` says why;
    a figure with ``claimed_by`` is always this: "a claim by ..., not a measurement").
    """

    model: str
    figure: PublishedFigure
    status: str
    reason: str = ""
    workload: Inference | FineTune | None = None
    estimate: MemoryEstimate | None = None
    published_bytes: int | None = None
    compared_bytes: int | None = None
    agrees: bool | None = None

    @property
    def error(self) -> float | None:
        """Relative error of the estimate (positive: the estimate is higher)."""
        if self.published_bytes is None or self.compared_bytes is None:
            return None
        return self.compared_bytes / self.published_bytes - 1


def _optimizer(text: str | None) -> str:
    t = (text or "adamw").lower()
    if "8bit" in t or "8-bit" in t:
        return "paged-adamw-8bit" if "paged" in t else "adamw-8bit"
    if "paged" in t:  # bitsandbytes PagedAdamW (32-bit states)
        return "paged-adamw-32bit"
    if t.startswith("sgd"):
        return "sgd-momentum" if "momentum" in t else "sgd"
    if "adafactor" in t:
        return "adafactor"
    return "adamw"


def workload_for_figure(fig: PublishedFigure) -> Inference | FineTune | str:
    """The workload a figure was measured under, or a string saying what it lacks."""
    n_gpus = fig.n_gpus
    if fig.workload.startswith("inference"):
        if fig.precision is None or (fig.precision not in FORMATS and fig.precision not in SOURCE_FORMATS):
            return f"precision {fig.precision!r} is not one llmcatalog models"
        fmt: str | WeightFormat = SOURCE_FORMATS.get(fig.precision, fig.precision)
        if fig.workload == "inference_unspecified":
            return "the source does not say how many tokens were processed"
        par = Parallelism(pipeline_parallel=n_gpus) if n_gpus > 1 else Parallelism()
        legacy = fig.framework in _LEGACY_CACHE_FRAMEWORKS
        fw = fig.framework if fig.framework in _MODELLED_FRAMEWORKS else None
        if fig.workload == "inference_load":  # the weights alone: no batch or length needed
            return Inference(precision=fmt, batch_size=1, context_tokens=1, parallelism=par, framework=fw)
        if fig.batch_size is None:
            return "batch size not given"
        if fig.workload == "inference_prefill":
            if fig.seq_len is None:
                return "prompt length not given"
            return Inference(
                precision=fmt,
                batch_size=fig.batch_size,
                context_tokens=fig.seq_len + 1,
                prompt_tokens=fig.seq_len,
                attention=fig.attention or "sdpa",
                parallelism=par,
                legacy_cache=legacy,
                framework=fw,
            )
        if fig.seq_len is None or fig.gen_len is None:
            return "prompt or generated length not given"
        return Inference(
            precision=fmt,
            batch_size=fig.batch_size,
            context_tokens=fig.seq_len + fig.gen_len,
            prompt_tokens=fig.seq_len,
            attention=fig.attention or "sdpa",
            parallelism=par,
            legacy_cache=legacy,
            framework=fw,
        )
    method = _METHODS.get(fig.workload)
    if method is None:
        return f"{fig.workload} is not a method llmcatalog models"
    if method == "llama-adapter" and "v2" in (fig.method or "").lower():
        return "LLaMA-Adapter v2 (a bias and a scale on every Linear) is not a method llmcatalog models"
    if fig.batch_size is None or fig.seq_len is None:
        return "micro-batch or sequence length not given"
    if fig.precision is None:
        return "the training precision is not given"
    precision = fig.precision
    kwargs: dict[str, object] = {}
    if precision.startswith("chatglm-int"):
        # ChatGLM's built-in weight-only quantization as a frozen training base: FineTune's "int4"/"int8"
        # base formats describe the same layout (block Linears only, fp16 row scales).
        precision = precision.removeprefix("chatglm-")
    if precision in _QUANT_BASES and method in ("lora", "qlora"):
        method = "qlora"
        kwargs["qlora_format"] = precision
        if precision in _NO_UPCAST_BASES:
            kwargs["upcast_non_quantized"] = False
        precision = "bf16" if precision.startswith("bnb-nf4") else "fp16"
    elif precision in BASE_FORMATS and method in ("p-tuning-v2", "llama-adapter"):
        # A frozen quantized base under another PEFT method (ChatGLM's built-in int4/int8, litgpt's nf4).
        kwargs["base_format"] = precision
        precision = "bf16" if precision.startswith("bnb-nf4") else "fp16"
    if precision not in ("fp32", "fp16", "bf16"):
        return f"precision {fig.precision!r} is not one llmcatalog models for training"
    if method in ("lora", "qlora"):
        if fig.lora_rank is None or not fig.lora_targets:
            return "LoRA rank or target modules not given"
        kwargs.update(lora_rank=fig.lora_rank, lora_targets=fig.lora_targets)
        if fig.lora_dropout is not None:
            kwargs["lora_dropout"] = fig.lora_dropout
    if method == "p-tuning-v2":
        if fig.prefix_tokens is None:
            return "number of prefix tokens not given"
        kwargs["prefix_tokens"] = fig.prefix_tokens
    if fig.framework in _NO_UPCAST and ("qlora_format" in kwargs or "base_format" in kwargs):
        kwargs["upcast_non_quantized"] = False
    if fig.framework in _BNB_VERSION and "bnb-int8" in (kwargs.get("qlora_format"), kwargs.get("base_format")):
        kwargs["bitsandbytes_version"] = _BNB_VERSION[fig.framework]
    if fig.train_embeddings:
        kwargs["train_embeddings"] = True
        if fig.framework in _LEGACY_CACHE_FRAMEWORKS and not fig.zero_stage:
            # Qwen's finetune.py never casts trainable parameters; PEFT's ModulesToSaveWrapper deep-copies wte and
            # lm_head in the model's dtype, so next to the fp32 adapters the copies train in bf16.
            kwargs["copies_precision"] = precision
    if fig.framework in _LEGACY_CACHE_FRAMEWORKS and fig.zero_stage:
        # Qwen-1's QWenLMHeadModel passes its 16-bit logits to CrossEntropyLoss without an upcast, and
        # DeepSpeed's bf16/fp16 modes run without torch.autocast (FineTune.fp32_logits).
        kwargs["fp32_logits"] = False
    if n_gpus > 1 and fig.zero_stage is None and fig.fsdp is None:
        return "a multi-GPU run whose sharding (ZeRO stage or FSDP) is not given"
    torch_version = fig.torch_version or ">=2.1"
    if n_gpus > 1 or fig.zero_stage or fig.fsdp:
        # litgpt's finetune scripts accumulate gradients under fabric.no_backward_sync (FSDP1 no_sync(),
        # unsharded gradients between micro-batches) with use_orig_params=True (docs/sharding.md).
        no_sync = fig.framework == "litgpt" and fig.fsdp is not None
        shipped = _FRAMEWORK_ZERO_CONFIGS.get((fig.framework or "", fig.zero_stage or 0))
        if shipped is not None:
            par = attrs.evolve(
                Parallelism.from_deepspeed_config({"zero_optimization": shipped}, data_parallel=n_gpus),
                torch_version=torch_version,
            )
        else:
            par = Parallelism(
                data_parallel=n_gpus,
                zero_stage=fig.zero_stage or 0,
                fsdp=fig.fsdp or "none",
                accumulate_without_sync=no_sync,
                torch_version=torch_version,
            )
    else:
        # Qwen's README profiles "a batch size of 1 and gradient accumulation of 8"; the HF Trainer zeroes
        # gradients only after each optimizer step, so earlier micro-batches' gradients stay through the
        # next forward and backward (Parallelism.accumulate_without_sync on one GPU).
        held = fig.framework in _LEGACY_CACHE_FRAMEWORKS
        par = Parallelism(torch_version=torch_version, accumulate_without_sync=held)
    if fig.framework in _MODELLED_FRAMEWORKS:
        kwargs["framework"] = fig.framework
    return FineTune(
        method=method,
        precision=precision,
        mixed_precision=True if fig.mixed_precision is None else fig.mixed_precision,
        optimizer=_optimizer(fig.optimizer),
        batch_size=fig.batch_size,
        seq_len=fig.seq_len,
        gradient_checkpointing=bool(fig.gradient_checkpointing),  # what the figure says, never the recipe
        attention=fig.attention or "sdpa",
        parallelism=par,
        **kwargs,  # type: ignore[arg-type]
    )


def compare_figure(model: Model, fig: PublishedFigure, gpu: GPU | None = None) -> FigureComparison:
    """Estimate ``fig``'s setting for ``model`` and compare (see the module docstring).

    ``gpu`` is the catalog GPU named by ``fig.gpu``; it is needed for fits/OOM statements.
    """
    result = functools.partial(FigureComparison, model=model.id, figure=fig)
    if fig.claimed_by is not None:
        return result(status="not-comparable", reason=f"a claim by {fig.claimed_by}, not a measurement")
    workload = workload_for_figure(fig)
    if isinstance(workload, str):
        return result(status="not-comparable", reason=workload)
    if isinstance(workload, FineTune) and workload.method == "llama-adapter" and model.architecture is not None:
        # litgpt's adapter starts at layer 2 (adapter_start_layer) with 10 prompt tokens (litgpt/adapter.py).
        layers = max(model.architecture.n_layers - 2, 1)
        workload = attrs.evolve(workload, adapter_layers=layers, adapter_len=10)
    try:
        est = estimate_vram(model, workload)
    except LLMCatalogError as exc:
        return result(status="not-comparable", reason=str(exc), workload=workload)
    if fig.metric in ("fits", "oom"):
        if gpu is None:
            reason = "the GPU is not named or not in the catalog"
            return result(status="not-comparable", reason=reason, workload=workload, estimate=est)
        fits = est.total_bytes + _framework_buffer_bytes(fig.framework, model) <= gpu.available_bytes
        return result(status="claim", workload=workload, estimate=est, agrees=fits == (fig.metric == "fits"))
    published = fig.memory_bytes
    if published is None:
        return result(status="not-comparable", reason="no number published", workload=workload, estimate=est)
    if not fig.per_gpu:
        published //= fig.n_gpus
    if fig.workload == "inference_load":
        compared = est.weights_bytes + (
            0 if fig.metric == "max_allocated" else est.components.get("overhead.cuda_context", 0)
        )
    else:
        # tensor_bytes leaves out the paged optimizer states too (outside torch's allocator).
        compared = est.tensor_bytes if fig.metric == "max_allocated" else est.total_bytes
    compared += _framework_buffer_bytes(fig.framework, model)
    return result(
        status="compared", workload=workload, estimate=est, published_bytes=published, compared_bytes=compared
    )
