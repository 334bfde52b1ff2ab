"""DeepSpeed configs: the ``zero_optimization`` block read into :class:`~llmcatalog.Parallelism` fields,
and the configs popular recipes ship (:data:`DEEPSPEED_PRESETS`).

Keys and defaults follow ``deepspeed/runtime/zero/config.py`` (``DeepSpeedZeroConfig``, DeepSpeed 0.14-0.16):
``reduce_bucket_size`` and ``allgather_bucket_size`` 5e8 elements, ``overlap_comm`` unset (on at stage 3),
``contiguous_gradients`` true, ``sub_group_size`` 1e9, ``stage3_prefetch_bucket_size`` 5e7,
``stage3_max_live_parameters`` 1e9, ``stage3_param_persistence_threshold`` 1e5, ``offload_optimizer`` /
``offload_param`` with ``device`` ``none``, ``cpu`` or ``nvme``. ``"auto"`` is resolved the way the Hugging
Face integration does (``transformers/integrations/deepspeed.py``, ``HfTrainerDeepSpeedConfig``:
``reduce_bucket_size = h*h``, ``stage3_prefetch_bucket_size = 0.9*h*h``,
``stage3_param_persistence_threshold = 10*h``): those fields stay ``None`` here and the calculus fills
them from the model's hidden size.
"""

from __future__ import annotations

import warnings
from types import MappingProxyType
from typing import Any

from ..errors import DeepSpeedWorkloadWarning, WorkloadError, outside_stacklevel

__all__ = ["DEEPSPEED_PRESETS", "DEEPSPEED_PRESET_SOURCES", "parallelism_kwargs", "preset_name"]

#: ``zero_optimization`` key -> Parallelism field (values that change memory).
_FIELDS = {
    "reduce_bucket_size": "reduce_bucket_size",
    "allgather_bucket_size": "allgather_bucket_size",
    "overlap_comm": "overlap_comm",
    "contiguous_gradients": "contiguous_gradients",
    "stage3_prefetch_bucket_size": "prefetch_bucket_size",
    "prefetch_bucket_size": "prefetch_bucket_size",  # DeepSpeed's alias
    "stage3_max_live_parameters": "max_live_parameters",
    "max_live_parameters": "max_live_parameters",
    "stage3_param_persistence_threshold": "param_persistence_threshold",
    "param_persistence_threshold": "param_persistence_threshold",
    "sub_group_size": "sub_group_size",
    "stage3_max_reuse_distance": "max_reuse_distance",
    "max_reuse_distance": "max_reuse_distance",
}
#: DeepSpeed's defaults for the fields whose Parallelism default is the integration's "auto".
DS_DEFAULTS = MappingProxyType(
    {"reduce_bucket_size": 500_000_000, "prefetch_bucket_size": 50_000_000, "param_persistence_threshold": 100_000}
)
#: Fields whose ``"auto"`` the Hugging Face integration fills from the hidden size (``None`` here).
_AUTO = frozenset({"reduce_bucket_size", "prefetch_bucket_size", "param_persistence_threshold"})
#: Keys DeepSpeed accepts that do not change GPU memory in this model (speed, checkpoints, logging).
_KNOWN_OTHER = frozenset(
    {
        "stage",
        "allgather_partitions",
        "reduce_scatter",
        "round_robin_gradients",
        "stage3_gather_16bit_weights_on_model_save",
        "stage3_gather_fp16_weights_on_model_save",
        "gather_16bit_weights_on_model_save",
        "elastic_checkpoint",
        "ignore_unused_parameters",
        "legacy_stage1",
        "load_from_fp32_weights",
        "cpu_offload",
        "cpu_offload_use_pin_memory",
        "offload_optimizer",
        "offload_param",
        "zero_quantized_weights",
        "zero_quantized_nontrainable_weights",
        "zero_quantized_gradients",
        "mics_hierarchical_params_gather",
        "memory_efficient_linear",
        "pipeline_loading_checkpoint",
        "override_module_apply",
        "use_multi_rank_bucket_allreduce",
        "module_granularity_threshold",
        "use_all_reduce_for_fetch_params",
        "log_trace_cache_warnings",
        "stage3_module_granularity_threshold",
        "stage3_use_all_reduce_for_fetch_params",
        "round_robin",
        "sub_group_buffer_num",
    }
)

#: Keys read apart from the field table (offload spellings, MiCS, ZeRO++ hpZ).
_HANDLED = frozenset({"cpu_offload_params", "mics_shard_size", "zero_hpz_partition_size"})


