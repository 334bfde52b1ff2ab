"""The inverse questions (planning/): exact at the boundary, ranked remedies, searches over the catalog, CLI."""

from __future__ import annotations

import contextlib
import warnings

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.cli.main import main
from llmcatalog.memory.estimate import tensor_parallel_sizes
from llmcatalog.planning import PRECISION_LADDER, REMEDIES, RemedySpec
from llmcatalog.planning.inverse import largest
from strategies import architectures

GiB = 2**30
#: A 12-layer GQA decoder (~0.1B) small enough that contexts and batches of thousands reach 1-80 GiB cards.
SMALL = lc.Architecture(
    family="llama",
    n_layers=12,
    hidden_size=768,
    n_heads=12,
    n_kv_heads=4,
    head_dim=64,
    ffn_size=2048,
    vocab_size=32000,
    max_context=2**20,
)


def _gpu(gib: float) -> lc.GPU:
    n = int(gib * GiB)
    return lc.GPU(id="card", name="card", vendor="V", memory_bytes=n, allocatable_memory_bytes=n)


def _fits(model: lc.Architecture | lc.Model, gpu: lc.GPU, w: lc.Inference | lc.FineTune) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lc.ContextLengthWarning)
        return lc.fits(model, gpu, w)


@given(
    gib=st.floats(1, 80),
    batch=st.integers(1, 64),
    prompt=st.one_of(st.none(), st.integers(1, 4096)),
    kv=st.sampled_from([None, "fp8"]),
)
def test_max_context_is_exact(gib: float, batch: int, prompt: int | None, kv: str | None) -> None:
    """The longest context fits and one more token does not (or it is the limit); None when 1 token does not fit."""
    gpu = _gpu(gib)
    w = lc.Inference(batch_size=batch, kv_cache_precision=kv, context_tokens=max(prompt or 1, 1), prompt_tokens=prompt)
    n = lc.max_context(SMALL, gpu, w)
    if n is None:
        assert not _fits(SMALL, gpu, attrs.evolve(w, context_tokens=1, prompt_tokens=None if prompt is None else 1))
        return
    at = attrs.evolve(w, context_tokens=n, prompt_tokens=None if prompt is None else min(prompt, n))
    assert _fits(SMALL, gpu, at)
    if n < SMALL.max_context:
        nxt = attrs.evolve(w, context_tokens=n + 1, prompt_tokens=None if prompt is None else min(prompt, n + 1))
        assert not _fits(SMALL, gpu, nxt)


@given(gib=st.floats(2, 80), ctx=st.integers(1, 32768), finetune=st.booleans())
@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # None is an answer here
def test_max_batch_is_exact(gib: float, ctx: int, finetune: bool) -> None:
    """The most sequences fit and one more does not; for a fine-tune the micro-batch."""
    gpu = _gpu(gib)
    w: lc.Inference | lc.FineTune = (
        lc.FineTune(method="lora", seq_len=min(ctx, 4096)) if finetune else lc.Inference(context_tokens=ctx)
    )
    n = lc.max_batch(SMALL, gpu, w)
    if n is None:
        assert not _fits(SMALL, gpu, attrs.evolve(w, batch_size=1))
        return
    assert _fits(SMALL, gpu, attrs.evolve(w, batch_size=n))
    assert not _fits(SMALL, gpu, attrs.evolve(w, batch_size=n + 1))


@given(limit=st.integers(1, 10**6), threshold=st.integers(0, 2 * 10**6))
def test_largest_finds_the_boundary_with_bounded_work(limit: int, threshold: int) -> None:
    """Galloping + bisection: the boundary of a monotone predicate in at most ~2 log2(limit) calls."""
    calls = []

    def ok(n: int) -> bool:
        calls.append(n)
        return n <= threshold

    got = largest(ok, limit)
    assert got == (None if threshold < 1 else min(threshold, limit))
    assert len(calls) <= 2 * limit.bit_length() + 2


def test_max_context_on_real_models(catalog: lc.Catalog) -> None:
    """Llama-2-7B on a 4090 reaches its 4096 limit; past it, the search is exact against fits()."""
    m, g = catalog.get_model("llama-2-7b"), catalog.get_gpu("RTX 4090")
    assert lc.max_context(m, g) == 4096
    n = lc.max_context(m, g, limit=10**6)
    assert n is not None
    assert 4096 < n < 10**6
    assert _fits(m, g, lc.Inference(context_tokens=n))
    assert not _fits(m, g, lc.Inference(context_tokens=n + 1))
    with pytest.warns(lc.NoFitWarning, match="one token of context does not fit on the NVIDIA GeForce RTX 4090"):
        assert lc.max_context(catalog.get_model("llama-2-70b"), g) is None


