"""SGLang's start-up memory plan (llmcatalog.engines.sglang) against published figures.

The logs are tests/data/engines/sglang_logs.csv (provenance in tests/data/engines/README.md).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.engines.sglang import SGLangSettings, cell_size_bytes, default_mem_fraction_static, estimate_sglang

DATA = Path(__file__).parent / "data"
GIB = 2**30
ROWS = list(csv.DictReader((DATA / "engines" / "sglang_logs.csv").open()))


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_k_size_of_the_token_pool(row: dict[str, str]) -> None:
    """SGLang's "KV Cache is allocated. #tokens: N, K size: X GB": N tokens x our cell size / 2, within 0.5%."""
    arch = lc.get_model(row["model"]).architecture
    assert arch is not None
    cell = cell_size_bytes(arch, 2, tensor_parallel=int(row["tp"]))
    k_size = int(row["max_total_num_tokens"]) * cell / 2 / GIB
    assert k_size == pytest.approx(float(row["k_size_gib"]), rel=0.005)


@pytest.mark.parametrize(
    ("gpu_mib", "chunked", "graph_bs", "tp", "expected"),
    [
        # Worked examples of SGLang's server_args heuristic in two public walkthroughs (2025-2026):
        # an H100 80 GB at TP 8 with cuda_graph_max_bs 512 -> 0.819; an H100 at TP 1 with 256 -> 0.836;
        # an RTX 4090 (24564 MiB) with chunked prefill 2048 and cuda_graph_max_bs 24 -> 0.847.
        (81920, 8192, 512, 8, 0.819),
        (81920, 8192, 256, 1, 0.836),
        (24564, 2048, 24, 1, 0.847),
    ],
)
def test_default_mem_fraction_static(gpu_mib: int, chunked: int, graph_bs: int, tp: int, expected: float) -> None:
    """SGLang's default mem_fraction_static from the card's MiB, the prefill chunk and the graph batch."""
    got = default_mem_fraction_static(gpu_mib, chunked_prefill_size=chunked, cuda_graph_max_bs=graph_bs, tp=tp)
    assert got == pytest.approx(expected, abs=0.001)


def test_large_cards_reserve_at_least_ten_gib() -> None:
    """Above 60 GiB at least 10 GiB stays outside the static share, however small the other terms."""
    f = default_mem_fraction_static(143_771, chunked_prefill_size=2048, cuda_graph_max_bs=8)
    assert f == round((143_771 - 10 * 1024) / 143_771, 3)


def test_pool_is_the_static_share_less_the_weights() -> None:
    """max_total_num_tokens x cell size = fraction x free memory - weights (to one cell)."""
    est = estimate_sglang(lc.get_model("qwen3-8b"), lc.get_gpu("h100-sxm5-80gb"))
    rest = int(est.mem_fraction_static * est.free_before_load_bytes) - est.weights_bytes
    assert est.kv_cache_bytes <= rest < est.kv_cache_bytes + est.cell_size_bytes
    assert est.log_lines()[1].startswith(f"KV Cache is allocated. #tokens: {est.max_total_num_tokens}")


def test_mla_cell_is_the_latent() -> None:
    """DeepSeek-V3: (kv_lora_rank 512 + rope 64) x 61 layers x 2 bytes per token, whatever the TP size."""
    model = lc.Model.from_hf_config(json.loads((DATA / "hf_configs" / "deepseek-v3.json").read_text()))
    assert model.architecture is not None
    for tp in (1, 8):
        assert cell_size_bytes(model.architecture, 2, tensor_parallel=tp) == 576 * 61 * 2


def test_weights_beyond_the_static_share_are_refused() -> None:
    """A 70B model in bf16 on one 24 GiB card: SGLang's 'not enough memory', no tokens."""
    est = estimate_sglang(lc.get_model("llama-3.1-70b"), lc.get_gpu("rtx-4090"))
    assert est.max_total_num_tokens == 0
    assert "mem-fraction-static" in (est.error or "")
    assert not est.breakdown().fits


def test_fp8_cache_doubles_the_pool() -> None:
    """--kv-cache-dtype fp8_e4m3 halves the cell size: twice the tokens in the same pool."""
    model, gpu = lc.get_model("qwen3-8b"), lc.get_gpu("h100-sxm5-80gb")
    auto = estimate_sglang(model, gpu)
    fp8 = estimate_sglang(model, gpu, settings=SGLangSettings(kv_cache_dtype="fp8_e4m3"))
    assert fp8.max_total_num_tokens in (2 * auto.max_total_num_tokens, 2 * auto.max_total_num_tokens + 1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("mem_fraction_static", 1.2), ("mem_fraction_static", 0), ("kv_cache_dtype", "int8"), ("page_size", 0)],
)
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    """Every bad setting is a WorkloadError naming the option."""
    with pytest.raises(lc.WorkloadError, match=field):
        SGLangSettings(**{field: value})


@given(low=st.floats(min_value=0.5, max_value=0.9), step=st.floats(min_value=0.005, max_value=0.08))
def test_larger_static_share_larger_pool(low: float, step: float) -> None:
    """A larger mem_fraction_static never gives a smaller token pool."""
    model, gpu = lc.get_model("qwen3-8b"), lc.get_gpu("rtx-4090")
    a = estimate_sglang(model, gpu, settings=SGLangSettings(mem_fraction_static=low))
    b = estimate_sglang(model, gpu, settings=SGLangSettings(mem_fraction_static=low + step))
    assert b.max_total_num_tokens >= a.max_total_num_tokens


@pytest.mark.parametrize(("gpu", "expected"), [("rtx-4090", (2048, 24, 0.847)), ("h100-sxm5-80gb", (8192, 256, 0.835))])
def test_defaults_by_card(gpu: str, expected: tuple[int, int, float]) -> None:
    """Left out, the prefill chunk, the CUDA-graph batch and the static share follow the card: an RTX 4090
    (24,564 MiB) gets 2048, 24 and 0.847, the walkthrough's worked example; an H100 (81,559 MiB) 8192 and 256."""
    est = estimate_sglang(lc.get_model("qwen3-8b"), lc.get_gpu(gpu))
    assert (est.chunked_prefill_size, est.cuda_graph_max_bs, est.mem_fraction_static) == expected
