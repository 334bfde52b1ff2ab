"""The result of an estimate: :class:`MemoryEstimate`, per-GPU bytes at the peak, by component.

``weights_bytes + kv_cache_bytes + activations_bytes + gradients_bytes + optimizer_bytes +
overhead_bytes == total_bytes``; ``components`` refines each top-level part (its entries named
``<part>.<detail>`` add up to that part). See :mod:`llmcatalog.memory.estimate` for what each
part holds.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from ..values import render

if TYPE_CHECKING:
    from ..values.gpu import GPU

__all__ = ["MemoryEstimate"]

_TOP = ("weights", "kv_cache", "activations", "gradients", "optimizer", "overhead")
_INT = frozenset({int})


@functools.lru_cache(maxsize=256)
def _layout(keys: tuple[str, ...]) -> tuple[tuple[int, Callable[[tuple[int, ...]], int]], ...]:
    """How components named ``keys`` (in this order) add up to the top-level parts: for each part that
    has components, its index in :data:`_TOP` and a function of the component values giving their sum.

    Estimates of one kind share a few key layouts, so the names are grouped by their part (the text
    before the first dot) once per layout rather than once per estimate. Names of no top-level part
    are not checked."""
    groups: dict[int, list[int]] = {}
    for position, key in enumerate(keys):
        top = key.partition(".")[0]
        if top in _TOP:
            groups.setdefault(_TOP.index(top), []).append(position)
    return tuple((i, _summer(positions)) for i, positions in sorted(groups.items()))


def _summer(positions: list[int]) -> Callable[[tuple[int, ...]], int]:
    """The sum of ``values`` at ``positions``, as a C-level getter where one position suffices."""
    if len(positions) == 1:
        return operator.itemgetter(positions[0])
    pick = operator.itemgetter(*positions)
    return lambda values: sum(pick(values))


def _frozen_mapping(mapping: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping))


@attrs.frozen(kw_only=True)
class MemoryEstimate:
    """Per-GPU memory at the peak of a workload, in bytes (see the module docstring)."""

    weights_bytes: int
    kv_cache_bytes: int
    activations_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    overhead_bytes: int
    components: Mapping[str, int] = attrs.field(converter=_frozen_mapping)
    n_gpus: int = 1
    peak_phase: str = ""
    n_params: int = 0
    # Parameters one token passes through (MoE: the routed top-k and shared experts), counting the
    # input embedding table and the output head as Mistral counts Mixtral's 12.9B active; OpenAI's
    # 3.6B for gpt-oss-20b leaves the input embedding out (``llmcatalog show`` gives both).
    active_params: int = 0
    trainable_params: int = 0
    assumptions: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        parts = (
            self.weights_bytes,
            self.kv_cache_bytes,
            self.activations_bytes,
            self.gradients_bytes,
            self.optimizer_bytes,
            self.overhead_bytes,
        )
        if set(map(type, parts)) != {int} or min(parts) < 0:
            for name, value in zip(_TOP, parts, strict=True):
                if type(value) is not int or value < 0:
                    raise ValueError(f"{name}_bytes must be a non-negative int, got {value!r}")
        values = tuple(self.components.values())
        if set(map(type, values)) <= _INT:
            # Fast path (every estimate): the key layout's grouping is cached, the sums are C calls.
            for i, total in _layout(tuple(self.components)):
                if total(values) != parts[i]:
                    break
            else:
                return
        self._check_components(parts)

    def _check_components(self, parts: tuple[int, ...]) -> None:
        """The components' sums, one by one (the error says which part and both figures)."""
        sums: dict[str, int] = {}
        for key, value in self.components.items():
            top = key.partition(".")[0]
            sums[top] = sums.get(top, 0) + value
        for name, value in zip(_TOP, parts, strict=True):
            if sums.get(name, value) != value:
                raise ValueError(f"components of {name} add up to {sums[name]}, not {value}")

    @property
    def total_bytes(self) -> int:
        """Everything on the (most loaded) GPU at the peak, overhead included."""
        return (
            self.weights_bytes
            + self.kv_cache_bytes
            + self.activations_bytes
            + self.gradients_bytes
            + self.optimizer_bytes
            + self.overhead_bytes
        )

    @property
    def tensor_bytes(self) -> int:
        """Live tensors in PyTorch's caching allocator: ``total_bytes - overhead_bytes`` minus the paged
        optimizer states (``optimizer.paged_states``: bitsandbytes pages them in CUDA unified memory,
        outside torch's allocator, so nvidia-smi sees them and ``max_memory_allocated`` does not).
        Compare it with ``torch.cuda.max_memory_allocated``; ``total_bytes`` with nvidia-smi."""
        return self.total_bytes - self.overhead_bytes - self.components.get("optimizer.paged_states", 0)

    @property
    def total_gib(self) -> float:
        """``total_bytes`` in GiB (2**30 bytes)."""
        return self.total_bytes / 2**30

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict of every figure."""
        return {
            "total_bytes": self.total_bytes,
            **{f"{n}_bytes": getattr(self, f"{n}_bytes") for n in _TOP},
            "components": dict(self.components),
            "n_gpus": self.n_gpus,
            "peak_phase": self.peak_phase,
            "n_params": self.n_params,
            "active_params": self.active_params,
            "trainable_params": self.trainable_params,
            "assumptions": list(self.assumptions),
        }

    @property
    def parts(self) -> tuple[tuple[str, int], ...]:
        """The six top-level parts as ``(name, bytes)`` in a fixed order (the stacked bar's segments)."""
        return tuple((n, getattr(self, f"{n}_bytes")) for n in _TOP)

    def to_markdown(self, gpu: GPU | None = None) -> str:
        """The breakdown as a markdown table (component, GiB, share of the total), with the fit on
        ``gpu`` in a last line when one is given."""
        total = self.total_bytes
        rows: list[list[object]] = [
            [name, render.gib(v), f"{v / max(total, 1):.0%}"] for name, v in self.components.items() if v
        ]
        rows.append(["**total**", f"**{render.gib(total)}**", "100%"])
        out = render.markdown_table(["component", "GiB", "share"], rows, right=(1, 2))
        if gpu is not None:
            out += "\n\n" + _verdict(total, gpu)
        return out

    def to_html(self, gpu: GPU | None = None) -> str:
        """An HTML table of the breakdown and a stacked bar of it against ``gpu``'s memory (when given)."""
        total = self.total_bytes
        rows = [[name, render.gib(v), f"{v / max(total, 1):.0%}"] for name, v in self.components.items() if v]
        rows.append(["total", render.gib(total), "100%"])
        capacity = gpu.available_bytes if gpu is not None else None
        label = f"{gpu.name}: {render.gib(capacity)} GiB available" if gpu is not None else "GPU memory"
        bar = render.bar_svg(self.parts, capacity, capacity_label=label)
        caption = f"Per-GPU memory at the peak ({self.peak_phase or 'peak'}), {self.n_gpus} GPU(s)"
        verdict = f"<p>{render.escape(_verdict(total, gpu))}</p>" if gpu is not None else ""
        legend = render.legend_html([n for n, v in self.parts if v])
        table = render.html_table(["component", "GiB", "share"], rows, right=(1, 2), caption=caption)
        return f"<div>{table}{bar}{legend}{verdict}</div>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def plot(self, gpu: GPU | None = None, *, ax: Any = None) -> Any:
        """A stacked horizontal bar of the breakdown (GiB) against ``gpu``'s memory; returns the
        matplotlib ``Axes``. Needs the ``plot`` extra (matplotlib)."""
        from ..values.plot import plot_bars

        label = gpu.name if gpu is not None else "estimate"
        capacity = gpu.available_bytes if gpu is not None else None
        return plot_bars([(label, self.parts, capacity)], ax=ax, title=f"{self.total_gib:.2f} GiB per GPU")

    def __str__(self) -> str:
        gib = 2**30
        rows = [
            f"{'total':<14}{self.total_bytes / gib:10.2f} GiB  (per GPU, {self.n_gpus} GPU(s), peak: {self.peak_phase})"
        ]
        for n in _TOP:
            v = getattr(self, f"{n}_bytes")
            if v:
                rows.append(f"  {n:<12}{v / gib:10.2f} GiB")
        return "\n".join(rows)


def _verdict(total_bytes: int, gpu: GPU) -> str:
    avail = gpu.available_bytes
    word = "fits" if total_bytes <= avail else "does NOT fit"
    return f"{gpu.name}: {render.gib(avail)} GiB available -> {word} ({render.share(total_bytes, avail)} of its memory)"
