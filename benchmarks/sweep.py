"""Speed of llmcatalog.sweep: estimates (rows) per second.

Run: python benchmarks/sweep.py
Target (issue 11): >= 100,000 estimates/s. A row is one (model, GPU, workload) estimate with its
per-GPU breakdown and fit verdict, exactly what estimate_vram + fits give (tests/test_sweep.py).
The memory needed does not depend on the GPU, so a sweep computes one estimate per distinct
(architecture, stored format, encoder parameters, workload) and compares it with every GPU; the
figures below also say how many estimates were actually computed ("distinct").
Each figure is the best of a few runs in this process (the first run, with the calculus' caches
cold, is shown separately).
"""

from __future__ import annotations

import time
import warnings


def _time(fn, runs: int = 3) -> tuple[float, float, object]:
    first = None
    best = float("inf")
    result = None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t
        first = dt if first is None else first
        best = min(best, dt)
    return first, best, result


def main() -> None:
    import llmcatalog as lc

    warnings.simplefilter("ignore", lc.ContextLengthWarning)
    cat = lc.catalog()
    models, gpus = cat.models, cat.gpus
    workloads = [
        lc.Inference(precision="bf16", context_tokens=4096),
        lc.Inference(precision="awq-int4", batch_size=8, context_tokens=8192, kv_cache_precision="fp8"),
        lc.FineTune(method="lora", seq_len=2048, gradient_checkpointing=True),
        lc.FineTune(method="qlora", seq_len=1024, batch_size=4),
    ]

    first, best, result = _time(lambda: lc.sweep(models, gpus, workloads, errors="skip"))
    s: lc.Sweep = result  # type: ignore[assignment]
    distinct = len({id(r.estimate) for r in s})
    pairs = len(models) * len(workloads) - len(s.skipped)
    print(
        f"catalog sweep: {len(models)} models x {len(gpus)} GPUs x {len(workloads)} workloads -> {len(s):,} rows "
        f"({len(s.skipped)} model/workload pairs skipped: closed weights or no architecture)"
    )
    print(f"  estimated (model, workload) pairs {pairs:,}; distinct estimates computed {distinct:,}")
    print(f"  first run (cold caches)  {first * 1000:8.1f} ms  {len(s) / first:12,.0f} estimates/s")
    print(f"  best of 3                {best * 1000:8.1f} ms  {len(s) / best:12,.0f} estimates/s   (target >= 100,000)")

    _f, iter_best, _ = _time(lambda: s.to_records())
    print(f"  to_records() of every row {iter_best * 1000:7.1f} ms  {len(s) / iter_best:12,.0f} rows/s")

    # Every model of one family, a context ladder, on every GPU: "how long a context where?"
    llamas = [m for m in models if m.architecture is not None and m.architecture.family == "llama"]
    ladder = [lc.Inference(precision="bf16", context_tokens=2**k) for k in range(9, 18)]
    _f, best2, result2 = _time(lambda: lc.sweep(llamas, gpus, ladder, errors="skip"))
    n2 = len(result2)  # type: ignore[arg-type]
    print(
        f"llama family x context ladder: {len(llamas)} models x {len(gpus)} GPUs x {len(ladder)} contexts -> "
        f"{n2:,} rows in {best2 * 1000:.1f} ms: {n2 / best2:,.0f} estimates/s"
    )

    # No sharing to lean on: one model per distinct architecture, one GPU.
    seen: dict[object, lc.Model] = {}
    for m in models:
        if m.architecture is not None and m.open_weights is not False:
            seen.setdefault(m.architecture, m)
    unique = list(seen.values())
    _f, best3, result3 = _time(lambda: lc.sweep(unique, gpus[:1], workloads, errors="skip"))
    n3 = len(result3)  # type: ignore[arg-type]
    print(
        f"distinct architectures, one GPU: {len(unique)} models x 1 GPU x {len(workloads)} workloads -> "
        f"{n3:,} rows in {best3 * 1000:.1f} ms: {n3 / best3:,.0f} estimates/s (every row a fresh estimate_vram)"
    )


if __name__ == "__main__":
    main()
