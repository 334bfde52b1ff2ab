"""Fit the per-engine fractions of ``llmcatalog.performance.engines`` on the published speed tables
(``tests/data/speed/``, loaded by ``tests/speed_tables.py``) and print fit and held-out errors.

Run: ``python benchmarks/fit_speed.py`` (errors of the shipped profiles) or with ``--search``
(coordinate descent over a grid per engine, from the shipped profile, minimising the mean of the
median |error| over the fit rows, their prefill-dominated rows and their batch > 1 rows; the
shipped profiles are its fixed points; ``--engine=NAME`` limits it to one engine; a few seconds). The error is
``predicted / published - 1`` of tokens/s as each table counts them (for a time to first
token, ``published / predicted - 1``: positive means predicted faster).
"""

from __future__ import annotations

import itertools
import statistics
import sys
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from llmcatalog.performance.engines import ENGINE_PROFILES, EngineProfile
from speed_tables import PREFILL_DOMINATED, Row, error, prefill_share, rows


def errors(data: list[Row], profile: EngineProfile | None = None) -> list[float]:
    return [error(r, profile) for r in data]


AXES = {
    "bandwidth_fraction": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "compute_fraction": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "layer_overhead_s": tuple(x * 1e-5 for x in range(6, 106, 4)),
    "kv_bandwidth_fraction": (0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 0.9),
    "kv_per_query_head": (True, False),
    "attention_fraction": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
}


def median_abs(data: list[Row], profile: EngineProfile) -> float:
    return statistics.median(abs(x) for x in errors(data, profile))


def objective(data: list[Row], profile: EngineProfile) -> float:
    """The mean of the median |error| over all rows, over the prefill-dominated rows and over the
    rows at batch > 1 (the groups that exist), so that neither decode, prefill nor batching is traded
    away for the others."""
    groups = [
        data,
        [r for r in data if prefill_share(r) >= PREFILL_DOMINATED],
        [r for r in data if r.batch_size > 1],
    ]
    medians = [median_abs(g, profile) for g in groups if g]
    return sum(medians) / len(medians)


def search(data: list[Row], start: EngineProfile) -> EngineProfile:
    """Coordinate descent over the grid AXES from ``start``: try every value of one field with the
    others fixed, keep the best, repeat until no field improves (a few hundred evaluations)."""
    best, score = start, objective(data, start)
    improved = True
    while improved:
        improved = False
        for field, values in AXES.items():
            for value in values:
                candidate = attrs.evolve(best, **{field: value})
                e = objective(data, candidate)
                if e < score - 1e-12:
                    best, score, improved = candidate, e, True
    return best


def report(engine: str, table: str, part: str, e: list[float]) -> None:
    if not e:
        return
    print(
        f"{engine:12s} {table:18s} {part:8s} n={len(e):3d} median |err| {statistics.median(abs(x) for x in e):6.1%}"
        f"  median err {statistics.median(e):+6.1%}  max |err| {max(abs(x) for x in e):6.1%}"
    )


def main() -> None:
    data = list(rows())
    searching = "--search" in sys.argv
    only = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--engine=")]
    for (engine, table), group in itertools.groupby(
        sorted(data, key=lambda r: (r.engine, r.table.file)), key=lambda r: (r.engine, r.table.file)
    ):
        sub = list(group)
        if only and engine not in only:
            continue
        flagged = [r for r in sub if r.flagged]
        sub = [r for r in sub if not r.flagged]
        profile = ENGINE_PROFILES[engine]
        fit = [r for r in sub if r.part == "fit"]
        if searching and fit:
            profile = search(fit, profile)
            print("best", profile)
        for part in ("fit", "held-out", "transfer"):
            rs = [r for r in sub if r.part == part]
            report(engine, table, part, errors(rs, profile))
            pre = [r for r in rs if prefill_share(r) >= PREFILL_DOMINATED]
            report(engine, table, f"{part}/pre", errors(pre, profile))
            report(engine, table, f"{part}/batch", errors([r for r in rs if r.batch_size > 1], profile))
        report(engine, table, "flagged", errors(flagged, profile))


if __name__ == "__main__":
    main()
