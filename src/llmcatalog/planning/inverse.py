"""Inverse questions on one model and one GPU type: the longest context, the most concurrent
sequences, the best weight format, the fewest tensor-parallel GPUs that fit.

Every answer uses :func:`llmcatalog.fits`'s rule (the "fits" verdict: the estimate leaves
``headroom_fraction`` of the allocatable memory free; :mod:`llmcatalog.memory.fit`) and is exact
at the boundary: the answer fits and the next value (context + 1, batch + 1, the next smaller
tensor-parallel size, the next better format) does not, or the answer is the search's limit.
Memory grows with context and batch, so the search gallops (1, 2, 4, ...) up to the first value
that does not fit, then bisects: at most about 2 * log2(limit) estimates (64 for 2**32 tokens).

When not even the smallest value fits (one token, one sequence, the smallest format, all the
GPUs), the answer is ``None``; settings the model cannot run with at all raise as
:func:`~llmcatalog.estimate_vram` does (:class:`~llmcatalog.NotEstimableError`,
:class:`~llmcatalog.WorkloadError`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import attrs

from ..errors import CompatibilityWarning, ContextLengthWarning, NoFitWarning, WorkloadError, outside_stacklevel
from ..memory.estimate import _arch_of, _canonical, _unwrap, check, estimate_vram, tensor_parallel_sizes
from ..memory.fit import HEADROOM_FRACTION, FitCheck, check_headroom, fit_check
from ..values.compat import engine_runs, supports
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.precision import FORMATS, WeightFormat
from ..values.workload import MAX_BATCH_SIZE, MAX_TOKENS, FineTune, Inference

__all__ = [
    "PRECISION_LADDER",
    "best_precision",
    "check_quietly",
    "is_real",
    "largest",
    "max_batch",
    "max_context",
    "min_tensor_parallel",
    "runnable",
]

#: Weight formats from the highest quality down, the order :func:`best_precision` tries. 16-bit
#: first (fp32 is left out: checkpoints are trained in 16 bits and fp32 inference adds no quality);
#: then 8-bit (FP8 before integer formats: Hopper/Ada FP8 keeps accuracy closest to bf16, e.g. the
#: vLLM FP8 docs), then 4-bit with calibrated formats (AWQ, GPTQ: arXiv 2306.00978 compares them)
#: before data-free NF4 (QLoRA, arXiv 2305.14314). Only real formats (a kernel runs them): the
#: idealised ``int8``/``int4`` are lower bounds, not formats (:func:`is_real`). Within a bit width the
#: order is a convention; pass ``candidates=`` to use your own.
PRECISION_LADDER: tuple[str, ...] = (
    "bf16",
    "fp16",
    "fp8",
    "gptq-int8",
    "bnb-int8",
    "awq-int4",
    "gptq-int4",
    "bnb-nf4-dq",
    "bnb-nf4",
)


def check_quietly(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference | FineTune,
    headroom_fraction: float,
    engine: str | None = None,
) -> FitCheck:
    """:func:`llmcatalog.check` without the context-length and compatibility warnings (a search steps past
    the context on purpose, and callers filter formats with :func:`runnable` themselves). With an
    ``engine`` (``"vllm"``, ``"sglang"``) the format asked is counted as it is: transformers' bf16
    fallback for FP8 (:func:`~llmcatalog.memory.estimate.as_run`) is not theirs (FP8 Marlin runs it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ContextLengthWarning)
        warnings.simplefilter("ignore", CompatibilityWarning)
        if engine is None or engine == "transformers":
            return check(model, gpu, workload, headroom_fraction=headroom_fraction)
        headroom = check_headroom(headroom_fraction)
        est = estimate_vram(model, workload)
        return fit_check(est.total_bytes, gpu, headroom_fraction=headroom, n_gpus=est.n_gpus)


