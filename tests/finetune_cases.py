"""Fine-tuning workloads for ``tests/test_finetune_regression.py`` (cached vs uncached calculus).

Cases: a grid over the settings the fine-tune caches are keyed on (methods full/lora/qlora x DeepSpeed
ZeRO 0-3 and FSDP full-shard/shard-grad-op/hybrid-shard x optimizer offload on/off x gradient
checkpointing on/off, on Llama-2-7B) and deterministic pseudo-random workloads over many families (dense,
MoE, MLA, parallel blocks, learned positions, tied embeddings, a multimodal model) and every fine-tuning
method.
"""

from __future__ import annotations

import hashlib
import json
import random
import warnings
from typing import Any

import llmcatalog as lc

__all__ = ["build", "cases", "outcome"]

MODELS = (
    "llama-2-7b",
    "llama-3-8b",
    "mixtral-8x7b-v0.1",
    "deepseek-v3",
    "deepseek-coder-v2-lite-base",
    "qwen3-30b-a3b",
    "gemma-2b",
    "gemma-3-1b-it",
    "phi-2",
    "phi-3-mini-4k-instruct",
    "falcon-7b",
    "bloom-7b1",
    "chatglm3-6b",
    "qwen-7b",
    "gpt-oss-20b",
    "llama-4-scout-17b-16e",
    "glm-4.5-air",
    "phi-3.5-moe-instruct",
    "opt-6.7b",
    "internlm2-7b",
    "gpt-neox-20b",
    "deepseek-moe-16b-base",
)

_GRID_PARALLEL: tuple[dict[str, Any], ...] = (
    {},
    {"data_parallel": 4, "zero_stage": 1},
    {"data_parallel": 4, "zero_stage": 2},
    {"data_parallel": 8, "zero_stage": 3},
    {"data_parallel": 4, "fsdp": "full-shard"},
    {"data_parallel": 4, "fsdp": "shard-grad-op"},
    {"data_parallel": 8, "fsdp": "hybrid-shard", "fsdp_shard_group": 4},
)


def _grid() -> list[dict[str, Any]]:
    out = []
    for method in ("full", "lora", "qlora"):
        for par in _GRID_PARALLEL:
            for offload in (False, True):
                for ckpt in (False, True):
                    out.append(
                        {
                            "model": "llama-2-7b",
                            "finetune": {"method": method, "gradient_checkpointing": ckpt, "seq_len": 1024},
                            "parallelism": {**par, **({"offload_optimizer": True} if offload else {})},
                        }
                    )
    return out


