"""ggml tensor types: elements per block and bytes per block, and llama.cpp's quantization mixes.

The block table is ggml's ``type_traits`` (``ggml/src/ggml.c``: ``blck_size`` and ``type_size``),
the same numbers the ``gguf`` package exposes as ``GGML_QUANT_SIZES``; it is written out here so
that the llama.cpp estimate needs no optional dependency (a test checks it against ``gguf`` when
installed). A row of ``n`` elements of a block type takes ``n / blck_size * type_size`` bytes
(``ggml_row_size``); llama.cpp refuses rows that are not a whole number of blocks.

:func:`tensor_type` follows ``llama_tensor_get_type`` of llama.cpp ``src/llama-quant.cpp``: the
file type (``Q4_K_M``, ...) names a default ggml type, and some tensors get more bits: the output
head (``Q6_K`` unless the default is ``Q8_0``), half of the ``attn_v`` and ``ffn_down`` matrices
under ``Q4_K_M``/``Q5_K_M`` (``use_more_bits``: the first and last eighth of the layers and every
third in between), Mixtral-style 8-expert models' ``attn_k``/``attn_v`` in ``Q8_0``, and so on.
Rows whose length is not a multiple of the chosen block fall back to a 32-element type
(``tensor_type_fallback``: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_XS -> IQ4_NL, ...).
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["FILE_TYPES", "GGML_BLOCKS", "KV_CACHE_TYPES", "row_bytes", "tensor_type", "use_more_bits"]

#: ggml type name -> (elements per block, bytes per block), from ggml.c ``type_traits``.
GGML_BLOCKS = MappingProxyType(
    {
        "F32": (1, 4),
        "F16": (1, 2),
        "BF16": (1, 2),
        "Q4_0": (32, 18),
        "Q4_1": (32, 20),
        "Q5_0": (32, 22),
        "Q5_1": (32, 24),
        "Q8_0": (32, 34),
        "Q2_K": (256, 84),
        "Q3_K": (256, 110),
        "Q4_K": (256, 144),
        "Q5_K": (256, 176),
        "Q6_K": (256, 210),
        "IQ2_XXS": (256, 66),
        "IQ2_XS": (256, 74),
        "IQ2_S": (256, 82),
        "IQ3_XXS": (256, 98),
        "IQ3_S": (256, 110),
        "IQ1_S": (256, 50),
        "IQ1_M": (256, 56),
        "IQ4_NL": (32, 18),
        "IQ4_XS": (256, 136),
        "MXFP4": (32, 17),
    }
)

#: llama.cpp file types (``llama-quantize`` names) this module mixes -> their default ggml type
#: (``llama_model_quantize_impl``'s switch over ``ftype``). ``F16``/``BF16``/``F32`` are the
#: converter's unquantized outputs.
FILE_TYPES = MappingProxyType(
    {
        "F32": "F32",
        "F16": "F16",
        "BF16": "BF16",
        "Q8_0": "Q8_0",
        "Q4_0": "Q4_0",
        "Q4_1": "Q4_1",
        "Q5_0": "Q5_0",
        "Q5_1": "Q5_1",
        "Q2_K": "Q2_K",
        "Q3_K_S": "Q3_K",
        "Q3_K_M": "Q3_K",
        "Q3_K_L": "Q3_K",
        "Q4_K_S": "Q4_K",
        "Q4_K_M": "Q4_K",
        "Q5_K_S": "Q5_K",
        "Q5_K_M": "Q5_K",
        "Q6_K": "Q6_K",
        "IQ4_NL": "IQ4_NL",
        "IQ4_XS": "IQ4_XS",
    }
)

#: KV-cache types llama.cpp accepts for ``--cache-type-k/-v`` (``common/arg.cpp``).
KV_CACHE_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")

#: When a row is not a whole number of blocks of the chosen type (``tensor_type_fallback``).
_FALLBACK = {
    "IQ1_S": "IQ4_NL",
    "IQ1_M": "IQ4_NL",
    "IQ2_XXS": "IQ4_NL",
    "IQ2_XS": "IQ4_NL",
    "IQ2_S": "IQ4_NL",
    "IQ3_XXS": "IQ4_NL",
    "IQ3_S": "IQ4_NL",
    "IQ4_XS": "IQ4_NL",
    "Q2_K": "Q4_0",
    "Q3_K": "Q4_0",
    "Q4_K": "Q5_0",
    "Q5_K": "Q5_1",
    "Q6_K": "Q8_0",
}


def row_bytes(type_name: str, n_elements: int) -> int:
    """Bytes of ``n_elements`` consecutive values of a ggml type (``ggml_row_size``).

    Raises ``ValueError`` for an unknown type or a count that is not a whole number of blocks.
    """
    key = type_name.upper()
    if key not in GGML_BLOCKS:
        raise ValueError(f"unknown ggml type {type_name!r}; expected one of {sorted(GGML_BLOCKS)}")
    block, size = GGML_BLOCKS[key]
    if n_elements % block:
        raise ValueError(f"{n_elements} values are not a whole number of {key} blocks of {block}")
    return n_elements // block * size


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """llama-quant.cpp ``use_more_bits``: the first and last eighth of the layers, and every third
    layer in between, get the larger type under the ``_M`` mixes."""
    eighth = n_layers // 8
    return i_layer < eighth or i_layer >= 7 * n_layers // 8 or (i_layer - eighth) % 3 == 2


def _category(name: str) -> str:
    if name == "output.weight":
        return "output"
    if name == "token_embd.weight":
        return "token_embd"
    for key, cat in (
        ("attn_qkv.weight", "attn_v"),
        ("attn_kv_b.weight", "attn_v"),
        ("attn_v.weight", "attn_v"),
        ("attn_k.weight", "attn_k"),
        ("attn_q.weight", "attn_q"),
        ("attn_output.weight", "attn_output"),
        ("ffn_up", "ffn_up"),
        ("ffn_gate", "ffn_gate"),
        ("ffn_down", "ffn_down"),
    ):
        if key in name:
            return cat
    return "other"


def _quantizable(name: str, n_dims: int) -> bool:
    """``tensor_allows_quantization``: 2-D/3-D weights, not norms, not the MoE router."""
    return (
        n_dims >= 2
        and name.endswith("weight")
        and "_norm.weight" not in name
        and "ffn_gate_inp.weight" not in name
        and name != "position_embd.weight"
        and name != "token_types.weight"
    )


def _mixed(
    cat: str,
    ftype: str,
    new: str,
    *,
    n_cols: int,
    layer: int,
    n_layers: int,
    n_experts: int,
    gqa: int,
    arch: str,
    is_70b: bool,
    tied: bool,
) -> str:
    falcon = arch == "falcon"
    if cat == "output" or (tied and cat == "token_embd"):
        block = GGML_BLOCKS[new][0]
        if falcon or n_cols % block:
            return "Q8_0"
        return new if new == "Q8_0" else "Q6_K"
    if cat == "token_embd":
        return new
    if cat == "attn_v":
        if ftype == "Q2_K":
            new = "Q4_K" if gqa >= 4 else "Q3_K"
        elif ftype == "Q3_K_M":
            new = "Q5_K" if layer < 2 else "Q4_K"
        elif ftype == "Q3_K_L" or (ftype in ("IQ4_NL", "IQ4_XS") and gqa >= 4):
            new = "Q5_K"
        elif ftype in ("Q4_K_M", "Q5_K_M") and use_more_bits(layer, n_layers):
            new = "Q6_K"
        elif ftype == "Q4_K_S" and layer < 4:
            new = "Q5_K"
        if is_70b and new in ("Q3_K", "Q4_K"):
            new = "Q5_K"
        if n_experts == 8:
            new = "Q8_0"
        return new
    if cat == "attn_k":
        return "Q8_0" if n_experts == 8 else new
    if cat == "ffn_down":
        if ftype == "Q2_K":
            return "Q3_K"
        if ftype == "Q3_K_M":
            if layer < n_layers // 16:
                return "Q5_K"
            return "Q4_K" if not falcon or use_more_bits(layer, n_layers) else "Q3_K"
        if ftype == "Q3_K_L":
            return "Q4_K" if falcon else "Q5_K"
        if ftype == "Q4_K_M":
            if falcon:
                if layer < n_layers // 16:
                    return "Q6_K"
                return "Q5_K" if use_more_bits(layer, n_layers) else "Q4_K"
            return "Q6_K" if use_more_bits(layer, n_layers) else new
        if layer < n_layers // 8 and ftype in ("IQ4_NL", "IQ4_XS"):
            return "Q5_K"  # without an importance matrix
        if ftype == "Q5_K_M" and use_more_bits(layer, n_layers):
            return "Q6_K"
        if ftype == "Q4_K_S" and not falcon and layer < n_layers // 8:
            return "Q5_K"
        return new
    if cat == "attn_output":
        if falcon:
            return "Q4_K" if ftype == "Q3_K_L" else new
        if n_experts == 8:
            moe_bump = ("Q2_K", "Q3_K_S", "Q3_K_M", "IQ4_NL", "Q4_K_S", "Q4_K_M", "IQ4_XS")
            return "Q5_K" if ftype in moe_bump else new
        return {"Q2_K": "Q3_K", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K"}.get(ftype, new)
    return new


def tensor_type(
    name: str,
    shape: tuple[int, ...],
    ftype: str,
    *,
    layer: int = -1,
    n_layers: int = 1,
    n_experts: int = 0,
    gqa: int = 1,
    arch: str = "llama",
    is_70b: bool = False,
    tied: bool = False,
) -> str:
    """The ggml type ``llama-quantize`` gives tensor ``name`` (shape in ggml order, row first) for
    file type ``ftype``, starting from an F16 conversion, without an importance matrix.

    Unquantized file types store 2-D weights as F16/BF16/F32 and everything else as F32, as
    ``convert_hf_to_gguf.py`` does; quantized types keep norms, biases and the MoE router in F32.
    """
    key = ftype.upper()
    if key not in FILE_TYPES:
        raise ValueError(f"quant {ftype!r} is not one of {sorted(FILE_TYPES)}")
    default = FILE_TYPES[key]
    if not _quantizable(name, len(shape)):
        return "F32"
    if default in ("F32", "F16", "BF16"):
        return default
    new = _mixed(
        _category(name),
        key,
        default,
        n_cols=shape[0],
        layer=layer,
        n_layers=n_layers,
        n_experts=n_experts,
        gqa=gqa,
        arch=arch,
        is_70b=is_70b,
        tied=tied,
    )
    if shape[0] % GGML_BLOCKS[new][0]:
        new = _FALLBACK.get(new, new)
        if shape[0] % GGML_BLOCKS[new][0]:
            new = "F16"
    return new
