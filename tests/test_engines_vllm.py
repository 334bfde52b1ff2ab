"""vLLM's start-up memory plan (llmcatalog.engines.vllm) against the start-up logs people posted.

The logs are tests/data/engines/vllm_logs.csv (provenance in tests/data/engines/README.md).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.engines.vllm import (
    VLLMSettings,
    estimate_vllm,
    forward_peak_bytes,
    kv_groups,
    tokens_for_kv_bytes,
    vllm_max_concurrency,
    vllm_max_model_len,
)

DATA = Path(__file__).parent / "data"
GIB = 2**30
ROWS = list(csv.DictReader((DATA / "engines" / "vllm_logs.csv").open()))


def _rows(check: str) -> list[dict[str, str]]:
    return [r for r in ROWS if check in r["checks"].split(";")]


def _ids(rows: list[dict[str, str]]) -> list[str]:
    return [r["id"] for r in rows]


def _arch(row: dict[str, str]) -> lc.Architecture:
    arch = lc.get_model(row["model"]).architecture
    assert arch is not None
    return arch


def _groups(row: dict[str, str]) -> tuple:
    dtype = 1 if row["kv_cache_dtype"].startswith("fp8") else 2
    return kv_groups(_arch(row), block_size=16, dtype_bytes=dtype, tensor_parallel=int(row["tp"]))


def _config_model(name: str) -> lc.Model:
    return lc.Model.from_hf_config(json.loads((DATA / "hf_configs" / f"{name}.json").read_text()))


# -- against the logs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", _rows("weights"), ids=_ids(_rows("weights")))
def test_weights_match_model_loading_took(row: dict[str, str]) -> None:
    """vLLM's "Model loading took X GiB": parameters in their format plus vLLM's rotary table (and the Marlin
    padding of MXFP4 experts), within 0.5%. The weights do not depend on the GPU."""
    gpu = lc.get_gpu(row["gpu"] or "h100-sxm5-80gb")
    est = estimate_vllm(lc.get_model(row["model"]), gpu, settings=VLLMSettings(max_model_len=int(row["max_model_len"])))
    assert est.weights_bytes / GIB == pytest.approx(float(row["weights_gib"]), rel=0.005)


@pytest.mark.parametrize("row", _rows("activation"), ids=_ids(_rows("activation")))
def test_forward_peak_matches_profiled_activation(row: dict[str, str]) -> None:
    """The profile run's activation peak for a forward pass of max_num_batched_tokens tokens, within 5%."""
    peak = forward_peak_bytes(_arch(row), int(row["max_num_batched_tokens"]), dtype_bytes=2)
    assert peak / GIB == pytest.approx(float(row["activation_gib"]), rel=0.05)


@pytest.mark.parametrize("row", _rows("kv_chain_v0"), ids=_ids(_rows("kv_chain_v0")))
def test_kv_cache_gib_from_the_budget_chain(row: dict[str, str]) -> None:
    """KV GiB = total x utilization - weights - activation peak - non-torch, with our weights and activation
    peak and the logged total and non-torch memory: within 5% of the KV GiB and the block count vLLM printed."""
    gpu = lc.get_gpu(row["gpu"])
    est = estimate_vllm(lc.get_model(row["model"]), gpu, settings=VLLMSettings(max_model_len=int(row["max_model_len"])))
    peak = forward_peak_bytes(_arch(row), int(row["max_num_batched_tokens"]), dtype_bytes=2)
    kv = float(row["gpu_total_gib"]) * GIB * float(row["gpu_memory_utilization"]) - est.weights_bytes - peak
    kv -= float(row["non_torch_gib"]) * GIB
    assert kv / GIB == pytest.approx(float(row["kv_cache_gib"]), rel=0.05)
    blocks, _ = tokens_for_kv_bytes(_groups(row), int(kv), block_size=16)
    assert blocks == pytest.approx(int(row["kv_blocks"]), rel=0.05)