def _number(key: str, value: object, *, auto: bool) -> int | None:
    if auto and value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = ' or "auto"' if auto else ""
        raise WorkloadError(f"DeepSpeed zero_optimization.{key} must be a number of elements{hint}, got {value!r}")
    if isinstance(value, float) and not (value.is_integer() and 0 <= value < 2**63):
        raise WorkloadError(f"DeepSpeed zero_optimization.{key} must be a whole number of elements, got {value!r}")
    return int(value)


def _flag(key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise WorkloadError(f"DeepSpeed zero_optimization.{key} must be true or false, got {value!r}")
    return value


def _offload(key: str, value: object) -> str:
    """``{"device": "cpu" | "nvme" | "none", ...}`` -> the device (``"none"`` when it does not offload)."""
    if value is None:
        return "none"
    if not isinstance(value, dict):
        raise WorkloadError(f'DeepSpeed zero_optimization.{key} must be an object such as {{"device": "cpu"}}')
    device = value.get("device", "none")
    if device not in ("none", "cpu", "nvme"):
        raise WorkloadError(f'DeepSpeed zero_optimization.{key}.device must be "none", "cpu" or "nvme", got {device!r}')
    return str(device)


def parallelism_kwargs(config: dict[str, Any], *, data_parallel: int | None = None) -> dict[str, Any]:
    """:class:`~llmcatalog.Parallelism` keyword arguments for a DeepSpeed config dict (see the module docstring).

    ``data_parallel`` (the world size over tensor/pipeline ranks) checks ``train_batch_size`` as DeepSpeed does."""
    if not isinstance(config, dict):
        raise WorkloadError(f"a DeepSpeed config must be a JSON object, got {type(config).__name__}")
    zero = config.get("zero_optimization", {})
    if not isinstance(zero, dict):
        raise WorkloadError("DeepSpeed zero_optimization must be an object")
    stage = zero.get("stage", 0)
    if isinstance(stage, float) and stage.is_integer():
        stage = int(stage)
    if isinstance(stage, bool) or stage not in (0, 1, 2, 3):
        raise WorkloadError(f"DeepSpeed zero_optimization.stage must be 0, 1, 2 or 3, got {stage!r}")
    # Keys left out take DeepSpeed's defaults (not the integration's "auto", which only fills "auto" values).
    kw: dict[str, Any] = {
        "zero_stage": stage,
        "reduce_bucket_size": DS_DEFAULTS["reduce_bucket_size"],
        "prefetch_bucket_size": DS_DEFAULTS["prefetch_bucket_size"],
        "param_persistence_threshold": DS_DEFAULTS["param_persistence_threshold"],
    }
    unknown = []
    for key, value in zero.items():
        field = _FIELDS.get(key)
        if field in ("overlap_comm", "contiguous_gradients"):
            kw[field] = _flag(key, value)
        elif field is not None:
            kw[field] = _number(key, value, auto=field in _AUTO)
        elif key not in _KNOWN_OTHER and key not in _HANDLED:
            unknown.append(key)
    if unknown:
        warnings.warn(
            f"DeepSpeed zero_optimization keys not known to llmcatalog (ignored): {', '.join(sorted(unknown))}",
            UserWarning,
            stacklevel=3,
        )
    optimizer_device = _offload("offload_optimizer", zero.get("offload_optimizer"))
    params_device = _offload("offload_param", zero.get("offload_param"))
    # The pre-0.4 spellings (``DeepSpeedZeroConfig``'s deprecated ``cpu_offload`` / ``cpu_offload_params``,
    # migrated to ``offload_optimizer`` / ``offload_param`` with device "cpu").
    if _flag("cpu_offload", zero.get("cpu_offload", False)) and optimizer_device == "none":
        optimizer_device = "cpu"
    if _flag("cpu_offload_params", zero.get("cpu_offload_params", False)) and params_device == "none":
        params_device = "cpu"
    kw["offload_optimizer"] = optimizer_device != "none"
    kw["offload_params"] = params_device != "none"
    if kw["offload_optimizer"]:
        kw["offload_optimizer_device"] = optimizer_device
    if kw["offload_params"]:
        kw["offload_params_device"] = params_device
    if kw["offload_params"] and stage != 3:
        raise WorkloadError("DeepSpeed zero_optimization.offload_param needs stage 3 (DeepSpeed refuses it below)")
    kw.update(_groups(zero, stage))
    _workload_keys(config, data_parallel)
    return kw


def _groups(zero: dict[str, Any], stage: int) -> dict[str, Any]:
    """MiCS and ZeRO++ hpZ, which change how many ranks share one partition.

    MiCS (``mics_shard_size``, ``deepspeed/runtime/zero/mics.py``: ``MiCS_Init`` partitions parameters,
    gradients and optimizer states within groups of ``mics_shard_size`` ranks and replicates across
    groups) is hybrid sharding: it maps to ``fsdp_shard_group`` (the shard group of
    :attr:`Parallelism.shard_ranks`). ZeRO++ hpZ (``zero_hpz_partition_size``, ``partition_parameters.py``
    ``ds_secondary_tensor``) keeps a second copy of the 16-bit parameters partitioned within
    ``zero_hpz_partition_size`` ranks: 2P/K bytes more per GPU that this model does not count, so it warns.
    """
    out: dict[str, Any] = {}
    mics = zero.get("mics_shard_size", -1)
    mics = _number("mics_shard_size", mics, auto=False) if mics != -1 else -1
    if mics is not None and mics > 0:
        if stage != 3:
            raise WorkloadError("DeepSpeed zero_optimization.mics_shard_size needs stage 3 (MiCS shards parameters)")
        out["fsdp_shard_group"] = mics
    hpz = zero.get("zero_hpz_partition_size", 1)
    hpz = _number("zero_hpz_partition_size", hpz, auto=False)
    if hpz is not None and hpz > 1 and stage == 3:
        warnings.warn(
            f"DeepSpeed zero_optimization.zero_hpz_partition_size={hpz} (ZeRO++ hpZ) keeps a secondary copy of "
            f"the 16-bit parameters partitioned over {hpz} ranks, 2 x parameters / {hpz} bytes per GPU that the "
            "estimate does not include: add them, or leave hpZ out",
            UserWarning,
            stacklevel=4,
        )
    return out


def _enabled(key: str, config: dict[str, Any]) -> bool | None:
    """``fp16.enabled`` / ``bf16.enabled``: True, False, or None for "auto" / absent."""
    block = config.get(key)
    if block is None:
        return None
    if not isinstance(block, dict):
        raise WorkloadError(f'DeepSpeed {key} must be an object such as {{"enabled": true}}')
    value = block.get("enabled", False)
    if value == "auto":
        return None
    if not isinstance(value, bool):
        raise WorkloadError(f'DeepSpeed {key}.enabled must be true, false or "auto", got {value!r}')
    return value


def _workload_keys(config: dict[str, Any], data_parallel: int | None) -> None:
    """Top-level keys that set the workload, not the parallelism: warn which :class:`~llmcatalog.FineTune`
    field to set, and refuse what DeepSpeed refuses (``deepspeed/runtime/config.py``: bf16 and fp16 both
    enabled; ``train_batch_size`` != micro-batch x accumulation x world size, ``_batch_assertion``)."""
    fp16, bf16 = _enabled("fp16", config), _enabled("bf16", config)
    if fp16 and bf16:
        raise WorkloadError(
            "DeepSpeed refuses fp16.enabled and bf16.enabled both true (bfloat16 and fp16 modes cannot be "
            "enabled together): enable one"
        )
    notes: list[tuple[str, str | None, object, str]] = []
    if fp16 or bf16:
        name = "fp16" if fp16 else "bf16"
        notes.append((f"{name}.enabled", "precision", name, ""))
    numbers: dict[str, int | None] = {}
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "train_batch_size"):
        value = config.get(key)
        if value is not None and value != "auto":
            numbers[key] = _number(key, value, auto=False)
    micro, steps, total = (
        numbers.get(k) for k in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "train_batch_size")
    )
    if micro is not None:
        notes.append(("train_micro_batch_size_per_gpu", "batch_size", micro, ""))
    notes.extend(_optimizer_notes(config))
    if notes:
        tail = " (gradient_accumulation_steps does not change per-GPU memory here)" if steps is not None else ""
        warnings.warn(DeepSpeedWorkloadWarning(tuple(notes), tail), stacklevel=outside_stacklevel())
    if data_parallel is None or micro is None or steps is None or total is None:
        return
    if total != micro * steps * data_parallel:
        raise WorkloadError(
            f"DeepSpeed train_batch_size={total} is not train_micro_batch_size_per_gpu={micro} x "
            f"gradient_accumulation_steps={steps} x {data_parallel} data-parallel ranks = "
            f"{micro * steps * data_parallel} (DeepSpeed refuses it): fix one of them, or data_parallel"
        )


