"""Bytes of model weights on the GPU, per precision or quantization format.

Pure functions over an :class:`Architecture` and a :class:`~llmcatalog.values.precision.WeightFormat`
(or the name of one in :data:`~llmcatalog.FORMATS`). For unquantized precisions every parameter
takes the dtype's bytes. For real quantization formats (GPTQ, AWQ, bitsandbytes, FP8, MXFP4, NVFP4,
compressed-tensors) only the ``nn.Linear`` weights of the parts the format lists in
``quantized_parts`` are quantized, each with the exact bytes of
:meth:`WeightFormat.linear_bytes`; embeddings, the LM head (unless listed), MoE routers, norms and
biases stay in the compute dtype (transformers ``get_keys_to_not_convert`` keeps the output
embedding unquantized; quantizers skip the routers, e.g. ``mlp.gate`` in DeepSeek-V3's FP8
checkpoint and ``mlp.router`` in gpt-oss's ``modules_to_not_convert``).
The idealised ``int8``/``int4`` put every parameter at 8/4 bits.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import attrs

from ..values.model import Architecture
from ..values.precision import DTYPE_BYTES, WeightFormat, weight_format
from .params import LinearShape, linear_shapes, param_breakdown

__all__ = ["WeightSplit", "linear_parts", "quantized_linear_bytes", "weight_bytes", "weight_split"]

_MLP = frozenset({"gate_proj", "up_proj", "down_proj"})


def linear_parts(arch: Architecture) -> Iterator[tuple[str, LinearShape]]:
    """Each Linear shape of the decoder blocks with its part (``attention``, ``mlp``, ``experts``,
    ``shared_experts`` or ``router``; see :data:`~llmcatalog.values.precision.PARTS`), from the names
    :func:`~llmcatalog.memory.params.linear_shapes` gives: ``expert_*`` routed experts, ``shared_*``
    shared experts, ``router`` and Qwen2-MoE's ``shared_expert_gate`` (a 1-wide gate, kept with the
    router), the plain MLP names for dense layers; attention, latent-attention and LFM2 convolution
    projections are ``attention``.
    """
    for shape in linear_shapes(arch):
        name = shape.name
        if name in ("router", "shared_expert_gate"):
            yield "router", shape
        elif name.startswith("expert_"):
            yield "experts", shape
        elif name.startswith("shared_"):
            yield "shared_experts", shape
        elif name in _MLP:
            yield "mlp", shape
        else:
            yield "attention", shape


@functools.lru_cache(maxsize=4096)
def _quantized(arch: Architecture, fmt: WeightFormat) -> tuple[int, int]:
    total = elements = 0
    for part, shape in linear_parts(arch):
        if fmt.quantizes(part):
            total += fmt.linear_bytes(shape.out_features, shape.in_features) * shape.count
            elements += shape.weight_params
    if fmt.quantizes("lm_head"):
        pb = param_breakdown(arch)
        if pb.lm_head:
            total += fmt.linear_bytes(arch.vocab_size, arch.hidden_size)
            elements += arch.vocab_size * arch.hidden_size
    return total, elements


def quantized_linear_bytes(arch: Architecture, fmt: str | WeightFormat) -> tuple[int, int]:
    """(bytes of the quantized Linear weights, number of those weight elements) of ``arch`` in ``fmt``."""
    f = weight_format(fmt)
    if not f.linear_only:
        return 0, 0
    return _quantized(arch, f)


def weight_bytes(arch: Architecture, precision: str | WeightFormat, compute_dtype: str | None = None) -> int:
    """Bytes of all weights of ``arch`` stored in ``precision`` (a FORMATS name or a WeightFormat).

    ``compute_dtype`` is the dtype of the parts a quantization format leaves unquantized
    (default: the format's usual compute dtype).
    """
    fmt = weight_format(precision)
    total_params = param_breakdown(arch).total
    if not fmt.linear_only:
        return math.ceil(total_params * fmt.linear_bits / 8)
    rest_bytes = DTYPE_BYTES[compute_dtype or fmt.default_compute]
    q_bytes, q_elements = _quantized(arch, fmt)
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
def weight_split(arch: Architecture, precision: str | WeightFormat, compute_dtype: str | None = None) -> WeightSplit:
    """:func:`weight_bytes` split into embeddings, decoder layers and head (sums to it)."""
    fmt = weight_format(precision)
    pb = param_breakdown(arch)
    rest = DTYPE_BYTES[compute_dtype or fmt.default_compute] if fmt.linear_only else fmt.linear_bits / 8
    final_norm = pb.norms // (arch.n_layers * arch.norms_per_layer + 1 + int(arch.embedding_norm))
    embedding = math.ceil((pb.embedding + pb.position) * rest)
    head_params = pb.lm_head + final_norm
    if fmt.linear_only and fmt.quantizes("lm_head") and pb.lm_head:
        head_params -= arch.vocab_size * arch.hidden_size
        head = math.ceil(head_params * rest) + fmt.linear_bytes(arch.vocab_size, arch.hidden_size)
    else:
        head = math.ceil(head_params * rest)
    total = weight_bytes(arch, fmt, compute_dtype)
    return WeightSplit(embedding=embedding, layers=total - embedding - head, head=head)
