"""What to change so that a job fits: :func:`recommend` tries every applicable remedy on the
workload and ranks them.

A remedy is data (:class:`RemedySpec`): a name, the workloads it applies to, an ``effort`` rank and
a function that returns the changed workload (and the words for it). To add one (a new optimizer,
a sharding or PEFT setting), append a :class:`RemedySpec` to :data:`REMEDIES` or pass your own
tuple as ``recommend(..., remedies=...)``.

Effort ranks what a remedy costs besides memory, lowest first:

1. nothing but compute: gradient checkpointing (about one more forward pass per step, ~+33%
   compute: Chen et al., arXiv 1604.06174), an 8-bit optimizer (Dettmers et al., arXiv 2110.02861:
   same accuracy), a KV cache in FP8;
2. the same job in smaller pieces: a smaller micro-batch with gradient accumulation (same
   effective batch, slower), spreading over the GPUs the user has (ZeRO / FSDP, tensor or
   pipeline parallelism);
3. a different model state: LoRA, then QLoRA (a 4-bit base), weight quantization for inference;
4. slower hardware paths: CPU offload of optimizer states, then of parameters;
5. a different job: shorter sequences, fewer concurrent sequences.

:func:`recommend` lists the remedies that make the job fit first (by effort, then by memory),
then those that leave it tight, then those that save memory without making it fit (by the memory
saved). Within each verdict the remedies that keep the user's experiment come first; those that
change it (``RemedySpec.changes``: LoRA and QLoRA change the method) follow, labelled "changes the
method: ...". A fine-tune's remedies are also searched in combination (:func:`_combinations`: the
smallest sets of up to four that fit, ZeRO-3 + optimizer offload + checkpointing among them), the
method-keeping ones as thoroughly as the method changes; for inference, when no single remedy is
enough, the cheapest pairs and the stack of them that fits are added.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import attrs

from ..errors import LLMCatalogError, NoFitWarning
from ..memory.estimate import as_run, tensor_parallel_sizes
from ..memory.fit import HEADROOM_FRACTION, FitCheck, check_headroom
from ..values.compat import kv_cache_supports, single_device
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.workload import FineTune, Inference, Parallelism
from .inverse import (
    PRECISION_LADDER,
    _arch,
    _fmt,
    _workload,
    best_precision,
    check_quietly,
    is_real,
    max_batch,
    max_context,
    min_tensor_parallel,
    runnable,
)

__all__ = ["REMEDIES", "Remedy", "RemedyContext", "RemedySpec", "recommend"]

Workload = Inference | FineTune

#: A remedy saving less than this (or 0.1% of the job) is not listed: it changes nothing that matters.
MIN_SAVING_BYTES = 64 * 2**20


@attrs.frozen(kw_only=True)
class RemedyContext:
    """What a remedy may look at: the model, its architecture, the GPU type and count, the rule."""

    model: Model | Architecture
    arch: Architecture
    gpu: GPU
    n_gpus: int
    headroom_fraction: float


#: A remedy's change: the new workload and (what it does, the CLI options that say it), or None.
Change = tuple[Workload, str, str] | None


@attrs.frozen(kw_only=True)
class RemedySpec:
    """One remedy: ``apply(workload, context)`` returns the changed workload or None (not applicable)."""

    name: str
    effort: int
    apply: Callable[[Workload, RemedyContext], Change]
    #: Remedies of one group replace each other when combined (ZeRO stages, methods, optimizers).
    group: str = ""
    #: What of the user's experiment the remedy changes (``"method"`` for LoRA/QLoRA), "" when it keeps
    #: it: those are searched (alone and combined) and ranked after the ones that keep it, and labelled.
    changes: str = ""
    #: A few words for it inside a combination ("checkpointing + ZeRO-3 + optimizer offload"), where the
    #: options say the values; "" uses its full description.
    short: str = ""


@attrs.frozen(kw_only=True)
class Remedy:
    """A remedy tried on the job: its new workload, verdict and the memory it saves per GPU."""

    name: str
    description: str
    options: str
    effort: int
    workload: Workload
    check: FitCheck
    saved_bytes: int
    #: What of the user's experiment it changes (``"method"``: LoRA/QLoRA instead of full fine-tuning),
    #: "" when it keeps it (sharding, offload, checkpointing, micro-batch, 8-bit optimizer, fused loss).
    changes: str = ""

    @property
    def fits(self) -> bool:
        """Whether the changed job fits (the "fits" verdict)."""
        return self.check.fits


# -- fine-tuning remedies ------------------------------------------------------------------
def _checkpointing(w: Workload, c: RemedyContext) -> Change:
    if not isinstance(w, FineTune) or w.checkpointing:
        return None
    return (
        attrs.evolve(w, gradient_checkpointing=True),
        "gradient checkpointing (~+33% compute)",
        "--gradient-checkpointing",
    )


def _bnb(c: RemedyContext) -> bool:
    """Whether bitsandbytes runs on the GPU (its 8-bit optimizers need what its 4-bit layers need)."""
    return runnable(c.gpu, "bnb-nf4")


def _optimizer_8bit(w: Workload, c: RemedyContext) -> Change:
    if not isinstance(w, FineTune) or w.optimizer != "adamw" or not _bnb(c):
        return None
    text = "8-bit AdamW (bitsandbytes)"
    return attrs.evolve(w, optimizer="adamw-8bit"), text, "--optimizer adamw-8bit"


def _paged_8bit(w: Workload, c: RemedyContext) -> Change:
    if not isinstance(w, FineTune) or w.optimizer not in ("adamw", "adamw-8bit") or not _bnb(c):
        return None
    return (
        attrs.evolve(w, optimizer="paged-adamw-8bit"),
        "paged 8-bit AdamW (bitsandbytes, pages to CPU)",
        "--optimizer paged-adamw-8bit",
    )


def _fused_loss(w: Workload, c: RemedyContext) -> Change:
    """A loss that never holds the fp32 logits of every token at once (Liger / unsloth fused linear
    cross-entropy; values/workload.py ``LOSS_IMPLS``): the same loss, computed in pieces."""
    if not isinstance(w, FineTune) or w.loss != "full-logits":
        return None
    return (
        attrs.evolve(w, loss="fused-linear"),
        "fused linear cross-entropy (Liger; no full logits)",
        "--loss fused-linear",
    )


def _quiet_search(search: Callable[..., int | None], c: RemedyContext, w: Workload, limit: int) -> int | None:
    """``max_batch`` / ``max_context`` for a remedy, whose None (nothing fits) the remedy handles itself."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoFitWarning)
        return search(c.model, c.gpu, w, limit=limit, headroom_fraction=c.headroom_fraction)


