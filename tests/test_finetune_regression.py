"""The cached fine-tune path gives what an uncached one gives, bit for bit (issue 10's speed work).

The speed work memoises per-architecture and per-setting terms (``functools.lru_cache`` in
``llmcatalog.memory``). The risk a cache adds is a key that leaves out something the value depends on, so
that one workload's figure is served for another. These tests estimate a few hundred varied workloads
(``tests/finetune_cases.py``) with warm caches, filled by all the other cases in a shuffled order, and
again from empty caches, and require the same figures, components (in order), assumptions and errors.
Accuracy itself is tested against measured figures elsewhere.
"""

from __future__ import annotations

import functools
import random
import sys

import pytest

import llmcatalog as lc
from finetune_cases import build, cases, outcome
from llmcatalog.memory.result import MemoryEstimate

_CASES = cases()


def _clear_memory_caches() -> int:
    """Empty every functools cache of the calculus modules; returns how many were cleared."""
    n = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("llmcatalog.memory") or module is None:
            continue
        for obj in vars(module).values():
            if isinstance(obj, functools._lru_cache_wrapper):  # the cache type has no public name
                obj.cache_clear()
                n += 1
    return n


def test_cases_cover_the_settings() -> None:
    """The cases span methods, sharding kinds, offload, checkpointing, errors, phases and many families."""
    methods = {c["finetune"]["method"] for c in _CASES}
    assert {"full", "freeze", "lora", "qlora", "p-tuning-v2", "prefix-tuning", "llama-adapter"} <= methods
    stages = {c["parallelism"].get("zero_stage", 0) for c in _CASES}
    assert stages == {0, 1, 2, 3}
    assert {c["parallelism"].get("fsdp", "none") for c in _CASES} >= {"full-shard", "shard-grad-op", "hybrid-shard"}
    assert any(c["parallelism"].get("offload_optimizer") for c in _CASES)
    assert {c["finetune"].get("gradient_checkpointing") for c in _CASES} >= {True, False}
    assert len({c["model"] for c in _CASES}) >= 15
    outcomes = [outcome(c) for c in _CASES]
    assert sum("error" in o for o in outcomes) >= 5
    assert {o.get("peak_phase") for o in outcomes} >= {"backward", "optimizer-step", "end-of-backward"}


def test_warm_caches_give_what_empty_caches_give() -> None:
    """Each case estimated with caches warmed by the others (shuffled) equals it estimated from empty caches.

    One test over all cases (each test clears the catalog cache, conftest.py): the message lists the cases
    that differ, with what changed."""
    assert _clear_memory_caches() >= 10  # the calculus's caches are found (a rename would hide them)
    cold = []
    for case in _CASES:
        _clear_memory_caches()
        cold.append(outcome(case))
    order = list(range(len(_CASES)))
    random.Random(7).shuffle(order)
    warm = {i: outcome(_CASES[i]) for i in order}
    wrong = []
    for i, case in enumerate(_CASES):
        got, expected = warm[i], cold[i]
        if got != expected or list(got.get("components", ())) != list(expected.get("components", ())):
            diff = {k: (expected.get(k), got.get(k)) for k in {*expected, *got} if expected.get(k) != got.get(k)}
            wrong.append(f"case {i} {case['model']} {case['finetune']} {case['parallelism']}: {diff or 'order'}")
    assert not wrong, f"{len(wrong)} of {len(_CASES)} cases differ:\n" + "\n".join(wrong[:5])


def test_repeated_calls_identical() -> None:
    """Caches do not leak between calls: a workload estimated again, after others, gives the same estimate."""
    first = [lc.estimate_vram(*build(c)) for c in _CASES[:40] if "error" not in outcome(c)]
    again = [lc.estimate_vram(*build(c)) for c in _CASES[:40] if "error" not in outcome(c)]
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