#: DeepSpeed's own optimizers (``deepspeed/runtime/config.py`` ``DEEPSPEED_OPTIMIZERS``, matched lower-case;
#: docs "Optimizer Parameters") and the :attr:`FineTune.optimizer <llmcatalog.FineTune.optimizer>` whose
#: state bytes match, with why. Any other ``type`` DeepSpeed takes from ``torch.optim`` by its exact name.
_DS_OPTIMIZERS: MappingProxyType[str, tuple[str | None, str]] = MappingProxyType(
    {
        "adam": ("adamw", "DeepSpeed steps it with FusedAdam, or DeepSpeedCPUAdam when offloaded: fp32 m and v"),
        "adamw": ("adamw", "DeepSpeed steps it with FusedAdam, or DeepSpeedCPUAdam when offloaded: fp32 m and v"),
        "muadam": ("adamw", "mup's Adam: the same fp32 m and v"),
        "muadamw": ("adamw", "mup's AdamW: the same fp32 m and v"),
        "lamb": ("adamw", "FusedLamb keeps the same two fp32 moments as AdamW"),
        "lion": ("lion", "FusedLion: one momentum"),
        "musgd": ("sgd-momentum", "mup's SGD: one momentum buffer when momentum > 0"),
        "adagrad": ("sgd-momentum", "DeepSpeedCPUAdagrad keeps one sum per parameter, as many bytes as one momentum"),
        "onebitadam": (None, "1-bit Adam keeps AdamW's m and v plus error-feedback buffers, not modelled; "
                       "FineTune(optimizer='adamw') leaves the buffers out"),
        "zerooneadam": (None, "0/1 Adam keeps AdamW's m and v plus error-feedback buffers, not modelled; "
                        "FineTune(optimizer='adamw') leaves the buffers out"),
        "onebitlamb": (None, "1-bit LAMB keeps AdamW's m and v plus error-feedback and scaling buffers, not "
                       "modelled; FineTune(optimizer='adamw') leaves them out"),
        "muon": (None, "Muon (momentum for matrices, AdamW for the rest) is not modelled"),
    }
)  # fmt: skip
#: ``torch.optim`` classes DeepSpeed takes by name (``getattr(torch.optim, type)``) that FineTune models.
_TORCH_OPTIMIZERS = {"SGD": "sgd", "Adafactor": "adafactor"}
#: How the DeepSpeed docs spell their optimizers (for messages).
_DS_SPELLING = (
    "Adam", "AdamW", "Lamb", "OneBitAdam", "ZeroOneAdam", "OneBitLamb", "Lion", "Adagrad", "MuAdam", "MuAdamW",
    "MuSGD", "Muon",
)  # fmt: skip