@pytest.mark.parametrize("row", _rows("kv_v1"), ids=_ids(_rows("kv_v1")))
def test_available_kv_cache_memory_end_to_end(row: dict[str, str]) -> None:
    """vLLM V1's "Available KV cache memory" from the model, the GPU and the logged settings alone (weights,
    profile run with the GPU's default batch sizes, non-torch memory), within 5%."""
    settings = VLLMSettings(
        gpu_memory_utilization=float(row["gpu_memory_utilization"]), max_model_len=int(row["max_model_len"])
    )
    est = estimate_vllm(lc.get_model(row["model"]), lc.get_gpu(row["gpu"]), settings=settings)
    assert est.available_kv_bytes / GIB == pytest.approx(float(row["kv_cache_gib"]), rel=0.05)


@pytest.mark.parametrize("row", _rows("tokens"), ids=_ids(_rows("tokens")))
def test_kv_tokens_from_kv_memory(row: dict[str, str]) -> None:
    """vLLM's "GPU KV cache size: N tokens" from the printed KV GiB and the model's pages (2% under tensor
    parallelism, where vLLM takes the smallest rank's memory; 1% otherwise)."""
    blocks, tokens = tokens_for_kv_bytes(_groups(row), int(float(row["kv_cache_gib"]) * GIB), block_size=16)
    tolerance = 0.02 if int(row["tp"]) > 1 else 0.01
    assert tokens == pytest.approx(int(row["kv_tokens"]), rel=tolerance)
    if row["kv_blocks"]:
        assert blocks == pytest.approx(int(row["kv_blocks"]), rel=tolerance)


@pytest.mark.parametrize("row", _rows("concurrency"), ids=_ids(_rows("concurrency")))
def test_max_concurrency_line(row: dict[str, str]) -> None:
    """vLLM's "Maximum concurrency for L tokens per request: Cx" from the blocks (printed or from the KV GiB)."""
    groups = _groups(row)
    if row["kv_blocks"]:
        blocks = int(row["kv_blocks"])
    else:
        blocks, _ = tokens_for_kv_bytes(groups, int(float(row["kv_cache_gib"]) * GIB), block_size=16)
    batched = int(row["max_num_batched_tokens"] or 2048)  # only sliding-window groups read it
    got = vllm_max_concurrency(groups, blocks, int(row["max_model_len"]), block_size=16, max_num_batched_tokens=batched)
    assert got == pytest.approx(float(row["max_concurrency"]), rel=0.01, abs=0.01)


@pytest.mark.parametrize("row", _rows("suggestion"), ids=_ids(_rows("suggestion")))
def test_suggested_max_model_len(row: dict[str, str]) -> None:
    """When vLLM refuses to start, its suggested max_model_len (binary search on the KV need), within 1%."""
    got = vllm_max_model_len(
        _groups(row),
        int(float(row["kv_cache_gib"]) * GIB),
        block_size=16,
        max_num_batched_tokens=2048,
        limit=int(row["max_model_len"]),
    )
    assert got == pytest.approx(int(row["suggested_max_model_len"]), rel=0.01)


# -- vLLM's rules ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gpu", "context", "expected"),
    [
        # vllm/engine/arg_utils.py get_batch_defaults (v0.11): >= 70 GiB and not an A100 -> larger defaults.
        ("h100-sxm5-80gb", "serve", (8192, 1024)),
        ("h100-sxm5-80gb", "llm", (16384, 1024)),
        ("a100-sxm4-80gb", "serve", (2048, 256)),
        ("rtx-4090", "serve", (2048, 256)),
        ("rtx-4090", "llm", (8192, 256)),
    ],
)
def test_batch_defaults_by_gpu(gpu: str, context: str, expected: tuple[int, int]) -> None:
    """max_num_batched_tokens and max_num_seqs default by GPU and usage context, as in vLLM 0.11."""
    est = estimate_vllm(
        lc.get_model("qwen3-8b"), lc.get_gpu(gpu), settings=VLLMSettings(usage_context=context, max_model_len=4096)
    )
    assert (est.max_num_batched_tokens, est.max_num_seqs) == expected


def test_default_max_model_len_is_the_models_and_refusal_suggests_one() -> None:
    """Left out, max_model_len is the model's max_position_embeddings; when one such request does not fit,
    vLLM's error carries the largest length that fits, and that length does fit."""
    model, gpu = lc.get_model("llama-3.1-8b"), lc.get_gpu("rtx-4090")
    est = estimate_vllm(model, gpu)
    assert est.max_model_len == 131072
    assert est.max_model_len_auto
    assert not est.fits
    assert est.suggested_max_model_len is not None
    assert f"{est.suggested_max_model_len}" in (est.error or "")
    ok = estimate_vllm(model, gpu, settings=VLLMSettings(max_model_len=est.suggested_max_model_len))
    assert ok.fits
    assert ok.max_concurrency >= 1
    too_long = estimate_vllm(model, gpu, settings=VLLMSettings(max_model_len=est.suggested_max_model_len + 16))
    assert not too_long.fits


