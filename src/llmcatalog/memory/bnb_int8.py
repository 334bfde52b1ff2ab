"""What bitsandbytes' LLM.int8 matmul keeps and makes during a training step, by release.

A frozen ``bnb-int8`` base runs every block Linear through ``bnb.nn.Linear8bitLt``, whose
``forward`` calls ``MatMul8bitLt`` (``bitsandbytes/autograd/_functions.py``) with the int8 weight
``CB`` (one fp32 scale per output row, ``SCB``). Per Linear with ``in`` inputs, ``out`` outputs and
``T`` tokens, read from the source of each release (the weight never needs a gradient here):

0.37-0.38 (``MatMul8bitLt.forward``/``backward`` at tags 0.37.0, 0.38.0)
    forward: ``F.double_quant(A)`` makes ``CA`` and its transpose ``CAt`` (int8, ``T x in`` each),
    ``F.transform(CA, "col32")`` a third int8 copy ``C32A``; ``F.igemmlt`` writes an int32 ``out32``
    (``T x out``), ``F.mm_dequant`` the fp16 ``output``, and a 3-D input returns ``output.clone()``:
    ``3 in + 6 out`` bytes per token beyond the result, all locals alive until ``forward`` returns.
    When the input needs a gradient, ``ctx.tensors = (CAt, subA)``: the int8 ``CAt`` is kept (1 byte
    per input element), the 16-bit input ``A`` is not. The first forward replaces the row-major
    weight by its Turing/Ampere tile layout ``state.CxB`` (``Linear8bitLt.forward``: ``del
    self.state.CB``), so ``backward`` rebuilds it: ``undo_layout(state.CxB)`` (int8) ``.to(dtype_A)``
    (16-bit), ``e + 1`` bytes per weight element at once; before that it quantizes the incoming
    gradient, ``F.double_quant(grad_output)`` -> ``Cgrad``, ``Cgradt`` (int8, ``T x out`` each),
    which it only needs for a weight gradient: ``2 out`` bytes per token.
0.39-0.44 (tags 0.39.0 to 0.44.1)
    the same, but ``ctx.tensors = (CAt, subA, A)``: the input is kept as well.
0.45 and later (the LLM.int8 refactoring, bitsandbytes PR 1401; ``main`` today)
    forward: ``int8_vectorwise_quant(A)`` only (``CAt`` is made only when the weight needs a
    gradient), ``int8_linear_matmul`` an int32 ``T x out`` that ``int8_mm_dequant`` turns into the
    result: ``in + 4 out`` bytes per token beyond the result; ``ctx.tensors = (None, subA, A)``;
    backward: ``state.CB.to(dtype_A, copy=True)`` (``e`` bytes per weight element) and one matmul,
    no gradient quantization.

``subA``/``state.subB`` (the input columns holding a value above ``threshold`` = 6, and the matching
weight columns in 16 bits) depend on the data and are not modelled. Pre-Turing GPUs (no
``igemmlt``) take another path in 0.37-0.44 and are not modelled either.
"""

from __future__ import annotations

import functools

import attrs

from ..values.model import Architecture
from ..values.workload import BNB_VERSIONS
from .params import linear_shapes

__all__ = ["Int8MatmulTerms", "int8_forward_transient_per_token", "int8_matmul_terms"]


@attrs.frozen(kw_only=True)
class Int8MatmulTerms:
    """Per-Linear memory terms of one bitsandbytes release's ``MatMul8bitLt`` (see the module docstring).

    ``keeps_input``: ``ctx.tensors`` holds the 16-bit input. ``saved_per_in``: further bytes per token
    and input feature kept for backward (the int8 ``CAt``). ``forward_per_in`` / ``forward_per_out``:
    forward temporaries beyond the result, bytes per token per input / output feature.
    ``backward_per_out``: backward temporaries per token per output feature (``Cgrad``, ``Cgradt``).
    ``weight_extra``: bytes per weight element the backward's dequantized weight takes beyond its
    16-bit copy (the int8 ``undo_layout`` copy).
    """

    keeps_input: bool
    saved_per_in: float
    forward_per_in: float
    forward_per_out: float
    backward_per_out: float
    weight_extra: float


_COL32 = Int8MatmulTerms(
    keeps_input=False,
    saved_per_in=1.0,
    forward_per_in=3.0,
    forward_per_out=6.0,
    backward_per_out=2.0,
    weight_extra=1.0,
)
_TERMS = {
    "0.37-0.38": _COL32,
    # The same kernels; from 0.39 the 16-bit input is saved for backward as well.
    "0.39-0.44": attrs.evolve(_COL32, keeps_input=True),
    ">=0.45": Int8MatmulTerms(
        keeps_input=True,
        saved_per_in=0.0,
        forward_per_in=1.0,
        forward_per_out=4.0,
        backward_per_out=0.0,
        weight_extra=0.0,
    ),
}
assert set(_TERMS) == set(BNB_VERSIONS)


def int8_matmul_terms(version: str) -> Int8MatmulTerms:
    """The ``MatMul8bitLt`` terms of bitsandbytes ``version`` (one of :data:`BNB_VERSIONS`)."""
    return _TERMS[version]


@functools.lru_cache(maxsize=1024)
def int8_forward_transient_per_token(arch: Architecture, terms: Int8MatmulTerms) -> tuple[float, float]:
    """(forward temporaries, backward gradient-quantization temporaries) in bytes per token of the
    largest block Linear of ``arch`` under ``terms``: ``max(forward_per_in * in + forward_per_out * out)``
    and ``backward_per_out * max(out)``. Routed experts, which see only their share of the tokens, are
    left out."""
    shapes = [s for s in linear_shapes(arch) if not s.name.startswith("expert")]
    forward = max(
        (terms.forward_per_in * s.in_features + terms.forward_per_out * s.out_features for s in shapes), default=0.0
    )
    backward = terms.backward_per_out * max((s.out_features for s in shapes), default=0)
    return forward, backward
