"""The memory check of the speed and time functions: a figure for a job that does not fit on the GPU
is still returned (what it would run at if it fit), with a :class:`~llmcatalog.NoFitWarning` saying so."""

from __future__ import annotations

import warnings

from ..errors import LLMCatalogError, NoFitWarning, outside_stacklevel
from ..memory.estimate import estimate_vram
from ..memory.fit import fit_check
from ..values.gpu import GPU
from ..values.model import Architecture, Model
from ..values.workload import FineTune, Inference


def warn_if_no_fit(model: Model | Architecture, gpu: GPU, workload: Inference | FineTune, what: str) -> None:
    """Warn (:class:`~llmcatalog.NoFitWarning`) when ``workload`` on ``model`` needs more memory per GPU
    than ``gpu`` allocates (:func:`llmcatalog.fit_check`'s "does not fit"; a tight job can run and is
    not warned of). A model the memory calculus cannot estimate is not warned of either."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # only the total is wanted: the caller's own warnings say the rest
            est = estimate_vram(model, workload)
    except LLMCatalogError:
        return
    check = fit_check(est.total_bytes, gpu, n_gpus=est.n_gpus)
    if check.verdict != "does not fit":
        return
    name = f"{model.name}: " if isinstance(model, Model) else ""
    warnings.warn(
        f"{name}this job needs {est.total_bytes / 2**30:.2f} GiB per GPU but the {gpu.name} allocates "
        f"{gpu.available_bytes / 2**30:.2f} GiB: it does not fit, and the {what} is what it would be if it "
        "did (llmcatalog.min_gpus says how many such GPUs fit)",
        NoFitWarning,
        stacklevel=outside_stacklevel(),
    )