def test_log_lines_say_what_vllm_prints() -> None:
    """The four start-up lines, in vLLM's words."""
    est = estimate_vllm(lc.get_model("llama-3.1-8b"), lc.get_gpu("h100-sxm5-80gb"))
    lines = est.log_lines()
    assert lines[0].startswith("Model loading took 14.98")
    assert lines[1].startswith("Available KV cache memory: ")
    assert lines[2] == f"GPU KV cache size: {est.kv_tokens:,} tokens"
    assert lines[3].startswith("Maximum concurrency for 131,072 tokens per request: ")


def test_fp8_cache_doubles_tokens() -> None:
    """--kv-cache-dtype fp8 halves the page, so the same memory holds twice the tokens."""
    model, gpu = lc.get_model("qwen3-8b"), lc.get_gpu("h100-sxm5-80gb")
    auto = estimate_vllm(model, gpu)
    fp8 = estimate_vllm(model, gpu, settings=VLLMSettings(kv_cache_dtype="fp8"))
    assert fp8.available_kv_bytes == auto.available_kv_bytes
    assert fp8.num_blocks in (2 * auto.num_blocks, 2 * auto.num_blocks + 1)


def test_tensor_parallel_splits_weights_and_heads() -> None:
    """TP=2: each GPU loads about half the weights and caches half the KV heads per token."""
    model, gpu = lc.get_model("llama-3.1-70b"), lc.get_gpu("h100-sxm5-80gb")
    one = estimate_vllm(model, gpu, lc.Inference(precision="fp8"), VLLMSettings(max_model_len=8192))
    two = estimate_vllm(
        model, gpu, lc.Inference(precision="fp8", parallelism=lc.Parallelism(tensor_parallel=2)), VLLMSettings()
    )
    assert two.weights_bytes == pytest.approx(one.weights_bytes / 2, rel=0.01)
    assert two.groups[0].page_bytes * 2 == one.groups[0].page_bytes


def test_mla_pages_hold_the_latent() -> None:
    """DeepSeek-V3: one page per layer is block_size x (kv_lora_rank 512 + rope 64) x 2 bytes, the same on
    every tensor-parallel rank (vLLM's MLAAttentionSpec)."""
    arch = _config_model("deepseek-v3").architecture
    assert arch is not None
    for tp in (1, 8):
        (group,) = kv_groups(arch, block_size=16, dtype_bytes=2, tensor_parallel=tp)
        assert group.kind == "mla"
        assert group.page_bytes == 16 * 576 * 2
        assert group.n_layers == 61


def test_hybrid_sliding_and_full_layers_form_groups() -> None:
    """gpt-oss-20b (12 sliding + 12 full layers): two groups of 12; a request's sliding group needs only
    window - 1 + max_num_batched_tokens tokens of blocks, plus one."""
    arch = _config_model("gpt-oss-20b").architecture
    assert arch is not None
    groups = kv_groups(arch, block_size=16, dtype_bytes=2)
    assert sorted((g.kind, g.n_layers) for g in groups) == [("full", 12), ("sliding", 12)]
    sliding = next(g for g in groups if g.kind == "sliding")
    assert (
        sliding.blocks_per_request(100_000, block_size=16, max_num_batched_tokens=2048)
        == math.ceil((128 - 1 + 2048) / 16) + 1
    )


def test_convolution_layers_are_not_estimable() -> None:
    """LFM2's conv layers live in a pool vLLM sizes separately: refused with a typed error."""
    with pytest.raises(lc.NotEstimableError, match="convolution"):
        estimate_vllm(_config_model("lfm2-1.2b"), lc.get_gpu("rtx-4090"))