@given(gib=st.floats(2, 200), ctx=st.sampled_from([512, 2048, 8192]))
@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # None is an answer here
def test_best_precision_is_the_first_that_fits(gib: float, ctx: int) -> None:
    """best_precision returns the first format of the ladder that fits and the GPU runs; every better
    runnable one does not fit (an unknown card is not assumed to have FP8 tensor cores: fp8 is never answered)."""
    arch = attrs.evolve(SMALL, n_layers=80, hidden_size=8192, n_heads=64, n_kv_heads=8, head_dim=128, ffn_size=28672)
    gpu = _gpu(gib)
    w = lc.Inference(context_tokens=ctx)
    best = lc.best_precision(arch, gpu, w)
    assert best != "fp8"
    better = PRECISION_LADDER if best is None else PRECISION_LADDER[: PRECISION_LADDER.index(str(best))]
    for p in (p for p in better if lc.supports(gpu, p).ok):
        assert not _fits(arch, gpu, attrs.evolve(w, precision=p)), p
    if best is not None:
        assert _fits(arch, gpu, attrs.evolve(w, precision=best))


@pytest.mark.filterwarnings("ignore::llmcatalog.NoFitWarning")  # None is an answer here
def test_best_precision_keeps_a_quantized_checkpoint_at_or_below_its_format(catalog: lc.Catalog) -> None:
    """A checkpoint stored quantized (gpt-oss-20b, MXFP4) is not offered bf16; its own format comes first."""
    m = catalog.get_model("gpt-oss-20b")
    assert m.weight_format is not None
    assert m.weight_format.quantized
    assert lc.best_precision(m, catalog.get_gpu("H200")) == m.weight_format
    assert lc.best_precision(m, _gpu(8)) in (None, *PRECISION_LADDER)
    with pytest.raises(lc.WorkloadError, match="inference"):
        lc.best_precision(m, catalog.get_gpu("H200"), lc.FineTune())  # type: ignore[arg-type]


def test_min_tensor_parallel_is_exact(catalog: lc.Catalog) -> None:
    """Llama-2-70B on 4090s: the answer is a valid TP size that fits; every smaller valid size does not."""
    m, g = catalog.get_model("llama-2-70b"), catalog.get_gpu("RTX 4090")
    assert m.architecture is not None
    n = lc.min_tensor_parallel(m, g, lc.Inference(context_tokens=4096))
    assert n in tensor_parallel_sizes(m.architecture)
    for tp in tensor_parallel_sizes(m.architecture):
        w = lc.Inference(context_tokens=4096, parallelism=lc.Parallelism(tensor_parallel=tp))
        if tp < n:
            assert not _fits(m, g, w), tp
        elif tp == n:
            assert _fits(m, g, w)
    assert lc.min_tensor_parallel(m, g, max_gpus=2) is None


@given(arch=architectures(moe=False), gib=st.floats(0.5, 80), batch=st.integers(1, 64))
def test_min_tensor_parallel_is_exact_on_any_architecture(arch: lc.Architecture, gib: float, batch: int) -> None:
    """Random decoders and card sizes: the answer fits and no smaller valid size does; None only when the
    largest valid size does not fit either."""
    gpu, w = _gpu(gib), lc.Inference(batch_size=batch, context_tokens=1024)
    sizes = tensor_parallel_sizes(arch, limit=64)
    n = lc.min_tensor_parallel(arch, gpu, w, max_gpus=64)

    def at(tp: int) -> bool:
        return _fits(arch, gpu, attrs.evolve(w, parallelism=lc.Parallelism(tensor_parallel=tp)))

    if n is None:
        assert not at(sizes[-1])
        return
    assert n in sizes
    assert at(n)
    assert not any(at(tp) for tp in sizes if tp < n)


def test_recommend_ranks_remedies_that_fit_first(catalog: lc.Catalog) -> None:
    """70B QLoRA on one A100 80GB: checkpointing (the common recipe) comes first, and each remedy's
    workload really has the verdict and saving it reports."""
    m, g = catalog.get_model("llama-2-70b"), catalog.get_gpu("A100 80GB")
    # Without checkpointing (the QLoRA recipe turns it on; here it is switched off on purpose).
    w = lc.FineTune(method="qlora", gradient_checkpointing=False)
    base = lc.estimate_vram(m, w).total_bytes
    ranked = lc.recommend(m, g, w)
    assert ranked[0].name == "gradient-checkpointing"
    assert ranked[0].fits
    seen_not_fitting = False
    for r in ranked:
        again = lc.check(m, g, r.workload)
        assert again.verdict == r.check.verdict
        assert r.saved_bytes == base - again.required_bytes > 0
        seen_not_fitting |= not r.fits
        assert not (seen_not_fitting and r.fits), "a fitting remedy ranked after a non-fitting one"
    assert lc.recommend(m, g, attrs.evolve(w, gradient_checkpointing=True)) == ()