def _optimizer_notes(config: dict[str, Any]) -> list[tuple[str, str | None, object, str]]:
    """The ``optimizer`` block: the FineTune optimizer with the same state bytes, or why there is none."""
    block = config.get("optimizer")
    if block is None:
        return []
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise WorkloadError('DeepSpeed optimizer must be an object with a "type", such as {"type": "AdamW"}')
    name = block["type"]
    params = block.get("params") or {}
    momentum = params.get("momentum", 0) if isinstance(params, dict) else 0
    momentum = momentum if isinstance(momentum, (int, float)) else 0
    if name.lower() in _DS_OPTIMIZERS:
        field, why = _DS_OPTIMIZERS[name.lower()]
        if name.lower() == "musgd" and not momentum:
            field, why = "sgd", "mup's SGD without momentum: no state"
        return [("optimizer.type " + repr(name), "optimizer" if field else None, field, why)]
    if name in _TORCH_OPTIMIZERS:
        field = _TORCH_OPTIMIZERS[name]
        if field == "sgd" and momentum:
            return [("optimizer.type 'SGD'", "optimizer", "sgd-momentum", "torch.optim.SGD with momentum")]
        return [("optimizer.type " + repr(name), "optimizer", field, f"torch.optim.{name}")]
    known = [*_DS_SPELLING, *(f"torch.optim {n}" for n in _TORCH_OPTIMIZERS)]
    return [
        (
            "optimizer.type " + repr(name),
            None,
            None,
            "neither a DeepSpeed optimizer nor a torch.optim class llmcatalog models (known: "
            + ", ".join(known)
            + "); the estimate uses FineTune.optimizer (adamw unless set)",
        )
    ]


