"""Loads tests/data/engines/llamacpp_logs.csv (llama.cpp start-up logs) and estimates each row.

Shared by tests/test_engines_llamacpp.py and benchmarks/engines_llamacpp.py.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

import llmcatalog as lc
from llmcatalog.engines import llamacpp
from llmcatalog.engines.ggml_types import FILE_TYPES

DATA = Path(__file__).resolve().parent / "data"
MIB = 2**20
#: (csv column, estimate attribute or callable, tolerance as a fraction)
CHECKS: tuple[tuple[str, str, float], ...] = (
    ("gpu_model_mib", "gpu_model_bytes", 0.02),
    ("cpu_model_mib", "cpu_model_bytes", 0.02),
    ("total_model_mib", "total_model_bytes", 0.02),
    ("gpu_kv_mib", "gpu_kv_bytes", 0.02),
    ("cpu_kv_mib", "cpu_kv_bytes", 0.02),
    ("gpu_compute_mib", "gpu_compute_bytes", 0.15),
    ("cpu_compute_mib", "cpu_compute_bytes", 0.15),
)


def model(name: str) -> lc.Model:
    """A model of tests/data/engines/models.json."""
    spec = json.loads((DATA / "engines" / "models.json").read_text())[name]
    if "hf_config" in spec:
        config = json.loads((DATA / "hf_configs" / f"{spec['hf_config']}.json").read_text())
        m = lc.Model.from_hf_config(config)
        arch = attrs.evolve(m.architecture, **spec.get("overrides", {}))
        return attrs.evolve(m, architecture=arch)
    arch = lc.Architecture(**spec["architecture"])
    return lc.Model(id=name, name=name, domain="general", architecture=arch, open_weights=True)


def rows() -> Iterator[dict[str, str]]:
    with (DATA / "engines" / "llamacpp_logs.csv").open(newline="") as f:
        yield from csv.DictReader(f)


def estimate(row: dict[str, str]) -> llamacpp.LlamaCppEstimate:
    """The estimate for a log row's settings. A quant this module does not mix (IQ2_XXS) is
    replaced by Q8_0 for rows that compare no model buffer: the other buffers do not depend on it."""
    quant = row["quant"]
    if quant not in FILE_TYPES:
        assert not any(row[c] for c in ("gpu_model_mib", "cpu_model_mib", "total_model_mib")), row["id"]
        quant = "Q8_0"
    return llamacpp.estimate(
        model(row["model"]),
        quant=quant,
        n_ctx=int(row["n_ctx"]),
        n_parallel=int(row["n_parallel"]),
        kv_unified=row["kv_unified"] == "1",
        n_ubatch=int(row["n_ubatch"]),
        flash_attn=row["flash_attn"] == "1",
        n_gpu_layers=int(row["n_gpu_layers"]),
        ctx_pad=int(row["ctx_pad"]),
    )


def comparisons() -> Iterator[dict[str, Any]]:
    """One dict per filled cell: id, buffer, logged MiB, estimated MiB, relative error, tolerance."""
    for row in rows():
        est = estimate(row)
        for column, attr, tol in CHECKS:
            if not row[column]:
                continue
            value = est.gpu_model_bytes + est.cpu_model_bytes if attr == "total_model_bytes" else getattr(est, attr)
            logged = float(row[column])
            ours = value / MIB
            yield {
                "id": row["id"],
                "buffer": column.removesuffix("_mib"),
                "logged_mib": logged,
                "estimate_mib": ours,
                "error": ours / logged - 1,
                "tolerance": tol,
                "source": row["source"],
            }
        if row["kv_cells"]:
            yield {
                "id": row["id"],
                "buffer": "kv_cells",
                "logged_mib": float(row["kv_cells"]),
                "estimate_mib": float(est.kv_cells),
                "error": est.kv_cells / float(row["kv_cells"]) - 1,
                "tolerance": 0.0,
                "source": row["source"],
            }