def test_recommend_uses_the_users_gpus_and_stacks_when_needed(catalog: lc.Catalog) -> None:
    """Full fine-tuning of a 7B on 4 A100 40GB: ZeRO over the 4 GPUs appears; on one 4090 no single
    remedy suffices and the stack of the cheapest ones that fits is offered."""
    m = catalog.get_model("llama-2-7b")
    w = lc.FineTune(batch_size=4)
    names = [r.name for r in lc.recommend(m, catalog.get_gpu("A100 40GB"), w, n_gpus=4)]
    assert "zero-3" in names
    on_one = lc.recommend(m, catalog.get_gpu("RTX 4090"), w)
    assert all(_fits(m, catalog.get_gpu("RTX 4090"), r.workload) == r.fits for r in on_one)
    # Without the method changes no single remedy suffices: combinations are offered, each fitting,
    # and a combined option string names every flag once (a later --zero replaces an earlier one).
    from llmcatalog.planning import REMEDIES

    no_methods = [s for s in REMEDIES if s.group != "method"]
    combined = lc.recommend(m, catalog.get_gpu("RTX 4090"), w, remedies=no_methods)
    fitting = [r for r in combined if r.fits]
    assert fitting
    assert all("+" in r.name for r in fitting)
    for r in fitting:
        assert _fits(m, catalog.get_gpu("RTX 4090"), r.workload)
        flags = [t for t in r.options.split() if t.startswith("--")]
        assert len(flags) == len(set(flags)), r.options


def test_recommend_inference_remedies(catalog: lc.Catalog) -> None:
    """Serving a 7B with 16 x 4096 tokens on a 4090: FP8 KV cache, fewer sequences, shorter context or
    4-bit weights; every one listed as fitting does fit."""
    m, g = catalog.get_model("llama-2-7b"), catalog.get_gpu("RTX 4090")
    ranked = lc.recommend(m, g, lc.Inference(batch_size=16, context_tokens=4096))
    names = {r.name for r in ranked}
    assert {"fewer-sequences", "shorter-sequences"} <= names
    for r in ranked:
        assert _fits(m, g, r.workload) == r.fits


def test_remedies_are_data(catalog: lc.Catalog) -> None:
    """A new remedy is one RemedySpec: recommend() tries it and ranks it by its effort."""

    def halve_batch(w: lc.Inference | lc.FineTune, ctx: object) -> tuple[lc.Inference | lc.FineTune, str, str] | None:
        return (attrs.evolve(w, batch_size=1), "one sequence", "--batch 1") if w.batch_size > 1 else None

    extra = RemedySpec(name="custom", effort=0, apply=halve_batch)
    m, g = catalog.get_model("llama-2-7b"), catalog.get_gpu("RTX 4090")
    ranked = lc.recommend(m, g, lc.Inference(batch_size=64, context_tokens=4096), remedies=(*REMEDIES, extra))
    assert ranked[0].name == "custom"


def test_models_that_fit_is_filtered_exact_and_fast(catalog: lc.Catalog) -> None:
    """Every model listed fits; a sample of those left out does not fit or cannot run the workload.
    (Its speed over the whole catalog is printed by benchmarks/sweep.py, not asserted here.)"""
    g = catalog.get_gpu("RTX 4090")
    rows = lc.models_that_fit(g)
    assert 50 < len(rows) < len(catalog.models)
    for r in rows:
        assert r.check.fits
        assert _fits(r.model, g, lc.Inference())
    listed = {r.model.id for r in rows}
    for m in catalog.find_models(estimable=True)[:200]:
        if m.id not in listed and m.architecture is not None and m.architecture.max_context >= 2048:
            with contextlib.suppress(lc.LLMCatalogError):
                assert not _fits(m, g, lc.Inference())
    med = lc.models_that_fit(g, lc.FineTune(method="lora"), domain="medical")
    assert med
    assert all(r.model.domain == "medical" for r in med)
    assert [r.model.n_params or 0 for r in med] == sorted((r.model.n_params or 0 for r in med), reverse=True)