def runnable(gpu: GPU, fmt: str | WeightFormat, engine: str | None = None) -> bool:
    """Whether planning may offer ``fmt`` on ``gpu`` (:func:`llmcatalog.supports` says ok): a format the
    GPU cannot run, or that an unknown GPU is not assumed to run (native FP8), is never recommended."""
    return supports(gpu, fmt, engine).ok


def is_real(fmt: str | WeightFormat) -> bool:
    """Whether ``fmt`` is a format a kernel runs: not the idealised ``int8``/``int4`` of
    :data:`~llmcatalog.values.precision.FORMATS` (every parameter at 8/4 bits and no scales: a lower
    bound, :func:`llmcatalog.supports` says so)."""
    f = fmt if isinstance(fmt, WeightFormat) else FORMATS[fmt]
    return not (f.quantized and not f.method and f.name in ("int8", "int4"))


def largest(ok: Callable[[int], bool], limit: int) -> int | None:
    """The largest ``n`` in ``[1, limit]`` with ``ok(n)`` and not ``ok(n + 1)`` (or ``n == limit``),
    found by galloping then bisection; None when ``ok(1)`` is False. ``ok`` should be monotone
    (true up to a point); the boundary pair is evaluated either way."""
    if not ok(1):
        return None
    lo = 1  # ok(lo) holds
    while True:
        if lo >= limit:
            return limit
        hi = min(lo * 2, limit)
        if not ok(hi):
            break
        lo = hi
    while hi - lo > 1:  # ok(lo), not ok(hi)
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _arch(model: Model | Architecture) -> Architecture:
    arch, _, _ = _arch_of(_unwrap(model))  # type: ignore[arg-type]
    return _canonical(arch)


def _workload(workload: Inference | FineTune | None) -> Inference | FineTune:
    if workload is None:
        return Inference()
    if not isinstance(workload, (Inference, FineTune)):
        raise TypeError(f"expected an Inference or FineTune workload, got {type(workload).__name__}")
    return workload


