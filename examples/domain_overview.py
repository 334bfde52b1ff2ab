"""What is out there for my domain? Models of one domain, their lineage and published figures.

    python examples/domain_overview.py [DOMAIN]      # e.g. medical, finance, legal, code

Lists the open-weight models of a domain by size, with the model each is built on, and prints
the published GPU-memory figures the catalog holds for them next to llmcatalog's estimate.
"""

from __future__ import annotations

import sys

import llmcatalog as lc


def main(argv: list[str]) -> int:
    domain = argv[0] if argv else "medical"
    if domain not in lc.catalog().domains():
        print(f"unknown domain {domain!r}; known: {', '.join(lc.catalog().domains())}", file=sys.stderr)
        return 2
    models = sorted(lc.find_models(domain=domain, open_weights=True), key=lambda m: m.n_params or 0)
    print(f"{len(models)} open-weight {domain} models\n")
    for m in models:
        size = f"{m.n_params / 1e9:.1f}B" if m.n_params else "?"
        base = f" <- {m.base_model}" if m.base_model else ""
        print(f"  {m.id:<40}{size:>7}  {(m.organization or '')[:40]}{base}")
    print("\npublished GPU memory figures vs. the estimate:")
    for m in models:
        for fig in m.figures:
            c = lc.compare_figure(m, fig)
            if c.status == "compared" and c.published_bytes and c.compared_bytes and c.error is not None:
                pub, est = c.published_bytes / 2**30, c.compared_bytes / 2**30
                print(f"  {m.id:<34}{fig.workload:<22}{pub:>7.2f} GiB published, {est:6.2f} estimated ({c.error:+.0%})")
            elif c.status == "not-comparable":
                print(f"  {m.id:<34}{fig.workload:<22}not comparable: {c.reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