def _micro_batch(w: Workload, c: RemedyContext) -> Change:
    if not isinstance(w, FineTune) or w.batch_size == 1:
        return None
    b = _quiet_search(max_batch, c, w, w.batch_size) or 1
    if b >= w.batch_size:
        return None
    steps = math.ceil(w.batch_size / b)
    return (
        attrs.evolve(w, batch_size=b),
        f"micro-batch {b} x {steps} accumulation steps",
        f"--batch {b}",
    )


def _data_parallel(w: FineTune, c: RemedyContext) -> int | None:
    p = w.parallelism
    fixed = p.tensor_parallel * p.pipeline_parallel
    dp = c.n_gpus // fixed
    return dp if dp > 1 else None


def _zero(stage: int) -> Callable[[Workload, RemedyContext], Change]:
    def apply(w: Workload, c: RemedyContext) -> Change:
        if not isinstance(w, FineTune) or w.parallelism.shard_stage >= stage or w.parallelism.fsdp != "none":
            return None
        dp = _data_parallel(w, c)
        if dp is None:
            return None
        par = attrs.evolve(w.parallelism, data_parallel=dp, zero_stage=stage)
        what = {1: "states", 2: "states, grads", 3: "params, grads, states"}
        name = "ZeRO-3/FSDP" if stage == 3 else f"ZeRO-{stage}"
        return (
            attrs.evolve(w, parallelism=par),
            f"{name} over {dp} GPUs (shards {what[stage]})",
            f"--dp {dp} --zero {stage}",
        )

    return apply