def _limit(name: str, value: object, bound: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= bound:
        raise WorkloadError(f"{name} must be an int from 1 to {bound:,}, got {value!r}")
    return value


def _with_context(w: Inference | FineTune, tokens: int) -> Inference | FineTune:
    if isinstance(w, FineTune):
        return attrs.evolve(w, seq_len=tokens)
    prompt = None if w.prompt_tokens is None else min(w.prompt_tokens, tokens)
    return attrs.evolve(w, context_tokens=tokens, prompt_tokens=prompt)


def max_context(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference | FineTune | None = None,
    *,
    limit: int | None = None,
    headroom_fraction: float = HEADROOM_FRACTION,
) -> int | None:
    """The longest context (``context_tokens``; ``seq_len`` for a :class:`FineTune`) that fits, the
    rest of ``workload`` unchanged (default: ``Inference()``), or None if one token does not fit
    (with a :class:`~llmcatalog.NoFitWarning` giving the memory needed and the GPU's).

    ``limit`` defaults to the model's ``max_context`` (what it was trained for); a larger limit
    searches past it (up to :data:`~llmcatalog.values.workload.MAX_TOKENS`), except for learned
    absolute positions, which have no row past it. A given ``prompt_tokens`` is kept, cut to the
    context when longer.
    """
    w = _workload(workload)
    arch = _arch(model)
    headroom = check_headroom(headroom_fraction)
    bound = arch.max_context if arch.position_embedding == "learned" else MAX_TOKENS
    top = _limit("limit", arch.max_context if limit is None else limit, bound)
    found = largest(lambda n: check_quietly(model, gpu, _with_context(w, n), headroom).fits, top)
    if found is None:
        _warn_no_fit(check_quietly(model, gpu, _with_context(w, 1), headroom), gpu, "one token of context")
    return found


def max_batch(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference | FineTune | None = None,
    *,
    limit: int = MAX_BATCH_SIZE,
    headroom_fraction: float = HEADROOM_FRACTION,
) -> int | None:
    """The most concurrent sequences (``batch_size``; the per-GPU micro-batch of a :class:`FineTune`)
    that fit, the rest of ``workload`` unchanged (default: ``Inference()``), or None if one does not
    (with a :class:`~llmcatalog.NoFitWarning` giving the memory needed and the GPU's)."""
    w = _workload(workload)
    _arch(model)
    headroom = check_headroom(headroom_fraction)
    top = _limit("limit", limit, MAX_BATCH_SIZE)
    found = largest(lambda n: check_quietly(model, gpu, attrs.evolve(w, batch_size=n), headroom).fits, top)
    if found is None:
        _warn_no_fit(check_quietly(model, gpu, attrs.evolve(w, batch_size=1), headroom), gpu, "a batch of one")
    return found


def _warn_no_fit(verdict: FitCheck, gpu: GPU, least: str) -> None:
    """The :class:`~llmcatalog.NoFitWarning` of a search that found nothing: even ``least`` needs more
    than the GPU has (what :func:`llmcatalog.recommend` can help with)."""
    gib = 2**30
    warnings.warn(
        f"even {least} does not fit on the {gpu.name}: {verdict.required_bytes / gib:.2f} GiB per GPU needed,"
        f" {verdict.available_bytes / gib:.2f} GiB allowed (headroom {verdict.headroom_bytes / gib:.2f} GiB);"
        " a smaller precision, more GPUs or another GPU may help (llmcatalog.recommend ranks them)",
        NoFitWarning,
        stacklevel=outside_stacklevel(),
    )


def best_precision(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference | None = None,
    *,
    candidates: Sequence[str | WeightFormat] = PRECISION_LADDER,
    headroom_fraction: float = HEADROOM_FRACTION,
    engine: str | None = None,
) -> str | WeightFormat | None:
    """The first of ``candidates`` (highest quality first: :data:`PRECISION_LADDER`) in which the
    inference ``workload`` fits, or None if no real, runnable one does. None comes with a
    :class:`~llmcatalog.NoFitWarning` saying why, as :func:`llmcatalog.min_gpus`'s: the smallest format
    tried against the memory the GPU takes, or that no candidate runs on it.

    Only real formats ``gpu`` can run with ``engine`` (None: transformers) are answered
    (:func:`llmcatalog.supports`): no FP8 on an A100 with transformers (it would dequantize to bf16),
    no bf16 on a V100 or T4 (fp16 instead), no bitsandbytes on Apple GPUs, and never the idealised
    ``int8``/``int4`` (lower bounds, not kernels: :func:`is_real`), even when given in ``candidates``.
    An ``engine`` that cannot run on ``gpu`` at all (vLLM or SGLang on an Apple GPU: no Metal backend)
    raises :class:`~llmcatalog.WorkloadError`.

    A checkpoint stored quantized (``model.weight_format``) is not made better by a wider format:
    the candidates start at its own format and keep only those with at most its bits per weight.
    Formats the architecture cannot take (GPTQ/AWQ need Linear inputs divisible by 128) are skipped.
    """
    w = _workload(workload)
    if not isinstance(w, Inference):
        raise WorkloadError(
            "best_precision answers for inference; for fine-tuning compare method='lora' and 'qlora' (recommend())"
        )
    _arch(model)
    headroom = check_headroom(headroom_fraction)
    runs = engine_runs(gpu, engine)
    if not runs.ok:
        raise WorkloadError(f"best_precision: {runs.reason}; use engine=None (transformers) there")
    formats: list[str | WeightFormat] = list(candidates)
    for c in formats:
        if not isinstance(c, WeightFormat) and c not in FORMATS:
            raise WorkloadError(f"candidates: {c!r} is not a known precision; choose from {list(FORMATS)}")
    inner = _unwrap(model)
    stored = inner.weight_format if isinstance(inner, Model) else None
    if stored is not None and stored.quantized:
        bits = stored.linear_bits
        lower = [c for c in formats if _fmt(c).quantized and _fmt(c).linear_bits <= bits and _fmt(c) != stored]
        formats = [stored, *lower]
    tried: list[tuple[FitCheck, str]] = []
    skipped: dict[str, list[str]] = {"idealised": [], "cannot run": [], "architecture": []}
    for c in formats:
        if not is_real(c):
            skipped["idealised"].append(_fmt(c).name)
            continue
        if not runnable(gpu, c, engine):
            skipped["cannot run"].append(_fmt(c).name)
            continue
        try:
            verdict = check_quietly(model, gpu, attrs.evolve(w, precision=c), headroom, engine)
        except WorkloadError:
            skipped["architecture"].append(_fmt(c).name)
            continue  # e.g. a group size the architecture cannot take
        if verdict.fits:
            return c
        tried.append((verdict, _fmt(c).name))
    why = _no_format_reason(gpu, tried, skipped, headroom, engine or "transformers")
    warnings.warn(why, NoFitWarning, stacklevel=outside_stacklevel())
    return None


def _no_format_reason(
    gpu: GPU, tried: Sequence[tuple[FitCheck, str]], skipped: dict[str, list[str]], headroom: float, engine: str
) -> str:
    """Why :func:`best_precision` answers None, for its :class:`~llmcatalog.NoFitWarning`: the smallest
    format tried against what the GPU takes (its allocatable memory less the headroom), and the
    candidates not tried (idealised lower bounds, formats the GPU cannot run, formats the architecture
    cannot take)."""
    gib = 2**30
    words = {
        "idealised": "idealised lower bounds, not kernels",
        "cannot run": f"the {gpu.name} cannot run them with {engine} (llmcatalog.supports() says why)",
        "architecture": "the architecture cannot take them (GPTQ/AWQ need Linear inputs divisible by 128)",
    }
    untried = "; ".join(f"{', '.join(names)}: {words[k]}" for k, names in skipped.items() if names)
    if not tried:
        return f"best_precision: None: no candidate format could be tried ({untried or 'none given'})"
    smallest, name = min(tried, key=lambda t: t[0].required_bytes)
    limit = smallest.available_bytes - smallest.headroom_bytes
    text = (
        f"best_precision: None: even the smallest format tried, {name}, needs {smallest.required_bytes / gib:.2f} GiB "
        f"per GPU; the {gpu.name} takes at most {limit / gib:.2f} GiB (its allocatable memory less "
        f"{headroom:.0%} headroom)"
    )
    if untried:
        text += f"; not tried: {untried}"
    return text + "; use more GPUs (llmcatalog.min_gpus, min_tensor_parallel) or llmcatalog.recommend() for remedies"


def _fmt(c: str | WeightFormat) -> WeightFormat:
    return c if isinstance(c, WeightFormat) else FORMATS[c]


def min_tensor_parallel(
    model: Model | Architecture,
    gpu: GPU,
    workload: Inference | None = None,
    *,
    max_gpus: int = 1024,
    headroom_fraction: float = HEADROOM_FRACTION,
) -> int | None:
    """The fewest GPUs that fit an inference split by tensor parallelism (vLLM/SGLang style), over
    the sizes the model's heads allow (:func:`~llmcatalog.memory.estimate.tensor_parallel_sizes`),
    times the workload's pipeline stages; None if ``max_gpus`` do not. Exact: no smaller valid
    size fits (memory per GPU falls as the size grows, but not every size is valid, so each valid
    size is tried in order)."""
    w = _workload(workload)
    if not isinstance(w, Inference):
        raise WorkloadError("min_tensor_parallel answers for inference; for fine-tuning use llmcatalog.min_gpus")
    arch = _arch(model)
    headroom = check_headroom(headroom_fraction)
    top = _limit("max_gpus", max_gpus, 2**20)
    pp = w.parallelism.pipeline_parallel
    for tp in tensor_parallel_sizes(arch, limit=top // pp):
        par = attrs.evolve(w.parallelism, tensor_parallel=tp)
        if check_quietly(model, gpu, attrs.evolve(w, parallelism=par), headroom).fits:
            return tp * pp
    return None
