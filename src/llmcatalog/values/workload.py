"""Workloads: what the GPUs are asked to do. :class:`Inference`, :class:`FineTune`, :class:`Parallelism`.

Every invalid value raises :class:`~llmcatalog.WorkloadError` naming the parameter and the
accepted values, at construction time, so no estimate is ever computed from a bad workload.
Integer fields take ints only (not bools, floats or strings) and have documented upper bounds
(:data:`MAX_TOKENS`, :data:`MAX_BATCH_SIZE`, ...) far above any real workload. Whether a workload
suits a model (context within ``max_context``, tensor-parallel size dividing the heads) is
checked where both meet, in :func:`llmcatalog.estimate_vram`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import attrs

from ..errors import WorkloadError
from .precision import DTYPE_BYTES, FORMATS, WeightFormat
from .validators import optional

__all__ = [
    "AS_STORED",
    "ATTENTION_IMPLEMENTATIONS",
    "BASE_FORMATS",
    "BNB_VERSIONS",
    "CHATGLM_BASES",
    "COMPUTE_DTYPES",
    "KBIT_BASES",
    "KV_CACHE_DTYPES",
    "LOOPS",
    "LOSS_IMPLS",
    "MAX_BATCH_SIZE",
    "MAX_LORA_RANK",
    "MAX_PARALLEL",
    "MAX_PREFIX_TOKENS",
    "MAX_TOKENS",
    "MAX_TRAINABLE_LAYERS",
    "METHODS",
    "MLA_CACHE_LAYOUTS",
    "MODULES_TO_SAVE",
    "MOE_LAYOUTS",
    "OPTIMIZERS",
    "OPTIMIZER_IMPLS",
    "PRECISIONS",
    "FineTune",
    "Inference",
    "Parallelism",
]

PRECISIONS = tuple(FORMATS)
COMPUTE_DTYPES = ("fp32", "fp16", "bf16")
KV_CACHE_DTYPES = ("fp32", "fp16", "bf16", "fp8", "int8")
ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa", "flash")
#: How transformers lays out mixture-of-experts weights, which decides what a LoRA target names: 4.x
#: keeps one nn.Linear per expert; 5.x fuses each layer's experts into 3-D tensors (PEFT adapts them
#: through ``target_parameters``). See ``memory/training.py`` (``resolve_lora_targets``).
MOE_LAYOUTS = ("transformers-5", "transformers-4")
#: What a multi-head latent attention model (DeepSeek-V2/V3) caches per token: the compressed latent
#: and rope key (transformers 5, vLLM and SGLang MLA backends) or the expanded keys and values
#: (transformers 4.x, engines without an MLA kernel). See ``memory/kvcache.py``.
MLA_CACHE_LAYOUTS = ("latent", "expanded")
METHODS = ("full", "freeze", "lora", "qlora", "p-tuning-v2", "prefix-tuning", "llama-adapter")
OPTIMIZERS = (
    "adamw",
    "adamw-8bit",
    "paged-adamw-8bit",
    "paged-adamw-32bit",
    "sgd",
    "sgd-momentum",
    "adafactor",
    "lion",
)
#: Formats a frozen base can be stored in under a PEFT method: bitsandbytes NF4 (QLoRA) and LLM.int8,
#: GPTQ/AWQ checkpoints, and ChatGLM's built-in weight-only ``int8``/``int4`` (``quantization_bit``).
BASE_FORMATS = ("bnb-nf4", "bnb-nf4-dq", "gptq-int4", "gptq-int8", "awq-int4", "bnb-int8", "int8", "int4")
#: ChatGLM's built-in weight-only formats: only ChatGLM-family models (their remote code) have them.
CHATGLM_BASES = ("int8", "int4")
#: The bases PEFT's ``prepare_model_for_kbit_training`` is run on (bitsandbytes, GPTQ, AWQ); ChatGLM's
#: built-in quantization is not one of them.
KBIT_BASES = ("bnb-nf4", "bnb-nf4-dq", "gptq-int4", "gptq-int8", "awq-int4", "bnb-int8")
#: bitsandbytes releases whose LLM.int8 training step keeps and makes different tensors
#: (``bitsandbytes/autograd/_functions.py`` ``MatMul8bitLt``; memory/training.py ``int8_matmul_terms``):
#: 0.37-0.38 keep an int8 copy of each Linear's input (``CAt``) but not the input; 0.39-0.44 keep both;
#: from 0.45 (the LLM.int8 refactoring, bitsandbytes PR 1401) only the input. Today's release is the default.
BNB_VERSIONS = ("0.37-0.38", "0.39-0.44", ">=0.45")
#: The training loop: ``"trainer"`` (Hugging Face Trainer and the frameworks built on it: the step's
#: outputs are dropped before backward) or ``"plain"`` (``out = model(...); out.loss.backward()``:
#: ``out`` -- logits and, with ``use_cache`` on, the KV cache -- lives until the next step replaces it).
LOOPS = ("trainer", "plain")
#: How the loss is computed: ``"full-logits"`` (transformers ``ForCausalLMLoss``: fp32 logits of every
#: token), ``"chunked-output"`` (torchtune ``LinearCrossEntropyLoss``, 8 chunks), ``"chunked-tokens"``
#: (TRL ``chunked_nll``: checkpointed chunks of 256 tokens), ``"fused-linear"`` (Liger / unsloth fused
#: linear cross-entropy: the logits are never materialised whole).
LOSS_IMPLS = ("full-logits", "chunked-output", "chunked-tokens", "fused-linear")
#: Modules PEFT's ``modules_to_save`` can train as full copies (with their usual aliases).
MODULES_TO_SAVE = {
    "embed_tokens": "embed_tokens",
    "wte": "embed_tokens",
    "word_embeddings": "embed_tokens",
    "embed_in": "embed_tokens",
    "lm_head": "lm_head",
    "output": "lm_head",
    "output_layer": "lm_head",
    "embed_out": "lm_head",
}
OPTIMIZER_IMPLS = ("foreach", "fused", "for-loop")
FSDP_MODES = ("none", "full-shard", "shard-grad-op", "hybrid-shard")
OFFLOAD_DEVICES = ("cpu", "nvme")
#: ``torch.distributed.fsdp``: 1 (``FullyShardedDataParallel``, flat parameters) or 2 (``fully_shard``,
#: per-parameter DTensors).
FSDP_VERSIONS = (1, 2)
#: PyTorch releases whose FSDP memory differs: 2.0 (``FlatParameter`` is not a plain ``Parameter`` type, so
#: ``torch.optim`` falls back from ``foreach`` to the for-loop step) and 2.1 or later.
TORCH_VERSIONS = ("2.0", ">=2.1")
#: Inference frameworks whose own model code the calculus follows (``Inference.framework``; None: transformers).
INFERENCE_FRAMEWORKS = ("transformers", "litgpt")


def _framework_name(value: object) -> Any:
    """A known framework name in its profile spelling (``"LLaMA-Factory"`` -> ``"llama-factory"``); anything
    else unchanged, for the check to name the choices."""
    if not isinstance(value, str):
        return value
    from .frameworks import framework_name

    try:
        return framework_name(value)
    except WorkloadError:
        return value


def _torch_version(value: object) -> object:
    """Any PyTorch release string to the two memory regimes: ``"2.0"``/``"2.0.1"`` -> ``"2.0"``;
    ``"2.1"``, ``"2.5"``, ``"2.5.1+cu121"``, ``">=2.1"`` -> ``">=2.1"``. Releases before 2.0 (and other
    values) pass through unchanged, so the validator names the accepted ones."""
    if not isinstance(value, str):
        return value
    m = re.fullmatch(r"\s*(>=)?\s*v?(\d+)\.(\d+)(?:[.+\w-]*)\s*", value)
    if m is None:
        return value
    release = (int(m.group(2)), int(m.group(3)))
    if release >= (2, 1):
        return ">=2.1"
    if release == (2, 0) and not m.group(1):
        return "2.0"
    return value


FSDP_DTYPES = ("fp32", "fp16", "bf16")
#: DeepSpeed's own defaults (``deepspeed/runtime/zero/config.py``): buckets of 5e8 elements, 5e7 prefetched
#: and 1e9 live parameters at stage 3, parameters under 1e5 elements kept whole, sub-groups of 1e9.
DS_BUCKET_DEFAULT = 500_000_000
DS_MAX_LIVE_DEFAULT = 1_000_000_000
DS_SUB_GROUP_DEFAULT = 1_000_000_000
#: Largest bucket or threshold accepted (elements): far above any real setting.
MAX_BUCKET_ELEMENTS = 2**44


#: Upper bounds on workload sizes, inclusive (the bound itself is accepted). They are far above
#: anything real (the longest context of a released model is 10M tokens, about 2**23; the largest
#: GPU clusters hold about 2**17 GPUs) and exist so that a typo or a junk value is refused at once
#: instead of being computed into an absurd figure (or a MemoryError/OverflowError). Each error
#: names the field and its bound.
MAX_BATCH_SIZE = 2**24
#: Tokens of one sequence: ``context_tokens``, ``prompt_tokens``, ``seq_len``.
MAX_TOKENS = 2**32
#: Virtual tokens of prefix tuning / P-Tuning v2 (PEFT's default is 20; papers use up to a few hundred).
MAX_PREFIX_TOKENS = 2**20
#: GPUs along one parallelism dimension (data, tensor, pipeline).
MAX_PARALLEL = 2**20
#: LoRA rank and alpha (ranks in practice are 1-1024).
MAX_LORA_RANK = 2**20
#: Layers trained by freeze tuning (models have at most a few hundred layers).
MAX_TRAINABLE_LAYERS = 2**20


def _show(value: object) -> str:
    """``repr(value)`` for an error message, shortened (a 5,000-digit int cannot even be printed)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _choice(allowed: tuple[Any, ...]) -> Any:
    types = {type(a) for a in allowed}

    def check(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        # The type must match too: True == 1 and 1.0 == 1, but zero_stage=True is a mistake.
        if type(value) not in types or value not in allowed:
            raise WorkloadError(f"{attr.name}={_show(value)} is not supported; choose one of {list(allowed)}")

    return check


def _int_in(low: int, high: int) -> Any:
    """An int (not a bool) in ``[low, high]``; the error names the field and the bounds."""

    def check(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
        what = "a positive integer" if low == 1 else f"an integer >= {low}"
        if not isinstance(value, int) or isinstance(value, bool):
            raise WorkloadError(f"{attr.name} must be {what}, got {type(value).__name__} {_show(value)}")
        if value < low:
            raise WorkloadError(f"{attr.name} must be {what}, got {_show(value)}")
        if value > high:
            power = f" (2**{high.bit_length() - 1})" if high & (high - 1) == 0 else ""
            raise WorkloadError(
                f"{attr.name} is {_show(value)}, above the bound of {high:,}{power}, the largest value accepted; "
                "no real workload comes near it: check the value"
            )

    return check


def _bool(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise WorkloadError(f"{attr.name} must be True or False, got {_show(value)}")


def _optional_bool(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _bool(inst, attr, value)


def _elements(low: int) -> Any:
    """A count of elements (int >= ``low``, up to :data:`MAX_BUCKET_ELEMENTS`); DeepSpeed's JSON writes
    ``5e8``, which arrives as a float: whole floats are accepted and turned into ints by the converter."""
    return _int_in(low, MAX_BUCKET_ELEMENTS)


def _whole(value: object) -> object:
    """``5e8`` (a float, as DeepSpeed configs write it) -> 500000000; anything else unchanged for the check."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def _optional_whole(value: object) -> object:
    return None if value is None else _whole(value)


@attrs.frozen(kw_only=True, cache_hash=True)  # hashed on every cached calculus call
class Parallelism:
    """How a job is spread over GPUs. The estimate is per GPU, for the most loaded rank.

    ``data_parallel`` x ``tensor_parallel`` x ``pipeline_parallel`` GPUs in all.
    ``zero_stage`` (DeepSpeed ZeRO, arXiv 1910.02054) shards optimizer states (1), plus gradients
    (2), plus parameters (3) over the data-parallel ranks. ``fsdp`` is PyTorch FSDP:
    ``"full-shard"`` behaves like ZeRO-3 and ``"shard-grad-op"`` like ZeRO-2 for memory
    (``"hybrid-shard"``: full-shard within ``fsdp_shard_group`` GPUs, replicated across groups); give
    either ``zero_stage`` or ``fsdp``, not both. ``offload_optimizer`` / ``offload_params``
    keep optimizer states / parameters in CPU (or NVMe) memory (ZeRO-Offload, ZeRO-Infinity, FSDP ``CPUOffload``).
    For inference, ``pipeline_parallel`` > 1 also describes ``device_map="auto"`` layer splits.

    DeepSpeed settings (``zero_optimization`` keys, DeepSpeed's defaults; ``None`` = the Hugging Face
    integration's ``"auto"``, computed from the model's hidden size ``h``): ``reduce_bucket_size``
    (``None``: ``h*h``), ``allgather_bucket_size`` (5e8), ``overlap_comm`` (``None``: DeepSpeed's default,
    on at stage 3 only), ``contiguous_gradients``, ``prefetch_bucket_size`` (``stage3_prefetch_bucket_size``;
    ``None``: ``0.9*h*h``), ``max_live_parameters`` (``stage3_max_live_parameters``, 1e9),
    ``max_reuse_distance`` (``stage3_max_reuse_distance``, 1e9),
    ``param_persistence_threshold`` (``stage3_param_persistence_threshold``; ``None``: ``10*h``),
    ``sub_group_size`` (1e9). :meth:`from_deepspeed_config` reads them from a config.

    FSDP settings: ``fsdp_version`` (1: ``FullyShardedDataParallel``; 2: ``fully_shard``),
    ``fsdp_param_dtype`` / ``fsdp_reduce_dtype`` (the ``MixedPrecision`` / ``MixedPrecisionPolicy``
    dtypes; ``None``: no policy, parameters are gathered in their own dtype and the model runs under the
    workload's autocast), ``fsdp_layers_per_unit`` (decoder layers per wrapped unit, 1 = per layer as
    ``transformer_auto_wrap_policy`` does), ``fsdp_shard_group`` (GPUs per shard group for
    ``"hybrid-shard"``, and DeepSpeed MiCS's ``mics_shard_size`` at ``zero_stage=3``),
    ``fsdp_use_orig_params`` (FSDP1: frozen and trained parameters may share a unit,
    and the whole unit then gets gradients), ``accumulate_without_sync`` (gradient accumulation under
    ``no_sync()``: FSDP1 keeps unsharded gradients between micro-batches), ``torch_version`` ("2.0" or
    ">=2.1"; any release string is read as one of them: "2.0.1" is "2.0", "2.5" is ">=2.1": which
    optimizer step torch picks for FSDP1's flat parameters, and the two parameter-sized
    intermediates of torch 2.0's foreach AdamW against one since 2.1). :meth:`from_fsdp` sets them
    by their PyTorch names. See ``docs/sharding.md``.
    """

    data_parallel: int = attrs.field(default=1, validator=_int_in(1, MAX_PARALLEL))
    tensor_parallel: int = attrs.field(default=1, validator=_int_in(1, MAX_PARALLEL))
    pipeline_parallel: int = attrs.field(default=1, validator=_int_in(1, MAX_PARALLEL))
    zero_stage: int = attrs.field(default=0, validator=_choice((0, 1, 2, 3)))
    fsdp: str = attrs.field(default="none", validator=_choice(FSDP_MODES))
    offload_optimizer: bool = attrs.field(default=False, validator=_bool)
    offload_params: bool = attrs.field(default=False, validator=_bool)
    #: Where DeepSpeed offloads to (``offload_optimizer.device`` / ``offload_param.device``): ``"cpu"`` or
    #: ``"nvme"`` (ZeRO-Infinity). Only read when the matching ``offload_*`` flag is set.
    offload_optimizer_device: str = attrs.field(default="cpu", validator=_choice(OFFLOAD_DEVICES))
    offload_params_device: str = attrs.field(default="cpu", validator=_choice(OFFLOAD_DEVICES))
    # DeepSpeed ZeRO (deepspeed/runtime/zero/config.py)
    reduce_bucket_size: int | None = attrs.field(
        default=None, converter=_optional_whole, validator=optional(_elements(1))
    )
    allgather_bucket_size: int = attrs.field(default=DS_BUCKET_DEFAULT, converter=_whole, validator=_elements(1))
    overlap_comm: bool | None = attrs.field(default=None, validator=_optional_bool)
    contiguous_gradients: bool = attrs.field(default=True, validator=_bool)
    prefetch_bucket_size: int | None = attrs.field(
        default=None, converter=_optional_whole, validator=optional(_elements(0))
    )
    max_live_parameters: int = attrs.field(default=DS_MAX_LIVE_DEFAULT, converter=_whole, validator=_elements(0))
    max_reuse_distance: int = attrs.field(default=DS_MAX_LIVE_DEFAULT, converter=_whole, validator=_elements(0))
    param_persistence_threshold: int | None = attrs.field(
        default=None, converter=_optional_whole, validator=optional(_elements(0))
    )
    sub_group_size: int = attrs.field(default=DS_SUB_GROUP_DEFAULT, converter=_whole, validator=_elements(1))
    # PyTorch FSDP
    fsdp_version: int = attrs.field(default=1, validator=_choice(FSDP_VERSIONS))
    fsdp_param_dtype: str | None = attrs.field(default=None, validator=optional(_choice(FSDP_DTYPES)))
    fsdp_reduce_dtype: str | None = attrs.field(default=None, validator=optional(_choice(FSDP_DTYPES)))
    fsdp_layers_per_unit: int = attrs.field(default=1, validator=_int_in(1, MAX_PARALLEL))
    fsdp_shard_group: int | None = attrs.field(default=None, validator=optional(_int_in(1, MAX_PARALLEL)))
    fsdp_use_orig_params: bool = attrs.field(default=True, validator=_bool)
    accumulate_without_sync: bool = attrs.field(default=False, validator=_bool)
    torch_version: str = attrs.field(
        default=">=2.1",
        converter=_torch_version,
        validator=_choice(TORCH_VERSIONS),
    )

    def __attrs_post_init__(self) -> None:
        if self.fsdp != "none" and self.zero_stage:
            raise WorkloadError("give either zero_stage (DeepSpeed) or fsdp (PyTorch FSDP), not both")
        if self.offload_params and self.shard_stage < 3:
            raise WorkloadError(
                "offload_params needs parameter sharding: zero_stage=3 or fsdp='full-shard' (or 'hybrid-shard')"
            )
        if self.fsdp == "hybrid-shard":
            group = self.fsdp_shard_group
            if group is None or self.data_parallel % group:
                raise WorkloadError(
                    f"fsdp='hybrid-shard' needs fsdp_shard_group, the GPUs of one shard group (usually the GPUs of a "
                    f"node), dividing data_parallel={self.data_parallel}; got fsdp_shard_group={group}"
                )
        elif self.fsdp_shard_group is not None and self.zero_stage == 3:
            # DeepSpeed MiCS (mics_shard_size): ZeRO-3 within groups of fsdp_shard_group ranks.
            if self.data_parallel % self.fsdp_shard_group:
                raise WorkloadError(
                    f"fsdp_shard_group={self.fsdp_shard_group} (DeepSpeed MiCS mics_shard_size) must divide "
                    f"data_parallel={self.data_parallel}: give the job's data_parallel"
                )
        elif self.fsdp_shard_group is not None:
            raise WorkloadError(
                "fsdp_shard_group applies to fsdp='hybrid-shard' or zero_stage=3 (DeepSpeed MiCS) only; leave it out"
            )
        if self.fsdp != "none" and "nvme" in (self.offload_optimizer_device, self.offload_params_device):
            raise WorkloadError("FSDP offloads to the CPU only (CPUOffload); NVMe offload is DeepSpeed's (zero_stage)")
        if self.fsdp_version == 2 and self.fsdp == "shard-grad-op":
            raise WorkloadError(
                "fsdp_version=2 (fully_shard) has no SHARD_GRAD_OP, and its nearest setting (fully_shard's "
                "reshard_after_forward option) is not modelled: use fsdp='shard-grad-op' with fsdp_version=1, "
                "or fsdp='full-shard' with fsdp_version=2"
            )

    @property
    def n_gpus(self) -> int:
        """GPUs in the job."""
        return self.data_parallel * self.tensor_parallel * self.pipeline_parallel

    @property
    def shard_stage(self) -> int:
        """The ZeRO stage equivalent for memory (FSDP full-shard and hybrid-shard = 3, shard-grad-op = 2)."""
        return {"none": self.zero_stage, "full-shard": 3, "hybrid-shard": 3, "shard-grad-op": 2}[self.fsdp]

    @property
    def shard_ranks(self) -> int:
        """Ranks that share one copy of the sharded state (``fsdp_shard_group`` for hybrid sharding)."""
        if self.fsdp_shard_group is not None and (self.fsdp == "hybrid-shard" or self.zero_stage == 3):
            return self.fsdp_shard_group
        return self.data_parallel

    @property
    def overlap_comm_in_effect(self) -> bool:
        """DeepSpeed's ``overlap_comm``: when left unset, on at stage 3 and off below (``DeepSpeedZeroConfig``)."""
        return self.overlap_comm if self.overlap_comm is not None else self.zero_stage == 3

    @classmethod
    def from_deepspeed_config(
        cls,
        config: dict[str, Any] | str | os.PathLike[str],
        *,
        data_parallel: int = 1,
        tensor_parallel: int = 1,
        pipeline_parallel: int = 1,
    ) -> Parallelism:
        """The parallelism a DeepSpeed config sets up (a dict, or a JSON file path).

        ``zero_optimization`` keys map to the fields (see the class docstring); ``"auto"`` leaves a bucket
        to the Hugging Face integration's value (``None``, resolved from the model's hidden size at
        estimate time); keys left out take DeepSpeed's defaults. Unknown ``zero_optimization`` keys warn
        (a :class:`UserWarning` naming them); malformed values raise :class:`~llmcatalog.WorkloadError`
        naming the key.
        A path is read by :func:`llmcatalog.importers.files.read_json` (bounded size), installed at import.
        A preset name (:data:`~llmcatalog.DEEPSPEED_PRESETS`) is matched ignoring case and separators.
        """
        from .deepspeed import DEEPSPEED_PRESETS, parallelism_kwargs, preset_name

        if isinstance(config, str) and (config in DEEPSPEED_PRESETS or not os.path.isfile(config)):
            preset = preset_name(config)  # case and separators ignored: "LLaMAFactory-Z3"
            if preset is not None:
                config = DEEPSPEED_PRESETS[preset]
        if not isinstance(config, dict):
            if not isinstance(config, (str, os.PathLike)):
                raise WorkloadError(f"a DeepSpeed config is a dict, a JSON path or a preset name, got {_show(config)}")
            if not os.path.isfile(config):
                raise WorkloadError(
                    f"DeepSpeed config {os.fspath(config)!r} is neither a JSON file nor a preset; "
                    f"presets: {', '.join(DEEPSPEED_PRESETS)}"
                )
            if _READ_JSON is None:  # pragma: no cover - installed by llmcatalog/__init__
                raise WorkloadError("from_deepspeed_config got a path, but no JSON reader is installed")
            config = _READ_JSON(config)
        kw = parallelism_kwargs(config, data_parallel=data_parallel)
        return cls(
            data_parallel=data_parallel, tensor_parallel=tensor_parallel, pipeline_parallel=pipeline_parallel, **kw
        )

    @classmethod
    def from_fsdp(
        cls,
        *,
        data_parallel: int,
        sharding_strategy: str = "FULL_SHARD",
        fsdp_version: int | None = None,
        version: int | None = None,
        param_dtype: str | None = None,
        reduce_dtype: str | None = None,
        cpu_offload: bool = False,
        layers_per_unit: int = 1,
        shard_group: int | None = None,
        use_orig_params: bool = True,
        accumulate_without_sync: bool = False,
        torch_version: str = ">=2.1",
        tensor_parallel: int = 1,
        pipeline_parallel: int = 1,
    ) -> Parallelism:
        """PyTorch FSDP by its own names: ``sharding_strategy`` one of ``FULL_SHARD``, ``SHARD_GRAD_OP``,
        ``NO_SHARD``, ``HYBRID_SHARD`` (FSDP1's ``ShardingStrategy``; case-insensitive, ``_HYBRID_SHARD_ZERO2``
        is not modelled), ``fsdp_version`` 1 (default) or 2 (``fully_shard``: always full-shard; ``version``
        is the same argument's older name), ``param_dtype`` /
        ``reduce_dtype`` of the ``MixedPrecision`` policy (``"bf16"``, ``"fp16"``, ``"fp32"`` or a torch
        name such as ``"bfloat16"``), ``cpu_offload`` (``CPUOffload(offload_params=True)``: parameters,
        gradients and the optimizer step live on the CPU)."""
        names = {
            "FULL_SHARD": "full-shard",
            "SHARD_GRAD_OP": "shard-grad-op",
            "NO_SHARD": "none",
            "HYBRID_SHARD": "hybrid-shard",
        }
        key = (
            sharding_strategy.upper().removeprefix("SHARDINGSTRATEGY.") if isinstance(sharding_strategy, str) else None
        )
        if key not in names:
            raise WorkloadError(
                f"sharding_strategy={_show(sharding_strategy)} is not one of {', '.join(names)} "
                "(torch.distributed.fsdp.ShardingStrategy)"
            )
        mode = names[key]
        if fsdp_version is not None and version is not None and fsdp_version != version:
            raise WorkloadError(
                f"from_fsdp got fsdp_version={_show(fsdp_version)} and version={_show(version)}: give one "
                "(version is fsdp_version's older name)"
            )
        chosen = fsdp_version if fsdp_version is not None else version if version is not None else 1
        if mode == "shard-grad-op" and chosen == 2:
            raise WorkloadError(
                "from_fsdp: fsdp_version=2 (fully_shard) has no SHARD_GRAD_OP, and its nearest setting (fully_shard's "
                "reshard_after_forward option) is not modelled: use sharding_strategy='SHARD_GRAD_OP' with "
                "fsdp_version=1, or sharding_strategy='FULL_SHARD' with fsdp_version=2"
            )
        if mode == "none" and cpu_offload:
            raise WorkloadError("cpu_offload needs sharded parameters: use FULL_SHARD or HYBRID_SHARD")
        return cls(
            data_parallel=data_parallel,
            tensor_parallel=tensor_parallel,
            pipeline_parallel=pipeline_parallel,
            fsdp=mode,
            fsdp_version=chosen,
            fsdp_param_dtype=_dtype_name(param_dtype, "param_dtype"),
            fsdp_reduce_dtype=_dtype_name(reduce_dtype, "reduce_dtype"),
            offload_params=cpu_offload,
            offload_optimizer=cpu_offload,
            fsdp_layers_per_unit=layers_per_unit,
            fsdp_shard_group=shard_group,
            fsdp_use_orig_params=use_orig_params,
            accumulate_without_sync=accumulate_without_sync,
            torch_version=torch_version,
        )


_TORCH_DTYPES = {
    "float32": "fp32",
    "float": "fp32",
    "fp32": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "fp16": "fp16",
    "bfloat16": "bf16",
    "bf16": "bf16",
}


def _dtype_name(value: object, field: str) -> str | None:
    """``"bfloat16"``, ``"torch.bfloat16"``, ``torch.bfloat16`` or ``"bf16"`` -> ``"bf16"``; None stays None."""
    if value is None:
        return None
    text = str(value).lower().removeprefix("torch.")
    if text not in _TORCH_DTYPES:
        raise WorkloadError(
            f"{field}={_show(value)} is not a dtype FSDP mixed precision uses; choose bf16, fp16 or fp32"
        )
    return _TORCH_DTYPES[text]


#: Reads a JSON file into a dict (bounded size, typed errors): installed by ``llmcatalog/__init__.py``
#: from ``importers/files.py`` so that this wing imports nothing above it.
_READ_JSON: Callable[[str | os.PathLike[str]], dict[str, Any]] | None = None


def install_json_reader(reader: Callable[[str | os.PathLike[str]], dict[str, Any]]) -> None:
    """Install the reader :meth:`Parallelism.from_deepspeed_config` uses for paths."""
    global _READ_JSON
    _READ_JSON = reader


class _AsStored(str):
    """The default :attr:`Inference.precision`: reads as ``"bf16"`` (so code that asks for a dtype
    name still works) but means "as the checkpoint stores it, else bf16". Told apart by type, so
    copies and pickles keep the meaning."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "AS_STORED"


#: :attr:`Inference.precision` when none is given: the checkpoint's own format, else bf16.
AS_STORED = _AsStored("bf16")


def _precision_in(value: object) -> object:
    return AS_STORED if value is None else value


def _precision_key(value: object) -> tuple[bool, object]:
    """Compared and hashed with its kind: ``Inference()`` differs from ``Inference(precision="bf16")``."""
    return isinstance(value, _AsStored), value


def _check_precision(_inst: object, _attr: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, WeightFormat):
        return
    if not isinstance(value, str) or value not in FORMATS:
        raise WorkloadError(
            f"precision={_show(value)} is not a known precision; choose one of {list(FORMATS)}, "
            "pass a llmcatalog.WeightFormat (e.g. from weight_format_from_quantization_config), "
            "or leave it out to use the checkpoint's own format"
        )


@attrs.frozen(kw_only=True, cache_hash=True)  # hashed on every cached calculus call
class Inference:
    """Text generation with Hugging Face transformers (``generate()``, SDPA attention by default).

    ``context_tokens`` = prompt + generated tokens, all held in the KV cache at the end.
    ``prompt_tokens`` is the part processed in one prefill forward pass; by default the whole
    context (the worst case for the activation peak). ``precision`` is the weight format: a name
    in :data:`~llmcatalog.FORMATS` or a :class:`~llmcatalog.WeightFormat` (for instance one read
    from a ``quantization_config``). Left out (or ``None``), it is :data:`AS_STORED`, "as the
    checkpoint stores it": :func:`~llmcatalog.estimate_vram` then uses the model's
    ``weight_format`` when it has one (a quantized checkpoint), else bf16. :data:`AS_STORED` reads
    as ``"bf16"``; :attr:`precision_given` tells the two apart. ``compute_dtype`` is the dtype of
    activations (default: the format's usual one, e.g. fp16 for GPTQ); ``kv_cache_precision`` the
    KV-cache dtype (default: the compute dtype). ``mla_cache`` is what a latent-attention model
    (DeepSeek-V2/V3) caches: ``"latent"`` (transformers 5, vLLM, SGLang) or ``"expanded"`` keys and
    values (transformers 4.x, engines without an MLA kernel); other models ignore it.
    ``legacy_cache``: the model's code returns ``past_key_values`` as tuples that every step rebuilds
    with ``torch.cat`` and computes the LM head over every prompt position (transformers < 4.36 and the
    2023 remote code of Qwen-1 ``modeling_qwen.py``): ``generate()`` holds the previous step's cache
    until the forward returns, so the decode peak holds two caches, and the prefill keeps the logits of
    the whole prompt in the compute dtype (``docs/accuracy.md``).
    ``framework="litgpt"``: litgpt's ``generate/base.py`` instead (its own untied LM head, quantized with
    every other Linear under bitsandbytes, logits over the whole prompt; ``docs/litgpt.md``).
    """

    precision: str | WeightFormat = attrs.field(
        default=AS_STORED,
        converter=_precision_in,
        validator=_check_precision,
        eq=_precision_key,
    )
    batch_size: int = attrs.field(default=1, validator=_int_in(1, MAX_BATCH_SIZE))
    context_tokens: int = attrs.field(default=2048, validator=_int_in(1, MAX_TOKENS))
    prompt_tokens: int | None = attrs.field(default=None, validator=optional(_int_in(1, MAX_TOKENS)))
    kv_cache_precision: str | None = attrs.field(default=None, validator=optional(_choice(KV_CACHE_DTYPES)))
    compute_dtype: str | None = attrs.field(default=None, validator=optional(_choice(COMPUTE_DTYPES)))
    attention: str = attrs.field(default="sdpa", validator=_choice(ATTENTION_IMPLEMENTATIONS))
    mla_cache: str = attrs.field(default="latent", validator=_choice(MLA_CACHE_LAYOUTS))
    parallelism: Parallelism = attrs.field(factory=Parallelism)
    legacy_cache: bool = attrs.field(default=False, validator=_bool)
    framework: str | None = attrs.field(
        default=None, converter=_framework_name, validator=optional(_choice(INFERENCE_FRAMEWORKS))
    )

    def __attrs_post_init__(self) -> None:
        if self.prompt_tokens is not None and self.prompt_tokens > self.context_tokens:
            raise WorkloadError(
                f"prompt_tokens ({self.prompt_tokens}) cannot exceed context_tokens ({self.context_tokens}), "
                "which counts prompt + generated tokens"
            )
        if not isinstance(self.parallelism, Parallelism):
            raise WorkloadError("parallelism must be a llmcatalog.Parallelism")
        p = self.parallelism
        if p.data_parallel > 1 or p.shard_stage:
            raise WorkloadError(
                "inference supports tensor_parallel and pipeline_parallel (device_map='auto' splits); "
                "data_parallel, ZeRO and FSDP are training settings"
            )

    @property
    def prefill_tokens(self) -> int:
        """Tokens processed in the prefill forward pass."""
        return self.prompt_tokens if self.prompt_tokens is not None else self.context_tokens

    @property
    def precision_given(self) -> bool:
        """Whether a precision was given (False: :data:`AS_STORED`, the checkpoint's format, else bf16)."""
        return not isinstance(self.precision, _AsStored)

    @property
    def weight_format(self) -> WeightFormat:
        """The weight format asked for (bf16 when none was given: see the class docstring)."""
        p = self.precision
        return p if isinstance(p, WeightFormat) else FORMATS[p]

    @property
    def compute(self) -> str:
        """The activation dtype in effect."""
        return self.compute_dtype or self.weight_format.default_compute

    @property
    def kv_dtype(self) -> str:
        """The KV-cache dtype in effect."""
        return self.kv_cache_precision or self.compute


def _targets(value: object) -> object:
    """LoRA targets as a tuple of names; one string is a comma-separated list (the CLI's form:
    ``"q_proj,v_proj"``), never read letter by letter. Anything else is left for the check."""
    if isinstance(value, str):
        value = (value,)
    if isinstance(value, (set, frozenset)):
        value = tuple(sorted(value, key=str))
    if isinstance(value, (list, tuple)):
        # Every string item is a comma-separated list too (("q_proj,v_proj",) is two names); blanks drop.
        out: list[object] = []
        for item in value:
            out.extend(t.strip() for t in item.split(",") if t.strip()) if isinstance(item, str) else out.append(item)
        return tuple(out)
    return value


def _saved(value: object) -> object:
    """``modules_to_save`` in canonical names (``wte`` -> ``embed_tokens``), sorted, without repeats;
    one string is a comma-separated list, as for ``lora_targets``."""
    value = _targets(value)
    if isinstance(value, tuple) and all(isinstance(v, str) and v in MODULES_TO_SAVE for v in value):
        return tuple(sorted({MODULES_TO_SAVE[v] for v in value}))
    return value


@attrs.frozen(kw_only=True, cache_hash=True)  # hashed on every cached calculus call
class FineTune:
    """One training step of fine-tuning with Hugging Face transformers / PEFT.

    ``precision`` is the compute dtype. ``mixed_precision=True`` keeps trainable parameters
    (and so gradients and optimizer states) in fp32 with autocast to ``precision`` (AMP, HF
    Trainer ``bf16=True`` on an fp32-loaded model); frozen weights stay in ``precision``.
    ``mixed_precision=False`` is pure ``precision`` training (weights, gradients and optimizer
    states all 16-bit). ``batch_size`` is the per-GPU micro-batch; ``seq_len`` the padded
    training length. LoRA: ``lora_rank``, ``lora_alpha``, ``lora_targets`` (module names such as
    ``"q_proj"``, or ``"all-linear"``), ``lora_dropout``. QLoRA: frozen Linear weights in
    ``qlora_format`` (NF4 with double quantization by default); ``upcast_non_quantized`` casts the
    other frozen parameters to fp32 as PEFT's ``prepare_model_for_kbit_training`` does. P-Tuning v2 / prefix tuning:
    ``prefix_tokens`` virtual tokens per layer (``prefix_projection`` adds the MLP reparametrisation).
    Freeze tuning trains the last ``trainable_layers`` layers. ``train_embeddings`` also trains
    the input embeddings and the LM head (PEFT ``modules_to_save``), as Qwen's "LoRA (emb)".
    ``moe_layout`` says which transformers layout of mixture-of-experts weights LoRA targets are
    read against (``"transformers-5"``: fused expert tensors, today's; ``"transformers-4"``: one
    Linear per expert); Mixtral's ``w1``/``w2``/``w3`` on experts count differently in each.

    **Defaults follow each method's common recipe**; a value given always wins.
    ``gradient_checkpointing=None`` (the default) means the recipe's choice (:attr:`checkpointing`):

    - ``qlora``, and any PEFT method on a bitsandbytes/GPTQ/AWQ ``base_format``: on -- PEFT's
      ``prepare_model_for_kbit_training(use_gradient_checkpointing=True)`` and the QLoRA scripts
      (artidoro/qlora ``qlora.py``: ``gradient_checkpointing=True``) turn it on;
    - ``full``, ``freeze``, ``lora``, ``p-tuning-v2``, ``prefix-tuning``, ``llama-adapter`` (and
      ChatGLM's built-in ``int8``/``int4`` bases): off, the Hugging Face Trainer default
      (``TrainingArguments.gradient_checkpointing``), as in PEFT's LoRA examples.

    Other defaults are those of a Hugging Face Trainer script with PEFT: AMP (``bf16=True``,
    ``mixed_precision``), fp32 adapters (PEFT ``autocast_adapter_dtype=True``), LoRA r=8, alpha 16,
    ``q_proj``/``v_proj`` (PEFT's default targets for Llama), ``torch.optim.AdamW`` (foreach), SDPA,
    transformers' full-vocabulary fp32 loss. :meth:`for_framework` starts from what another tool
    does (LLaMA-Factory, axolotl, TRL, litgpt, unsloth, torchtune, DeepSpeed-Chat).

    PEFT settings: ``base_format`` stores the frozen base Linears of any PEFT method in a 4/8-bit
    format (:data:`BASE_FORMATS`; QLoRA uses ``qlora_format``). ``dora`` is DoRA (PEFT ``use_dora``).
    ``modules_to_save`` trains full copies of ``embed_tokens``/``lm_head`` (``train_embeddings`` is
    both); ``lora_targets`` may name ``lm_head`` and ``embed_tokens`` too (LoRA on them).
    ``llama-adapter`` is PEFT's ``AdaptionPromptConfig``: ``adapter_len`` prompt tokens on the top
    ``adapter_layers`` layers (all when None). ``autocast`` (default: ``mixed_precision``) says
    whether the step runs under ``torch.autocast``: ``False`` with fp32 adapters on a 16-bit model
    gives every adapter its own fp32 input copy. ``frozen_precision="fp32"`` keeps frozen weights
    in fp32 (litgpt ``bf16-mixed``). ``loop="plain"`` keeps each step's outputs (logits, KV cache)
    alive into the next step; ``loss`` picks the loss implementation (:data:`LOSS_IMPLS`);
    ``offload_checkpoints`` moves checkpointed layer inputs to the CPU (unsloth). ``framework`` /
    ``framework_version`` record the profile used (set by :meth:`for_framework`).
    See ``docs/finetuning-methods.md``.
    ``fp32_logits``: the loss reads fp32 logits -- transformers' ``ForCausalLMLoss`` upcasts them, and
    under ``torch.autocast`` ``log_softmax`` runs in fp32 anyway. False where neither happens: 2023
    remote code that feeds its 16-bit logits straight to ``CrossEntropyLoss`` (Qwen-1's
    ``QWenLMHeadModel``) under DeepSpeed's bf16/fp16 modes, which replace autocast.
    ``bitsandbytes_version`` (:data:`BNB_VERSIONS`): the bitsandbytes release of a ``bnb-int8`` base,
    whose LLM.int8 matmul keeps different tensors for backward (``docs/finetuning-methods.md``).
    ``copies_precision``: the dtype of the ``modules_to_save`` copies (and so of their gradients and
    ``torch.optim`` states) when it differs from the adapters'. None: the trainable dtype (fp32 under
    ``mixed_precision``, as when a script casts every trainable parameter to fp32). PEFT itself
    deep-copies the module in the model's dtype (``ModulesToSaveWrapper``; its
    ``autocast_adapter_dtype`` upcasts adapter layers only): ``copies_precision="bf16"`` for a bf16
    model trained with fp32 adapters. Ignored under DeepSpeed, which casts the whole model to 16 bits,
    and under FSDP (one flat parameter holds one dtype).
    """

    method: str = attrs.field(default="full", validator=_choice(METHODS))
    precision: str = attrs.field(default="bf16", validator=_choice(COMPUTE_DTYPES))
    mixed_precision: bool = attrs.field(default=True, validator=_bool)
    optimizer: str = attrs.field(default="adamw", validator=_choice(OPTIMIZERS))
    optimizer_impl: str = attrs.field(default="foreach", validator=_choice(OPTIMIZER_IMPLS))
    batch_size: int = attrs.field(default=1, validator=_int_in(1, MAX_BATCH_SIZE))
    seq_len: int = attrs.field(default=2048, validator=_int_in(1, MAX_TOKENS))
    gradient_checkpointing: bool | None = attrs.field(default=None, validator=optional(_bool))
    attention: str = attrs.field(default="sdpa", validator=_choice(ATTENTION_IMPLEMENTATIONS))
    lora_rank: int = attrs.field(default=8, validator=_int_in(1, MAX_LORA_RANK))
    lora_alpha: int = attrs.field(default=16, validator=_int_in(1, MAX_LORA_RANK))
    lora_targets: tuple[str, ...] = attrs.field(default=("q_proj", "v_proj"), converter=_targets)
    lora_dropout: float = attrs.field(default=0.0)
    qlora_format: str = attrs.field(default="bnb-nf4-dq", validator=_choice(BASE_FORMATS))
    upcast_non_quantized: bool = attrs.field(default=True, validator=_bool)
    prefix_tokens: int = attrs.field(default=128, validator=_int_in(1, MAX_PREFIX_TOKENS))
    prefix_projection: bool = attrs.field(default=False, validator=_bool)
    trainable_layers: int = attrs.field(default=2, validator=_int_in(1, MAX_TRAINABLE_LAYERS))
    train_embeddings: bool = attrs.field(default=False, validator=_bool)
    moe_layout: str = attrs.field(default="transformers-5", validator=_choice(MOE_LAYOUTS))
    parallelism: Parallelism = attrs.field(factory=Parallelism)
    # -- PEFT completeness (issue 10) --
    base_format: str | None = attrs.field(default=None, validator=optional(_choice(BASE_FORMATS)))
    dora: bool = attrs.field(default=False, validator=_bool)
    modules_to_save: tuple[str, ...] = attrs.field(default=(), converter=_saved)
    autocast: bool | None = attrs.field(default=None, validator=optional(_bool))
    frozen_precision: str | None = attrs.field(default=None, validator=optional(_choice(COMPUTE_DTYPES)))
    adapter_len: int = attrs.field(default=10, validator=_int_in(1, MAX_PREFIX_TOKENS))
    adapter_layers: int | None = attrs.field(default=None, validator=optional(_int_in(1, MAX_TRAINABLE_LAYERS)))
    loop: str = attrs.field(default="trainer", validator=_choice(LOOPS))
    loss: str = attrs.field(default="full-logits", validator=_choice(LOSS_IMPLS))
    offload_checkpoints: bool = attrs.field(default=False, validator=_bool)
    framework: str | None = attrs.field(default=None, converter=_framework_name)
    framework_version: str | None = attrs.field(default=None)
    fp32_logits: bool = attrs.field(default=True, validator=_bool)
    bitsandbytes_version: str = attrs.field(default=">=0.45", validator=_choice(BNB_VERSIONS))
    copies_precision: str | None = attrs.field(default=None, validator=optional(_choice(COMPUTE_DTYPES)))

    def __attrs_post_init__(self) -> None:
        self._check_peft()
        targets = self.lora_targets
        if not isinstance(targets, tuple) or not targets or not all(isinstance(t, str) and t for t in targets):
            raise WorkloadError(
                "lora_targets must name at least one module, e.g. ('q_proj', 'v_proj'), 'q_proj,v_proj' "
                f"or 'all-linear'; got {_show(targets)}"
            )
        dropout = self.lora_dropout
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise WorkloadError(f"lora_dropout must be in [0, 1), got {_show(dropout)}")
        if not isinstance(self.parallelism, Parallelism):
            raise WorkloadError("parallelism must be a llmcatalog.Parallelism")

    def _check_peft(self) -> None:
        """The PEFT settings (issue 10): each error names the field and the fix."""
        method = self.method
        unknown = (
            [m for m in self.modules_to_save if m not in MODULES_TO_SAVE]
            if isinstance(self.modules_to_save, tuple)
            else [self.modules_to_save]
        )
        if unknown:
            raise WorkloadError(
                f"modules_to_save={_show(self.modules_to_save)}: {_show(unknown[0])} is not a module PEFT can save "
                f"as a trainable copy here; choose among {sorted(MODULES_TO_SAVE)} (the embeddings and the LM head)"
            )
        if self.dora and method not in ("lora", "qlora"):
            raise WorkloadError(f"dora=True is a LoRA variant (PEFT use_dora); method={method!r} has no LoRA adapters")
        if self.base_format is not None:
            if method not in ("lora", "p-tuning-v2", "prefix-tuning", "llama-adapter", "qlora"):
                raise WorkloadError(
                    f"base_format is the format of a frozen base; method={method!r} trains the base weights "
                    "(use a PEFT method: lora, p-tuning-v2, prefix-tuning, llama-adapter)"
                )
            if method == "qlora" and self.base_format != self.qlora_format:
                raise WorkloadError(
                    f"method='qlora' stores its base in qlora_format ({self.qlora_format!r}); give "
                    f"qlora_format={self.base_format!r} (--qlora-format {self.base_format} on the command line), or "
                    f"method='lora' with base_format={self.base_format!r} (--finetune lora --base-format "
                    f"{self.base_format})"
                )
        if self.modules_to_save and method not in ("lora", "qlora", "p-tuning-v2", "prefix-tuning", "llama-adapter"):
            raise WorkloadError(f"modules_to_save applies to PEFT methods; method={method!r} trains them already")
        if self.autocast is False and self.mixed_precision and method in ("full", "freeze"):
            raise WorkloadError(
                "autocast=False with mixed_precision=True on full/freeze fine-tuning computes in fp32: "
                "give precision='fp32' instead (autocast=False describes fp32 PEFT adapters on a 16-bit model)"
            )
        if self.frozen_precision is not None and method == "full":
            raise WorkloadError("frozen_precision is the dtype of frozen weights; method='full' freezes none")
        if self.copies_precision is not None and not (self.modules_to_save or self.train_embeddings):
            raise WorkloadError(
                "copies_precision is the dtype of the modules_to_save copies; give modules_to_save (or "
                "train_embeddings=True), or leave copies_precision out"
            )
        if self.offload_checkpoints and self.gradient_checkpointing is False:
            raise WorkloadError(
                "offload_checkpoints=True offloads gradient-checkpointing inputs to the CPU; it needs "
                "gradient_checkpointing=True (or left out)"
            )
        if self.framework is not None or self.framework_version is not None:
            from .frameworks import check_framework

            check_framework(self.framework, self.framework_version, self.method)

    @property
    def checkpointing(self) -> bool:
        """Whether gradient checkpointing is on: ``gradient_checkpointing`` when given, else the
        method's common recipe (on for PEFT on a bitsandbytes/GPTQ/AWQ base, as PEFT's
        ``prepare_model_for_kbit_training`` and the QLoRA scripts do; off otherwise, the HF Trainer
        default); ``offload_checkpoints`` implies it."""
        if self.gradient_checkpointing is not None:
            return self.gradient_checkpointing
        return self.offload_checkpoints or self.quantized_base in KBIT_BASES

    @property
    def quantized_base(self) -> str | None:
        """The format of the frozen base Linears (``qlora_format`` for QLoRA, ``base_format`` for the
        other PEFT methods), or None for a base in ``precision``."""
        if self.method == "qlora":
            return self.qlora_format
        return self.base_format

    @property
    def uses_autocast(self) -> bool:
        """Whether the step runs under ``torch.autocast``: ``autocast`` when given, else ``mixed_precision``."""
        return self.mixed_precision if self.autocast is None else self.autocast

    @classmethod
    def for_framework(cls, framework: str, version: str | None = None, **settings: Any) -> FineTune:
        """A fine-tuning step as ``framework`` runs it by default (``version``: the release whose
        defaults to use; the newest when left out). ``settings`` (any field) win over the profile.

        The profiles, each with its source and version, are :data:`llmcatalog.values.frameworks.FRAMEWORKS`
        (``docs/finetuning-methods.md``). Example: ``FineTune.for_framework("llama-factory", method="qlora")``.
        """
        from .frameworks import profile

        prof = profile(framework, version)
        method = settings.get("method", prof.defaults.get("method", "full"))
        values: dict[str, Any] = {**prof.defaults, **prof.per_method.get(str(method), {}), **settings}
        values.setdefault("framework", prof.name)
        values.setdefault("framework_version", prof.version)
        return cls(**values)

    @property
    def is_mixed(self) -> bool:
        """True when fp32 master weights are kept (``mixed_precision`` with 16-bit compute)."""
        return self.mixed_precision and self.precision != "fp32"

    @property
    def compute_bytes(self) -> float:
        """Bytes per element of the compute dtype."""
        return DTYPE_BYTES[self.precision]

    @property
    def is_peft(self) -> bool:
        """True for methods that train a small set of new or selected parameters."""
        return self.method in ("lora", "qlora", "p-tuning-v2", "prefix-tuning", "llama-adapter")
