"""Multi-head latent attention (DeepSeek-V2/V3/R1) in llama.cpp and Ollama, against published logs.

tests/data/engines/mla_logs.csv keeps KV cache lines llama.cpp printed for DeepSeek GGUFs (provenance
in tests/data/engines/README.md); the architectures are the config.json fixtures of
tests/data/hf_configs/.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import llmcatalog as lc
from llmcatalog.engines import llamacpp, mla, ollama

DATA = Path(__file__).resolve().parent / "data"
MIB, GIB = 2**20, 2**30
ROWS = list(csv.DictReader((DATA / "engines" / "mla_logs.csv").open(newline="")))


def config_model(name: str) -> lc.Model:
    """A model of tests/data/hf_configs/ (DeepSeek-V3: R1 and V3-0324 share its config)."""
    return lc.Model.from_hf_config(json.loads((DATA / "hf_configs" / f"{name}.json").read_text()))


def _estimate(row: dict[str, str]) -> llamacpp.LlamaCppEstimate:
    return llamacpp.estimate(
        config_model(row["hf_config"]),
        quant=row["quant"],
        n_ctx=int(row["n_ctx"]),
        n_parallel=int(row["n_parallel"]),
        kv_unified=row["kv_unified"] == "1",
        n_ubatch=int(row["n_ubatch"]),
        flash_attn=row["flash_attn"] == "1",
        ctx_pad=int(row["ctx_pad"]),
        mla_format=row["mla_format"],
        mla_v_cache=row["mla_v_cache"] == "1",
    )


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_kv_cache_equals_the_log(row: dict[str, str]) -> None:
    """The KV cache and its K and V parts equal the logged MiB to the printed 0.01 MiB."""
    est = _estimate(row)
    assert f"{(est.gpu_kv_bytes + est.cpu_kv_bytes) / MIB:.2f}" == row["kv_mib"]
    assert f"{est.k_bytes / MIB:.2f}" == row["k_mib"]
    assert f"{est.v_bytes / MIB:.2f}" == row["v_mib"]
    assert est.k_bytes + est.v_bytes == est.gpu_kv_bytes + est.cpu_kv_bytes


@pytest.mark.parametrize("row", [r for r in ROWS if r["total_model_mib"]], ids=lambda r: r["id"])
def test_model_buffers_match_the_log(row: dict[str, str]) -> None:
    """The model buffers of a per-head Q4_K_M file (Ollama's deepseek-r1:671b) add up to the logged
    total within 0.5 %, and the host keeps exactly the token embeddings."""
    est = _estimate(row)
    total = (est.gpu_model_bytes + est.cpu_model_bytes) / MIB
    assert abs(total / float(row["total_model_mib"]) - 1) < 0.005
    assert f"{est.cpu_model_bytes / MIB:.2f}" == row["cpu_model_mib"]


def test_builds_differ_as_llama_cpp_changed() -> None:
    """Per-head file (any build) > latent file with a V cache (April 2025 - January 2026) > latent
    file with K only (PR #19067 on), and the K-only build keeps exactly the K the May 2025 log shows."""
    row = next(r for r in ROWS if r["id"] == "v3-0324-latent-16k")
    m = config_model("deepseek-v3")
    kw = {"quant": "Q2_K", "n_ctx": 16384}
    current = llamacpp.estimate(m, **kw)  # default: latent file, current build
    with_v = llamacpp.estimate(m, mla_v_cache=True, **kw)
    per_head = llamacpp.estimate(m, mla_format="per-head", **kw)
    assert current.v_bytes == 0
    assert f"{current.k_bytes / MIB:.2f}" == row["k_mib"]  # unchanged K, no V
    assert f"{with_v.gpu_kv_bytes / MIB:.2f}" == row["kv_mib"]
    # the per-head cache: every head's K (qk_nope + rope) and V (v_head_dim) from config.json
    cfg = json.loads((DATA / "hf_configs" / "deepseek-v3.json").read_text())
    heads, layers = cfg["num_attention_heads"], cfg["num_hidden_layers"]
    k_head = cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"]
    assert per_head.k_bytes == 16384 * layers * heads * k_head * 2
    assert per_head.v_bytes == 16384 * layers * heads * cfg["v_head_dim"] * 2
    assert per_head.gpu_kv_bytes > 35 * with_v.gpu_kv_bytes > 35 * current.gpu_kv_bytes
    assert any("PR #19067" in n for n in current.notes)
    assert any("before April 2025" in n for n in per_head.notes)


def test_latent_and_per_head_files_differ_only_in_attention() -> None:
    """The latent file splits attn_kv_b into attn_k_b and attn_v_b (the same weights); the rest
    of the tensors are the same."""
    m = config_model("deepseek-v3")
    latent = {t.name: t for t in llamacpp.quantized_tensors(m, "Q8_0", mla_format="latent")}
    legacy = {t.name: t for t in llamacpp.quantized_tensors(m, "Q8_0", mla_format="per-head")}
    assert set(latent) - set(legacy) == {f"blk.{i}.{n}.weight" for i in range(61) for n in ("attn_k_b", "attn_v_b")}
    assert set(legacy) - set(latent) == {f"blk.{i}.attn_kv_b.weight" for i in range(61)}
    kb = latent["blk.0.attn_k_b.weight"].shape
    vb = latent["blk.0.attn_v_b.weight"].shape
    assert kb[0] * kb[1] * kb[2] + vb[0] * vb[1] * vb[2] == 512 * 128 * (128 + 128)
    assert legacy["blk.0.attn_kv_b.weight"].shape == (512, 128 * (128 + 128))


def _write_deepseek2_gguf(path: Path, *, latent: bool) -> None:
    gguf = pytest.importorskip("gguf")
    import numpy as np

    h, n_head, rank, rope, nope, v_dim, n_ff = 64, 4, 32, 8, 16, 16, 128
    w = gguf.GGUFWriter(str(path), "deepseek2")
    w.add_block_count(2)
    w.add_context_length(1024)
    w.add_embedding_length(h)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(1 if latent else n_head)
    w.add_vocab_size(256)
    w.add_file_type(1)
    w.add_uint32("deepseek2.attention.kv_lora_rank", rank)
    w.add_uint32("deepseek2.rope.dimension_count", rope)
    w.add_uint32("deepseek2.attention.key_length", rank + rope if latent else nope + rope)
    w.add_uint32("deepseek2.attention.value_length", rank if latent else v_dim)
    if latent:
        w.add_uint32("deepseek2.attention.key_length_mla", nope + rope)
        w.add_uint32("deepseek2.attention.value_length_mla", v_dim)
    w.add_tensor("token_embd.weight", np.zeros((256, h), dtype=np.float16))
    w.add_tensor("output.weight", np.zeros((256, h), dtype=np.float16))
    w.add_tensor("output_norm.weight", np.zeros(h, dtype=np.float32))
    for i in range(2):
        p = f"blk.{i}."
        shapes = {  # numpy order (ggml reversed)
            "attn_q": (n_head * (nope + rope), h),
            "attn_kv_a_mqa": (rank + rope, h),
            "attn_output": (h, n_head * v_dim),
            "ffn_gate": (n_ff, h),
            "ffn_up": (n_ff, h),
            "ffn_down": (h, n_ff),
        }
        if latent:
            shapes |= {"attn_k_b": (n_head, rank, nope), "attn_v_b": (n_head, v_dim, rank)}
        else:
            shapes["attn_kv_b"] = (n_head * (nope + v_dim), rank)
        for name, shape in shapes.items():
            w.add_tensor(f"{p}{name}.weight", np.zeros(shape, dtype=np.float16))
        for name, size in (("attn_norm", h), ("ffn_norm", h), ("attn_kv_a_norm", rank)):
            w.add_tensor(f"{p}{name}.weight", np.zeros(size, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.mark.parametrize("latent", [True, False])
def test_gguf_file_states_its_format(tmp_path: Path, latent: bool) -> None:
    """A deepseek2 GGUF is latent exactly when it carries the *_mla keys; its KV follows."""
    path = tmp_path / "ds2.gguf"
    _write_deepseek2_gguf(path, latent=latent)
    est = llamacpp.estimate(path, n_ctx=512)
    g = lc.from_gguf(path)
    assert est.gpu_model_bytes + est.cpu_model_bytes == g.tensor_bytes
    if latent:
        assert (est.k_bytes, est.v_bytes) == (512 * 2 * (32 + 8) * 2, 0)
        assert llamacpp.estimate(path, n_ctx=512, mla_v_cache=True).v_bytes == 512 * 2 * 32 * 2
    else:
        assert (est.k_bytes, est.v_bytes) == (512 * 2 * 4 * 24 * 2, 512 * 2 * 4 * 16 * 2)
    other = "per-head" if latent else "latent"
    with pytest.raises(lc.WorkloadError, match="mla_format"):
        llamacpp.estimate(path, mla_format=other)


def test_ollama_r1_on_m2_ultra() -> None:
    """Ollama no longer refuses DeepSeek-R1: its library file is per-head, so at num_ctx 4096 the KV
    is 4096 x (128 x 192 + 128 x 128) x 2 bytes per layer, and on a 192 GB M2 Ultra a Q2_K file
    (about 230 GiB of weights) goes partly to the GPU, within the memory Metal lends it."""
    m = config_model("deepseek-v3")
    gpu = lc.catalog().get_gpu("apple-m2-ultra-192gb")
    est = ollama.estimate(m, gpu=gpu, quant="Q2_K", num_ctx=4096)
    assert est.kv_bytes == 61 * 4096 * 128 * (192 + 128) * 2
    assert est.llamacpp.k_bytes + est.llamacpp.v_bytes == est.kv_bytes  # the runner allocates what Ollama sized
    assert 0 < est.layers_offload < est.layers_model
    assert est.vram_bytes <= gpu.available_bytes
    assert est.total_bytes > gpu.available_bytes
    assert any("before April 2025" in n for n in est.notes)
    # llama.cpp offloads the last blocks (all MoE), Ollama sized the first (three dense): it says so
    assert est.llamacpp.gpu_total_bytes > est.vram_bytes
    assert any("offloads the last" in n for n in est.notes)
    # a latent file (Ollama's engine: K and V latents) needs a fraction of that cache
    latent = ollama.estimate(m, gpu=gpu, quant="Q2_K", num_ctx=4096, mla_format="latent")
    assert latent.kv_bytes == 61 * 4096 * (576 + 512) * 2
    assert latent.layers_offload >= est.layers_offload


def test_mla_format_is_checked() -> None:
    """A misspelt format is a WorkloadError naming the field and the choices."""
    with pytest.raises(lc.WorkloadError, match=r"mla_format.*latent"):
        mla.check_format("compressed")
    with pytest.raises(lc.WorkloadError, match="mla_format"):
        ollama.estimate(config_model("deepseek-v2-lite"), mla_format="full")


SIZES = list(csv.DictReader((DATA / "engines" / "mla_file_sizes.csv").open(newline="")))


@pytest.mark.parametrize("row", SIZES, ids=[r["id"] for r in SIZES])
def test_file_size_matches_llama_cpp(row: dict[str, str]) -> None:
    """The tensors of a DeepSeek GGUF in a llama-quantize mix add up to the printed model size
    within 0.1 % (the printed figure has two decimals of GiB)."""
    est = llamacpp.estimate(config_model(row["hf_config"]), quant=row["quant"], mla_format=row["mla_format"])
    assert abs(est.file_bytes / GIB / float(row["file_gib"]) - 1) < 0.001