def _method(method: str) -> Callable[[Workload, RemedyContext], Change]:
    order = ("full", "freeze", "lora", "qlora")

    def apply(w: Workload, c: RemedyContext) -> Change:
        if not isinstance(w, FineTune) or w.method not in order or order.index(w.method) >= order.index(method):
            return None
        if method == "qlora" and not runnable(c.gpu, w.qlora_format):
            return None  # a k-bit base the GPU cannot run (bitsandbytes on Apple GPUs)
        targets = ",".join(w.lora_targets)
        on = targets if len(targets) <= 24 else f"{len(w.lora_targets)} modules"
        what = {
            "lora": f"LoRA r={w.lora_rank} on {on} (base frozen)",
            "qlora": f"QLoRA ({w.qlora_format} base, r={w.lora_rank} on {on})",
        }
        return attrs.evolve(w, method=method), what[method], f"--finetune {method}"

    return apply


def _offload(params: bool) -> Callable[[Workload, RemedyContext], Change]:
    def apply(w: Workload, c: RemedyContext) -> Change:
        if not isinstance(w, FineTune):
            return None
        p = w.parallelism
        if p.fsdp != "none":
            return _fsdp_offload(w, c) if params else None
        # Parameters already on the CPU still leave the optimizer states on the GPU (DeepSpeed's
        # ``offload_param`` and ``offload_optimizer`` are separate switches): offloading them is a remedy.
        if (params and p.offload_params) or (not params and p.offload_optimizer):
            return None
        dp = _data_parallel(w, c) or 1
        stage = 3 if params or p.offload_params else max(p.zero_stage, 2)
        par = attrs.evolve(
            p, data_parallel=dp, zero_stage=stage, offload_optimizer=True, offload_params=params or p.offload_params
        )
        if params:
            text = "ZeRO-3, params + states on CPU (slow)"
            opts = "--offload-params"
        elif p.offload_params:
            text, opts = "ZeRO-3, optimizer states on CPU too (slower)", "--offload-params"
        else:
            text, opts = f"ZeRO-{stage}, optimizer states on CPU (slower)", ""
        dp_option = f"--dp {dp} " if dp > 1 else ""
        return attrs.evolve(w, parallelism=par), text, f"{dp_option}--zero {stage} --offload-optimizer {opts}".strip()

    return apply


def _fsdp_offload(w: FineTune, c: RemedyContext) -> Change:
    """FSDP ``CPUOffload(offload_params=True)``: parameters, gradients and the optimizer step on the CPU
    (torch ``distributed/fsdp/api.py`` ``CPUOffload``; FSDP has no optimizer-only offload). It needs
    sharded parameters (``FULL_SHARD`` / ``HYBRID_SHARD``); the CLI's ``--offload-params`` with ``--fsdp``."""
    p = w.parallelism
    if p.offload_params or p.shard_stage < 3:
        return None
    dp = max(p.data_parallel, _data_parallel(w, c) or 1)
    if p.fsdp == "hybrid-shard" and p.fsdp_shard_group is not None and dp % p.fsdp_shard_group:
        dp = p.data_parallel
    par = attrs.evolve(p, data_parallel=dp, offload_params=True, offload_optimizer=True)
    dp_option = f"--dp {dp} " if dp != p.data_parallel else ""
    return (
        attrs.evolve(w, parallelism=par),
        "FSDP CPU offload: params, grads + step on CPU (slow)",
        (f"{dp_option}--offload-params"),
    )


def _shorter(w: Workload, c: RemedyContext) -> Change:
    tokens = w.seq_len if isinstance(w, FineTune) else w.context_tokens
    # Never past the model's trained context: a remedy must be a run the model is made for.
    limit = min(tokens, c.arch.max_context) if c.arch.max_context else tokens
    n = _quiet_search(max_context, c, w, limit)
    if n is None or n >= tokens:
        return None
    if isinstance(w, FineTune):
        return attrs.evolve(w, seq_len=n), f"sequences of at most {n:,} tokens", f"--seq-len {n}"
    prompt = None if w.prompt_tokens is None else min(w.prompt_tokens, n)
    return attrs.evolve(w, context_tokens=n, prompt_tokens=prompt), f"context of at most {n:,} tokens", f"--context {n}"