def test_enforce_eager_captures_no_graphs() -> None:
    """enforce_eager: no CUDA graphs, no graph memory."""
    model, gpu = lc.get_model("qwen3-8b"), lc.get_gpu("rtx-4090")
    assert estimate_vllm(model, gpu, settings=VLLMSettings(max_model_len=8192)).cuda_graph_bytes > 0
    assert (
        estimate_vllm(model, gpu, settings=VLLMSettings(max_model_len=8192, enforce_eager=True)).cuda_graph_bytes == 0
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gpu_memory_utilization", 0),
        ("gpu_memory_utilization", 1.5),
        ("gpu_memory_utilization", True),
        ("block_size", 7),
        ("block_size", True),
        ("kv_cache_dtype", "int4"),
        ("max_model_len", 0),
        ("max_num_seqs", 2.5),
        ("usage_context", "offline"),
        ("cudagraph_capture_sizes", [0, 8]),
    ],
)
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    """Every bad setting is a WorkloadError naming the option."""
    with pytest.raises(lc.WorkloadError, match=field):
        VLLMSettings(**{field: value})


def test_max_model_len_above_the_models_is_refused() -> None:
    """vLLM refuses a max_model_len above max_position_embeddings (unless told otherwise): so do we."""
    with pytest.raises(lc.WorkloadError, match="max_position_embeddings"):
        estimate_vllm(lc.get_model("qwen3-8b"), lc.get_gpu("rtx-4090"), settings=VLLMSettings(max_model_len=10**6))


def test_weights_larger_than_the_budget_leave_no_cache() -> None:
    """A 70B model in bf16 on one 24 GiB card: no memory for the cache blocks, vLLM's own complaint."""
    est = estimate_vllm(lc.get_model("llama-3.1-70b"), lc.get_gpu("rtx-4090"))
    assert est.available_kv_bytes < 0
    assert est.num_blocks == 0
    assert "No available memory for the cache blocks" in (est.error or "")


@given(
    low=st.floats(min_value=0.5, max_value=0.94, allow_nan=False),
    step=st.floats(min_value=0.01, max_value=0.05, allow_nan=False),
)
def test_more_utilization_more_cache(low: float, step: float) -> None:
    """A larger gpu_memory_utilization never gives fewer KV blocks."""
    model, gpu = lc.get_model("qwen3-8b"), lc.get_gpu("h100-sxm5-80gb")
    a = estimate_vllm(model, gpu, settings=VLLMSettings(gpu_memory_utilization=low))
    b = estimate_vllm(model, gpu, settings=attrs.evolve(VLLMSettings(), gpu_memory_utilization=low + step))
    assert b.num_blocks >= a.num_blocks
    assert b.available_kv_bytes > a.available_kv_bytes


def test_pipeline_stages_hold_their_layers() -> None:
    """pipeline_parallel=2: each stage caches half the layers and loads about half the weights."""
    model, gpu = lc.get_model("llama-3.1-8b"), lc.get_gpu("rtx-4090")
    one = estimate_vllm(model, gpu, settings=VLLMSettings(max_model_len=8192))
    two = estimate_vllm(
        model, gpu, lc.Inference(parallelism=lc.Parallelism(pipeline_parallel=2)), VLLMSettings(max_model_len=8192)
    )
    assert two.groups[0].n_layers == 16
    assert one.weights_bytes / 2 < two.weights_bytes < one.weights_bytes * 0.6


@given(
    available_mib=st.integers(min_value=1, max_value=80 * 1024),
    model=st.sampled_from(["llama-3.1-8b", "qwen3-30b-a3b", "gpt-oss-20b"]),
)
def test_suggested_length_is_the_boundary(available_mib: int, model: str) -> None:
    """vllm_max_model_len gives the longest request whose cache fits: one token more does not fit."""
    arch = lc.get_model(model).architecture
    assert arch is not None
    groups = kv_groups(arch, block_size=16, dtype_bytes=2)
    available = available_mib * 2**20
    n = vllm_max_model_len(groups, available, block_size=16, max_num_batched_tokens=2048, limit=arch.max_context)
    blocks, _ = tokens_for_kv_bytes(groups, available, block_size=16)
    if n:
        assert vllm_max_concurrency(groups, blocks, n, block_size=16, max_num_batched_tokens=2048) >= 1
    if n < arch.max_context:
        assert vllm_max_concurrency(groups, blocks, n + 1, block_size=16, max_num_batched_tokens=2048) < 1
