"""Questions over the catalog: which GPUs fit a model (:func:`which_gpus`), which models fit a GPU
(:func:`models_that_fit`). Both return plain rows (attrs values) that a formatter turns into a
table, JSON or CSV; both use :func:`llmcatalog.fits`'s rule (:mod:`llmcatalog.memory.fit`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping

import attrs

from ..errors import (
    CompatibilityWarning,
    ContextLengthWarning,
    LLMCatalogError,
    NoFitWarning,
    WorkloadError,
    outside_stacklevel,
)
from ..memory.estimate import incompatibilities, min_gpus, split_over
from ..memory.fit import HEADROOM_FRACTION, FitCheck, check_headroom
from ..memory.params import count_params
from ..registry.catalog import Catalog
from ..registry.plugins import catalog as _default_catalog
from ..values.compat import single_device
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.workload import FineTune, Inference
from .inverse import _arch, _workload, check_quietly

__all__ = ["GPUOption", "ModelFit", "models_that_fit", "scaled", "spread", "which_gpus"]


@attrs.frozen(kw_only=True)
class GPUOption:
    """One GPU type for a workload: the fewest cards that fit, the verdict on that setup, and the cost.

    ``check`` describes the setup the row recommends: ``n_gpus`` cards, split as :func:`llmcatalog.min_gpus`
    splits (pipeline stages, or the workload's tensor parallelism scaled, for inference; data-parallel
    ranks for fine-tuning), with its ``n_gpus``; when no count up to ``max_gpus`` fits (``n_gpus``
    None) it is the verdict on the workload as given. ``one_gpu`` is always the verdict on a single
    card (the workload as given), which the ranking uses.

    ``incompatible`` says why the GPU cannot run the workload's formats (a given precision, a quantized
    checkpoint's format: :func:`llmcatalog.supports`, transformers); empty when it can. Such rows are
    ranked after every runnable one, whatever their memory verdict."""

    gpu: GPU
    check: FitCheck
    n_gpus: int | None
    cost_per_gpu: float | None = None
    incompatible: tuple[str, ...] = ()
    one_gpu: FitCheck | None = None

    def __attrs_post_init__(self) -> None:
        if self.one_gpu is None:  # built by hand with one check: it is the one-card verdict too
            object.__setattr__(self, "one_gpu", self.check)

    @property
    def runnable(self) -> bool:
        """Whether the GPU can run the workload's formats (``incompatible`` is empty)."""
        return not self.incompatible

    @property
    def verdict(self) -> str:
        """The row's answer in words: ``"cannot run: <why>"`` when the GPU cannot run the workload's
        formats, whatever the memory says (``check`` is the memory verdict only: an MI300X "fits" an
        AWQ job by memory but has no kernel for it); else the verdict on the recommended setup
        (``check.verdict``: "fits" or "tight" on ``n_gpus`` cards, "does not fit" when no count up to
        ``max_gpus`` does)."""
        if self.incompatible:
            return "cannot run: " + "; ".join(self.incompatible)
        return self.check.verdict

    @property
    def total_cost(self) -> float | None:
        """``cost_per_gpu * n_gpus`` (None when either is unknown), rounded to 9 decimals so that a
        price of 0.70 on 4 cards reads 2.8, not the float product 2.8000000000000003."""
        if self.cost_per_gpu is None or self.n_gpus is None:
            return None
        return round(self.cost_per_gpu * self.n_gpus, 9)


@attrs.frozen(kw_only=True)
class ModelFit:
    """One model's verdict for a workload on a GPU (``n_gpus`` of them)."""

    model: Model
    check: FitCheck


#: A tiny architecture standing for "any model": what a workload asks for by itself (its precision, its
#: k-bit base, its optimizer) is checked on it, with no checkpoint format of its own.
SMALLEST = Architecture(
    family="llama",
    n_layers=1,
    hidden_size=128,
    n_heads=1,
    n_kv_heads=1,
    head_dim=128,
    ffn_size=128,
    vocab_size=128,
    max_context=2**20,
)

Cost = Mapping[str, float] | Callable[[GPU], float | None]


