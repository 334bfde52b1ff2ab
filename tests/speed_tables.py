"""The published speed tables of tests/data/speed/ (provenance in its README) and how to predict a row.

Shared by tests/test_speed.py and benchmarks/fit_speed.py. Every row becomes a :class:`Row` with a
published ``value`` in its ``metric``:

- ``tokens_per_s``: one ``generate()`` at batch 1, ``output_tokens`` after ``input_tokens``; the
  Qwen2.5 page counts generated tokens per second, the Qwen3 page (prompt + generated) per second;
- ``out_tokens_per_s``: ``batch_size`` sequences at once, generated tokens per second (TensorRT-LLM);
- ``ttft_ms``: the time to first token of one prompt, in milliseconds (TensorRT-LLM).
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
from llmcatalog.performance.inference import GenerationTime, generation_time, prefill_speed

DATA = Path(__file__).parent / "data" / "speed"
QWEN_NEW_TOKENS = 2048
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
    """One published table: its file, the GPU it ran on, how its speed counts, which model sizes the
    profiles are fitted on and which engines were fitted on it (for any other engine the whole
    table is a transfer test)."""

    file: str
    gpu: str
    counts_prompt: bool  # Qwen3's speed is (prompt + generated) / time; Qwen2.5's generated / time
    fit_models: tuple[str, ...]
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
    Table(
        file="tensorrt_llm_a100.csv",
        gpu="A100 SXM4 80GB",
        counts_prompt=False,
        fit_models=("Llama-2-7b", "Llama-2-70b"),
        fitted_engines=("tensorrt-llm",),
    ),
)


@attrs.frozen(kw_only=True)
class Row:
    table: Table
    model: str
    engine: str
    precision: str
    batch_size: int
    input_tokens: int
    output_tokens: int
    n_gpus: int
    metric: str
    value: float
    note: str

    @property
    def part(self) -> str:
        """ "fit" (the profile was fitted on it), "held-out" (same table, other models) or
        "transfer" (a table the engine's profile was not fitted on: another GPU and version)."""
        if self.engine not in self.table.fitted_engines:
            return "transfer"
        return "fit" if self.model in self.table.fit_models else "held-out"

    @property
    def flagged(self) -> str:
        """Why this row is not representative ("" when it is): the page's own remarks, or ours."""
        if self.table.file == "qwen3_h20.csv":
            if self.engine == "sglang" and self.precision == "gptq-int4":
                return "the page: GPTQ-INT4 performance in SGLang needs improvement"
            if self.engine == "transformers" and self.precision == "fp8":
                return "the page: FP8 inference speed in transformers is not optimal"
            # transformers' Qwen3-MoE rows (4.51 loops over all 128 experts in Python) are kept: the
            # profile's expert_overhead_s models that loop (performance.engines), fitted on the
            # 1-token-prompt BF16 row; the longer prompts check it
        return ""


def _qwen_rows(t: Table) -> Iterator[Row]:
    with (DATA / t.file).open() as f:
        for r in csv.DictReader(f):
            if r["tokens_per_s"] in ("", "-"):
                continue  # the page marks the setting unsupported
            yield Row(
                table=t,
                model=r["model"],
                engine=r["engine"],
                precision=FORMAT[r["quantization"]],
                batch_size=1,
                input_tokens=int(r["input_tokens"]),
                output_tokens=QWEN_NEW_TOKENS,
                n_gpus=int(r["n_gpus"]),
                metric="tokens_per_s",
                value=float(r["tokens_per_s"]),
                note=r["note"],
            )


def _trt_rows(t: Table) -> Iterator[Row]:
    with (DATA / t.file).open() as f:
        for r in csv.DictReader(f):
            yield Row(
                table=t,
                model=r["model"],
                engine=r["engine"],
                precision="fp16",
                batch_size=int(r["batch_size"]),
                input_tokens=int(r["input_tokens"]),
                output_tokens=int(r["output_tokens"]),
                n_gpus=int(r["n_gpus"]),
                metric=r["metric"],
                value=float(r["value"]),
                note=r["note"],
            )


def rows() -> Iterator[Row]:
    """Every row with a published figure."""
    for t in TABLES:
        yield from (_trt_rows(t) if t.file.startswith("tensorrt") else _qwen_rows(t))


@functools.cache
def _model(name: str) -> lc.Model:
    return lc.get_model(name)


def _workload(row: Row) -> lc.Inference:
    """transformers splits several GPUs into pipeline stages (``device_map="auto"``); the serving
    engines use tensor parallelism."""
    n = row.n_gpus
    par = lc.Parallelism(pipeline_parallel=n) if row.engine == "transformers" else lc.Parallelism(tensor_parallel=n)
    return lc.Inference(
        precision=row.precision,
        batch_size=row.batch_size,
        prompt_tokens=row.input_tokens,
        context_tokens=row.input_tokens + row.output_tokens,
        parallelism=par,
    )


def _generation(row: Row, engine: str | EngineProfile | None) -> GenerationTime:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # contexts past max_context are what the tables measured
        gpu = lc.get_gpu(row.table.gpu)
        return generation_time(_model(row.model), gpu, _workload(row), engine=engine or row.engine)


def predicted(row: Row, engine: str | EngineProfile | None = None) -> float:
    """The row's metric as predicted with ``engine`` (default: the row's engine's shipped profile)."""
    if row.metric == "ttft_ms":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gpu = lc.get_gpu(row.table.gpu)
            return prefill_speed(_model(row.model), gpu, _workload(row), engine=engine or row.engine).ttft_s * 1000
    g = _generation(row, engine)
    if row.metric == "out_tokens_per_s":
        return row.batch_size * row.output_tokens / g.seconds
    tokens = row.output_tokens + (row.input_tokens if row.table.counts_prompt else 0)
    return tokens / g.seconds


def error(row: Row, engine: str | EngineProfile | None = None) -> float:
    """``predicted / published - 1`` for speeds; for a latency the same sign convention (positive:
    predicted faster), ``published / predicted - 1``."""
    p = predicted(row, engine)
    return row.value / p - 1 if row.metric == "ttft_ms" else p / row.value - 1


def prefill_share(row: Row) -> float:
    """The share of the predicted time spent in the prefill (1 for a time-to-first-token row)."""
    if row.metric == "ttft_ms":
        return 1.0
    g = _generation(row, None)
    return g.ttft_s / g.seconds


#: Rows whose predicted time is at least this much prefill test the prefill (compute) side.
PREFILL_DOMINATED = 0.25
