"""Read a checkpoint's ``quantization_config`` into a :class:`~llmcatalog.WeightFormat`.

:func:`weight_format_from_quantization_config` understands the ``quant_method`` values of the
checkpoints on the Hugging Face Hub and the keys transformers' quantizers read
(``transformers/utils/quantization_config.py``):

- ``gptq``: ``bits``, ``group_size`` (-1: per column), ``desc_act``, ``sym``, ``lm_head``,
  ``modules_to_not_convert`` (AutoGPTQ / GPTQModel layout: ``qweight``, ``qzeros``, fp16
  ``scales``, ``g_idx`` always stored);
- ``awq``: ``bits``/``w_bit``, ``group_size``/``q_group_size``, ``zero_point``, ``version``,
  ``modules_to_not_convert`` (AutoAWQ ``WQLinear_GEMM`` layout);
- ``bitsandbytes``: ``load_in_8bit`` / ``load_in_4bit``, ``bnb_4bit_use_double_quant``,
  ``bnb_4bit_compute_dtype``, ``llm_int8_skip_modules``;
- ``fp8`` (transformers FineGrainedFP8: DeepSeek-V3, Qwen3-FP8, ...): ``weight_block_size``,
  ``activation_scheme``, ``scale_fmt``, ``modules_to_not_convert``; ``fbgemm_fp8`` (per-row fp32 scales);
- ``mxfp4`` (gpt-oss): the MoE experts in MXFP4, ``modules_to_not_convert``;
- ``compressed-tensors`` (llm-compressor): ``config_groups`` (``weights``: ``num_bits``, ``type``,
  ``strategy``, ``group_size``, ``block_structure``, ``symmetric``; ``input_activations``),
  ``format`` (``pack-quantized``, ``int-quantized``, ``naive-quantized``, ``float-quantized``,
  ``nvfp4-pack-quantized``, ``mxfp4-pack-quantized``), ``ignore``;
- ``modelopt`` (NVIDIA TensorRT Model Optimizer): ``quant_algo`` ``NVFP4`` or ``FP8``,
  ``group_size``, ``exclude_modules`` (also nested under ``quantization`` as in ``hf_quant_config.json``).

Module names (``modules_to_not_convert``, ``ignore``, compressed-tensors ``targets``, with or
without the ``re:`` prefix) are mapped to the parts a :class:`WeightFormat` quantizes
(:data:`~llmcatalog.values.precision.PARTS`): ``lm_head``, ``self_attn``, ``mlp``, ``experts``,
``shared_expert``, routers (``router``, ``mlp.gate``). Vision/audio towers and embeddings are kept
in the compute dtype anyway. Names the parts cannot express (one layer, one matrix) are kept in
the format's ``notes`` and its description, so the estimate's assumptions show them.

A malformed value raises :class:`~llmcatalog.CatalogDataError` naming the key; an unknown
``quant_method`` or compressed-tensors ``format`` raises it too, naming the supported ones.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import CatalogDataError
from ..values.precision import BLOCK_PARTS, PARTS, WeightFormat
from ._keys import HFConfigWarning

__all__ = [
    "QUANT_METHODS",
    "checkpoint_weight_format",
    "compute_dtype_of",
    "parts_named",
    "weight_format_from_quantization_config",
]

#: The ``quant_method`` values read.
QUANT_METHODS = ("awq", "bitsandbytes", "compressed-tensors", "fbgemm_fp8", "fp8", "gptq", "modelopt", "mxfp4")

_TORCH_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32", "float": "fp32"}


def _bad(key: str, message: str) -> CatalogDataError:
    return CatalogDataError("quantization_config", [f"quantization_config: key {key!r}: {message}"])


def compute_dtype_of(value: object) -> str | None:
    """``"bf16"``/``"fp16"``/``"fp32"`` for a config dtype such as ``"bfloat16"`` or ``"torch.float16"``, else None."""
    if not isinstance(value, str):
        return None
    return _TORCH_DTYPES.get(value.removeprefix("torch.").lower())


def _int(q: Mapping[str, Any], keys: tuple[str, ...], default: int | None, allowed: Sequence[int] = ()) -> int | None:
    for key in keys:
        value = q.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(key, f"expected an integer, got {value!r}")
        if allowed and value not in allowed:
            raise _bad(key, f"{value} is not supported; expected one of {list(allowed)}")
        return value
    return default


def _bool(q: Mapping[str, Any], key: str, default: bool) -> bool:
    value = q.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(key, f"expected true or false, got {value!r}")
    return value


def _names(q: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = q.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise _bad(key, f"expected a list of module names, got {value!r}")
    return tuple(value)


_OTHER_TOWERS = ("vision", "visual", "multi_modal_projector", "mm_projector", "audio", "image", "embed", "wte")
_MLP_ALL = frozenset({"mlp", "experts", "shared_experts", "router"})


def parts_named(name: str) -> frozenset[str] | None:
    """The parts (:data:`PARTS`) a module name or pattern covers; None when it names only part of
    one (a single layer or a single matrix), which a :class:`WeightFormat` cannot express.

    An empty set: modules that are never quantized here anyway (embeddings, vision/audio towers).
    """
    n = name.removeprefix("re:").lower()
    if n == "linear":
        return frozenset(PARTS)
    if re.search(r"layers?\.\d+(\.|$)", n):
        return None  # one layer
    if "lm_head" in n or re.search(r"(^|\.)output$", n):
        return frozenset({"lm_head"})
    if any(t in n for t in _OTHER_TOWERS):
        return frozenset()
    if "shared_expert_gate" in n or "router" in n or re.search(r"(^|[.*:])(mlp\.)?gate\$?$", n):
        return frozenset({"router"})
    if "shared_expert" in n:
        return frozenset({"shared_experts"})
    if "expert" in n:
        return frozenset({"experts"})
    if re.search(r"attn|attention", n):
        return frozenset({"attention"})
    if re.search(r"(^|[.*:])(mlp|feed_forward|block_sparse_moe)\$?$", n):
        return _MLP_ALL
    return None


def _excluded(names: Sequence[str]) -> tuple[frozenset[str], list[str]]:
    parts: set[str] = set()
    unmatched: list[str] = []
    for name in names:
        p = parts_named(name)
        if p is None:
            unmatched.append(name)
        else:
            parts |= p
    return frozenset(parts), unmatched


def _finish(
    name: str,
    description: str,
    *,
    quantized: frozenset[str] | tuple[str, ...],
    excluded: Sequence[str],
    notes: Sequence[str] = (),
    **layout: Any,
) -> WeightFormat:
    skip, unmatched = _excluded(excluded)
    parts = tuple(sorted(set(quantized) - skip))
    all_notes = list(notes)
    if unmatched:
        all_notes.append(f"modules not converted that the estimate cannot single out (kept quantized): {unmatched}")
    if skip:
        description += f"; not converted: {', '.join(sorted(skip))}"
    if all_notes:
        description += "; " + "; ".join(all_notes)
    return WeightFormat(
        name=name, description=description, quantized_parts=parts, notes=tuple(all_notes), linear_only=True, **layout
    )


def _nominal(bits: float, group: int | None, scale_bits: int, zero_bits: int) -> float:
    """Bits per weight of a large layer (group metadata shared over ``group`` weights)."""
    return bits + ((scale_bits + zero_bits) / group if group else 0.0)


def _gptq(q: Mapping[str, Any], compute: str) -> WeightFormat:
    bits = _int(q, ("bits",), None, (2, 3, 4, 8))
    if bits is None:
        raise _bad("bits", "missing; GPTQ configs give the bits per weight (2, 3, 4 or 8)")
    group = _int(q, ("group_size",), 128)
    if group is not None and group != -1 and group < 1:
        raise _bad("group_size", f"expected -1 or a positive integer, got {group}")
    g = None if group == -1 else group
    desc_act, sym = _bool(q, "desc_act", False), _bool(q, "sym", True)
    parts = BLOCK_PARTS + (("lm_head",) if _bool(q, "lm_head", False) else ())
    notes = ["per-module 'dynamic' overrides not applied"] if q.get("dynamic") else []
    return _finish(
        f"gptq-{bits}bit-g{group}" + ("-act" if desc_act else ""),
        f"GPTQ {bits}-bit, group size {'per column' if g is None else g}, desc_act={desc_act}, sym={sym}: "
        f"int32-packed values, fp16 scales, packed zeros, g_idx",
        quantized=parts,
        excluded=_names(q, "modules_to_not_convert"),
        notes=notes,
        linear_bits=_nominal(bits, g, 16, bits),
        default_compute=compute,
        group_size=g,
        bits=bits,
        pack_bits=32,
        scale_bits=16,
        zero_bits=bits,
        g_idx=True,
        method="gptq",
    )


def _awq(q: Mapping[str, Any], compute: str) -> WeightFormat:
    bits = _int(q, ("bits", "w_bit"), 4, (4,))
    assert bits is not None
    group = _int(q, ("group_size", "q_group_size"), 128)
    if group is None or group < 1:
        raise _bad("group_size", f"expected a positive integer, got {group}")
    zero = _bool(q, "zero_point", True)
    version = q.get("version") or "gemm"
    if not isinstance(version, str):
        raise _bad("version", f"expected a string such as 'gemm', got {version!r}")
    notes = [] if version.lower() in ("gemm", "exllama", "ipex") else [f"version {version!r} sized as the GEMM layout"]
    return _finish(
        f"awq-{bits}bit-g{group}",
        f"AWQ {bits}-bit {version}, group size {group}, fp16 scales" + (", packed zeros" if zero else ""),
        quantized=BLOCK_PARTS,
        excluded=_names(q, "modules_to_not_convert"),
        notes=notes,
        linear_bits=_nominal(bits, group, 16, bits if zero else 0),
        default_compute=compute,
        group_size=group,
        bits=bits,
        pack_bits=32,
        pack_axis="out",
        scale_bits=16,
        zero_bits=bits if zero else 0,
        method="awq",
    )


def _bnb(q: Mapping[str, Any], compute: str) -> WeightFormat:
    compute = compute_dtype_of(q.get("bnb_4bit_compute_dtype")) or compute
    skip = _names(q, "llm_int8_skip_modules")
    if _bool(q, "load_in_8bit", False):
        return _finish(
            "bnb-int8-config",
            "bitsandbytes LLM.int8: int8 weights + fp32 row scales",
            quantized=BLOCK_PARTS,
            excluded=skip,
            linear_bits=8,
            default_compute=compute,
            bits=8,
            row_scale_bits=32,
            method="bitsandbytes",
        )
    if not _bool(q, "load_in_4bit", False):
        raise _bad("load_in_4bit", "neither load_in_4bit nor load_in_8bit is true")
    kind = q.get("bnb_4bit_quant_type") or "fp4"
    if kind not in ("nf4", "fp4"):
        raise _bad("bnb_4bit_quant_type", f"expected 'nf4' or 'fp4', got {kind!r}")
    dq = _bool(q, "bnb_4bit_use_double_quant", False)
    layout: dict[str, Any] = {"scale_bits": 8, "nested_group": 256} if dq else {"scale_bits": 32}
    return _finish(
        f"bnb-{kind}" + ("-dq" if dq else "") + "-config",
        f"bitsandbytes {kind.upper()}, blocksize 64, "
        + ("double-quantized absmax" if dq else "fp32 absmax")
        + f", compute {compute}",
        quantized=BLOCK_PARTS,
        excluded=skip,
        linear_bits=4 + 8 / 64 + 32 / (64 * 256) if dq else 4.5,
        default_compute=compute,
        group_size=64,
        bits=4,
        flat_groups=True,
        method="bitsandbytes",
        **layout,
    )


def _fp8(q: Mapping[str, Any], compute: str) -> WeightFormat:
    block = q.get("weight_block_size")
    static = q.get("activation_scheme", "dynamic") == "static"
    ue8m0 = q.get("scale_fmt") == "ue8m0"
    scale = 8 if ue8m0 else 32
    common: dict[str, Any] = {"default_compute": compute, "bits": 8, "method": "fp8", "quantized": BLOCK_PARTS}
    excluded = _names(q, "modules_to_not_convert")
    act = " + fp32 activation scale per tensor" if static else ""
    if block is None:
        return _finish(
            "fp8-tensor",
            f"FP8 e4m3 Linear weights, one fp32 scale per tensor{act}, {compute} elsewhere",
            excluded=excluded,
            linear_bits=8,
            tensor_bytes=4 + (4 if static else 0),
            **common,
        )
    if (
        not isinstance(block, (list, tuple))
        or len(block) != 2
        or not all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in block)
    ):
        raise _bad("weight_block_size", f"expected two positive integers such as [128, 128], got {block!r}")
    bo, bi = block
    return _finish(
        f"fp8-block{bo}x{bi}" + ("-ue8m0" if ue8m0 else ""),
        f"FP8 e4m3 Linear weights, {'ue8m0' if ue8m0 else 'fp32'} weight_scale_inv per {bo}x{bi} block{act}, "
        f"{compute} elsewhere",
        excluded=excluded,
        linear_bits=8 + scale / (bo * bi),
        block_shape=(bo, bi),
        block_scale_bits=scale,
        tensor_bytes=4 if static else 0,
        **common,
    )


def _mxfp4(q: Mapping[str, Any], compute: str) -> WeightFormat:
    return _finish(
        "mxfp4",
        f"MXFP4 MoE experts (e2m1 values + one e8m0 scale per 32), {compute} elsewhere",
        quantized=("experts",),
        excluded=_names(q, "modules_to_not_convert"),
        linear_bits=4.25,
        default_compute=compute,
        group_size=32,
        bits=4,
        scale_bits=8,
        method="mxfp4",
    )


def _nvfp4(name: str, description: str, *, compute: str, group: int, tensor_bytes: int, **kw: Any) -> WeightFormat:
    return _finish(
        name,
        description,
        linear_bits=4 + 8 / group,
        default_compute=compute,
        group_size=group,
        bits=4,
        scale_bits=8,
        tensor_bytes=tensor_bytes,
        **kw,
    )


def _modelopt(q: Mapping[str, Any], compute: str) -> WeightFormat:
    inner = q.get("quantization")
    if isinstance(inner, Mapping):
        q = inner
    algo = str(q.get("quant_algo") or "").upper()
    excluded = _names(q, "exclude_modules") or _names(q, "ignore")
    if algo == "NVFP4":
        group = _int(q, ("group_size",), 16) or 16
        return _nvfp4(
            f"nvfp4-g{group}",
            f"NVFP4 (ModelOpt): e2m1 values, fp8 e4m3 scale per {group}, fp32 weight_scale_2 and input_scale "
            f"per tensor, {compute} elsewhere",
            compute=compute,
            group=group,
            tensor_bytes=8,
            quantized=BLOCK_PARTS,
            excluded=excluded,
            method="modelopt",
        )
    if algo == "FP8":
        return _finish(
            "fp8-tensor-modelopt",
            f"FP8 e4m3 (ModelOpt): fp32 weight_scale and input_scale per tensor, {compute} elsewhere",
            quantized=BLOCK_PARTS,
            excluded=excluded,
            linear_bits=8,
            default_compute=compute,
            bits=8,
            tensor_bytes=8,
            method="modelopt",
        )
    raise _bad("quant_algo", f"{algo or None!r} is not supported; llmcatalog reads 'NVFP4' and 'FP8'")


_CT_FORMATS = (
    "pack-quantized",
    "int-quantized",
    "naive-quantized",
    "float-quantized",
    "nvfp4-pack-quantized",
    "mxfp4-pack-quantized",
)


def _ct_group(group: Mapping[str, Any], fmt: str, key: str, compute: str) -> tuple[dict[str, Any], str, float]:
    """(layout fields, description, nominal bits) of one compressed-tensors config group."""
    w = group.get("weights")
    if not isinstance(w, Mapping):
        raise _bad(f"{key}.weights", f"expected the weight quantization arguments, got {w!r}")
    bits = _int(w, ("num_bits",), 8, (2, 3, 4, 8))
    assert bits is not None
    kind = w.get("type", "int")
    strategy = w.get("strategy") or "tensor"
    sym = w.get("symmetric", True) is not False
    gsize = _int(w, ("group_size",), None)
    s16 = 16 if compute != "fp32" else 32  # scales and zero points in the model's dtype (compressed-tensors)
    acts = group.get("input_activations")
    static_input = isinstance(acts, Mapping) and acts.get("dynamic") is False
    lay: dict[str, Any] = {}
    if fmt in ("nvfp4-pack-quantized", "mxfp4-pack-quantized"):
        nv = fmt.startswith("nv")
        g = gsize or (16 if nv else 32)
        lay = {"bits": 4, "group_size": g, "scale_bits": 8}
        if nv:  # fp32 weight_global_scale, and input_global_scale when activations are quantized
            lay["tensor_bytes"] = 4 + (4 if isinstance(acts, Mapping) else 0)
        what = f"{'NVFP4' if nv else 'MXFP4'}: e2m1 values, {'fp8 e4m3' if nv else 'e8m0'} scale per {g}"
        return lay, what, 4 + 8 / g
    if fmt == "pack-quantized":
        lay = {"bits": bits, "pack_bits": 32, "tensor_bytes": 16}  # weight_shape int64[2]
        stored = bits
    elif fmt in ("int-quantized", "naive-quantized", "float-quantized"):
        lay = {"bits": 8}
        stored = 8
    else:  # pragma: no cover - checked by the caller
        raise AssertionError(fmt)
    if kind == "float" and fmt != "float-quantized":
        raise _bad(f"{key}.weights.type", f"float weights need the float-quantized format, not {fmt!r}")
    zero = 0 if sym else (bits if fmt == "pack-quantized" else 8)
    if strategy == "group":
        if not gsize:
            raise _bad(f"{key}.weights.group_size", "strategy 'group' needs a group_size")
        lay.update(group_size=gsize, scale_bits=s16, zero_bits=zero, pack_bits=lay.get("pack_bits", 8))
        nominal, per = _nominal(stored, gsize, s16, zero), f"per group of {gsize}"
    elif strategy == "channel":
        lay.update(scale_bits=s16, zero_bits=zero)
        nominal, per = float(stored), "per output channel"
    elif strategy == "block":
        blk = w.get("block_structure")
        if not isinstance(blk, (list, tuple)) or len(blk) != 2:
            raise _bad(f"{key}.weights.block_structure", f"expected [rows, columns], got {blk!r}")
        lay.update(block_shape=tuple(blk), block_scale_bits=s16)
        nominal, per = stored + s16 / (blk[0] * blk[1]), f"per {blk[0]}x{blk[1]} block"
    elif strategy == "tensor":
        lay["tensor_bytes"] = lay.get("tensor_bytes", 0) + s16 // 8
        nominal, per = float(stored), "per tensor"
    else:
        raise _bad(
            f"{key}.weights.strategy", f"{strategy!r} is not supported; expected group, channel, block or tensor"
        )
    if static_input:
        lay["tensor_bytes"] = lay.get("tensor_bytes", 0) + s16 // 8
    value = f"{'fp8 e4m3' if kind == 'float' else f'int{bits}'}"
    what = f"{value} ({fmt}), {compute} scales {per}" + ("" if sym else " with zero points")
    return lay, what, nominal


def _compressed_tensors(q: Mapping[str, Any], compute: str) -> WeightFormat:
    groups = q.get("config_groups")
    if not isinstance(groups, Mapping) or not groups:
        raise _bad("config_groups", "expected a mapping of quantization groups")
    top_fmt = q.get("format")
    chosen: tuple[dict[str, Any], str, float] | None = None
    parts: set[str] = set()
    notes: list[str] = []
    for gname, group in groups.items():
        key = f"config_groups.{gname}"
        if not isinstance(group, Mapping):
            raise _bad(key, f"expected a mapping, got {group!r}")
        fmt = group.get("format") or top_fmt
        if fmt not in _CT_FORMATS:
            raise _bad("format", f"{fmt!r} is not supported; llmcatalog reads {list(_CT_FORMATS)}")
        if group.get("weights") is None:
            notes.append(f"{gname}: activations only")
            continue
        layout = _ct_group(group, str(fmt), key, compute)
        targets = _names(group, "targets") or ("Linear",)
        covered, unmatched = _excluded(targets)
        if unmatched:
            notes.append(f"{gname} targets {unmatched} not singled out")
        if chosen is None:
            chosen = layout
            parts |= covered
        elif layout[0] == chosen[0]:
            parts |= covered
        else:
            notes.append(f"{gname} ({layout[1]}) sized as the first group")
            parts |= covered
    if chosen is None:
        raise _bad("config_groups", "no group quantizes weights")
    lay, what, nominal = chosen
    return _finish(
        "ct-" + what.split(" ", 1)[0].lower().replace(":", "") + f"-{lay.get('group_size') or 'c'}",
        f"compressed-tensors {what}, {compute} elsewhere",
        quantized=frozenset(parts),
        excluded=_names(q, "ignore"),
        notes=notes,
        linear_bits=nominal,
        default_compute=compute,
        method="compressed-tensors",
        **lay,
    )


def weight_format_from_quantization_config(
    qcfg: Mapping[str, Any], *, compute_dtype: str | None = None
) -> WeightFormat:
    """The :class:`~llmcatalog.WeightFormat` a ``quantization_config`` describes (see the module docstring).

    ``compute_dtype`` (``"bf16"``, ``"fp16"``, ``"fp32"``) is the dtype of the parts left
    unquantized, usually the config's ``torch_dtype``; default bf16 (fp16 for GPTQ and AWQ, whose
    kernels compute in fp16). Raises :class:`~llmcatalog.CatalogDataError` naming the key for a
    malformed or unsupported config.
    """
    if not isinstance(qcfg, Mapping):
        raise CatalogDataError(
            "quantization_config", [f"quantization_config: expected a mapping, got {type(qcfg).__name__}"]
        )
    if compute_dtype is not None and compute_dtype not in ("bf16", "fp16", "fp32"):
        raise ValueError(f"compute_dtype must be 'bf16', 'fp16' or 'fp32', got {compute_dtype!r}")
    method = qcfg.get("quant_method")
    if method is None and ("load_in_4bit" in qcfg or "load_in_8bit" in qcfg):
        method = "bitsandbytes"
    compute = compute_dtype or "bf16"
    if method == "gptq":
        return _gptq(qcfg, compute_dtype or "fp16")
    if method == "awq":
        return _awq(qcfg, compute_dtype or "fp16")
    if method == "bitsandbytes":
        return _bnb(qcfg, compute)
    if method == "fp8":
        return _fp8(qcfg, compute)
    if method == "fbgemm_fp8":
        return _finish(
            "fp8-row",
            f"FP8 e4m3 Linear weights, fp32 scale per output row (fbgemm), {compute} elsewhere",
            quantized=BLOCK_PARTS,
            excluded=_names(qcfg, "modules_to_not_convert"),
            linear_bits=8,
            default_compute=compute,
            bits=8,
            row_scale_bits=32,
            method="fbgemm_fp8",
        )
    if method == "mxfp4":
        return _mxfp4(qcfg, compute)
    if method == "compressed-tensors":
        return _compressed_tensors(qcfg, compute)
    if method == "modelopt":
        return _modelopt(qcfg, compute)
    raise _bad("quant_method", f"{method!r} is not supported; llmcatalog reads {list(QUANT_METHODS)}")


def checkpoint_weight_format(config: Mapping[str, Any]) -> WeightFormat | None:
    """The stored format of a ``config.json`` with a ``quantization_config`` (None without one).

    The unquantized parts are in the config's ``torch_dtype`` (``dtype`` in transformers 5). A
    ``quant_method`` llmcatalog does not read gives an :class:`HFConfigWarning` and None (the
    estimate then says it used bf16); a malformed known one raises :class:`CatalogDataError`.
    """
    qcfg = config.get("quantization_config")
    if qcfg is None:
        text = config.get("text_config")
        qcfg = text.get("quantization_config") if isinstance(text, Mapping) else None
    if qcfg is None:
        return None
    compute = compute_dtype_of(config.get("torch_dtype")) or compute_dtype_of(config.get("dtype"))
    method = qcfg.get("quant_method") if isinstance(qcfg, Mapping) else None
    if isinstance(qcfg, Mapping) and isinstance(method, str) and method not in QUANT_METHODS:
        warnings.warn(
            HFConfigWarning(
                f"quantization_config: quant_method {method!r} is not one llmcatalog reads "
                f"({', '.join(QUANT_METHODS)}); the model gets no weight_format, "
                "so estimates use bf16 unless a precision is given"
            ),
            stacklevel=3,
        )
        return None
    return weight_format_from_quantization_config(qcfg, compute_dtype=compute)