def _cost_of(cost: Cost | None, gpu: GPU) -> float | None:
    if cost is None:
        return None
    if callable(cost):
        value = cost(gpu)
    else:
        value = next((cost[k] for k in (gpu.id, gpu.name, *gpu.aliases) if k in cost), None)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
        raise WorkloadError(f"cost of {gpu.id} must be a number >= 0 (e.g. price per GPU-hour), got {value!r}")
    return None if value is None else float(value)


def which_gpus(
    model: Model | Architecture,
    workload: Inference | FineTune | None = None,
    *,
    gpus: Iterable[GPU] | None = None,
    cost: Cost | None = None,
    max_gpus: int = 8,
    headroom_fraction: float = HEADROOM_FRACTION,
) -> tuple[GPUOption, ...]:
    """Catalog GPUs (or ``gpus``) ranked for ``workload`` on ``model`` (default: ``Inference()``).

    Each row has the fewest cards that fit (:func:`llmcatalog.min_gpus`: pipeline stages for
    inference, data parallelism with the workload's ZeRO/FSDP setting for fine-tuning; None above
    ``max_gpus``), the verdict on that setup (``check``, whose ``n_gpus`` says how many cards it
    describes) and the verdict on one card (``one_gpu``). ``cost`` is a price per GPU (any unit: per hour, to buy),
    a mapping from GPU id, name or alias, or a function of the GPU; unknown is None.

    Order without ``cost``: the verdict on one card (fits, tight, does not fit); then fewer cards;
    then the smaller card (the least memory that does the job).

    GPUs that cannot run the workload's formats (``GPUOption.incompatible``: AWQ on a V100, any
    bitsandbytes or vLLM format on an Apple GPU) come last, with the reason; their ``verdict`` is
    "cannot run: <reason>" (their ``check`` is the memory verdict only, which may say "fits").

    Order with ``cost``: the prices rank. First every GPU with a price that fits on at most
    ``max_gpus`` cards, cheapest total cost (price x the fewest cards) first; then the GPUs the
    mapping or function gives no price for (unpriced: ranked as without ``cost``), then those that
    do not fit even on ``max_gpus`` cards. Ties: the verdict on one card, fewer cards, the smaller card.
    """
    w = _workload(workload)
    arch = _arch(model)
    headroom = check_headroom(headroom_fraction)
    pool = tuple(_default_catalog().gpus if gpus is None else gpus)
    rows = []
    for g in pool:
        if not isinstance(g, GPU):
            raise TypeError(f"gpus must hold llmcatalog.GPU values, got {type(g).__name__}")
        one = check_quietly(model, g, w, headroom)
        if one.fits and w.parallelism.n_gpus == 1:
            n: int | None = 1
        else:  # a workload split over several cards may fit on fewer: min_gpus finds the fewest
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ContextLengthWarning)
                warnings.simplefilter("ignore", NoFitWarning)  # a row with n_gpus None says it
                n = min_gpus(model, g, w, max_gpus=max_gpus, headroom_fraction=headroom)
        why = incompatibilities(model, g, w, known_only=False)
        setup = one if n is None or n == w.parallelism.n_gpus else check_quietly(model, g, scaled(w, n, arch), headroom)
        rows.append(
            GPUOption(gpu=g, check=setup, n_gpus=n, cost_per_gpu=_cost_of(cost, g), incompatible=why, one_gpu=one)
        )

    def key(o: GPUOption) -> tuple[bool, int, float, int, float, int]:
        total = o.total_cost
        # with prices: priced and fitting, then unpriced and fitting, then not fitting on max_gpus cards
        group = 0 if cost is None else 2 if o.n_gpus is None else 0 if total is not None else 1
        return (
            not o.runnable,
            group,
            math.inf if total is None else total,
            (o.one_gpu or o.check).rank,
            math.inf if o.n_gpus is None else o.n_gpus,
            o.gpu.available_bytes,
        )

    return tuple(sorted(rows, key=key))


def scaled(workload: Inference | FineTune, n_gpus: int, arch: Architecture) -> Inference | FineTune:
    """``workload`` on ``n_gpus`` GPUs as :func:`llmcatalog.min_gpus` counts them: an inference's tensor
    parallelism scaled to ``n_gpus`` over its pipeline stages when it has some, else ``n_gpus`` pipeline
    stages (at most one per layer); a fine-tune's data parallelism over its tensor x pipeline groups."""
    return attrs.evolve(workload, parallelism=split_over(workload, n_gpus, arch))


