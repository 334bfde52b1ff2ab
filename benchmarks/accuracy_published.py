"""Compare estimate_vram with every published GPU-memory figure of tests/data/published_vram.csv.

Run: python benchmarks/accuracy_published.py [--all]
Prints one line per comparable figure and the median / worst absolute error per group.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import llmcatalog as lc
from published import load
from test_sharding import run_error, sharded_runs


def sharded(cat: lc.Catalog) -> None:
    """The measured multi-GPU runs of tests/data/sharded_runs.csv (provenance in sharded_runs.md)."""
    print()
    print("sharded / multi-process runs (tests/data/sharded_runs.csv)")
    for row in sharded_runs():
        error, agrees, est = run_error(row, cat)
        verdict = f"error {error:+7.1%}" if error is not None else ("OOM agrees" if agrees else "OOM DISAGREES")
        shown = f"{row['value']} {row['unit']}" if row["value"] else "OOM"
        # error = compared / published - 1; a reserved figure is compared without the CUDA context and NCCL
        # buffers (outside torch's reserved memory), against value + 0.5 GiB (a truncated whole GiB).
        c = est.components
        compared = est.total_bytes
        if row["metric"].startswith("reserved"):
            compared -= c["overhead.cuda_context"] + c.get("overhead.nccl", 0)
        print(
            f"{row['id']:45s} {row['metric']:18s} published {shown:>10s}  "
            f"estimate {est.total_bytes / 2**30:7.2f} GiB (compared {compared / 2**30:6.2f})  {verdict}"
        )


def main() -> None:
    show_all = "--all" in sys.argv
    cat = lc.catalog()
    groups: dict[str, list[float]] = {}
    claims = [0, 0]
    skipped: dict[str, int] = {}
    for rid, mid, fig in load():
        model = cat.get_model(mid)
        gpu = cat.get_gpu(fig.gpu) if fig.gpu else None
        c = lc.compare_figure(model, fig, gpu)
        kind = "fully specified" if fig.exact_setting else "partly specified"
        group = f"{kind}: {rid.split('-')[0]}"
        if c.status == "compared":
            assert c.error is not None
            groups.setdefault(group, []).append(c.error)
            if show_all or fig.exact_setting or abs(c.error) > 0.25:
                print(
                    f"{rid:45s} {c.figure.metric:14s} published {c.published_bytes / 2**30:7.2f} GiB  "
                    f"estimate {c.compared_bytes / 2**30:7.2f} GiB  error {c.error:+7.1%}  [{c.estimate.peak_phase}]"
                )
        elif c.status == "claim":
            claims[0 if c.agrees else 1] += 1
            if show_all or not c.agrees:
                print(
                    f"{rid:45s} claim {fig.metric} on {fig.gpu}: estimate {c.estimate.total_bytes / 2**30:.2f} GiB -> "
                    f"{'agrees' if c.agrees else 'DISAGREES'}"
                )
        else:
            skipped[c.reason] = skipped.get(c.reason, 0) + 1
    print()
    print(f"{'group':34s} {'n':>3s} {'median |err|':>13s} {'worst |err|':>12s}")
    for group, errs in sorted(groups.items()):
        abs_errs = [abs(e) for e in errs]
        print(f"{group:34s} {len(errs):3d} {statistics.median(abs_errs):12.1%} {max(abs_errs):12.1%}")
    for kind in ("fully specified", "partly specified"):
        errs = [abs(e) for g, es in groups.items() if g.startswith(kind) for e in es]
        print(f"{'all ' + kind:34s} {len(errs):3d} {statistics.median(errs):12.1%} {max(errs):12.1%}")
    print(f"fits/OOM statements: {claims[0]} agree, {claims[1]} disagree")
    for reason, n in sorted(skipped.items(), key=lambda x: -x[1]):
        print(f"not comparable ({n}): {reason}")
    sharded(cat)


if __name__ == "__main__":
    main()
