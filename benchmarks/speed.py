"""Speed figures of llmcatalog: import time, first catalog load, estimates per second.

Run: python benchmarks/speed.py
Targets (issue 2): import < 100 ms, catalog load < 200 ms, >= 50,000 estimates/s.
Each timing is the median of fresh interpreter runs; the catalog load is reported with the
TOML parse cache cold (first run on a machine) and warm (every later run).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 15
WINDOWS = 8

IMPORT = "import time; t = time.perf_counter(); import llmcatalog; print(time.perf_counter() - t)"
LOAD = "import time, llmcatalog; t = time.perf_counter(); llmcatalog.catalog(); print(time.perf_counter() - t)"


def _median(code: str, env: dict[str, str]) -> float:
    samples = [
        float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
        for _ in range(RUNS)
    ]
    return statistics.median(samples)


def main() -> None:
    import llmcatalog as lc

    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        env["LLMCATALOG_CACHE_DIR"] = cache
        imp = _median(IMPORT, env)
        cold = []
        for _ in range(5):
            for name in os.listdir(cache):
                os.remove(os.path.join(cache, name))
            cold.append(
                float(
                    subprocess.run(
                        [sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=True
                    ).stdout
                )
            )
        warm = _median(LOAD, env)
    print(f"import llmcatalog           {imp * 1000:8.1f} ms   (target < 100 ms; median of {RUNS})")
    print(f"first catalog load, warm    {warm * 1000:8.1f} ms   (target < 200 ms; parse cache filled)")
    print(f"first catalog load, cold    {statistics.median(cold) * 1000:8.1f} ms   (first run on a machine)")

    cat = lc.catalog()
    print(f"catalog: {len(cat.models)} models, {len(cat.gpus)} GPUs, {len(cat.tools)} tools")
    model = lc.get_model("llama-2-7b")
    cases = {
        "inference": lc.Inference(precision="bf16", batch_size=4, context_tokens=4096),
        "inference gptq-int4": lc.Inference(precision="gptq-int4", batch_size=1, context_tokens=2048),
        "fine-tune lora": lc.FineTune(method="lora", seq_len=2048),
        "fine-tune full zero-3": lc.FineTune(parallelism=lc.Parallelism(data_parallel=8, zero_stage=3)),
    }
    for name, workload in cases.items():
        # The best of several short windows: other processes on the machine only ever slow a window down.
        best = 0.0
        for _ in range(WINDOWS):
            n = 0
            t = time.perf_counter()
            while time.perf_counter() - t < 0.25:
                for _ in range(200):
                    lc.estimate_vram(model, workload)
                n += 200
            best = max(best, n / (time.perf_counter() - t))
        print(f"estimates/s, {name:22s}{best:10,.0f}   (target >= 50,000; best of {WINDOWS} windows of 0.25 s)")


if __name__ == "__main__":
    main()
