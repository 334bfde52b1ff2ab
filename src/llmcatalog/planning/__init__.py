"""Planning: questions asked over the memory calculus and the catalog (inverse answers, remedies, sweeps)."""