_LF = "https://github.com/hiyouga/LLaMA-Factory/blob/1d6e8b218240c154638f9bdcb76a1a089c27891b/examples/deepspeed/"
_HF_HALF = {"fp16": {"enabled": "auto"}, "bf16": {"enabled": "auto"}}
_LF_Z12 = {
    "allgather_partitions": True,
    "allgather_bucket_size": 5e8,
    "overlap_comm": False,
    "reduce_scatter": True,
    "reduce_bucket_size": 5e8,
    "contiguous_gradients": True,
    "round_robin_gradients": True,
}
_LF_Z3 = {
    "stage": 3,
    "overlap_comm": False,
    "contiguous_gradients": True,
    "sub_group_size": 1e9,
    "reduce_bucket_size": "auto",
    "stage3_prefetch_bucket_size": "auto",
    "stage3_param_persistence_threshold": "auto",
    "stage3_max_live_parameters": 1e9,
    "stage3_max_reuse_distance": 1e9,
    "stage3_gather_16bit_weights_on_model_save": True,
}
_CPU = {"device": "cpu", "pin_memory": True}

#: The ``zero_optimization`` settings of configs recipes ship (only what this model reads; batch sizes,
#: fp16 loss scaling and logging left out). Sources: :data:`DEEPSPEED_PRESET_SOURCES`.
DEEPSPEED_PRESETS: MappingProxyType[str, dict[str, Any]] = MappingProxyType(
    {
        "llamafactory-z0": {**_HF_HALF, "zero_optimization": {"stage": 0, **_LF_Z12}},
        "llamafactory-z2": {**_HF_HALF, "zero_optimization": {"stage": 2, **_LF_Z12}},
        "llamafactory-z2-offload": {
            **_HF_HALF,
            "zero_optimization": {"stage": 2, "offload_optimizer": _CPU, **_LF_Z12},
        },
        "llamafactory-z3": {**_HF_HALF, "zero_optimization": dict(_LF_Z3)},
        "llamafactory-z3-offload": {
            **_HF_HALF,
            "zero_optimization": {**_LF_Z3, "offload_optimizer": _CPU, "offload_param": _CPU},
        },
        # DeepSpeed-Chat get_train_ds_config(offload=False, stage=2/3): offload device "none",
        # stage3_param_persistence_threshold 1e4, stage3_max_live_parameters 3e7, stage3_prefetch_bucket_size 3e7.
        "deepspeed-chat-z2": {
            "fp16": {"enabled": True, "loss_scale_window": 100},
            "zero_optimization": {
                "stage": 2,
                "offload_param": {"device": "none"},
                "offload_optimizer": {"device": "none"},
                "stage3_param_persistence_threshold": 1e4,
                "stage3_max_live_parameters": 3e7,
                "stage3_prefetch_bucket_size": 3e7,
                "memory_efficient_linear": False,
            },
        },
        "deepspeed-chat-z3": {
            "fp16": {"enabled": True, "loss_scale_window": 100},
            "zero_optimization": {
                "stage": 3,
                "offload_param": {"device": "none"},
                "offload_optimizer": {"device": "none"},
                "stage3_param_persistence_threshold": 1e4,
                "stage3_max_live_parameters": 3e7,
                "stage3_prefetch_bucket_size": 3e7,
                "memory_efficient_linear": False,
            },
        },
    }
)
_DSCHAT = (
    "https://github.com/deepspeedai/DeepSpeedExamples/blob/master/applications/DeepSpeed-Chat/"
    "dschat/utils/ds_utils.py (get_train_ds_config)"
)
#: Where each preset comes from (LLaMA-Factory at commit 1d6e8b2; DeepSpeed-Chat's ``get_train_ds_config``).
DEEPSPEED_PRESET_SOURCES: MappingProxyType[str, str] = MappingProxyType(
    {
        "llamafactory-z0": _LF + "ds_z0_config.json",
        "llamafactory-z2": _LF + "ds_z2_config.json",
        "llamafactory-z2-offload": _LF + "ds_z2_offload_config.json",
        "llamafactory-z3": _LF + "ds_z3_config.json",
        "llamafactory-z3-offload": _LF + "ds_z3_offload_config.json",
        "deepspeed-chat-z2": _DSCHAT,
        "deepspeed-chat-z3": _DSCHAT,
    }
)


def _preset_key(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def preset_name(name: str) -> str | None:
    """The :data:`DEEPSPEED_PRESETS` key ``name`` spells, case and separators (``-``, ``_``, spaces, ``.``)
    ignored (``"LLaMAFactory-Z3"`` is ``llamafactory-z3``), else None."""
    key = _preset_key(name)
    return next((p for p in DEEPSPEED_PRESETS if _preset_key(p) == key), None)
