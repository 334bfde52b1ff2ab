"""Numeric formats: bytes per element of dtypes, and how quantized checkpoints store weights.

A :class:`WeightFormat` describes the stored layout of one ``nn.Linear`` weight of shape
``[out, in]`` by a few parameters, and :meth:`WeightFormat.linear_bytes` turns them into exact
bytes (values packed into words, then per-group, per-block, per-row and per-tensor metadata):

``bytes = values + group scales + group zero points + block scales + row scales + g_idx + per tensor``

- values: ``bits`` per weight packed into ``pack_bits``-bit words along ``pack_axis``;
- groups of ``group_size`` consecutive input elements of one output row (``group_size=None``:
  one group per row, i.e. per-channel) each have a ``scale_bits`` scale and, unless symmetric, a
  ``zero_bits`` zero point (zero points packed into ``pack_bits`` words along the output dimension);
- ``block_shape`` ``(bo, bi)``: one ``block_scale_bits`` scale per ``bo x bi`` tile;
- ``row_scale_bits``: one scale per output row; ``g_idx``: one int32 per input element;
- ``tensor_bytes``: fixed bytes per tensor (global scales, stored shapes);
- ``nested_group``: bitsandbytes double quantization, one fp32 per ``nested_group`` group scales.

Layouts and their sources (all checked against the quantizers' own tensors in
``tests/test_quantization.py``):

- GPTQ (AutoGPTQ / GPTQModel ``QuantLinear``, used by transformers/optimum): ``qweight`` int32
  ``[in*bits/32, out]``, ``qzeros`` int32 ``[ceil(in/g), out*bits/32]`` (stored even when
  ``sym``), ``scales`` fp16 ``[ceil(in/g), out]``, ``g_idx`` int32 ``[in]`` (always stored;
  ``desc_act`` only changes its values). ``group_size=-1`` is one group per column. Bits per weight
  ``bits + (16 + bits)/g + 32/out``.
- AWQ (AutoAWQ ``WQLinear_GEMM``): ``qweight`` int32 ``[in, out*bits/32]``, ``qzeros`` int32
  ``[in/g, out*bits/32]``, ``scales`` fp16 ``[in/g, out]``: ``4 + 20/128`` bits per weight.
- bitsandbytes LLM.int8 (``Linear8bitLt``): int8 ``[out, in]`` plus one fp32 per output row
  (``SCB``): ``8 + 32/in``.
- bitsandbytes 4-bit NF4/FP4 (``Linear4bit``, blocksize 64): 4 bits + one fp32 absmax per 64
  weights = 4.5 bits; with double quantization the absmax is 8 bits plus one fp32 per 256 blocks:
  ``4 + 8/64 + 32/(64*256)`` = 4.127 bits (QLoRA paper, arXiv 2305.14314, section 3).
- FP8 block-scaled (DeepSeek-V3, Qwen3-FP8; transformers ``FP8Linear`` in
  ``integrations/finegrained_fp8.py``): fp8 e4m3 ``[out, in]`` plus ``weight_scale_inv`` fp32
  ``[ceil(out/128), ceil(in/128)]`` (ue8m0, one byte, with ``scale_fmt="ue8m0"``); without
  ``weight_block_size`` one fp32 scale per tensor (and one for activations when static).
- MXFP4 (OCP Microscaling Formats spec v1.0: blocks of 32 FP4 e2m1 elements sharing one E8M0
  scale byte; gpt-oss ``*_blocks`` uint8 ``[..., in/32, 16]`` + ``*_scales`` uint8 ``[..., in/32]``):
  ``4 + 8/32`` = 4.25 bits. gpt-oss quantizes only the MoE experts (transformers ``Mxfp4GptOssExperts``).
- NVFP4 (NVIDIA TensorRT Model Optimizer / compressed-tensors ``nvfp4-pack-quantized``): FP4 e2m1
  packed two per byte, one fp8 e4m3 scale per 16 elements, one fp32 global scale per tensor:
  ``4 + 8/16`` = 4.5 bits + 4 bytes per tensor.
- compressed-tensors (``pack-quantized`` W4A16: int4 packed in int32 along the input, scales in
  the model dtype per group, zero points only when asymmetric, ``weight_shape`` int64[2];
  ``int-quantized`` / ``float-quantized`` W8A8: int8 / fp8 values with per-channel, per-tensor or
  block scales in the model dtype).

In every real format only ``nn.Linear`` layers inside the decoder blocks are quantized, the parts
listed in ``quantized_parts``; embeddings, the LM head (unless ``"lm_head"`` is listed;
transformers ``get_keys_to_not_convert``), MoE routers, norms and biases stay in the compute
dtype. The plain ``int8``/``int4`` precisions are the idealised lower bound (every parameter at
8/4 bits, no metadata) for quick comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["DTYPE_BYTES", "FORMATS", "PARTS", "WeightFormat", "weight_format"]

#: Bytes per element of the dtypes activations, caches and states use (a read-only view: every
#: estimate reads it, so no caller may change what a dtype weighs for everyone else).
DTYPE_BYTES: Mapping[str, float] = MappingProxyType(
    {
        "fp32": 4,
        "fp16": 2,
        "bf16": 2,
        "fp8": 1,
        "int8": 1,
        "int4": 0.5,
    }
)

#: The places a format may quantize: the Linear layers of attention, of dense MLPs, of routed MoE
#: experts and of shared experts, the MoE routers (gates), and the LM head.
PARTS = ("attention", "mlp", "experts", "shared_experts", "router", "lm_head")

#: What real quantizers convert by default: the Linear layers of the decoder blocks except routers.
BLOCK_PARTS = ("attention", "experts", "mlp", "shared_experts")

_COMPUTE = ("fp32", "fp16", "bf16")


def _parts(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    return tuple(sorted(set(value)))


def _str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _check_parts(_inst: object, attr: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    unknown = [p for p in value if p not in PARTS]
    if unknown:
        raise ValueError(f"'{attr.name}' has unknown parts {unknown}; choose from {list(PARTS)}")


def _nonneg(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise ValueError(f"'{attr.name}' must be a number >= 0, got {value!r}")


def _opt_pos_int(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"'{attr.name}' must be a positive integer or None, got {value!r}")


def _block(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    ok = value is None or (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
    )
    if not ok:
        raise ValueError(f"'{attr.name}' must be None or two positive integers (rows, columns), got {value!r}")


def _block_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


@attrs.frozen(kw_only=True, cache_hash=True)  # hashed on every cached calculus call
class WeightFormat:
    """How a precision or a quantized checkpoint stores weights (see the module docstring).

    ``linear_bits`` is the nominal bits per weight of a large quantized Linear layer (values and
    metadata), or of every weight when ``linear_only`` is False (plain dtypes and the idealised
    ``int8``/``int4``). The exact bytes of one layer come from :meth:`linear_bytes`, which reads the
    layout fields; a format with ``bits=None`` stores ``linear_bits`` per weight and nothing else.
    ``method`` is the ``quant_method`` the format came from (``""`` for the named precisions) and
    ``notes`` what a parsed ``quantization_config`` held that the layout cannot express.
    """

    name: str = attrs.field(validator=attrs.validators.min_len(1))
    #: nominal bits per weight of quantized Linear layers (incl. scales/zeros), or of every weight if not quantized
    linear_bits: float = attrs.field(validator=_nonneg)
    #: whether only Linear layers in the blocks are converted (True) or every parameter (False)
    linear_only: bool
    #: the compute dtype activations use by default (and the dtype of the unquantized parts)
    default_compute: str = attrs.field(validator=attrs.validators.in_(_COMPUTE))
    description: str
    group_size: int | None = attrs.field(default=None, validator=_opt_pos_int)
    quantized: bool = True
    #: bits of one stored value (None: ``linear_bits`` per weight, no metadata)
    bits: float | None = attrs.field(default=None, validator=attrs.validators.optional(_nonneg))
    #: values (and zero points) are packed into words of this many bits ...
    pack_bits: int = attrs.field(default=8, validator=_opt_pos_int)
    #: ... along the input (``"in"``: GPTQ, compressed-tensors) or output (``"out"``: AWQ) dimension
    pack_axis: str = attrs.field(default="in", validator=attrs.validators.in_(("in", "out")))
    #: bits of one scale per group of ``group_size`` inputs of a row
    scale_bits: int = attrs.field(default=0, validator=_nonneg)
    #: bits of one zero point per group (0: symmetric, none stored)
    zero_bits: int = attrs.field(default=0, validator=_nonneg)
    #: groups run over the flattened tensor (bitsandbytes blocks) instead of along each row
    flat_groups: bool = False
    #: bitsandbytes double quantization: one fp32 per this many group scales
    nested_group: int | None = attrs.field(default=None, validator=_opt_pos_int)
    #: one int32 group index per input element (GPTQ ``g_idx``)
    g_idx: bool = False
    #: (rows, columns) of the tiles sharing one block scale (FP8 ``weight_block_size``)
    block_shape: tuple[int, int] | None = attrs.field(default=None, converter=_block_tuple, validator=_block)
    block_scale_bits: int = attrs.field(default=0, validator=_nonneg)
    #: bits of one scale per output row (per-channel)
    row_scale_bits: int = attrs.field(default=0, validator=_nonneg)
    #: fixed bytes per quantized tensor (global or per-tensor scales, stored shapes)
    tensor_bytes: int = attrs.field(default=0, validator=_nonneg)
    #: the parts of the model the format quantizes (see :data:`PARTS`)
    quantized_parts: tuple[str, ...] = attrs.field(default=BLOCK_PARTS, converter=_parts, validator=_check_parts)
    method: str = ""
    notes: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)

    def linear_bytes(self, out_features: int, in_features: int) -> int:
        """Exact bytes of one quantized ``[out_features, in_features]`` weight (without bias)."""
        out, inn = out_features, in_features
        if self.bits is None:
            return math.ceil(out * inn * self.linear_bits / 8)
        word = self.pack_bits
        if self.pack_axis == "in":
            values = out * math.ceil(inn * self.bits / word) * word // 8
        else:
            values = inn * math.ceil(out * self.bits / word) * word // 8
        total = values + self.tensor_bytes + out * self.row_scale_bits // 8
        g = self.group_size
        if g is not None or self.scale_bits or self.zero_bits:
            # group_size None: one group per output row (per-channel scales and zero points)
            per_row = 1 if g is None else math.ceil(inn / g)
            groups = math.ceil(out * inn / g) if (self.flat_groups and g) else out * per_row
            total += math.ceil(groups * self.scale_bits / 8)
            if self.nested_group:
                total += 4 * math.ceil(groups / self.nested_group)
            if self.zero_bits:  # packed along the output dimension, one row of them per group column
                total += per_row * math.ceil(out * self.zero_bits / word) * word // 8
        if self.block_shape is not None:
            bo, bi = self.block_shape
            total += math.ceil(math.ceil(out / bo) * math.ceil(inn / bi) * self.block_scale_bits / 8)
        if self.g_idx:
            total += 4 * inn
        return total

    def linear_bits_for(self, out_features: int, in_features: int) -> float:
        """Bits per weight of one quantized Linear layer of the given shape (:meth:`linear_bytes` x 8 / elements)."""
        if not self.linear_only:
            return self.linear_bits
        return self.linear_bytes(out_features, in_features) * 8 / (out_features * in_features)

    def quantizes(self, part: str) -> bool:
        """Whether Linear layers of ``part`` (one of :data:`PARTS`) are stored in this format."""
        return not self.linear_only or part in self.quantized_parts


def _gptq(bits: int) -> WeightFormat:
    return WeightFormat(
        name=f"gptq-int{bits}",
        linear_bits=bits + (16 + bits) / 128,
        linear_only=True,
        default_compute="fp16",
        description=f"GPTQ {bits}-bit, group size 128, fp16 scales, packed zeros, g_idx",
        group_size=128,
        bits=bits,
        pack_bits=32,
        scale_bits=16,
        zero_bits=bits,
        g_idx=True,
        method="gptq",
    )


#: Every weight format by name (a read-only view; :class:`WeightFormat` is frozen too).
FORMATS: Mapping[str, WeightFormat] = MappingProxyType(
    {
        f.name: f
        for f in (
            WeightFormat(
                name="fp32",
                linear_bits=32,
                linear_only=False,
                default_compute="fp32",
                description="float32 everywhere",
                quantized=False,
            ),
            WeightFormat(
                name="fp16",
                linear_bits=16,
                linear_only=False,
                default_compute="fp16",
                description="float16 weights and compute",
                quantized=False,
            ),
            WeightFormat(
                name="bf16",
                linear_bits=16,
                linear_only=False,
                default_compute="bf16",
                description="bfloat16 weights and compute",
                quantized=False,
            ),
            WeightFormat(
                name="fp8",
                linear_bits=8 + 32 / 16384,
                linear_only=True,
                default_compute="bf16",
                description="FP8 e4m3 Linear weights with 128x128 block scales, bf16 elsewhere",
                bits=8,
                block_shape=(128, 128),
                block_scale_bits=32,
                method="fp8",
            ),
            WeightFormat(
                name="int8",
                linear_bits=8,
                linear_only=False,
                default_compute="fp16",
                description="idealised: every parameter at 8 bits, no scales (lower bound)",
            ),
            WeightFormat(
                name="int4",
                linear_bits=4,
                linear_only=False,
                default_compute="fp16",
                description="idealised: every parameter at 4 bits, no scales (lower bound)",
            ),
            _gptq(8),
            _gptq(4),
            WeightFormat(
                name="awq-int4",
                linear_bits=4 + 20 / 128,
                linear_only=True,
                default_compute="fp16",
                description="AWQ 4-bit GEMM, group size 128, fp16 scales, packed zeros",
                group_size=128,
                bits=4,
                pack_bits=32,
                pack_axis="out",
                scale_bits=16,
                zero_bits=4,
                method="awq",
            ),
            WeightFormat(
                name="bnb-int8",
                linear_bits=8,
                linear_only=True,
                default_compute="fp16",
                description="bitsandbytes LLM.int8: int8 weights + fp32 row scales",
                bits=8,
                row_scale_bits=32,
                method="bitsandbytes",
            ),
            WeightFormat(
                name="bnb-nf4",
                linear_bits=4 + 32 / 64,
                linear_only=True,
                default_compute="bf16",
                description="bitsandbytes NF4, blocksize 64, fp32 absmax (no double quant)",
                group_size=64,
                bits=4,
                scale_bits=32,
                flat_groups=True,
                method="bitsandbytes",
            ),
            WeightFormat(
                name="bnb-nf4-dq",
                linear_bits=4 + 8 / 64 + 32 / (64 * 256),
                linear_only=True,
                default_compute="bf16",
                description="bitsandbytes NF4 with double quantization (QLoRA default)",
                group_size=64,
                bits=4,
                scale_bits=8,
                flat_groups=True,
                nested_group=256,
                method="bitsandbytes",
            ),
        )
    }
)


def weight_format(name: str | WeightFormat) -> WeightFormat:
    """The :class:`WeightFormat` called ``name`` (a WeightFormat is returned as is); ``KeyError`` for unknown names."""
    if isinstance(name, WeightFormat):
        return name
    return FORMATS[name]
