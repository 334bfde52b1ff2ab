"""Fit the per-engine fractions of ``llmcatalog.performance.engines`` on the Qwen2.5 speed
benchmark (``tests/data/speed/qwen2.5_a100.csv``) and print the fit and held-out errors.

Run: ``python benchmarks/fit_speed.py``. Fit on 0.5B, 3B, 14B, 72B; hold out 1.5B, 7B, 32B.
The error is ``predicted / published - 1`` of the tokens/s (2,048 new tokens, prefill included).
"""

from __future__ import annotations

import csv
import itertools
import statistics
import sys
import warnings
from pathlib import Path

import attrs

import llmcatalog as lc
from llmcatalog.performance.engines import ENGINE_PROFILES
from llmcatalog.performance.inference import generation_time

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "speed" / "qwen2.5_a100.csv"
FORMAT = {"BF16": "bf16", "GPTQ-Int8": "gptq-int8", "GPTQ-Int4": "gptq-int4", "AWQ": "awq-int4"}
FIT_SIZES = ("0.5B", "3B", "14B", "72B")


def rows() -> list[dict[str, str]]:
    with DATA.open() as f:
        return list(csv.DictReader(f))


def predict(row: dict[str, str], profile: object, gpu: lc.GPU) -> float:
    model = lc.get_model(row["model"])
    n = int(row["n_gpus"])
    par = lc.Parallelism(tensor_parallel=n) if row["engine"] == "vllm" else lc.Parallelism(pipeline_parallel=n)
    prompt = int(row["input_tokens"])
    w = lc.Inference(
        precision=FORMAT[row["quantization"]], prompt_tokens=prompt, context_tokens=prompt + 2048, parallelism=par
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return generation_time(model, gpu, w, engine=profile).tokens_per_s  # type: ignore[arg-type]


def errors(data: list[dict[str, str]], profile: object, gpu: lc.GPU) -> list[float]:
    return [predict(r, profile, gpu) / float(r["tokens_per_s"]) - 1 for r in data]


def main() -> None:
    gpu = lc.get_gpu("A100 SXM4 80GB")
    data = rows()
    for engine in ("transformers", "vllm"):
        sub = [r for r in data if r["engine"] == engine]
        fit = [r for r in sub if any(f"-{s}-" in r["model"] for s in FIT_SIZES)]
        held = [r for r in sub if r not in fit]
        base = ENGINE_PROFILES[engine]
        if "--search" in sys.argv:
            best = None
            for bw, cf, lo, kv, qh in itertools.product(
                (0.6, 0.7, 0.8, 0.9),
                (0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
                [x * 1e-5 for x in range(6, 106, 4)],
                (0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 0.9),
                (True, False),
            ):
                p = attrs.evolve(
                    base,
                    bandwidth_fraction=bw,
                    compute_fraction=cf,
                    layer_overhead_s=lo,
                    kv_bandwidth_fraction=kv,
                    kv_per_query_head=qh,
                )
                e = statistics.median(abs(x) for x in errors(fit, p, gpu))
                if best is None or e < best[0]:
                    best = (e, p)
            assert best is not None
            base = best[1]
            print("best", base)
        for name, part in (("fit", fit), ("held-out", held), ("all", sub)):
            e = errors(part, base, gpu)
            print(
                f"{engine:12s} {name:8s} n={len(e):3d} median |err| {statistics.median(abs(x) for x in e):6.1%}"
                f"  median err {statistics.median(e):+6.1%}  max |err| {max(abs(x) for x in e):6.1%}"
            )


if __name__ == "__main__":
    main()