def spread(workload: Inference | FineTune, n_gpus: int, arch: Architecture) -> Inference | FineTune:
    """``workload`` over ``n_gpus`` GPUs when it is set for one: inference split into pipeline stages
    (``device_map="auto"``, at most one per layer), fine-tuning as data parallelism with the
    workload's ZeRO/FSDP setting. A workload already spread is returned as it is."""
    p = workload.parallelism
    if n_gpus == 1 or p.n_gpus > 1:
        return workload
    if isinstance(workload, Inference):
        return attrs.evolve(workload, parallelism=attrs.evolve(p, pipeline_parallel=min(n_gpus, arch.n_layers)))
    return attrs.evolve(workload, parallelism=attrs.evolve(p, data_parallel=n_gpus))


def models_that_fit(
    gpu: GPU,
    workload: Inference | FineTune | None = None,
    *,
    domain: str | None = None,
    language: str | None = None,
    n_gpus: int = 1,
    include_tight: bool = False,
    models: Iterable[Model] | None = None,
    catalog: Catalog | None = None,
    headroom_fraction: float = HEADROOM_FRACTION,
) -> tuple[ModelFit, ...]:
    """Catalog models (or ``models``) that fit ``workload`` (default: ``Inference()``) on ``n_gpus``
    of ``gpu``, largest first (parameters), optionally of one ``domain`` and ``language``.

    Left out: models without an architecture or with closed weights (nothing to estimate), models
    whose ``max_context`` is shorter than the context asked (they were not trained for it), models
    the workload cannot run on (e.g. a LoRA rank above the hidden size), checkpoints stored in a
    format ``gpu`` cannot run (:func:`llmcatalog.supports`: an AWQ checkpoint on a V100), and "tight"
    ones unless ``include_tight``. A precision given in ``workload`` that ``gpu`` cannot run warns
    once (:class:`~llmcatalog.CompatibilityWarning`) and the models are still listed. An inference on
    several GPUs is split into pipeline stages, a fine-tune
    over data-parallel ranks (:func:`spread`).
    """
    w = _workload(workload)
    if not isinstance(gpu, GPU):
        raise TypeError(f"expected a llmcatalog.GPU (use llmcatalog.get_gpu(name)), got {type(gpu).__name__}")
    if not isinstance(n_gpus, int) or isinstance(n_gpus, bool) or not 1 <= n_gpus <= 2**20:
        raise WorkloadError(f"n_gpus must be an int from 1 to 2**20, got {n_gpus!r}")
    if n_gpus > 1 and single_device(gpu):
        raise WorkloadError(f"a machine has one {gpu.name}: give n_gpus=1 (a model cannot be split over several)")
    headroom = check_headroom(headroom_fraction)
    cat = catalog or _default_catalog()
    if models is None:
        pool: Iterable[Model] = cat.find_models(domain=domain, language=language, estimable=True)
    else:
        pool = models
        if domain is not None or language is not None:
            keep = {m.id for m in cat.find_models(domain=domain, language=language)}
            pool = [m for m in pool if m.id in keep]
    tokens = w.seq_len if isinstance(w, FineTune) else w.context_tokens
    asked = incompatibilities(SMALLEST, gpu, w, known_only=False)  # what the workload asks for, whatever the model
    for why in incompatibilities(SMALLEST, gpu, w):
        warnings.warn(why, CompatibilityWarning, stacklevel=outside_stacklevel())
    rows = []
    sizes: dict[str, int] = {}
    for m in pool:
        try:
            arch = _arch(m)
        except LLMCatalogError:
            continue
        if arch.max_context < tokens:
            continue
        if not asked and incompatibilities(m, gpu, w, known_only=False):
            continue  # a checkpoint format the GPU cannot run
        try:
            c = check_quietly(m, gpu, spread(w, n_gpus, arch), headroom)
        except LLMCatalogError:
            continue
        if c.fits or (include_tight and c.verdict == "tight"):
            rows.append(ModelFit(model=m, check=c))
            sizes[m.id] = m.n_params or count_params(arch)  # no total known: its language model's count
    rows.sort(key=lambda r: (-sizes[r.model.id], r.model.id))
    return tuple(rows)
