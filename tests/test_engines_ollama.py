"""Ollama's defaults and its own memory estimate (llmcatalog.engines.ollama) against its logs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import llmcatalog as lc
from engines_logs import model
from llmcatalog.engines import ollama

MIB, GIB = 2**20, 2**30
ROWS = list(csv.DictReader((Path(__file__).resolve().parent / "data" / "engines" / "ollama_logs.csv").open()))


def _free(text: str) -> int:
    value, unit = text.split()
    return int(float(value) * {"GiB": GIB, "MiB": MIB}[unit])


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_matches_ollama_log(row: dict[str, str]) -> None:
    """Layers offloaded, KV, graph sizes and memory as Ollama's 'offload to cuda' line prints them
    (one decimal, binary units); cells the log leaves out (multi-GPU placements) are skipped."""
    e = ollama.estimate(
        model(row["model"]),
        gpu=lc.get_gpu("H100") if row["gpu_free"] else None,
        quant=row["quant"],
        num_ctx=int(row["num_ctx"]),
        num_parallel=int(row["num_parallel"]),
        num_batch=int(row["num_batch"]),
        flash_attn=row["flash_attn"] == "1",
        kv_cache_type=row["kv_cache_type"],
        gpu_free_bytes=_free(row["gpu_free"]) if row["gpu_free"] else None,
    )
    assert e.layers_model == int(row["layers_model"])
    if row["layers_offload"]:
        assert e.layers_offload == int(row["layers_offload"])
    printed = {
        "kv": e.kv_bytes,
        "graph_full": e.graph_full_bytes,
        "graph_partial": e.graph_partial_bytes,
        "required_full": e.total_bytes,
        "weights_total": e.weights_total_bytes,
        "weights_nonrepeating": e.weights_nonrepeating_bytes,
    }
    compared = 0
    for column, value in printed.items():
        if row[column]:
            assert ollama.human_bytes(value) == row[column], column
            compared += 1
    assert compared >= 4


def test_default_num_ctx_tiers() -> None:
    """Ollama's default context: 2048 before v0.6.7, 4096 after, VRAM tiers from v0.15.5."""
    assert ollama.default_num_ctx(None) == 4096
    assert ollama.default_num_ctx(12 * GIB) == 4096
    assert ollama.default_num_ctx(24 * GIB) == 32768
    assert ollama.default_num_ctx(80 * GIB) == 262144
    assert ollama.default_num_ctx(80 * GIB, "0.6.6") == 2048
    assert ollama.default_num_ctx(80 * GIB, "v0.6.7") == 4096
    assert ollama.default_num_ctx(80 * GIB, "0.15.5") == 262144
    with pytest.raises(lc.WorkloadError, match="ollama_version"):
        ollama.default_num_ctx(None, "latest")


def test_small_gpu_offloads_part() -> None:
    """An 8B model at 32k context on 8 GB: Ollama offloads some layers, and plans within the free memory."""
    gpu = lc.get_gpu("RTX 4060")
    e = ollama.estimate(model("llama-3.1-8b"), gpu=gpu, num_ctx=32768)
    assert 0 < e.layers_offload < e.layers_model
    assert not e.fully_offloaded
    assert e.vram_bytes <= gpu.available_bytes
    assert e.total_bytes > e.vram_bytes
    assert e.llamacpp.n_gpu_layers == e.layers_offload
    more = ollama.estimate(model("llama-3.1-8b"), gpu=gpu, num_ctx=4096)
    assert more.layers_offload >= e.layers_offload


def test_without_gpu_nothing_is_offloaded() -> None:
    """Without a GPU every layer stays on the CPU; the default context is 4096."""
    e = ollama.estimate(model("llama-3.1-8b"))
    assert e.layers_offload == 0
    assert e.vram_bytes == 0
    assert e.num_ctx == 4096


def test_quantized_kv_needs_flash_attention() -> None:
    """q8_0 halves Ollama's KV with flash attention; without it Ollama keeps f16 (and says so)."""
    m = model("llama-3.1-8b")
    f16 = ollama.estimate(m, num_ctx=8192)
    q8 = ollama.estimate(m, num_ctx=8192, flash_attn=True, kv_cache_type="q8_0")
    assert q8.kv_bytes * 2 == f16.kv_bytes
    off = ollama.estimate(m, num_ctx=8192, kv_cache_type="q8_0")
    assert off.kv_bytes == f16.kv_bytes
    assert any("flash attention" in n for n in off.notes)
    with pytest.raises(lc.WorkloadError, match="kv_cache_type"):
        ollama.estimate(m, kv_cache_type="fp8")


def test_public_face() -> None:
    """lc.estimate_ollama resolves catalog names."""
    e = lc.estimate_ollama("Llama-2-7b", gpu="RTX 3060 12GB", quant="Q4_0")
    assert e.gpu is not None
    assert e.layers_offload == e.layers_model


def test_estimate_inference() -> None:
    """An Inference of 2 x 8192 tokens maps to num_ctx 8192, 2 slots: KV for 16384 tokens."""
    m = model("llama-3.1-8b")
    e = ollama.estimate_inference(m, lc.Inference(precision="int4", batch_size=2, context_tokens=8192))
    assert (e.num_ctx, e.num_parallel, e.quant) == (8192, 2, "Q4_K_M")
    assert e.kv_bytes == 16384 * 32 * 2 * 1024 * 2
