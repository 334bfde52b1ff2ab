"""``sweep``: every (model, GPU, workload) combination estimated at once, as rows.

    >>> import llmcatalog as lc
    >>> s = lc.sweep(["llama-2-7b", "mistral-7b"], ["RTX 4090", "A100 80GB"], lc.Inference(precision="bf16"))
    >>> len(s), s[0].fits
    (4, True)

The memory an estimate needs does not depend on the GPU (:func:`~llmcatalog.estimate_vram` takes
none; the GPU enters only in :func:`~llmcatalog.fits`, as the total against ``gpu.available_bytes`` less
the headroom kept free: :func:`~llmcatalog.check`).
So a sweep estimates each (model, workload) pair once and compares its total with every GPU's
memory. Models that share an architecture (a base model and its fine-tunes, most of the catalog)
share that estimate too: it is keyed by what the estimate reads (the architecture, the parameters
of non-language-model components, the checkpoint's stored weight format, and the workload), so each
distinct key is computed once by :func:`~llmcatalog.estimate_vram` itself and every row equals what
``estimate_vram(model, workload)`` returns for it (tested with Hypothesis), except where transformers
holds the weights in a bigger form on the row's GPU (FP8 dequantized to bf16 below compute
capability 8.9: :func:`~llmcatalog.memory.estimate.as_run`): that row has the estimate of what runs,
as :func:`~llmcatalog.check` counts it, and its assumptions say so.

Tokens per second: a row has a ``tokens_per_s`` column, ``None`` unless ``speed`` is given:
``speed=True`` fills it from the speed calculus (:func:`estimated_tokens_per_s`: decode tokens/s of
the transformers profile for inference, training tokens/s at the default MFU for fine-tuning), or
any callable ``speed(model, gpu, workload, estimate) -> float | None`` (called for the rows whose
total is within the GPU's memory). It costs about 30 µs a row, so it is off by default.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeAlias, overload

import attrs

from ..errors import (
    LLMCatalogError,
    MissingDependencyError,
    MissingGPUFigureError,
    NoFitWarning,
    QueryError,
    UncountedPartsWarning,
)
from ..memory.estimate import _check_overhead, as_run, estimate_vram, with_run_note
from ..memory.fit import FitCheck, fit_check
from ..memory.overhead import ALLOCATOR_FRACTION, CUDA_CONTEXT_BYTES
from ..memory.result import MemoryEstimate
from ..registry.plugins import catalog
from ..values import render
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.workload import FineTune, Inference

__all__ = [
    "PARTS",
    "SpeedHook",
    "Sweep",
    "SweepError",
    "SweepRow",
    "estimated_tokens_per_s",
    "sweep",
    "workload_label",
]

Workload: TypeAlias = Inference | FineTune
ModelLike: TypeAlias = Model | Architecture

#: ``speed(model, gpu, workload, estimate)``: tokens per second for a row that fits, or None when unknown.
SpeedHook: TypeAlias = Callable[[ModelLike, GPU, Workload, MemoryEstimate], float | None]

#: The top-level memory parts, in the order of the columns.
PARTS = ("weights", "kv_cache", "activations", "gradients", "optimizer", "overhead")

#: The flat columns of a row (:meth:`SweepRow.as_dict`), in order.
COLUMNS = (
    "model",
    "gpu",
    "workload",
    *(f"{p}_bytes" for p in PARTS),
    "total_bytes",
    "gpu_available_bytes",
    "headroom_bytes",
    "verdict",
    "fits",
    "tokens_per_s",
)


@functools.lru_cache(maxsize=4096)
def workload_label(workload: Workload) -> str:
    """A short label of a workload for tables: ``inference bf16 b1 ctx2048``, ``lora bf16 b4 seq512 gc``."""
    if isinstance(workload, Inference):
        text = (
            f"inference {workload.weight_format.name} b{workload.batch_size} ctx{workload.context_tokens}"
            if workload.precision_given
            else f"inference as-stored b{workload.batch_size} ctx{workload.context_tokens}"
        )
        if workload.kv_cache_precision:
            text += f" kv-{workload.kv_cache_precision}"
    else:
        text = f"{workload.method} {workload.precision} b{workload.batch_size} seq{workload.seq_len}"
        if workload.method in ("lora", "qlora"):
            text += f" r{workload.lora_rank}"
        if workload.checkpointing:
            text += " gc"
        if workload.optimizer != "adamw":
            text += f" {workload.optimizer}"
        if workload.parallelism.shard_stage:
            text += f" zero{workload.parallelism.shard_stage}"
    p = workload.parallelism
    if p.tensor_parallel > 1:
        text += f" tp{p.tensor_parallel}"
    if p.pipeline_parallel > 1:
        text += f" pp{p.pipeline_parallel}"
    if p.data_parallel > 1:
        text += f" dp{p.data_parallel}"
    return text


def _model_label(model: ModelLike) -> str:
    return model.id if isinstance(model, Model) else f"{model.family} (architecture)"


class SweepRow(NamedTuple):
    """One (model, GPU, workload) estimate: the per-GPU memory breakdown, its fit and its speed.

    An immutable named tuple rather than an attrs class: a sweep makes hundreds of thousands of
    rows, and a tuple is built several times faster.
    """

    model: ModelLike
    gpu: GPU
    workload: Workload
    estimate: MemoryEstimate
    tokens_per_s: float | None = None

    @property
    def total_bytes(self) -> int:
        """Per-GPU memory at the peak, overhead included."""
        return self.estimate.total_bytes

    @property
    def check(self) -> FitCheck:
        """The verdict on this GPU (fits / tight / does not fit), by :func:`llmcatalog.check`'s rule."""
        return fit_check(self.estimate.total_bytes, self.gpu, n_gpus=self.estimate.n_gpus)

    @property
    def fits(self) -> bool:
        """True when the estimate fits the GPU with the headroom kept free (as :func:`llmcatalog.fits`)."""
        return self.check.fits

    @property
    def verdict(self) -> str:
        """``"fits"``, ``"tight"`` (inside the headroom) or ``"does not fit"``."""
        return self.check.verdict

    @property
    def headroom_bytes(self) -> int:
        """The GPU's available memory minus the estimate (negative when it does not fit)."""
        return self.gpu.available_bytes - self.estimate.total_bytes

    @property
    def model_label(self) -> str:
        """The model's id (or ``<family> (architecture)`` for a bare :class:`Architecture`)."""
        return _model_label(self.model)

    def as_dict(self, *, components: bool = False) -> dict[str, Any]:
        """The row as a flat dict of :data:`COLUMNS` (bytes as ints); ``components=True`` adds one
        ``components.<name>`` entry per refined component of the estimate."""
        e = self.estimate
        out: dict[str, Any] = {
            "model": self.model_label,
            "gpu": self.gpu.id,
            "workload": workload_label(self.workload),
            "weights_bytes": e.weights_bytes,
            "kv_cache_bytes": e.kv_cache_bytes,
            "activations_bytes": e.activations_bytes,
            "gradients_bytes": e.gradients_bytes,
            "optimizer_bytes": e.optimizer_bytes,
            "overhead_bytes": e.overhead_bytes,
            "total_bytes": e.total_bytes,
            "gpu_available_bytes": self.gpu.available_bytes,
            "headroom_bytes": self.headroom_bytes,
            "verdict": self.verdict,
            "fits": self.fits,
            "tokens_per_s": self.tokens_per_s,
        }
        if components:
            out.update({f"components.{k}": v for k, v in e.components.items()})
        return out

    def _repr_html_(self) -> str:
        """The estimate's table and its bar against this row's GPU."""
        return self.estimate.to_html(self.gpu)

    def to_markdown(self) -> str:
        """The estimate's breakdown and the verdict on this row's GPU, as markdown."""
        return self.estimate.to_markdown(self.gpu)

    def __repr__(self) -> str:
        return (
            f"SweepRow(model={self.model_label!r}, gpu={self.gpu.id!r}, workload={workload_label(self.workload)!r}, "
            f"total_gib={self.estimate.total_gib:.2f}, fits={self.fits}, tokens_per_s={self.tokens_per_s})"
        )


