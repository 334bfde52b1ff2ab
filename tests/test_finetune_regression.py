"""The optimised fine-tune path gives what the code gave before the speed work (issue 10), bit for bit.

``tests/data/finetune_regression.json`` is a regression fixture of the pre-optimisation outputs (a
change detector, not a source of truth: accuracy is tested against measured figures elsewhere); see
``tests/finetune_cases.py`` for the cases and how to rewrite it after a deliberate change of the calculus.
"""

from __future__ import annotations

import json

import pytest

import llmcatalog as lc
from finetune_cases import FIXTURE, build, outcome
from llmcatalog.memory.result import MemoryEstimate

_CASES = json.loads(FIXTURE.read_text())["cases"]


def test_fixture_covers_the_settings() -> None:
    """The fixture spans methods, sharding kinds, offload, checkpointing, errors and several families."""
    methods = {c["finetune"]["method"] for c in _CASES}
    assert {"full", "freeze", "lora", "qlora", "p-tuning-v2", "prefix-tuning", "llama-adapter"} <= methods
    stages = {c["parallelism"].get("zero_stage", 0) for c in _CASES}
    assert stages == {0, 1, 2, 3}
    assert {c["parallelism"].get("fsdp", "none") for c in _CASES} >= {"full-shard", "shard-grad-op", "hybrid-shard"}
    assert any(c["parallelism"].get("offload_optimizer") for c in _CASES)
    assert {c["finetune"].get("gradient_checkpointing") for c in _CASES} >= {True, False}
    assert len({c["model"] for c in _CASES}) >= 15
    assert sum("error" in c["expected"] for c in _CASES) >= 5
    assert {c["expected"].get("peak_phase") for c in _CASES} >= {"backward", "optimizer-step", "end-of-backward"}


def test_same_as_before() -> None:
    """Every figure, component (in order), assumption line (by hash) and error is what it was before.

    One test over all cases (each test clears the catalog cache, conftest.py): the message lists the
    cases that differ, with what changed."""
    wrong = []
    for i, case in enumerate(_CASES):
        expected, got = case["expected"], outcome(case)
        if got != expected or list(got.get("components", ())) != list(expected.get("components", ())):
            diff = {k: (expected.get(k), got.get(k)) for k in {*expected, *got} if expected.get(k) != got.get(k)}
            wrong.append(f"case {i} {case['model']} {case['finetune']} {case['parallelism']}: {diff or 'order'}")
    assert not wrong, f"{len(wrong)} of {len(_CASES)} cases changed:\n" + "\n".join(wrong[:5])


def test_repeated_calls_identical() -> None:
    """Caches do not leak between calls: a workload estimated again, after others, gives the same estimate."""
    first = [lc.estimate_vram(*build(c)) for c in _CASES[:40] if "error" not in c["expected"]]
    again = [lc.estimate_vram(*build(c)) for c in _CASES[:40] if "error" not in c["expected"]]
    assert first == again


def _parts(**changes: int) -> dict[str, int]:
    return {
        "weights_bytes": 10,
        "kv_cache_bytes": 0,
        "activations_bytes": 5,
        "gradients_bytes": 0,
        "optimizer_bytes": 0,
        "overhead_bytes": 3,
        **changes,
    }


def test_memory_estimate_checks_parts() -> None:
    """A part that is not a non-negative int is refused, naming the first bad part."""
    with pytest.raises(ValueError, match=r"^kv_cache_bytes must be a non-negative int, got -1$"):
        MemoryEstimate(**_parts(kv_cache_bytes=-1), components={})
    with pytest.raises(ValueError, match=r"^weights_bytes must be a non-negative int, got 1\.5$"):
        MemoryEstimate(**_parts(weights_bytes=1.5, overhead_bytes=-2), components={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^overhead_bytes must be a non-negative int, got True$"):
        MemoryEstimate(**_parts(overhead_bytes=True), components={})


def test_memory_estimate_checks_components() -> None:
    """Components must add up to their top-level part; parts without components, and other names, pass."""
    ok = MemoryEstimate(**_parts(), components={"weights.a": 4, "weights.b": 6, "activations": 5, "other.x": 1})
    assert ok.total_bytes == 18
    assert list(ok.components) == ["weights.a", "weights.b", "activations", "other.x"]
    with pytest.raises(ValueError, match=r"^components of weights add up to 11, not 10$"):
        MemoryEstimate(**_parts(), components={"weights.a": 5, "weights.b": 6})
    with pytest.raises(ValueError, match=r"^components of activations add up to 4, not 5$"):
        MemoryEstimate(**_parts(), components={"weights": 10, "activations.x": 4})
    with pytest.raises(ValueError, match=r"^components of overhead add up to 0, not 3$"):
        MemoryEstimate(**_parts(), components={"overhead.cuda_context": 0})
