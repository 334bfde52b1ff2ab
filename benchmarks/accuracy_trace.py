"""Estimate vs. the traced peak of the real transformers/PEFT code, for every tested case.

Run: python benchmarks/accuracy_trace.py   (needs the trace extra: pip install -e ".[trace]")
Prints one line per case and the median / worst relative error of the tensor part.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import llmcatalog as lc
from llmcatalog.trace import trace_finetune, trace_inference
from test_accuracy_trace import FAMILIES, INFERENCE, TRAINING


def main() -> None:
    errors = []
    start = time.perf_counter()
    for family, config in FAMILIES.items():
        cfg = dict(config, num_hidden_layers=2)
        arch = lc.architecture_from_hf_config(cfg)
        for name, workload in {**TRAINING, **INFERENCE}.items():
            traced = (
                trace_finetune(cfg, workload) if isinstance(workload, lc.FineTune) else trace_inference(cfg, workload)
            )
            est = lc.estimate_vram(arch, workload).tensor_bytes
            err = est / traced.peak_bytes - 1
            errors.append(abs(err))
            print(
                f"{family:8s} {name:30s} traced {traced.peak_bytes / 2**30:8.3f} GiB  "
                f"estimate {est / 2**30:8.3f} GiB  {err:+6.2%}"
            )
    print(
        f"\n{len(errors)} cases in {time.perf_counter() - start:.0f} s: median |error| "
        f"{statistics.median(errors):.2%}, worst {max(errors):.2%} (target 5%)"
    )


if __name__ == "__main__":
    main()
