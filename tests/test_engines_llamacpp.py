"""llama.cpp's buffers (llmcatalog.engines.llamacpp) against start-up logs and llama.cpp's rules."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import llmcatalog as lc
from engines_logs import comparisons, model
from llmcatalog.engines import llamacpp
from llmcatalog.engines.ggml_types import GGML_BLOCKS, row_bytes, tensor_type, use_more_bits

CASES = list(comparisons())
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['buffer']}" for c in CASES])
def test_matches_logged_buffers(case: dict[str, object]) -> None:
    """Model and KV buffers within 2 %, compute buffers within 15 % of what llama.cpp printed."""
    err, tol = case["error"], case["tolerance"]
    assert isinstance(err, float)
    assert isinstance(tol, float)
    assert abs(err) <= tol + 1e-4, f"{case['id']} {case['buffer']}: {case['estimate_mib']:.2f} vs {case['logged_mib']}"


def test_logs_cover_each_buffer() -> None:
    """The validation data compares every kind of buffer, with at least two logs each."""
    kinds = {}
    for c in CASES:
        kind = str(c["buffer"]).split("_", 1)[-1]
        kinds.setdefault(kind, set()).add(c["id"])
    assert {k for k, ids in kinds.items() if len(ids) >= 2} >= {"model", "kv", "compute"}


def test_block_table_matches_gguf() -> None:
    """The ggml block table equals the gguf package's GGML_QUANT_SIZES (llama.cpp's own Python)."""
    gguf = pytest.importorskip("gguf")
    sizes = {t.name: (int(b), int(s)) for t, (b, s) in gguf.GGML_QUANT_SIZES.items()}
    for name, block in GGML_BLOCKS.items():
        assert sizes[name] == block, name


def test_use_more_bits_is_llama_quant() -> None:
    """use_more_bits picks the first and last eighth and every third layer between (32 layers: 16)."""
    chosen = [i for i in range(32) if use_more_bits(i, 32)]
    assert chosen == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]


def test_q4_k_m_mix() -> None:
    """Q4_K_M: output Q6_K, attn_v/ffn_down Q6_K on use_more_bits layers, other matrices Q4_K, norms F32."""
    kw = {"n_layers": 32, "gqa": 4}
    assert tensor_type("output.weight", (4096, 128256), "Q4_K_M", **kw) == "Q6_K"
    assert tensor_type("token_embd.weight", (4096, 128256), "Q4_K_M", **kw) == "Q4_K"
    assert tensor_type("token_embd.weight", (3072, 128256), "Q4_K_M", tied=True, **kw) == "Q6_K"
    assert tensor_type("blk.0.attn_v.weight", (4096, 1024), "Q4_K_M", layer=0, **kw) == "Q6_K"
    assert tensor_type("blk.4.attn_v.weight", (4096, 1024), "Q4_K_M", layer=4, **kw) == "Q4_K"
    assert tensor_type("blk.6.ffn_down.weight", (14336, 4096), "Q4_K_M", layer=6, **kw) == "Q6_K"
    assert tensor_type("blk.7.ffn_down.weight", (14336, 4096), "Q4_K_M", layer=7, **kw) == "Q4_K"
    assert tensor_type("blk.0.attn_norm.weight", (4096,), "Q4_K_M", **kw) == "F32"
    # rows not a multiple of 256 fall back to a 32-block type (gpt-oss hidden 2880)
    assert tensor_type("blk.1.attn_q.weight", (2880, 4096), "Q4_K_M", layer=1, **kw) == "Q5_0"
    # Mixtral-style 8 experts: attn_k/attn_v in Q8_0
    assert tensor_type("blk.1.attn_k.weight", (4096, 1024), "Q4_K_M", layer=1, n_experts=8, **kw) == "Q8_0"


def test_row_bytes_refuses_partial_blocks() -> None:
    """A row that is not whole blocks is a ValueError naming the type (llama.cpp refuses it)."""
    assert row_bytes("Q8_0", 64) == 68
    with pytest.raises(ValueError, match="Q4_K"):
        row_bytes("Q4_K", 100)


def test_offload_placement() -> None:
    """The last n_gpu_layers blocks go to the GPU; the output layer only past n_layers; embeddings stay."""
    m = model("llama-3.1-8b")
    full = llamacpp.estimate(m, n_gpu_layers=-1)
    lay = llamacpp.layout(m)
    assert full.offloaded == "33/33"
    assert full.cpu_model_bytes == lay.token_embd_bytes
    assert full.gpu_model_bytes + full.cpu_model_bytes == lay.model_bytes
    g32 = llamacpp.estimate(m, n_gpu_layers=32)
    assert g32.gpu_model_bytes == sum(lay.block_bytes)
    none = llamacpp.estimate(m, n_gpu_layers=0)
    assert none.gpu_model_bytes == 0
    assert none.gpu_kv_bytes == 0
    assert none.gpu_compute_bytes == 0
    assert none.cpu_model_bytes == lay.model_bytes


def test_tied_output_is_duplicated_on_the_gpu() -> None:
    """A tied model's output layer on the GPU carries a copy of token_embd (TENSOR_DUPLICATED)."""
    m = model("llama-3.2-3b")
    lay = llamacpp.layout(m)
    full = llamacpp.estimate(m)
    assert full.gpu_model_bytes + full.cpu_model_bytes == lay.model_bytes + lay.token_embd_bytes
    part = llamacpp.estimate(m, n_gpu_layers=28)
    assert part.gpu_model_bytes + part.cpu_model_bytes == lay.model_bytes


