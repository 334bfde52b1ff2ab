"""Planning: the inverse questions, answered over the memory calculus with :func:`llmcatalog.fits`'s
rule. :mod:`.inverse` (one model, one GPU type: longest context, most sequences, best format, fewest
tensor-parallel GPUs), :mod:`.choose` (over the catalog: which GPUs, which models),
:mod:`.remedies` (what to change so that a job fits), :mod:`.sweep` (many models x GPUs x workloads as rows).
See ``docs/planning.md`` and ``docs/sweeps.md``."""

from .choose import GPUOption, ModelFit, models_that_fit, which_gpus
from .inverse import PRECISION_LADDER, best_precision, max_batch, max_context, min_tensor_parallel
from .remedies import REMEDIES, Remedy, RemedySpec, recommend

__all__ = [
    "PRECISION_LADDER",
    "REMEDIES",
    "GPUOption",
    "ModelFit",
    "Remedy",
    "RemedySpec",
    "best_precision",
    "max_batch",
    "max_context",
    "min_tensor_parallel",
    "models_that_fit",
    "recommend",
    "which_gpus",
]
