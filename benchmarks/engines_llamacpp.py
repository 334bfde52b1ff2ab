"""Compare the llama.cpp buffer model with the start-up logs of tests/data/engines/llamacpp_logs.csv.

Run: python benchmarks/engines_llamacpp.py
Prints one line per logged buffer (MiB as llama.cpp printed it, our estimate, the error) and the
worst error per kind of buffer.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from engines_logs import comparisons


def main() -> None:
    worst: dict[str, float] = {}
    print(f"{'log':<22} {'buffer':<12} {'logged MiB':>11} {'ours MiB':>11} {'error':>8}  source")
    for c in comparisons():
        kind = c["buffer"].split("_", 1)[-1]
        worst[kind] = max(worst.get(kind, 0.0), abs(c["error"]))
        print(
            f"{c['id']:<22} {c['buffer']:<12} {c['logged_mib']:>11.2f} {c['estimate_mib']:>11.2f}"
            f" {c['error']:>+8.2%}  {c['source']}"
        )
    print()
    for kind, err in sorted(worst.items()):
        print(f"worst |error| {kind:<8} {err:.2%}")


if __name__ == "__main__":
    main()