@given(
    ngl=st.integers(min_value=0, max_value=32),
    n_ctx=st.integers(min_value=256, max_value=131072),
    fa=st.booleans(),
)
def test_more_layers_more_gpu_memory(ngl: int, n_ctx: int, fa: bool) -> None:
    """One more GPU layer never lowers the GPU total, and the GPU and CPU model shares add up."""
    m = model("llama-3.1-8b")
    a = llamacpp.estimate(m, n_gpu_layers=ngl, n_ctx=n_ctx, flash_attn=fa)
    b = llamacpp.estimate(m, n_gpu_layers=ngl + 1, n_ctx=n_ctx, flash_attn=fa)
    assert b.gpu_total_bytes >= a.gpu_total_bytes
    assert b.gpu_kv_bytes + b.cpu_kv_bytes == a.gpu_kv_bytes + a.cpu_kv_bytes


def test_quantized_kv_and_flash_attention() -> None:
    """q8_0 K and V take 34/64 of f16's bytes; a quantized V cache without flash attention is refused."""
    m = model("llama-3.1-8b")
    f16 = llamacpp.estimate(m, n_ctx=8192, flash_attn=True)
    q8 = llamacpp.estimate(m, n_ctx=8192, flash_attn=True, type_k="q8_0", type_v="q8_0")
    assert q8.gpu_kv_bytes * 64 == f16.gpu_kv_bytes * 34
    with pytest.raises(lc.WorkloadError, match="flash_attn"):
        llamacpp.estimate(m, type_v="q4_0", flash_attn=False)
    with pytest.raises(lc.WorkloadError, match="type_k"):
        llamacpp.estimate(m, type_k="fp8")


def test_sliding_window_cells() -> None:
    """Gemma 3's sliding layers keep ceil256(window + n_ubatch) cells; swa_full gives them n_ctx."""
    m = model("gemma-3-270m")
    e = llamacpp.estimate(m, n_ctx=32768)
    assert e.swa_kv_cells == 1024  # 512-token window + 512 ubatch
    full = llamacpp.estimate(m, n_ctx=32768, swa_full=True)
    assert full.gpu_kv_bytes == 18 * 32768 * 2 * 256 * 2
    assert e.gpu_kv_bytes == (3 * 32768 + 15 * 1024) * 2 * 256 * 2


def test_inverse_questions() -> None:
    """On a 12 GB card an 8B Q4_K_M fits wholly; the most layers and the longest context are the limits."""
    m = model("llama-3.1-8b")
    gpu = lc.get_gpu("RTX 3060 12GB")
    e = llamacpp.estimate(m, gpu=gpu, n_ctx=8192)
    assert e.fits
    assert e.max_gpu_layers == 33
    assert e.max_n_ctx is not None
    budget = gpu.available_bytes - e.reserve_bytes
    at_max = llamacpp.estimate(m, n_ctx=e.max_n_ctx)
    assert at_max.gpu_total_bytes <= budget
    assert llamacpp.estimate(m, n_ctx=e.max_n_ctx + 256).gpu_total_bytes > budget
    assert llamacpp.max_context(m, gpu) == e.max_n_ctx
    # A 70B model does not fit: only some layers do, and they really fit.
    big = lc.get_model("Llama-2-70b")
    k = llamacpp.max_gpu_layers(big, gpu, n_ctx=4096)
    assert 0 < k < big.architecture.n_layers
    assert llamacpp.estimate(big, n_gpu_layers=k, n_ctx=4096).gpu_total_bytes <= budget
    assert llamacpp.estimate(big, n_gpu_layers=k + 1, n_ctx=4096).gpu_total_bytes > budget


