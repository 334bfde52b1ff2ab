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

from ..errors import WorkloadError

__all__ = ["DEEPSPEED_PRESETS", "DEEPSPEED_PRESET_SOURCES", "parallelism_kwargs"]

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
        "cpu_offload_params",
        "cpu_offload_use_pin_memory",
        "offload_optimizer",
        "offload_param",
        "zero_hpz_partition_size",
        "zero_quantized_weights",
        "zero_quantized_nontrainable_weights",
        "zero_quantized_gradients",
        "mics_shard_size",
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


def _offload(key: str, value: object) -> bool:
    """``{"device": "cpu" | "nvme" | "none", ...}`` -> whether it offloads."""
    if value is None:
        return False
    if not isinstance(value, dict):
        raise WorkloadError(f'DeepSpeed zero_optimization.{key} must be an object such as {{"device": "cpu"}}')
    device = value.get("device", "none")
    if device not in ("none", "cpu", "nvme"):
        raise WorkloadError(f'DeepSpeed zero_optimization.{key}.device must be "none", "cpu" or "nvme", got {device!r}')
    return bool(device != "none")


def parallelism_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """:class:`~llmcatalog.Parallelism` keyword arguments for a DeepSpeed config dict (see the module docstring)."""
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
        elif key not in _KNOWN_OTHER:
            unknown.append(key)
    if unknown:
        warnings.warn(
            f"DeepSpeed zero_optimization keys not known to llmcatalog (ignored): {', '.join(sorted(unknown))}",
            UserWarning,
            stacklevel=3,
        )
    kw["offload_optimizer"] = _offload("offload_optimizer", zero.get("offload_optimizer"))
    kw["offload_params"] = _offload("offload_param", zero.get("offload_param"))
    if zero.get("cpu_offload") is True:  # the pre-0.4 spelling of offload_optimizer
        kw["offload_optimizer"] = True
    if kw["offload_params"] and stage != 3:
        raise WorkloadError("DeepSpeed zero_optimization.offload_param needs stage 3 (DeepSpeed refuses it below)")
    for key in ("fp16", "bf16"):
        block = config.get(key)
        if block is not None and not isinstance(block, dict):
            raise WorkloadError(f'DeepSpeed {key} must be an object such as {{"enabled": true}}')
    return kw


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
