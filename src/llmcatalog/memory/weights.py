"""Bytes of model weights on the GPU, per precision or quantization format.

Pure functions over an :class:`Architecture`. For unquantized precisions every parameter
takes the dtype's bytes. For real quantization formats (GPTQ, AWQ, bitsandbytes, FP8) only the
``nn.Linear`` weights inside the decoder blocks are quantized, with the per-format metadata of
:mod:`llmcatalog.values.precision`; embeddings, the LM head, norms and biases stay in the compute
dtype (transformers ``get_keys_to_not_convert`` keeps the output embedding unquantized).
The idealised ``int8``/``int4`` put every parameter at 8/4 bits.
"""

from __future__ import annotations

import functools
import math

import attrs

from ..values.model import Architecture
from ..values.precision import DTYPE_BYTES, FORMATS
from .params import linear_shapes, param_breakdown

__all__ = ["WeightSplit", "quantized_linear_bytes", "weight_bytes", "weight_split"]


@functools.lru_cache(maxsize=4096)
def quantized_linear_bytes(arch: Architecture, fmt_name: str) -> tuple[int, int]:
    """(bytes of the quantized Linear weights, number of those weight elements)."""
    fmt = FORMATS[fmt_name]
    total_bits = 0.0
    elements = 0
    for shape in linear_shapes(arch):
        if shape.name in ("router", "shared_expert_gate"):
            # MoE routers and Qwen2-MoE's 1-wide shared-expert gate are tiny and kept in the compute
            # dtype by the quantizers (``modules_to_not_convert`` of published GPTQ/AWQ MoE checkpoints).
            continue
        bits = fmt.linear_bits_for(shape.out_features, shape.in_features)
        total_bits += bits * shape.weight_params
        elements += shape.weight_params
    return math.ceil(total_bits / 8), elements


def weight_bytes(arch: Architecture, precision: str, compute_dtype: str | None = None) -> int:
    """Bytes of all weights of ``arch`` stored in ``precision``.

    ``compute_dtype`` is the dtype of the parts a quantization format leaves unquantized
    (default: the format's usual compute dtype).
    """
    fmt = FORMATS[precision]
    total_params = param_breakdown(arch).total
    if not fmt.linear_only:
        return math.ceil(total_params * fmt.linear_bits / 8)
    rest_bytes = DTYPE_BYTES[compute_dtype or fmt.default_compute]
    q_bytes, q_elements = quantized_linear_bytes(arch, precision)
    return q_bytes + math.ceil((total_params - q_elements) * rest_bytes)


@attrs.frozen
class WeightSplit:
    """Weight bytes by place: what the first pipeline stage, the blocks and the last stage hold."""

    embedding: int  # token (and learned position) embeddings
    layers: int  # all decoder layers
    head: int  # final norm and LM head (0 for the head when tied to the embeddings)

    @property
    def total(self) -> int:
        return self.embedding + self.layers + self.head


@functools.lru_cache(maxsize=4096)
def weight_split(arch: Architecture, precision: str, compute_dtype: str | None = None) -> WeightSplit:
    """:func:`weight_bytes` split into embeddings, decoder layers and head (sums to it)."""
    fmt = FORMATS[precision]
    pb = param_breakdown(arch)
    rest = DTYPE_BYTES[compute_dtype or fmt.default_compute] if fmt.linear_only else fmt.linear_bits / 8
    final_norm = pb.norms // (arch.n_layers * arch.norms_per_layer + 1 + int(arch.embedding_norm))
    embedding = math.ceil((pb.embedding + pb.position) * rest)
    head = math.ceil((pb.lm_head + final_norm) * rest)
    total = weight_bytes(arch, precision, compute_dtype)
    return WeightSplit(embedding=embedding, layers=total - embedding - head, head=head)