def test_refusals() -> None:
    """Unknown MLA formats, unknown quants and bad settings are typed errors naming the field."""
    with pytest.raises(lc.WorkloadError, match="mla_format"):
        llamacpp.estimate(lc.get_model("DeepSeek-V3"), mla_format="compressed")
    with pytest.raises(lc.WorkloadError, match="mla_v_cache"):
        llamacpp.estimate(lc.get_model("DeepSeek-V3"), mla_v_cache="yes")  # type: ignore[arg-type]
    m = model("llama-3.1-8b")
    with pytest.raises(lc.WorkloadError, match="quant"):
        llamacpp.estimate(m, quant="Q4_K_X")
    for field, value in (("n_ctx", 0), ("n_parallel", -1), ("n_gpu_layers", -2), ("flash_attn", "yes")):
        with pytest.raises(lc.WorkloadError, match=field):
            llamacpp.estimate(m, **{field: value})


def test_public_face_resolves_names() -> None:
    """lc.estimate_llamacpp takes catalog names for the model and the GPU."""
    e = lc.estimate_llamacpp("Llama-2-7b", quant="Q4_0", gpu="RTX 3060 12GB", n_ctx=4096)
    assert e.quant == "Q4_0"
    assert e.gpu is not None
    assert e.max_gpu_layers == 33


def test_gguf_file(tmp_path: Path) -> None:
    """A GGUF file's stored tensors are the model buffer (written with the gguf package)."""
    gguf = pytest.importorskip("gguf")
    import numpy as np

    path = tmp_path / "tiny.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(2)
    w.add_embedding_length(64)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_context_length(512)
    w.add_vocab_size(256)
    w.add_file_type(1)
    w.add_tensor("token_embd.weight", np.zeros((256, 64), dtype=np.float16))
    for i in range(2):
        for name, shape in (
            ("attn_q", (64, 64)),
            ("attn_k", (32, 64)),
            ("attn_v", (32, 64)),
            ("attn_output", (64, 64)),
            ("ffn_gate", (128, 64)),
            ("ffn_up", (128, 64)),
            ("ffn_down", (64, 128)),
        ):
            w.add_tensor(f"blk.{i}.{name}.weight", np.zeros(shape, dtype=np.float16))
        for name in ("attn_norm", "ffn_norm"):
            w.add_tensor(f"blk.{i}.{name}.weight", np.zeros(64, dtype=np.float32))
    w.add_tensor("output_norm.weight", np.zeros(64, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    e = llamacpp.estimate(path, n_ctx=512)
    g = lc.from_gguf(path)
    assert e.quant == "F16"
    assert e.gpu_model_bytes + e.cpu_model_bytes == g.tensor_bytes + 256 * 64 * 2  # tied: output copy
    assert e.gpu_kv_bytes == 2 * 512 * 2 * 32 * 2
    with pytest.raises(lc.WorkloadError, match="GGUF"):
        llamacpp.estimate(path, quant="Q4_K_M")


def _doc_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "engines" / page).read_text(), re.S)


@pytest.mark.parametrize("page", ["llamacpp.md", "ollama.md"])
def test_engine_docs_run(page: str) -> None:
    """The Python examples of docs/engines/*.md run (tests/test_docs.py globs docs/*.md only)."""
    blocks = _doc_blocks(page)
    assert blocks
    for code in blocks:
        exec(compile(code, page, "exec"), {"__name__": "__docs__"})


MIXES = list(csv.DictReader((ROOT / "tests" / "data" / "engines" / "quant_mixes.csv").open()))


@pytest.mark.parametrize("row", MIXES, ids=[r["id"] for r in MIXES])
def test_quant_mix_matches_gguf_files(row: dict[str, str]) -> None:
    """Per-type tensor counts and total size match what llama.cpp's loader printed for real files."""
    m = model(row["model"])
    if row["quantized_tensor_types"]:
        counts = Counter(t.type_name for t in llamacpp.quantized_tensors(m, row["quant"]))
        counts.pop("F32", None)
        expected = {k: int(v) for k, v in (p.split(":") for p in row["quantized_tensor_types"].split(";"))}
        assert dict(counts) == expected
    if row["model_size_gib"]:
        size = llamacpp.layout(m, row["quant"]).model_bytes / 2**30
        assert round(size, 2) == pytest.approx(float(row["model_size_gib"]), abs=0.011)