@attrs.frozen(kw_only=True)
class SweepError:
    """A (model, workload) pair that could not be estimated in a sweep with ``errors="skip"``."""

    model: str
    workload: str
    error: str


_HEADERS = ("model", "GPU", "workload", *PARTS, "total GiB", "GPU GiB", "verdict", "tokens/s")


def _display(row: SweepRow) -> list[object]:
    e = row.estimate
    return [
        row.model_label,
        row.gpu.id,
        workload_label(row.workload),
        *(render.gib(getattr(e, f"{p}_bytes")) for p in PARTS),
        render.gib(e.total_bytes),
        render.gib(row.gpu.available_bytes),
        row.verdict,  # "tight" rows run (with a speed) but are not "fits"
        "" if row.tokens_per_s is None else f"{row.tokens_per_s:.1f}",
    ]


class Sweep(Sequence[SweepRow]):
    """The rows of a :func:`sweep`, in the order models x GPUs x workloads; a read-only sequence.

    ``skipped`` lists the pairs that could not be estimated (with ``errors="skip"``).
    """

    __slots__ = ("_rows", "skipped")

    def __init__(self, rows: Sequence[SweepRow], skipped: Sequence[SweepError] = ()) -> None:
        self._rows = tuple(rows)
        self.skipped = tuple(skipped)

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> SweepRow: ...
    @overload
    def __getitem__(self, index: slice) -> Sweep: ...
    def __getitem__(self, index: int | slice) -> SweepRow | Sweep:
        if isinstance(index, slice):
            return Sweep(self._rows[index], self.skipped)
        return self._rows[index]

    def __iter__(self) -> Iterator[SweepRow]:
        return iter(self._rows)

    def __repr__(self) -> str:
        fit = sum(r.fits for r in self._rows)
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return f"<Sweep: {len(self._rows)} rows, {fit} fit{skipped}>"

    def where(self, predicate: Callable[[SweepRow], bool]) -> Sweep:
        """The rows for which ``predicate(row)`` is true (e.g. ``lambda r: r.fits``)."""
        return Sweep([r for r in self._rows if predicate(r)], self.skipped)

    def fitting(self) -> Sweep:
        """The rows that fit their GPU."""
        return self.where(lambda r: r.fits)

    def to_records(self, *, components: bool = False) -> list[dict[str, Any]]:
        """The rows as flat dicts (:meth:`SweepRow.as_dict`); typed values, bytes as ints."""
        with _gc_paused():
            return [r.as_dict(components=components) for r in self._rows]

    def to_pandas(self, *, components: bool = False) -> Any:
        """A ``pandas.DataFrame`` of :meth:`to_records` (needs the ``pandas`` extra). With
        ``components=True`` each refined component is a column (0 where a row has none)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise MissingDependencyError("Sweep.to_pandas()", "pandas", "pandas") from exc
        records = self.to_records(components=components)
        columns = list(COLUMNS)
        if components:
            extra = sorted({k for rec in records for k in rec if k.startswith("components.")})
            columns += extra
            for rec in records:
                for k in extra:
                    rec.setdefault(k, 0)
        frame = pd.DataFrame.from_records(records, columns=columns)
        frame["tokens_per_s"] = frame["tokens_per_s"].astype("float64")
        return frame

    def to_markdown(self) -> str:
        """A markdown table: one line per row, the parts and totals in GiB."""
        return render.markdown_table(_HEADERS, [_display(r) for r in self._rows], right=tuple(range(3, 13)))

    def to_csv(self, *, components: bool = False) -> str:
        """CSV text of :meth:`to_records` (bytes as ints, ``fits`` as ``true``/``false``, None empty)."""
        import csv
        import io

        records = self.to_records(components=components)
        columns = list(COLUMNS)
        if components:
            columns += sorted({k for rec in records for k in rec if k.startswith("components.")})
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for rec in records:
            writer.writerow([_csv_cell(rec.get(c, 0)) for c in columns])
        return buf.getvalue()

    def to_html(self, *, limit: int = 200) -> str:
        """An HTML table, each row with a stacked bar of its breakdown against its GPU's memory
        (the first ``limit`` rows)."""
        rows = []
        for r in self._rows[:limit]:
            bar = render.bar_svg(
                r.estimate.parts,
                r.gpu.available_bytes,
                capacity_label=f"{r.gpu.name}: {render.gib(r.gpu.available_bytes)} GiB",
                width=200,
                height=14,
            )
            rows.append([*_display(r), bar])
        more = f"<p>... {len(self._rows) - limit} more rows</p>" if len(self._rows) > limit else ""
        table = render.html_table(
            [*_HEADERS, "memory vs GPU"], rows, right=tuple(range(3, 13)), raw=(13,), caption=repr(self)
        )
        return f"<div>{table}{render.legend_html(PARTS)}{more}</div>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def plot(self, *, ax: Any = None, limit: int = 40) -> Any:
        """Stacked horizontal bars (GiB), one per row (the first ``limit``), each against its GPU's
        memory; returns the matplotlib ``Axes``. Needs the ``plot`` extra (matplotlib)."""
        from ..values.plot import plot_bars

        bars = [
            (f"{r.model_label} | {r.gpu.id} | {workload_label(r.workload)}", r.estimate.parts, r.gpu.available_bytes)
            for r in self._rows[:limit]
        ]
        return plot_bars(bars, ax=ax, title=repr(self))


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _as_list(value: object, kind: type | tuple[type, ...], what: str) -> list[Any]:
    """One item or an iterable of items (a str is one item, not its characters)."""
    if isinstance(value, (str, *(kind if isinstance(kind, tuple) else (kind,)))):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    raise TypeError(f"{what} must be one item or an iterable of them, got {type(value).__name__}")


def _resolve_models(models: object, unknown: list[tuple[str, str]] | None = None) -> list[ModelLike]:
    """The models; with ``unknown`` (``errors="skip"``) a name the catalog does not know is recorded
    there as (name, error) instead of raising."""
    out: list[ModelLike] = []
    for m in _as_list(models, (Model, Architecture), "models"):
        if isinstance(m, str):
            try:
                out.append(catalog().get_model(m))
            except LLMCatalogError as exc:
                if unknown is None:
                    raise
                unknown.append((m, str(exc)))
        elif isinstance(m, (Model, Architecture)):
            out.append(m)
        else:
            inner = getattr(m, "model", None)  # an importer's result (from_local, from_gguf, from_hub)
            if isinstance(inner, Model):
                out.append(inner)
            else:
                raise TypeError(f"models: expected a Model, an Architecture or a catalog name, got {type(m).__name__}")
    return out


def _resolve_gpus(gpus: object) -> list[GPU]:
    out: list[GPU] = []
    for g in _as_list(gpus, GPU, "gpus"):
        if isinstance(g, str):
            out.append(catalog().get_gpu(g))
        elif isinstance(g, GPU):
            out.append(g)
        else:
            raise TypeError(f"gpus: expected a GPU or a catalog GPU name, got {type(g).__name__}")
    return out


def _resolve_workloads(workloads: object) -> list[Workload]:
    out = _as_list(workloads, (Inference, FineTune), "workloads")
    for w in out:
        if not isinstance(w, (Inference, FineTune)):
            raise TypeError(f"workloads: expected Inference or FineTune, got {type(w).__name__}")
    return out


def _share_key(model: ModelLike, workload: Workload) -> tuple[object, ...] | None:
    """What ``estimate_vram(model, workload)`` reads of the model, when the estimate can be shared
    with other models: None when it cannot (an error or a warning naming the model would follow)."""
    if isinstance(model, Architecture):
        arch, extra, stored = model, 0, None
    else:
        if model.open_weights is False or model.architecture is None:
            return None
        arch, stored = model.architecture, model.weight_format
        parts = [c for c in model.components if c.role != "language-model"]
        if model.n_params and any(c.n_params is None for c in parts):
            return None  # unsized parts are taken from the model's own total (and said in its assumptions)
        extra = sum(c.n_params for c in parts if c.n_params)
    tokens = workload.context_tokens if isinstance(workload, Inference) else workload.seq_len
    if tokens > arch.max_context:
        return None  # estimate_vram warns (or raises) naming this model: let it
    return (arch, extra, stored, isinstance(model, Architecture))


def sweep(
    models: object,
    gpus: object,
    workloads: object,
    *,
    speed: SpeedHook | bool | None = None,
    errors: str = "raise",
    cuda_context_bytes: int = CUDA_CONTEXT_BYTES,
    allocator_fraction: float = ALLOCATOR_FRACTION,
) -> Sweep:
    """Estimate every combination of ``models`` x ``gpus`` x ``workloads``; rows in that order.

    Each argument is one item or an iterable: models are :class:`Model`, :class:`Architecture` or
    catalog names (``"llama-2-7b"``), GPUs are :class:`GPU` or catalog names (``"RTX 4090"``),
    workloads are :class:`Inference` / :class:`FineTune`. ``errors="skip"`` records the pairs that
    cannot be estimated (a model name the catalog does not know, closed weights, no architecture, a
    workload the model cannot run) in
    ``Sweep.skipped`` instead of raising (``"raise"``, the default). ``speed`` fills the
    ``tokens_per_s`` column of the rows that fit: ``True`` for :func:`estimated_tokens_per_s`, or a
    callable (see :data:`SpeedHook`).
    ``cuda_context_bytes`` and ``allocator_fraction`` are passed to :func:`estimate_vram`.
    """
    if errors not in ("raise", "skip"):
        raise QueryError(f"errors must be 'raise' or 'skip', got {errors!r}")
    if speed is True:
        speed = estimated_tokens_per_s
    elif speed is False:
        speed = None
    if speed is not None and not callable(speed):
        raise TypeError(f"speed must be a callable (model, gpu, workload, estimate) -> float | None, got {speed!r}")
    _check_overhead(cuda_context_bytes, allocator_fraction)  # a wrong setting is not one model's error to skip
    unknown: list[tuple[str, str]] = []
    model_list = _resolve_models(models, unknown if errors == "skip" else None)
    gpu_list = _resolve_gpus(gpus)
    workload_list = _resolve_workloads(workloads)
    kwargs: dict[str, Any] = {"cuda_context_bytes": cuda_context_bytes, "allocator_fraction": allocator_fraction}

    with _gc_paused():
        result = _sweep(model_list, gpu_list, workload_list, speed, errors, kwargs)
    if not unknown:
        return result
    named = [SweepError(model=n, workload=workload_label(w), error=e) for n, e in unknown for w in workload_list]
    return Sweep(list(result), (*named, *result.skipped))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while the rows are built: a sweep allocates hundreds of
    thousands of tuples, none in a cycle, and each allocation burst would otherwise trigger
    collections that traverse every live object (more than half the time of a catalog sweep).
    Reference counting still frees everything; the collector's previous state is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _sweep(
    model_list: list[ModelLike],
    gpu_list: list[GPU],
    workload_list: list[Workload],
    speed: SpeedHook | None,
    errors: str,
    kwargs: dict[str, Any],
) -> Sweep:
    rows: list[SweepRow] = []
    skipped: list[SweepError] = []
    shared: list[dict[tuple[object, ...], MemoryEstimate]] = [{} for _ in workload_list]
    for model in model_list:
        # This model's estimate for each workload (None: skipped), computed once for all GPUs.
        estimates: list[MemoryEstimate | None] = []
        for w, cache in zip(workload_list, shared, strict=True):
            key = _share_key(model, w)
            est = cache.get(key) if key is not None else None
            if est is None:
                try:
                    est = _estimate_row(model, w, kwargs)
                except LLMCatalogError as exc:
                    if errors == "raise":
                        raise
                    skipped.append(SweepError(model=_model_label(model), workload=workload_label(w), error=str(exc)))
                    estimates.append(None)
                    continue
                if key is not None:
                    cache[key] = est
            estimates.append(est)
        done = [(w, est) for w, est in zip(workload_list, estimates, strict=True) if est is not None]
        fallback = any(_may_fall_back(model, w) for w, _ in done)
        dequantized: dict[int, MemoryEstimate] = {}
        for gpu in gpu_list:
            if speed is None and not fallback:
                rows.extend([_new(SweepRow, (model, gpu, w, est, None)) for w, est in done])
                continue
            available = gpu.available_bytes
            for i, (w, est) in enumerate(done):
                if fallback and _may_fall_back(model, w):
                    est = _as_run_estimate(model, gpu, w, est, dequantized, i, kwargs)
                if speed is None:
                    rows.append(_new(SweepRow, (model, gpu, w, est, None)))
                    continue
                tps = _checked_speed(speed(model, gpu, w, est), speed) if est.total_bytes <= available else None
                rows.append(_new(SweepRow, (model, gpu, w, est, tps)))
    return Sweep(rows, skipped)


_new = tuple.__new__  # SweepRow(...) without the keyword handling: the rows are built in the loop above


def _may_fall_back(model: ModelLike, w: Workload) -> bool:
    """Whether ``w`` on ``model`` runs FP8 weights, which transformers may hold as bf16 on some GPUs."""
    if not isinstance(w, Inference):
        return False
    if w.precision_given:
        return w.weight_format.method == "fp8"
    stored = model.weight_format if isinstance(model, Model) else None
    return stored is not None and stored.method == "fp8"


def _estimate_row(model: Model | Architecture, workload: Workload, kwargs: dict[str, Any]) -> MemoryEstimate:
    """``estimate_vram`` for a row: a model with encoders of unknown size says so in the row's
    assumptions, so its UncountedPartsWarning is not repeated once per row."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncountedPartsWarning)
        return estimate_vram(model, workload, **kwargs)


