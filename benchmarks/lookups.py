"""Worst-case look-up times on hostile input (issue "foundation", part 3).

Run: python benchmarks/lookups.py
Target: every look-up (get_model/get_gpu/get_tool/search/search_tools/find_models) answers in
< 50 ms on any input of up to 100,000 characters, once the catalog is built. Each figure is the
slowest of 3 calls; a look-up that raises (unknown name, too long a query) counts like one that
answers. tests/test_hostile.py guards the same inputs with a looser bound.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator

SIZES = (10, 100, 999, 1_000, 1_001, 10_000, 100_000)


def hostile_inputs() -> Iterator[tuple[str, str]]:
    """``(label, text)`` pairs: long digit runs, repeated names, random unicode, spaces, many words."""
    rng = random.Random(1234)
    for n in SIZES:
        yield f"digits {n}", "1" * n
        yield f"digits+G {n}", "1" * (n - 1) + "G"
        yield f"digits+spaces {n}", "1" + " " * (n - 2) + "x"
        yield f"repeated name {n}", ("llama-2-7b " * (n // 11 + 1))[:n]
        yield f"repeated llama {n}", ("llama" * (n // 5 + 1))[:n]
        yield f"spaces {n}", " " * n
        yield f"one-letter words {n}", ("a " * n)[:n]
        yield f"distinct words {n}", " ".join(f"l{i}" for i in range(n))[:n]
        yield f"random unicode {n}", "".join(chr(rng.randint(32, 0x2FFFF)) for _ in range(n))
        yield f"CJK {n}", "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(n))
        yield f"punctuation {n}", ("-_. /" * n)[:n]


def lookups(cat: object) -> dict[str, Callable[[str], object]]:
    """The look-ups measured, each taking one string."""
    c: object = cat
    return {
        "get_model": c.get_model,  # type: ignore[attr-defined]
        "get_gpu": c.get_gpu,  # type: ignore[attr-defined]
        "get_tool": c.get_tool,  # type: ignore[attr-defined]
        "search": c.search,  # type: ignore[attr-defined]
        "search_tools": c.search_tools,  # type: ignore[attr-defined]
        "find_models(domain=)": lambda s: c.find_models(domain=s),  # type: ignore[attr-defined]
        "find_models(language=)": lambda s: c.find_models(language=s),  # type: ignore[attr-defined]
        "find_models(organization=)": lambda s: c.find_models(organization=s),  # type: ignore[attr-defined]
    }


def worst_case(cat: object, repeat: int = 3) -> list[tuple[float, str, str]]:
    """``(seconds, look-up, input label)`` for every pair, slowest first."""
    out = []
    for label, text in hostile_inputs():
        for name, fn in lookups(cat).items():
            slowest = 0.0
            for _ in range(repeat):
                t = time.perf_counter()
                with contextlib.suppress(Exception):  # unknown names and refused queries are answers too
                    fn(text)
                slowest = max(slowest, time.perf_counter() - t)
            out.append((slowest, name, label))
    return sorted(out, reverse=True)


def main() -> None:
    import llmcatalog as lc

    cat = lc.catalog()
    results = worst_case(cat)
    print(f"{len(results)} look-ups on hostile input (up to {max(SIZES):,} characters); slowest 12:")
    for seconds, name, label in results[:12]:
        print(f"  {seconds * 1000:8.2f} ms  {name:28s} {label}")
    worst = results[0][0]
    print(f"worst case {worst * 1000:.2f} ms (target < 50 ms): {'OK' if worst < 0.05 else 'MISSED'}")


if __name__ == "__main__":
    main()