def test_estimate_inference_maps_the_workload() -> None:
    """An Inference of 4 sequences x 4096 tokens in int4 is Q4_K_M, n_parallel 4, 4096 cells each."""
    m = model("llama-3.1-8b")
    e = llamacpp.estimate_inference(m, lc.Inference(precision="int4", batch_size=4, context_tokens=4096))
    assert e.quant == "Q4_K_M"
    assert e.n_parallel == 4
    assert e.n_ctx_seq == 4096
    assert e.kv_cells == 4 * 4096
    q8 = llamacpp.estimate_inference(m, lc.Inference(precision="int8", kv_cache_precision="int8"))
    assert q8.quant == "Q8_0"
    assert q8.type_k == "q8_0"
    assert q8.flash_attn
    with pytest.raises(lc.WorkloadError, match="FP8"):
        llamacpp.estimate_inference(m, lc.Inference(precision="fp8"))
    assert llamacpp.estimate_inference(m, lc.Inference()).quant == "Q4_K_M"
    assert llamacpp.estimate_inference(m, lc.Inference(precision="bf16")).quant == "BF16"


@given(
    k=st.integers(min_value=1, max_value=512),
    parallel=st.integers(min_value=1, max_value=8),
    unified=st.booleans(),
)
def test_kv_cells_rounding(k: int, parallel: int, unified: bool) -> None:
    """Cells are n_ctx rounded up to 256, split per sequence (each share rounded up) unless unified;
    the KV bytes are cells x layers x (K + V) rows."""
    m = model("llama-3.1-8b")
    n_ctx = 100 * k + 7
    e = llamacpp.estimate(m, n_ctx=n_ctx, n_parallel=parallel, kv_unified=unified)
    padded = -(-n_ctx // 256) * 256
    if unified:
        assert e.kv_cells == padded
    else:
        assert e.kv_cells == parallel * (-(-(padded // parallel) // 256) * 256)
        assert e.n_ctx_seq % 256 == 0
    assert e.gpu_kv_bytes == e.kv_cells * 32 * 2 * 1024 * 2


@given(quant=st.sampled_from(["Q2_K", "Q3_K_M", "Q4_0", "Q4_K_S", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "IQ4_XS"]))
def test_mix_sits_between_its_types(quant: str) -> None:
    """A mix's weights (blocks) weigh at least its default type and at most Q8_0 over every matrix."""
    m = model("llama-3.1-8b")
    tensors = llamacpp.quantized_tensors(m, quant)
    mats = [t for t in tensors if len(t.shape) >= 2 and t.name.startswith("blk.")]
    n = sum(t.n_elements for t in mats)
    got = sum(t.nbytes for t in mats)
    base = llamacpp.FILE_TYPES[quant]
    block, size = GGML_BLOCKS[base]
    assert n * size // block <= got <= n * 34 // 32


def test_partial_offload_counts_the_output_copy() -> None:
    """With the output layer on the CPU and a large micro-batch, the GPU compute buffer holds the
    logits and a copy of the output matrix; with small micro-batches (< 32) it does not."""
    m = model("llama-3.1-8b")
    lay = llamacpp.layout(m)
    part = llamacpp.estimate(m, n_gpu_layers=20, flash_attn=True)
    assert part.gpu_compute_bytes == 4 * 512 * (128256 + 4096) + lay.output_bytes
    small = llamacpp.estimate(m, n_gpu_layers=20, flash_attn=True, n_ubatch=16)
    assert small.gpu_compute_bytes < 4 * 16 * (128256 + 4096) + lay.output_bytes


def test_cli_prints_buffers_and_layers(capsys: pytest.CaptureFixture[str]) -> None:
    """`llmcatalog estimate MODEL --engine llama.cpp --quant Q4_K_M --gpu "RTX 3060 12GB"` prints the
    buffers and how many layers fit; llama.cpp options without --engine are refused."""
    from llmcatalog.cli.main import main

    rc = main(["estimate", "Llama-2-13b", "--engine", "llama.cpp", "--quant", "Q4_K_M", "--gpu", "RTX 3060 12GB"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "compute  GPU" in out
    assert "most layers that fit the GPU: 41/41" in out
    rc = main(["estimate", "Llama-2-70b", "--engine", "ollama", "--gpu", "RTX 3060 12GB"])
    out = capsys.readouterr().out
    assert "Ollama's estimate: offload" in out
    assert main(["estimate", "Llama-2-7b", "--quant", "Q4_K_M"]) == 2
    assert "--engine" in capsys.readouterr().err