# -- inference remedies --------------------------------------------------------------------
def _kv_fp8(w: Workload, c: RemedyContext) -> Change:
    if not isinstance(w, Inference) or w.kv_dtype in ("fp8", "int8"):
        return None
    if not kv_cache_supports(c.gpu, "fp8").ok:  # no vLLM on Apple GPUs; Triton refuses FP8 below 8.0 (Turing, Volta)
        return None
    return attrs.evolve(w, kv_cache_precision="fp8"), "FP8 KV cache (half of 16-bit)", "--kv-precision fp8"


def _tensor_parallel(w: Workload, c: RemedyContext) -> Change:
    if not isinstance(w, Inference) or c.n_gpus < 2 or w.parallelism.n_gpus > 1 or single_device(c.gpu):
        return None
    n = min_tensor_parallel(c.model, c.gpu, w, max_gpus=c.n_gpus, headroom_fraction=c.headroom_fraction)
    if n is None:  # the largest valid size, to show what it saves
        n = tensor_parallel_sizes(c.arch, limit=c.n_gpus)[-1]
        if n == 1:
            return None
    par = Parallelism(tensor_parallel=n)
    return attrs.evolve(w, parallelism=par), f"tensor parallel over {n} GPUs (vLLM/SGLang)", f"--tp {n}"


def _pipeline(w: Workload, c: RemedyContext) -> Change:
    if not isinstance(w, Inference) or c.n_gpus < 2 or w.parallelism.n_gpus > 1 or single_device(c.gpu):
        return None
    top = min(c.n_gpus, c.arch.n_layers)
    # the fewest stages that fit (memory per GPU falls as stages are added), else all of them, to
    # show what splitting saves: like --tp, a split over more GPUs than needed only costs bandwidth
    n = next(
        (
            k
            for k in range(2, top + 1)
            if check_quietly(
                c.model, c.gpu, attrs.evolve(w, parallelism=Parallelism(pipeline_parallel=k)), c.headroom_fraction
            ).fits
        ),
        top,
    )
    return (
        attrs.evolve(w, parallelism=Parallelism(pipeline_parallel=n)),
        f"layers split over {n} GPUs (device_map)",
        f"--pp {n}",
    )


#: The weight formats a remedy may offer: the :data:`PRECISION_LADDER` less the idealised ``int8``/``int4``
#: (every parameter at 8/4 bits and no scales: a lower bound, not a format a checkpoint or an engine has).
REAL_FORMATS: tuple[str, ...] = tuple(p for p in PRECISION_LADDER if is_real(p))


def _quantize(w: Workload, c: RemedyContext) -> Change:
    if not isinstance(w, Inference):
        return None
    # the bits of what runs: FP8 that transformers dequantizes to bf16 (below 8.9) holds 16-bit weights
    running = as_run(c.model, c.gpu, w)[0]
    current = (running if isinstance(running, Inference) else w).weight_format.linear_bits
    if current <= 4:
        return None
    # only formats the GPU runs (llmcatalog.supports): no FP8 on an A100, no bitsandbytes on Apple GPUs
    lower = [p for p in REAL_FORMATS if _fmt(p).linear_bits < current and runnable(c.gpu, p)]
    if not lower:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoFitWarning)  # no format fits: the smallest is offered below
        chosen = best_precision(c.model, c.gpu, w, candidates=lower, headroom_fraction=c.headroom_fraction)
    name = str(chosen) if chosen is not None else _smallest(lower, w, c)
    return attrs.evolve(w, precision=name), f"{name} weights", f"--precision {name}"


def _smallest(formats: Sequence[str], w: Inference, c: RemedyContext) -> str:
    """The format of ``formats`` in which the job needs the least memory (the first on a tie), for a
    job no format makes fit: what it saves shows, and other remedies can stack on it."""
    best, best_bytes = formats[0], None
    for p in formats:
        try:
            required = check_quietly(c.model, c.gpu, attrs.evolve(w, precision=p), c.headroom_fraction).required_bytes
        except LLMCatalogError:
            continue  # a format this architecture cannot take (GPTQ/AWQ need Linear inputs divisible by 128)
        if best_bytes is None or required < best_bytes:
            best, best_bytes = p, required
    return best