def _random_case(rng: random.Random) -> dict[str, Any]:
    method = rng.choice(lc.values.workload.METHODS)
    ft: dict[str, Any] = {
        "method": method,
        "precision": rng.choice(("bf16", "bf16", "fp16", "fp32")),
        "mixed_precision": rng.random() < 0.7,
        "optimizer": rng.choice(lc.values.workload.OPTIMIZERS),
        "optimizer_impl": rng.choice(lc.values.workload.OPTIMIZER_IMPLS),
        "batch_size": rng.choice((1, 2, 4, 8)),
        "seq_len": rng.choice((128, 512, 2048, 4096)),
        "gradient_checkpointing": rng.choice((None, True, False)),
        "attention": rng.choice(lc.values.workload.ATTENTION_IMPLEMENTATIONS),
    }
    if method in ("lora", "qlora"):
        ft["lora_rank"] = rng.choice((4, 8, 64))
        ft["lora_targets"] = rng.choice(
            (("q_proj", "v_proj"), ("all-linear",), ("q_proj", "k_proj", "v_proj", "o_proj"), ("experts",))
        )
        ft["lora_dropout"] = rng.choice((0.0, 0.05))
        ft["dora"] = rng.random() < 0.2
        ft["moe_layout"] = rng.choice(lc.values.workload.MOE_LAYOUTS)
    if method == "qlora":
        ft["qlora_format"] = rng.choice(("bnb-nf4", "bnb-nf4-dq", "bnb-int8", "gptq-int4"))
    elif method in ("lora", "p-tuning-v2", "llama-adapter") and rng.random() < 0.2:
        ft["base_format"] = rng.choice(("bnb-nf4", "awq-int4"))
    if method == "freeze":
        ft["trainable_layers"] = rng.choice((1, 2, 8))
    if method in ("p-tuning-v2", "prefix-tuning"):
        ft["prefix_tokens"] = rng.choice((16, 128))
        ft["prefix_projection"] = rng.random() < 0.5
    if method == "llama-adapter":
        ft["adapter_layers"] = rng.choice((None, 4))
    if method != "full" and rng.random() < 0.2:
        ft["modules_to_save"] = rng.choice((("lm_head",), ("embed_tokens", "lm_head")))
    if rng.random() < 0.15:
        ft["loop"] = "plain"
    if rng.random() < 0.3:
        ft["loss"] = rng.choice(lc.values.workload.LOSS_IMPLS)
    if rng.random() < 0.1:
        ft["offload_checkpoints"] = True
    if rng.random() < 0.1:
        ft["frozen_precision"] = "fp32"
    par: dict[str, Any] = {}
    kind = rng.choice(("none", "none", "zero", "zero", "fsdp"))
    dp = rng.choice((1, 2, 8, 64))
    if dp > 1:
        par["data_parallel"] = dp
    if rng.random() < 0.2:
        par["tensor_parallel"] = rng.choice((2, 4))
    if rng.random() < 0.1:
        par["pipeline_parallel"] = 2
    if kind == "zero":
        par["zero_stage"] = rng.choice((1, 2, 3))
        if rng.random() < 0.3:
            par["offload_optimizer"] = True
            par["offload_optimizer_device"] = rng.choice(("cpu", "nvme"))
        if rng.random() < 0.2:
            par["offload_params"] = True
        if rng.random() < 0.2:
            par["overlap_comm"] = rng.choice((True, False))
        if rng.random() < 0.2:
            par["reduce_bucket_size"] = 5e8
            par["prefetch_bucket_size"] = 5e7
        if rng.random() < 0.1:
            par["sub_group_size"] = 1e8
    elif kind == "fsdp":
        par["fsdp"] = rng.choice(("full-shard", "shard-grad-op", "hybrid-shard"))
        if par["fsdp"] == "hybrid-shard":
            par["fsdp_shard_group"] = 2
        par["fsdp_version"] = 2 if par["fsdp"] != "shard-grad-op" and rng.random() < 0.3 else 1
        if rng.random() < 0.4:
            par["fsdp_param_dtype"] = "bf16"
            if rng.random() < 0.5:
                par["fsdp_reduce_dtype"] = "fp32"
        if rng.random() < 0.2:
            par["offload_params"] = True
        if rng.random() < 0.2:
            par["accumulate_without_sync"] = True
        if rng.random() < 0.2:
            par["torch_version"] = "2.0"
        if rng.random() < 0.2:
            par["fsdp_use_orig_params"] = False
    return {"model": rng.choice(MODELS), "finetune": ft, "parallelism": par}


def cases(n_random: int = 240, seed: int = 20261129) -> list[dict[str, Any]]:
    """The grid, then ``n_random`` pseudo-random cases whose workload can be built (plain JSON values)."""
    rng = random.Random(seed)
    out = _grid()
    while len(out) < len(_GRID_PARALLEL) * 12 + n_random:
        case = _random_case(rng)
        try:
            build(case)
        except lc.WorkloadError:
            continue  # a setting FineTune/Parallelism refuse on their own: not a case for estimate_vram
        out.append(json.loads(json.dumps(case)))
    return out


def build(case: dict[str, Any]) -> tuple[lc.Model, lc.FineTune]:
    """The catalog model and the workload of one case."""
    ft = dict(case["finetune"])
    for key in ("lora_targets", "modules_to_save"):
        if key in ft:
            ft[key] = tuple(ft[key])
    workload = lc.FineTune(**ft, parallelism=lc.Parallelism(**case["parallelism"]))
    return lc.get_model(case["model"]), workload


def outcome(case: dict[str, Any]) -> dict[str, Any]:
    """What ``estimate_vram`` gives for ``case``: its figures (the assumptions as a SHA-256 of their
    lines), or the error's type and message."""
    model, workload = build(case)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lc.ContextLengthWarning)
            est = lc.estimate_vram(model, workload)
    except (lc.LLMCatalogError, ValueError, TypeError) as exc:
        return {"error": type(exc).__name__, "message": str(exc)}
    d = est.as_dict()
    lines = d.pop("assumptions")
    d["assumptions_sha256"] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return d