def test_which_gpus_ranks_by_fit_then_cost(catalog: lc.Catalog) -> None:
    """Without prices, fitting cards come first; with prices, the priced options that fit (on up to
    max_gpus cards) come first, cheapest total first, then the unpriced (see test_clifix.py); the
    fewest cards are exact."""
    m = catalog.get_model("llama-2-13b")
    w = lc.Inference()
    ranks = [o.check.rank for o in lc.which_gpus(m, w, max_gpus=4)]
    assert ranks == sorted(ranks)
    cost = {"RTX 4090": 0.4, "A100 80GB": 1.6, "H100 SXM": 2.5, "L4": 0.7}
    options = lc.which_gpus(m, w, cost=cost, max_gpus=4)
    priced = [o for o in options if o.n_gpus is not None and o.total_cost is not None]
    assert list(options[: len(priced)]) == priced
    assert [o.total_cost for o in priced] == sorted(o.total_cost for o in priced)  # type: ignore[misc]
    for o in options:
        if o.n_gpus is not None and o.n_gpus > 1:
            assert lc.min_gpus(m, o.gpu, w, max_gpus=4) == o.n_gpus
    with pytest.raises(lc.WorkloadError, match="cost"):
        lc.which_gpus(m, w, gpus=[catalog.get_gpu("T4")], cost={"T4": -1})


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_plan(capsys: pytest.CaptureFixture[str]) -> None:
    """`plan` prints one verdict line, then the ranked remedies; exit 1 when it does not fit."""
    # QLoRA's recipe turns checkpointing on (it fits, below); switched off, the job does not fit.
    code, out, _ = run(capsys, "plan", "llama-2-70b", "--finetune", "qlora", "--gpu", "A100 80GB")
    assert code == 0
    code, out, _ = run(
        capsys, "plan", "llama-2-70b", "--finetune", "qlora", "--no-gradient-checkpointing", "--gpu", "A100 80GB"
    )
    assert code == 1
    first, *rest = out.splitlines()
    assert "does not fit" in first
    assert "79.15 GiB allocatable" in first  # vllm#4408: "79.15 GiB total capacity"
    assert "--gradient-checkpointing" in "\n".join(rest)
    code, out, _ = run(capsys, "plan", "llama-2-7b", "--gpu", "A100 80GB")
    assert code == 0
    assert ": fits," in out


def test_cli_fit_and_custom_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    """`fit` lists catalog models that fit; --gpu-memory describes a card not in the catalog."""
    code, out, _ = run(capsys, "fit", "--gpu", "RTX 4090", "--domain", "medical", "--finetune", "lora")
    assert code == 0
    assert "model(s) fit fine-tune (lora)" in out
    code, out, _ = run(capsys, "fit", "--gpu-memory", "12GiB", "--gpus", "2")
    assert code == 0
    assert "2x custom 12.00 GiB GPU" in out
    assert "assumed: 97%" in out
    with pytest.raises(SystemExit):
        main(["fit", "--gpu-memory", "twelve"])
    assert run(capsys, "fit", "--gpu", "RTX 4090", "--gpu-memory", "12GiB")[0] == 2


@pytest.mark.filterwarnings("ignore::llmcatalog.ContextLengthWarning")
def test_cli_estimate_says_tight_and_names_the_cheapest_remedy(capsys: pytest.CaptureFixture[str]) -> None:
    """estimate: the 70B QLoRA hint names checkpointing; a job inside the headroom is called tight."""
    code, out, _ = run(
        capsys, "estimate", "llama-2-70b", "--finetune", "qlora", "--no-gradient-checkpointing", "--gpu", "A100 80GB"
    )
    assert code == 1
    assert "cheapest remedy that fits on 1 such GPU(s): gradient checkpointing" in out
    m, g = lc.get_model("llama-2-7b"), lc.get_gpu("RTX 4090")
    ctx = next(c for c in range(4096, 60000, 64) if lc.check(m, g, lc.Inference(context_tokens=c)).verdict == "tight")
    code, out, _ = run(capsys, "estimate", "llama-2-7b", "--gpu", "RTX 4090", "--context", str(ctx))
    assert code == 0  # tight can run: only "does not fit" exits 1 (docs/cli.md, exit status)
    assert "-> tight" in out


def test_fsdp_jobs_are_offered_fsdp_cpu_offload(catalog: lc.Catalog) -> None:
    """An FSDP job that does not fit is offered FSDP's own CPU offload (torch ``CPUOffload(offload_params=True)``:
    parameters, gradients and the optimizer step on the CPU), not nothing: QLoRA of Llama-3.1-70B, full-shard
    on 2 x RTX 4090 (the trial found no remedy). The remedy's workload is checked by the estimate itself."""
    m, g = catalog.get_model("llama-3.1-70b"), catalog.get_gpu("RTX 4090")
    par = lc.Parallelism(data_parallel=2, fsdp="full-shard")
    w = lc.FineTune(method="qlora", parallelism=par)
    assert not lc.fits(m, g, w)
    offload = [r for r in lc.recommend(m, g, w, n_gpus=2) if r.workload.parallelism.offload_params]
    assert offload
    assert offload[0].workload.parallelism.fsdp == "full-shard"
    assert "--offload-params" in offload[0].options
    assert lc.fits(m, g, offload[0].workload)
