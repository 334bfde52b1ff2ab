"""What litgpt's own inference code adds to the Hugging Face picture (``Inference.framework="litgpt"``).

Pure functions. Sources: Lightning-AI/litgpt at commit 8641822 (the one its resource tables were
measured with, ``tutorials/resource-tables.md``): ``generate/base.py``, ``lit_gpt/model.py``; the
Lightning commit it pins (``requirements.txt``: Lightning-AI/lightning@71aed75)
``src/lightning/fabric/plugins/precision/bitsandbytes.py``; bitsandbytes 0.41.1 (TimDettmers/bitsandbytes@18e827d)
``bitsandbytes/autograd/_functions.py`` and ``bitsandbytes/functional.py``.

- **The LM head.** lit-gpt's ``GPT`` builds ``lm_head`` as its own ``nn.Linear`` next to the
  embedding ``wte`` and never ties them, and ``BitsandbytesPrecision`` (created without
  ``ignore_modules``) swaps *every* ``torch.nn.Linear`` for its bitsandbytes class while the model
  is built: the head is stored in the 4-bit (or int8) format like the block Linears, unlike
  transformers, which keeps the output embedding in the compute dtype. A tied checkpoint
  (Falcon) gets a head of its own.
- **Dequantized weights in a multi-token forward.** Fabric quantizes each weight from an fp16
  copy (``_Linear4bit._quantize_weight``: ``weight.to(dtype=torch.half)`` before
  ``quantize_4bit``), so the quantization state records fp16. bitsandbytes' ``matmul_4bit`` runs
  the ``gemv_4bit`` kernel only for a single-token input; otherwise ``MatMul4Bit.forward`` computes
  ``linear(A, dequantize_4bit(B, state).to(A.dtype).t())``: a full fp16 copy of the weight and,
  when the compute dtype is bf16, its bf16 cast at once -- ``2 + 2`` bytes per element of the
  largest quantized Linear, the LM head in every model litgpt's tables list. The prompt's forward
  (and every decoding step of a batch above one) pays it.
"""

from __future__ import annotations

import functools
import math

from ..errors import WorkloadError
from ..values.model import Architecture
from ..values.precision import DTYPE_BYTES, WeightFormat
from .params import linear_shapes, param_breakdown

__all__ = ["LITGPT_PRECISIONS", "litgpt_dequantize_bytes", "litgpt_head_bytes", "litgpt_terms"]

#: The weight formats of litgpt's ``generate/base.py`` modelled here: ``--precision`` 32-true / 16-true /
#: bf16-true and ``--quantize`` bnb.nf4 / bnb.nf4-dq (not its bnb.int8 and bnb.fp4 modes, nor its own GPTQ path).
LITGPT_PRECISIONS = ("fp32", "fp16", "bf16", "bnb-nf4", "bnb-nf4-dq")


def litgpt_terms(arch: Architecture, fmt: WeightFormat, compute_dtype: str, n_gpus: int) -> tuple[int, int]:
    """``(head, dequantize)``: :func:`litgpt_head_bytes` and :func:`litgpt_dequantize_bytes`, after checking
    that litgpt runs the setting as modelled here (one GPU, a format in :data:`LITGPT_PRECISIONS`)."""
    if fmt.name not in LITGPT_PRECISIONS:
        raise WorkloadError(
            f"framework='litgpt' is modelled for precision in {list(LITGPT_PRECISIONS)}, not {fmt.name!r}; "
            "choose one of those or leave framework out (transformers)"
        )
    if n_gpus > 1:
        raise WorkloadError(
            "framework='litgpt' is modelled on one GPU (its generate script shards with FSDP and refuses "
            "quantization on several devices); use parallelism=Parallelism() or leave framework out"
        )
    return litgpt_head_bytes(arch, fmt, compute_dtype), litgpt_dequantize_bytes(arch, fmt, compute_dtype)


def _bitsandbytes(fmt: WeightFormat) -> bool:
    return fmt.linear_only and fmt.method == "bitsandbytes"


def _untied_head(v: int, h: int, fmt: WeightFormat, rest: float) -> int:
    """An untied ``v x h`` head as the Hugging Face count stores it in ``fmt``."""
    if fmt.linear_only and fmt.quantizes("lm_head"):
        return fmt.linear_bytes(v, h)
    return math.ceil(v * h * (rest if fmt.linear_only else fmt.linear_bits / 8))


@functools.lru_cache(maxsize=1024)
def litgpt_head_bytes(arch: Architecture, fmt: WeightFormat, compute_dtype: str) -> int:
    """Bytes litgpt's LM head weight takes beyond what :func:`~llmcatalog.memory.weights.weight_bytes`
    counts for ``arch`` in ``fmt`` (negative when quantizing it saves memory).

    The head is ``vocab x hidden``: in a bitsandbytes format quantized like the block Linears
    (:meth:`WeightFormat.linear_bytes`), otherwise stored as an untied head in ``fmt``; the Hugging Face
    count keeps it in the compute dtype (or as the format lists it), and has none when the embeddings
    are tied. Its bias (phi-1.5) is counted in both and stays in the compute dtype.
    """
    v, h = arch.vocab_size, arch.hidden_size
    hf_head = _untied_head(v, h, fmt, DTYPE_BYTES[compute_dtype])
    litgpt = fmt.linear_bytes(v, h) if _bitsandbytes(fmt) else hf_head
    counted = hf_head if param_breakdown(arch).lm_head else 0  # 0: tied, transformers shares the embedding
    return litgpt - counted


@functools.lru_cache(maxsize=1024)
def litgpt_dequantize_bytes(arch: Architecture, fmt: WeightFormat, compute_dtype: str) -> int:
    """The transient of one bitsandbytes 4-bit matmul over more than one token: the largest quantized
    Linear (the LM head, or a block Linear when larger) dequantized to fp16 plus its cast to the compute
    dtype (none when that is fp16). 0 for formats other than bitsandbytes 4-bit."""
    if not (_bitsandbytes(fmt) and fmt.bits == 4):
        return 0
    largest = max([arch.vocab_size * arch.hidden_size, *(s.out_features * s.in_features for s in linear_shapes(arch))])
    per_element = DTYPE_BYTES["fp16"] + (0 if compute_dtype == "fp16" else DTYPE_BYTES[compute_dtype])
    return math.ceil(largest * per_element)
