"""Fixes from a user trial: fewest pipeline stages, FSDP-2 error text, what does not shard in
min_gpus' no-fit warning, warnings pointing at the caller's line, clear errors for None names,
the GPU card's "runs" list, and catalog dates/lineage."""

from __future__ import annotations

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.registry.plugins import catalog


def test_pipeline_remedy_uses_fewest_stages_that_fit() -> None:
    # the user reported --pp 64 with 100000 GPUs and --pp 8 with 8, while --tp 4 was enough
    m, g = catalog().get_model("qwen3-32b"), catalog().get_gpu("RTX 4090")
    w = lc.Inference()
    for n_gpus in (8, 100_000):
        (pp,) = [r for r in lc.recommend(m, g, w, n_gpus=n_gpus) if r.name == "pipeline-split"]
        n = pp.workload.parallelism.pipeline_parallel
        assert pp.fits
        assert n < 8
        fewer = attrs.evolve(w, parallelism=lc.Parallelism(pipeline_parallel=n - 1))
        assert not lc.check(m, g, fewer).fits


def _named_options(message: str) -> set[str]:
    import re

    return set(re.findall(r"\b([a-z_]+)=", message))


def test_fsdp2_shard_grad_op_error_names_options_that_exist() -> None:
    import inspect

    fields = {f.name for f in attrs.fields(lc.Parallelism)}
    params = set(inspect.signature(lc.Parallelism.from_fsdp).parameters)
    with pytest.raises(lc.WorkloadError) as direct:
        lc.Parallelism.from_fsdp(fsdp_version=2, data_parallel=8, sharding_strategy="SHARD_GRAD_OP")
    named = _named_options(str(direct.value))
    assert named and named <= params, named - params
    with pytest.raises(lc.WorkloadError) as raw:
        lc.Parallelism(fsdp="shard-grad-op", fsdp_version=2, data_parallel=8)
    named = _named_options(str(raw.value))
    assert named and named <= fields, named - fields
    # each suggestion it makes is accepted
    lc.Parallelism.from_fsdp(fsdp_version=1, data_parallel=8, sharding_strategy="SHARD_GRAD_OP")
    lc.Parallelism.from_fsdp(fsdp_version=2, data_parallel=8, sharding_strategy="FULL_SHARD")
