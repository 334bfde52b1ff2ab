"""Published figures -> workloads -> comparisons."""

from __future__ import annotations

import attrs
import pytest

import llmcatalog as lc

# Settings past a model's max_context are deliberate here (property ranges, traced long contexts,
# published 8192+1-token runs): the ContextLengthWarning they raise is expected.
pytestmark = pytest.mark.filterwarnings("ignore::llmcatalog.ContextLengthWarning")

SRC = "https://example.org"


def test_inference_figures_map_to_workloads() -> None:
    """Prefill/generate figures with lengths become Inference workloads; unspecified ones say why."""
    f = lc.PublishedFigure(
        workload="inference_generate",
        metric="max_allocated",
        source=SRC,
        precision="bnb-nf4",
        batch_size=1,
        seq_len=6,
        gen_len=50,
        memory_value=4.57,
        memory_unit="GB",
    )
    w = lc.workload_for_figure(f)
    assert isinstance(w, lc.Inference)
    assert (w.prefill_tokens, w.context_tokens) == (6, 56)
    unspecified = lc.PublishedFigure(
        workload="inference_unspecified", metric="unspecified", source=SRC, precision="fp16"
    )
    assert "does not say" in lc.workload_for_figure(unspecified)


def test_training_figures_map_to_workloads() -> None:
    """LoRA on a quantized base becomes QLoRA; multi-GPU settings become Parallelism."""
    f = lc.PublishedFigure(
        workload="train_lora",
        metric="approximate",
        source=SRC,
        precision="bnb-int8",
        batch_size=4,
        seq_len=256,
        lora_rank=8,
        lora_targets=("q_proj", "v_proj"),
        n_gpus=4,
        zero_stage=3,
    )
    w = lc.workload_for_figure(f)
    assert isinstance(w, lc.FineTune)
    assert (w.method, w.qlora_format, w.parallelism.zero_stage, w.parallelism.data_parallel) == (
        "qlora",
        "bnb-int8",
        3,
        4,
    )
    no_rank = lc.PublishedFigure(
        workload="train_lora", metric="approximate", source=SRC, precision="bf16", batch_size=1, seq_len=1
    )
    assert "rank" in lc.workload_for_figure(no_rank)


def test_unknown_training_precision_is_not_guessed() -> None:
    """A training figure without its precision is not compared (no default is assumed)."""
    f = lc.PublishedFigure(
        workload="train_full",
        metric="approximate",
        source=SRC,
        batch_size=8,
        seq_len=256,
        memory_value=32.0,
        memory_unit="GB",
    )
    assert lc.workload_for_figure(f) == "the training precision is not given"
    assert lc.workload_for_figure(attrs.evolve(f, precision="fp16")) != "the training precision is not given"


def test_compare_figure(catalog: lc.Catalog) -> None:
    """Allocated figures compare with the tensor part; claims compare with the GPU's memory."""
    m = catalog.get_model("llama-2-7b")
    f = lc.PublishedFigure(
        workload="inference_generate",
        metric="max_allocated",
        source=SRC,
        precision="bf16",
        batch_size=1,
        seq_len=6,
        gen_len=50,
        memory_value=13.52,
        memory_unit="GB",
    )
    c = lc.compare_figure(m, f)
    assert c.status == "compared"
    assert c.compared_bytes == c.estimate.tensor_bytes
    assert abs(c.error) < 0.01
    claim = lc.PublishedFigure(
        workload="inference_generate",
        metric="fits",
        source=SRC,
        precision="bf16",
        batch_size=1,
        seq_len=100,
        gen_len=100,
        gpu="rtx-3090",
    )
    c = lc.compare_figure(m, claim, catalog.get_gpu("rtx-3090"))
    assert c.status == "claim"
    assert c.agrees is True
    assert lc.compare_figure(m, claim).status == "not-comparable"


def test_every_catalog_figure_is_handled(catalog: lc.Catalog) -> None:
    """compare_figure answers for every shipped figure (compared, claim or a reason), never raises."""
    statuses = set()
    for model, fig in catalog.figures():
        gpu = catalog.get_gpu(fig.gpu) if fig.gpu else None
        c = lc.compare_figure(model, fig, gpu)
        statuses.add(c.status)
        assert c.status != "not-comparable" or c.reason
    assert statuses == {"compared", "claim", "not-comparable"}