def _fewer_sequences(w: Workload, c: RemedyContext) -> Change:
    if not isinstance(w, Inference) or w.batch_size == 1:
        return None
    b = _quiet_search(max_batch, c, w, w.batch_size) or 1
    if b >= w.batch_size:
        return None
    return attrs.evolve(w, batch_size=b), f"{b} concurrent sequence(s), not {w.batch_size}", f"--batch {b}"


#: The remedies :func:`recommend` tries, in no particular order (``effort`` ranks them; see the module docstring).
REMEDIES: tuple[RemedySpec, ...] = (
    RemedySpec(name="gradient-checkpointing", effort=10, apply=_checkpointing, short="checkpointing"),
    RemedySpec(name="8-bit-optimizer", effort=11, apply=_optimizer_8bit, group="optimizer", short="8-bit AdamW"),
    RemedySpec(
        name="paged-8-bit-optimizer", effort=12, apply=_paged_8bit, group="optimizer", short="paged 8-bit AdamW"
    ),
    RemedySpec(name="kv-cache-fp8", effort=13, apply=_kv_fp8),
    RemedySpec(name="fused-loss", effort=14, apply=_fused_loss, short="fused loss"),
    RemedySpec(name="micro-batch", effort=20, apply=_micro_batch, short="smaller micro-batch"),
    RemedySpec(name="zero-1", effort=21, apply=_zero(1), group="zero", short="ZeRO-1"),
    RemedySpec(name="zero-2", effort=22, apply=_zero(2), group="zero", short="ZeRO-2"),
    RemedySpec(name="zero-3", effort=23, apply=_zero(3), group="zero", short="ZeRO-3"),
    RemedySpec(name="tensor-parallel", effort=24, apply=_tensor_parallel),
    RemedySpec(name="pipeline-split", effort=25, apply=_pipeline),
    RemedySpec(name="lora", effort=30, apply=_method("lora"), group="method", changes="method", short="LoRA"),
    RemedySpec(name="qlora", effort=31, apply=_method("qlora"), group="method", changes="method", short="QLoRA"),
    RemedySpec(name="quantize-weights", effort=32, apply=_quantize),
    RemedySpec(name="offload-optimizer", effort=40, apply=_offload(False), group="offload", short="optimizer offload"),
    RemedySpec(
        name="offload-params", effort=41, apply=_offload(True), group="offload", short="params + optimizer offload"
    ),
    RemedySpec(name="fewer-sequences", effort=50, apply=_fewer_sequences),
    RemedySpec(name="shorter-sequences", effort=51, apply=_shorter),
)


def _try(spec: RemedySpec, w: Workload, ctx: RemedyContext, base: int) -> Remedy | None:
    try:
        change = spec.apply(w, ctx)
        if change is None:
            return None
        new, text, options = change
        result = check_quietly(ctx.model, ctx.gpu, new, ctx.headroom_fraction)
    except LLMCatalogError:
        return None  # not possible for this model (e.g. a format its sizes cannot take)
    return Remedy(
        name=spec.name,
        description=_labelled(text, spec.changes),
        options=options,
        effort=spec.effort,
        workload=new,
        check=result,
        saved_bytes=base - result.required_bytes,
        changes=spec.changes,
    )


def _labelled(text: str, changes: str) -> str:
    """``text`` said as a change of the experiment ("changes the method: LoRA ...") when it is one."""
    return f"changes the {changes}: {text}" if changes else text


def _unlabelled(text: str, changes: str) -> str:
    return text.removeprefix(f"changes the {changes}: ") if changes else text