def _as_run_estimate(
    model: ModelLike,
    gpu: GPU,
    w: Workload,
    est: MemoryEstimate,
    cache: dict[int, MemoryEstimate],
    index: int,
    kwargs: dict[str, Any],
) -> MemoryEstimate:
    """``est``, or the estimate of what transformers holds on ``gpu`` (FP8 dequantized to bf16 below compute
    capability 8.9: :func:`~llmcatalog.memory.estimate.as_run`), with the assumption saying so."""
    running, note = as_run(model, gpu, w)
    if not note:
        return est
    if index not in cache:
        cache[index] = _estimate_row(model, running, kwargs)
    return with_run_note(cache[index], note)


def estimated_tokens_per_s(model: ModelLike, gpu: GPU, workload: Workload, estimate: MemoryEstimate) -> float | None:
    """The speed hook of ``sweep(..., speed=True)``: for an :class:`Inference`, the batch's decode
    tokens/s at the full context with the transformers profile (:func:`llmcatalog.decode_speed`); for a
    :class:`FineTune`, the job's training tokens/s at the default MFU (:func:`llmcatalog.training_time`).
    None when the GPU lacks the throughput or bandwidth figure it needs."""
    from ..performance.inference import decode_speed
    from ..performance.training import training_time

    try:
        with warnings.catch_warnings():  # the row's own verdict says whether it fits (clis stream)
            warnings.simplefilter("ignore", NoFitWarning)
            if isinstance(workload, FineTune):
                tokens = workload.batch_size * workload.seq_len * workload.parallelism.data_parallel
                t = training_time(model, gpu, workload, tokens=tokens)
                return tokens / t.step_s
            return decode_speed(model, gpu, workload).tokens_per_s
    except MissingGPUFigureError:
        return None


def _checked_speed(value: object, hook: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"speed hook {hook!r} returned {value!r}: it must return a finite number >= 0 or None")
    return float(value)
