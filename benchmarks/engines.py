"""Compare the vLLM and SGLang models with the start-up logs of tests/data/engines/.

Run: python benchmarks/engines.py
Prints one line per logged figure: what the engine printed, what llmcatalog computes, and the error.
The figures are described in tests/data/engines/README.md. (The llama.cpp / Ollama rows belong to their
own script or section.)
"""

from __future__ import annotations

import csv
from pathlib import Path

import llmcatalog as lc
from llmcatalog.engines.sglang import SGLangSettings, cell_size_bytes, estimate_sglang
from llmcatalog.engines.vllm import (
    VLLMSettings,
    estimate_vllm,
    forward_peak_bytes,
    kv_groups,
    tokens_for_kv_bytes,
    vllm_max_concurrency,
    vllm_max_model_len,
)

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "engines"
GIB = 2**30


def _line(row_id: str, what: str, logged: float, ours: float, unit: str) -> str:
    err = (ours - logged) / logged if logged else 0.0
    return f"{row_id:<24} {what:<26} {logged:>14,.6g} {ours:>14,.6g} {unit:<7} {err:>+8.2%}"


def vllm_rows() -> list[str]:
    out = []
    for r in csv.DictReader((DATA / "vllm_logs.csv").open()):
        model = lc.get_model(r["model"])
        arch = model.architecture
        assert arch is not None
        tp = int(r["tp"])
        dtype = 1 if r["kv_cache_dtype"].startswith("fp8") else 2
        groups = kv_groups(arch, block_size=16, dtype_bytes=dtype, tensor_parallel=tp)
        checks = r["checks"].split(";")
        rid = r["id"]
        if "weights" in checks:  # the weights do not depend on the GPU
            gpu = lc.get_gpu(r["gpu"] or "h100-sxm5-80gb")
            est = estimate_vllm(model, gpu, settings=VLLMSettings(max_model_len=int(r["max_model_len"])))
            out.append(_line(rid, "model loading (GiB)", float(r["weights_gib"]), est.weights_bytes / GIB, "GiB"))
        if "activation" in checks:
            peak = forward_peak_bytes(arch, int(r["max_num_batched_tokens"]), dtype_bytes=2)
            out.append(_line(rid, "activation peak", float(r["activation_gib"]), peak / GIB, "GiB"))
        if "kv_chain_v0" in checks:
            est = estimate_vllm(
                model, lc.get_gpu(r["gpu"]), settings=VLLMSettings(max_model_len=int(r["max_model_len"]))
            )
            peak = forward_peak_bytes(arch, int(r["max_num_batched_tokens"]), dtype_bytes=2)
            kv = float(r["gpu_total_gib"]) * GIB * float(r["gpu_memory_utilization"]) - est.weights_bytes - peak
            kv -= float(r["non_torch_gib"]) * GIB
            out.append(_line(rid, "KV cache (budget chain)", float(r["kv_cache_gib"]), kv / GIB, "GiB"))
            blocks, _ = tokens_for_kv_bytes(groups, int(kv), block_size=16)
            out.append(_line(rid, "GPU blocks (budget chain)", int(r["kv_blocks"]), blocks, "blocks"))
        if r["kv_cache_gib"]:
            blocks, tokens = tokens_for_kv_bytes(groups, int(float(r["kv_cache_gib"]) * GIB), block_size=16)
        else:
            blocks, tokens = int(r["kv_blocks"]), int(r["kv_blocks"]) * 16
        if "kv_v1" in checks:
            settings = VLLMSettings(
                gpu_memory_utilization=float(r["gpu_memory_utilization"]), max_model_len=int(r["max_model_len"])
            )
            est = estimate_vllm(model, lc.get_gpu(r["gpu"]), settings=settings)
            out.append(
                _line(rid, "available KV (end to end)", float(r["kv_cache_gib"]), est.available_kv_bytes / GIB, "GiB")
            )
        if "kv_info" in checks:  # shown, not asserted (see tests/data/engines/README.md)
            precision = "fp8" if "fp8" in rid else None
            par = lc.Parallelism(tensor_parallel=tp)
            est = estimate_vllm(
                model,
                lc.get_gpu(r["gpu"] or "h100-sxm5-80gb"),
                lc.Inference(precision=precision, parallelism=par),
                VLLMSettings(
                    gpu_memory_utilization=float(r["gpu_memory_utilization"]),
                    max_model_len=int(r["max_model_len"]),
                    max_num_seqs=int(r["max_num_seqs"]) if r["max_num_seqs"] else None,
                ),
            )
            out.append(_line(rid, "available KV (info)", float(r["kv_cache_gib"]), est.available_kv_bytes / GIB, "GiB"))
        if "tokens" in checks:
            out.append(_line(rid, "KV tokens from KV GiB", int(r["kv_tokens"]), tokens, "tokens"))
        if "concurrency" in checks:
            blocks = int(r["kv_blocks"]) if r["kv_blocks"] else blocks
            batched = int(r["max_num_batched_tokens"] or 2048)
            conc = vllm_max_concurrency(
                groups, blocks, int(r["max_model_len"]), block_size=16, max_num_batched_tokens=batched
            )
            out.append(_line(rid, "max concurrency", float(r["max_concurrency"]), conc, "x"))
        if "suggestion" in checks:
            got = vllm_max_model_len(
                groups,
                int(float(r["kv_cache_gib"]) * GIB),
                block_size=16,
                max_num_batched_tokens=2048,
                limit=int(r["max_model_len"]),
            )
            out.append(_line(rid, "suggested max_model_len", int(r["suggested_max_model_len"]), got, "tokens"))
    return out


def sglang_rows() -> list[str]:
    out = []
    for r in csv.DictReader((DATA / "sglang_logs.csv").open()):
        arch = lc.get_model(r["model"]).architecture
        assert arch is not None
        cell = cell_size_bytes(arch, 2, tensor_parallel=int(r["tp"]))
        k = int(r["max_total_num_tokens"]) * cell / 2 / GIB
        out.append(_line(r["id"], "K size of the pool", float(r["k_size_gib"]), k, "GiB"))
        if r["gpu"]:  # shown, not asserted: see tests/data/engines/README.md
            est = estimate_sglang(
                lc.get_model(r["model"]),
                lc.get_gpu(r["gpu"]),
                lc.Inference(
                    precision="fp8" if "fp8" in r["id"] else None,
                    parallelism=lc.Parallelism(tensor_parallel=int(r["tp"])),
                ),
                SGLangSettings(mem_fraction_static=float(r["mem_fraction_static"])),
            )
            out.append(
                _line(
                    r["id"],
                    "max_total_num_tokens (info)",
                    int(r["max_total_num_tokens"]),
                    est.max_total_num_tokens,
                    "tokens",
                )
            )
    return out


def main() -> None:
    header = f"{'log':<24} {'figure':<26} {'logged':>14} {'llmcatalog':>14} {'unit':<7} {'error':>8}"
    print("vLLM start-up logs")
    print(header)
    for line in vllm_rows():
        print(line)
    print("\nSGLang start-up logs")
    print(header)
    for line in sglang_rows():
        print(line)


if __name__ == "__main__":
    main()