def recommend(
    model: Model | Architecture,
    gpu: GPU,
    workload: Workload | None = None,
    *,
    n_gpus: int | None = None,
    remedies: Sequence[RemedySpec] = REMEDIES,
    headroom_fraction: float = HEADROOM_FRACTION,
) -> tuple[Remedy, ...]:
    """The remedies that make ``workload`` fit ``model`` on ``n_gpus`` GPUs of type ``gpu``, ranked
    (see the module docstring); each says the memory per GPU it saves and its verdict.

    ``n_gpus`` is how many GPUs the user has (default: as many as the workload uses); remedies
    that spread the job (ZeRO, tensor or pipeline parallelism) use them. A job that already fits
    gets ``()``. Remedies that change nothing or add memory are left out.
    """
    w = _workload(workload)
    arch = _arch(model)
    headroom = check_headroom(headroom_fraction)
    n = w.parallelism.n_gpus if n_gpus is None else n_gpus
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 2**20:
        raise ValueError(f"n_gpus must be an int from 1 to 2**20, got {n!r}")
    base = check_quietly(model, gpu, w, headroom)
    if base.fits:
        return ()
    ctx = RemedyContext(model=model, arch=arch, gpu=gpu, n_gpus=n, headroom_fraction=headroom)
    specs = sorted(remedies, key=lambda s: s.effort)
    noise = max(MIN_SAVING_BYTES, base.required_bytes // 1000)
    tried = [r for s in specs if (r := _try(s, w, ctx, base.required_bytes)) is not None and r.saved_bytes > noise]
    if isinstance(w, FineTune):
        # Every small combination: those that keep the user's method are searched as thoroughly as
        # LoRA/QLoRA, whether or not a method change alone would fit.
        combos = [s for s in specs if s.name != "shorter-sequences"]
        fitting = {r.name for r in tried if r.fits}
        tried.extend(_combinations(combos, w, ctx, base.required_bytes, fitting))
    if not any(r.fits for r in tried):
        pairs = [] if isinstance(w, FineTune) else _pairs(specs, w, ctx, base.required_bytes)
        tried.extend(pairs)
        # Inference also gets the full stack when pairs fit: an FP8 KV cache on top of 4-bit weights
        # leaves room for a longer context than either pair (the stack ends on the shortest cut).
        if not pairs or isinstance(w, Inference):
            stacked = _stack(specs, w, ctx, base.required_bytes)
            if stacked is not None and all(stacked.options != r.options for r in pairs):
                tried.append(stacked)

    def key(r: Remedy) -> tuple[int, bool, float, int, int]:
        # Within a verdict, the remedies that keep the user's experiment come before those that change it.
        if r.check.verdict == "does not fit":
            return (2, bool(r.changes), -r.saved_bytes, r.effort, 0)
        return (r.check.rank, bool(r.changes), r.effort, r.name.count("+"), r.check.required_bytes)

    return tuple(sorted(tried, key=key))


def _merged_options(options: Sequence[str]) -> str:
    """Command-line options of remedies applied one after the other: a later value of the same flag
    replaces the earlier one (``--zero 2`` then ``--zero 3`` is ``--zero 3``), order kept."""
    merged: dict[str, str | None] = {}
    for text in options:
        tokens = text.split()
        i = 0
        while i < len(tokens):
            flag = tokens[i]
            value = tokens[i + 1] if i + 1 < len(tokens) and not tokens[i + 1].startswith("--") else None
            merged.pop(flag, None)
            merged[flag] = value
            i += 2 if value is not None else 1
    return " ".join(f"{k} {v}" if v is not None else k for k, v in merged.items())


def _combined(applied: Sequence[tuple[RemedySpec, Remedy]], base: int, *, bump: int = 100) -> Remedy:
    """Remedies applied one after the other as one: its effort is the largest of theirs plus ``bump``;
    a combination that changes the experiment is labelled so once, in front."""
    last = applied[-1][1]
    changes = next((spec.changes for spec, _ in applied if spec.changes), "")
    text = " + ".join(spec.short or _unlabelled(r.description, spec.changes) for spec, r in applied)
    return Remedy(
        name="+".join(spec.name for spec, _ in applied),
        description=_labelled(text, changes),
        options=_merged_options([r.options for _, r in applied if r.options]),
        effort=max(spec.effort for spec, _ in applied) + bump,
        workload=last.workload,
        check=last.check,
        saved_bytes=base - last.check.required_bytes,
        changes=changes,
    )


#: How many remedies :func:`_combinations` combines at most, and how many fitting combinations it keeps
#: of those that keep the experiment and of those that change it.
MAX_COMBINED = 4
KEEP_COMBINATIONS = 3
CHANGE_COMBINATIONS = 2


def _combinations(
    specs: Sequence[RemedySpec], w: FineTune, ctx: RemedyContext, base: int, fitting: set[str]
) -> list[Remedy]:
    """The smallest combinations of fine-tuning remedies that make the job fit, found by trying every
    combination of up to :data:`MAX_COMBINED` remedies of different groups, each applied in effort
    order and kept unless it adds memory: ZeRO-3 + optimizer offload + gradient
    checkpointing, say, which no pair and no cheapest-first stack finds.

    A combination is dropped when a part of it fits alone or with fewer others (``fitting``: the
    single remedies that fit), and so is one that another of its kind (keeping or changing the method)
    matches or beats in effort, number of remedies and memory. Returned: the :data:`KEEP_COMBINATIONS`
    cheapest that keep the user's method and the :data:`CHANGE_COMBINATIONS` cheapest that change it,
    cheapest by their costliest remedy (effort), then fewer remedies, then the smaller memory per GPU."""
    found: list[tuple[frozenset[str], Remedy]] = []

    def grow(start: int, current: Workload, required: int, applied: list[tuple[RemedySpec, Remedy]]) -> None:
        for i in range(start, len(specs)):
            spec = specs[i]
            if spec.group and any(s.group == spec.group for s, _ in applied):
                continue
            r = _try(spec, current, ctx, required)
            # One that saves nothing yet is kept on: checkpointing saves nothing while the optimizer
            # states make the peak, and much once ZeRO has sharded them. Minimality drops the idle ones.
            if r is None or r.saved_bytes < 0:
                continue
            chain = [*applied, (spec, r)]
            if r.fits:
                if len(chain) > 1:
                    found.append((frozenset(s.name for s, _ in chain), _combined(chain, base, bump=0)))
            elif len(chain) < MAX_COMBINED:
                grow(i + 1, r.workload, r.check.required_bytes, chain)

    grow(0, w, base, [])
    sets = [names for names, _ in found] + [frozenset([n]) for n in fitting]
    minimal = [r for names, r in found if not any(other < names for other in sets)]
    cost = [(r.effort, r.name.count("+"), r.check.required_bytes) for r in minimal]
    # A combination no cheaper, no shorter and no smaller than another of its kind adds nothing to the list.
    useful = [
        r
        for r, c in zip(minimal, cost, strict=True)
        if not any(
            o is not r
            and bool(o.changes) == bool(r.changes)
            and d != c
            and all(x <= y for x, y in zip(d, c, strict=True))
            for o, d in zip(minimal, cost, strict=True)
        )
    ]
    useful.sort(key=lambda r: (r.effort, r.name.count("+"), r.check.required_bytes))
    keep = [r for r in useful if not r.changes][:KEEP_COMBINATIONS]
    change = [r for r in useful if r.changes][:CHANGE_COMBINATIONS]
    return keep + change


def _pairs(specs: Sequence[RemedySpec], w: Workload, ctx: RemedyContext, base: int, limit: int = 3) -> list[Remedy]:
    """Two remedies of different groups applied together, for jobs no single remedy makes fit: the
    ``limit`` cheapest pairs that fit (by the larger effort, then the smaller memory)."""
    found: list[Remedy] = []
    for i, first in enumerate(specs):
        one = _try(first, w, ctx, base)
        if one is None or one.saved_bytes <= 0:
            continue
        for second in specs[i + 1 :]:
            if second.group and second.group == first.group:
                continue
            two = _try(second, one.workload, ctx, one.check.required_bytes)
            if two is not None and two.saved_bytes > 0 and two.fits:
                found.append(_combined([(first, one), (second, two)], base))
    found.sort(key=lambda r: (r.effort, r.check.required_bytes))
    return found[:limit]


def _stack(specs: Sequence[RemedySpec], w: Workload, ctx: RemedyContext, base: int) -> Remedy | None:
    """The remedies applied one on top of the other, cheapest first, each kept only if it saves
    memory (a later one of the same group replaces the earlier), until the job fits; None if even
    all of them do not make it fit."""
    current, required = w, base
    applied: list[tuple[RemedySpec, Remedy]] = []
    for spec in specs:
        r = _try(spec, current, ctx, required)
        if r is None or r.saved_bytes <= 0:
            continue
        current, required = r.workload, r.check.required_bytes
        applied = [(s_, r_) for s_, r_ in applied if not (spec.group and s_.group == spec.group)]
        applied.append((spec, r))
        if r.fits:
            return _combined(applied, base)
    return None
