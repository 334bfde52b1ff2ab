"""Numeric formats: bytes per element of dtypes and bits per weight of quantization formats.

Sources for the quantized layouts:

- GPTQ (AutoGPTQ/Optimum ``QuantLinear``): ``qweight`` packs ``bits`` per weight into int32;
  per group of ``group_size`` input rows there is one fp16 scale and one packed ``bits``-bit
  zero point per output column; ``g_idx`` is one int32 per input row. Bits per weight:
  ``bits + (16 + bits) / group_size + 32 / out_features`` (we use out_features = hidden size).
- AWQ (AutoAWQ ``WQLinear_GEMM``): as GPTQ without ``g_idx``: ``4 + (16 + 4) / 128``.
- bitsandbytes LLM.int8 (``Linear8bitLt``): int8 weights plus one fp32 scale per output row
  (``SCB``): ``8 + 32 / in_features`` bits per weight.
- bitsandbytes NF4 (``Linear4bit``, blocksize 64): 4 bits + one fp32 absmax per 64 weights
  = 4.5 bits; with double quantization the absmax is stored as 8 bits plus one fp32 constant
  per 256 blocks: ``4 + 8/64 + 32/(64*256)`` = 4.127 bits (QLoRA paper, arXiv 2305.14314, §3).
- FP8 (transformers FineGrainedFP8 / vLLM): 1 byte per weight plus fp32 scales per 128x128
  block: ``8 + 32/16384`` bits.

In every real format only the ``nn.Linear`` layers inside the decoder blocks are quantized;
embeddings, the LM head (transformers ``get_keys_to_not_convert``), norms and biases stay in
the compute dtype. The plain ``int8``/``int4`` precisions are the idealised lower bound
(every parameter at 8/4 bits, no metadata) for quick comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

__all__ = ["DTYPE_BYTES", "FORMATS", "WeightFormat", "weight_format"]

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


@attrs.frozen(kw_only=True)
class WeightFormat:
    """How a precision stores weights."""

    name: str
    #: bits per weight of quantized Linear layers (incl. scales/zeros), or of every weight if not quantized
    linear_bits: float
    #: whether only Linear layers in the blocks are converted (True) or every parameter (False)
    linear_only: bool
    #: the compute dtype activations use by default
    default_compute: str
    #: bits per weight of the rest when ``linear_only`` (None: the compute dtype)
    description: str
    group_size: int | None = None
    quantized: bool = True

    def linear_bits_for(self, out_features: int, in_features: int) -> float:
        """Bits per weight of one quantized Linear layer of the given shape."""
        if self.name.startswith("gptq-"):
            bits = 8 if self.name.endswith("int8") else 4
            assert self.group_size is not None
            return bits + (16 + bits) / self.group_size + 32 / out_features
        if self.name == "bnb-int8":
            return 8 + 32 / in_features
        return self.linear_bits


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
            WeightFormat(
                name="gptq-int8",
                linear_bits=8 + 24 / 128,
                linear_only=True,
                default_compute="fp16",
                description="GPTQ 8-bit, group size 128, fp16 scales, packed zeros, g_idx",
                group_size=128,
            ),
            WeightFormat(
                name="gptq-int4",
                linear_bits=4 + 20 / 128,
                linear_only=True,
                default_compute="fp16",
                description="GPTQ 4-bit, group size 128, fp16 scales, packed zeros, g_idx",
                group_size=128,
            ),
            WeightFormat(
                name="awq-int4",
                linear_bits=4 + 20 / 128,
                linear_only=True,
                default_compute="fp16",
                description="AWQ 4-bit GEMM, group size 128, fp16 scales, packed zeros",
                group_size=128,
            ),
            WeightFormat(
                name="bnb-int8",
                linear_bits=8,
                linear_only=True,
                default_compute="fp16",
                description="bitsandbytes LLM.int8: int8 weights + fp32 row scales",
            ),
            WeightFormat(
                name="bnb-nf4",
                linear_bits=4 + 32 / 64,
                linear_only=True,
                default_compute="bf16",
                description="bitsandbytes NF4, blocksize 64, fp32 absmax (no double quant)",
            ),
            WeightFormat(
                name="bnb-nf4-dq",
                linear_bits=4 + 8 / 64 + 32 / (64 * 256),
                linear_only=True,
                default_compute="bf16",
                description="bitsandbytes NF4 with double quantization (QLoRA default)",
            ),
        )
    }
)


def weight_format(name: str) -> WeightFormat:
    """The :class:`WeightFormat` called ``name``; raises ``KeyError`` for unknown names."""
    return FORMATS[name]
