"""The published speed tables of tests/data/speed/ (provenance in its README) and how to predict a row.

Shared by tests/test_speed.py and benchmarks/fit_speed.py.
"""

from __future__ import annotations

import csv
import functools
import warnings
from collections.abc import Iterator
from pathlib import Path

import attrs

import llmcatalog as lc
from llmcatalog.performance.engines import EngineProfile
from llmcatalog.performance.inference import GenerationTime, generation_time

DATA = Path(__file__).parent / "data" / "speed"
NEW_TOKENS = 2048
FORMAT = {
    "BF16": "bf16",
    "GPTQ-Int8": "gptq-int8",
    "GPTQ-Int4": "gptq-int4",
    "GPTQ-INT4": "gptq-int4",
    "AWQ": "awq-int4",
    "AWQ-INT4": "awq-int4",
    "FP8": "fp8",
}


@attrs.frozen(kw_only=True)
class Table:
    """One published table: its file, the GPU it ran on, what its tokens/s counts, and the engines
    whose profiles were fitted on it (for any other engine the whole table is a transfer test)."""

    file: str
    gpu: str
    counts_prompt: bool  # Qwen3's speed is (prompt + generated) / time; Qwen2.5's generated / time
    fit_models: tuple[str, ...]  # the rows the profiles are fitted on; the rest is held out
    fitted_engines: tuple[str, ...]


TABLES = (
    Table(
        file="qwen2.5_a100.csv",
        gpu="A100 SXM4 80GB",
        counts_prompt=False,
        fit_models=("Qwen2.5-0.5B-Instruct", "Qwen2.5-3B-Instruct", "Qwen2.5-14B-Instruct", "Qwen2.5-72B-Instruct"),
        fitted_engines=("transformers", "vllm"),
    ),
    Table(
        file="qwen3_h20.csv",
        gpu="H20",
        counts_prompt=True,
        fit_models=("Qwen3-0.6B", "Qwen3-4B", "Qwen3-14B", "Qwen3-30B-A3B"),
        fitted_engines=("sglang",),
    ),
)


@attrs.frozen(kw_only=True)
class Row:
    table: Table
    model: str
    engine: str
    input_tokens: int
    precision: str
    n_gpus: int
    tokens_per_s: float
    note: str

    @property
    def part(self) -> str:
        """ "fit" (the profile was fitted on it), "held-out" (same table, other model sizes) or
        "transfer" (a table the engine's profile was not fitted on: another GPU and version)."""
        if self.engine not in self.table.fitted_engines:
            return "transfer"
        return "fit" if self.model in self.table.fit_models else "held-out"

    @property
    def flagged(self) -> str:
        """Why the table's own notes say this row is not representative ("" when they do not)."""
        if self.table.file == "qwen3_h20.csv":
            if self.engine == "sglang" and self.precision == "gptq-int4":
                return "the page: GPTQ-INT4 performance in SGLang needs improvement"
            if self.engine == "transformers" and self.precision == "fp8":
                return "the page: FP8 inference speed in transformers is not optimal"
            if self.engine == "transformers" and "-A" in self.model:
                # ours, not the page's: Qwen3MoeSparseMoeBlock in transformers 4.51 loops over the
                # experts in Python, one small matmul each (1.9 tokens/s for a 3B-active model)
                return "transformers 4.51 runs MoE experts one by one (a Python loop), not modelled"
        return ""


def rows() -> Iterator[Row]:
    """Every row with a published figure (rows marked unsupported, "-", are skipped)."""
    for t in TABLES:
        with (DATA / t.file).open() as f:
            for r in csv.DictReader(f):
                if r["tokens_per_s"] in ("", "-"):
                    continue
                yield Row(
                    table=t,
                    model=r["model"],
                    engine=r["engine"],
                    input_tokens=int(r["input_tokens"]),
                    precision=FORMAT[r["quantization"]],
                    n_gpus=int(r["n_gpus"]),
                    tokens_per_s=float(r["tokens_per_s"]),
                    note=r["note"],
                )


@functools.cache
def _model(name: str) -> lc.Model:
    return lc.get_model(name)


def _generation(row: Row, engine: str | EngineProfile | None) -> GenerationTime:
    """One ``generate()`` of ``NEW_TOKENS`` after the prompt of ``row``. transformers splits several
    GPUs into pipeline stages (``device_map="auto"``); the serving engines use tensor parallelism."""
    n = row.n_gpus
    par = lc.Parallelism(pipeline_parallel=n) if row.engine == "transformers" else lc.Parallelism(tensor_parallel=n)
    w = lc.Inference(
        precision=row.precision,
        prompt_tokens=row.input_tokens,
        context_tokens=row.input_tokens + NEW_TOKENS,
        parallelism=par,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # contexts past max_context are what the tables measured
        return generation_time(_model(row.model), lc.get_gpu(row.table.gpu), w, engine=engine or row.engine)


def predicted(row: Row, engine: str | EngineProfile | None = None) -> float:
    """Tokens/s as the table counts them, for one ``generate()`` of ``NEW_TOKENS`` after the prompt."""
    tokens = NEW_TOKENS + (row.input_tokens if row.table.counts_prompt else 0)
    return tokens / _generation(row, engine).seconds


def prefill_share(row: Row) -> float:
    """The share of the predicted time spent in the prefill (time to first token), shipped profile."""
    g = _generation(row, None)
    return g.ttft_s / g.seconds


#: Rows whose predicted time is at least this much prefill test the prefill (compute) side.
PREFILL_DOMINATED = 0.25
