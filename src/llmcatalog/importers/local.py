"""A local checkpoint folder: ``config.json`` plus the *headers* of its safetensors files.

    >>> ckpt = llmcatalog.from_local("path/to/Llama-2-7b-hf")      # doctest: +SKIP
    >>> ckpt.model.n_params, dict(ckpt.params_by_dtype), ckpt.weight_bytes

The weights are never read. A safetensors file starts with an 8-byte little-endian header length
and a JSON header listing every tensor's dtype, shape and byte range
(https://github.com/huggingface/safetensors#format); those bytes alone give the exact number of
stored elements per dtype and the bytes as stored.

Why our own parser and not ``safetensors.safe_open``: ``safe_open`` memory-maps the whole file
and trusts the header's length field up to its own limit, needs a framework (numpy/torch) to be
installed, and gives no way to count or bound what is read. The format's header is 8 bytes plus
JSON, so a bounded parse is a dozen lines, has no dependency (``import llmcatalog`` stays light
and ``from_local`` works without extras), refuses a header claiming more than
:data:`MAX_HEADER_BYTES` with an error naming the file, and checks every tensor's byte range
against its shape and the file size. The tests cross-check it against files written by the
``safetensors`` package itself.

Which files are read: the shards named in ``model.safetensors.index.json`` when it exists (each
tensor of its ``weight_map`` must be in the shard it names); else ``model.safetensors``; else
every ``*.safetensors`` in the folder except PEFT adapters (``adapter_model.safetensors``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import CatalogDataError, CheckpointError
from ..values.model import Model
from .files import json_object, open_regular, read_exact, read_json
from .hfconfig import model_from_hf_config

__all__ = [
    "DTYPE_BYTES",
    "MAX_HEADER_BYTES",
    "LocalCheckpoint",
    "SafetensorsHeader",
    "TensorInfo",
    "checkpoint_from_headers",
    "from_local",
    "read_safetensors_header",
]

#: The largest safetensors JSON header read. The format's own reader refuses headers over
#: 100 MB (``MAX_HEADER_SIZE`` in safetensors' ``tensor.rs``); real headers are kilobytes.
MAX_HEADER_BYTES = 100_000_000

#: Bytes per element of the safetensors dtypes (safetensors ``Dtype::size``); sub-byte and
#: unknown dtypes are counted by their byte ranges only.
DTYPE_BYTES: Mapping[str, int] = MappingProxyType(
    {
        "BOOL": 1,
        "U8": 1,
        "I8": 1,
        "F8_E5M2": 1,
        "F8_E4M3": 1,
        "F8_E8M0": 1,
        "I16": 2,
        "U16": 2,
        "F16": 2,
        "BF16": 2,
        "I32": 4,
        "U32": 4,
        "F32": 4,
        "I64": 8,
        "U64": 8,
        "F64": 8,
        "C64": 8,
    }
)

#: Tensor-name endings that only quantized checkpoints have: GPTQ/AWQ packed weights, their
#: zeros, scales and group indices; FP8 scales; bitsandbytes state.
_QUANT_SUFFIXES = (
    ".qweight",
    ".qzeros",
    ".scales",
    ".g_idx",
    ".weight_scale",
    ".weight_scale_inv",
    ".input_scale",
    ".absmax",
    ".quant_map",
    ".SCB",
    ".quant_state.bitsandbytes__nf4",
    ".quant_state.bitsandbytes__fp4",
)
_LOW_BIT_DTYPES = frozenset({"I8", "U8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2"})
#: Buffers some conversions store that are not parameters (rotary frequencies).
_BUFFER_SUFFIXES = (".inv_freq",)
_INDEX = "model.safetensors.index.json"


def _frozen_counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(sorted(value.items())))


def _frozen_strings(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _int_tuple(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(d) for d in value)


@attrs.frozen(kw_only=True)
class TensorInfo:
    """One tensor as a safetensors header describes it."""

    name: str
    dtype: str
    shape: tuple[int, ...] = attrs.field(converter=_int_tuple)
    nbytes: int

    @property
    def n_elements(self) -> int:
        """The product of the shape (1 for a scalar)."""
        return math.prod(self.shape)


@attrs.frozen(kw_only=True)
class SafetensorsHeader:
    """The header of one safetensors file: its tensors, its ``__metadata__`` and what reading it cost."""

    path: str
    tensors: tuple[TensorInfo, ...]
    metadata: Mapping[str, str] = attrs.field(converter=_frozen_strings)
    header_bytes: int  # 8 + the JSON header: the bytes read from the file
    file_bytes: int


@attrs.frozen(kw_only=True)
class LocalCheckpoint:
    """A checkpoint's :class:`Model` and the facts its safetensors headers state.

    ``params_by_dtype`` counts stored elements per safetensors dtype (``{"BF16": 6738415616}``),
    ``bytes_by_dtype`` the bytes as stored. ``quantization`` names the method
    (``quantization_config.quant_method``, or what the tensors show) for quantized checkpoints:
    their stored element counts are packed values, not parameters, so ``model.n_params`` is then
    the count from the config's architecture; otherwise it is the exact count from the headers.
    ``files`` is empty when only a ``config.json`` was read (no weights present); then the
    per-dtype counts are empty and ``model.n_params`` comes from the architecture.
    """

    path: str
    model: Model
    config: Mapping[str, Any] = attrs.field(converter=_frozen, repr=False)
    files: tuple[str, ...] = ()
    params_by_dtype: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    bytes_by_dtype: Mapping[str, int] = attrs.field(factory=dict, converter=_frozen_counts)
    n_tensors: int = 0
    quantization: str | None = None
    header_bytes_read: int = 0
    notes: tuple[str, ...] = ()

    @property
    def weight_bytes(self) -> int:
        """Bytes of all tensors as stored (0 when no weight files were read)."""
        return sum(self.bytes_by_dtype.values())

    @property
    def stored_elements(self) -> int:
        """Elements of all stored tensors (packed values for quantized checkpoints)."""
        return sum(self.params_by_dtype.values())

    @property
    def has_headers(self) -> bool:
        """True when safetensors headers were read (the counts are exact, not from the config)."""
        return bool(self.files)


def _header_error(name: str, reason: str) -> CheckpointError:
    return CheckpointError(name, f"invalid safetensors header: {reason}")


def _tensor(name: str, key: str, entry: object, data_bytes: int) -> TensorInfo:
    if not isinstance(entry, dict):
        raise _header_error(name, f"tensor {key!r}: expected an object, got {type(entry).__name__}")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str):
        raise _header_error(name, f"tensor {key!r}: 'dtype' must be a string")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise _header_error(name, f"tensor {key!r}: 'shape' must be a list of non-negative integers")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(o) is int for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= data_bytes
    ):
        raise _header_error(
            name, f"tensor {key!r}: 'data_offsets' must be [begin, end] within the {data_bytes:,} data bytes"
        )
    info = TensorInfo(name=key, dtype=dtype, shape=tuple(shape), nbytes=offsets[1] - offsets[0])
    size = DTYPE_BYTES.get(dtype)
    if size is not None and info.n_elements * size != info.nbytes:
        raise _header_error(
            name,
            f"tensor {key!r}: shape {list(shape)} of {dtype} needs {info.n_elements * size:,} bytes,"
            f" but its data_offsets span {info.nbytes:,}",
        )
    return info


def read_safetensors_header(
    path: str | os.PathLike[str], *, max_header_bytes: int = MAX_HEADER_BYTES
) -> SafetensorsHeader:
    """The header of the safetensors file ``path``, reading only ``8 + header length`` bytes.

    Raises :class:`CheckpointError` naming the file when it is not a regular file, is shorter than
    its header claims, claims a header over ``max_header_bytes``, or the header is not the format's
    JSON (each tensor's byte range is checked against its shape, dtype and the file size).
    """
    name = os.fspath(path)
    with open_regular(name) as (f, size):
        if size < 8:
            raise CheckpointError(name, f"is {size} bytes: too short for a safetensors file (8-byte header length)")
        n = int.from_bytes(read_exact(f, 8, name, "header length"), "little")
        if n > max_header_bytes:
            raise _header_error(
                name,
                f"it claims a {n:,}-byte header, more than the {max_header_bytes:,} allowed"
                " (not a safetensors file, or a corrupt one)",
            )
        if 8 + n > size:
            raise CheckpointError(name, f"truncated: it claims a {n:,}-byte header but holds {size - 8:,} bytes after")
        raw = read_exact(f, n, name, "header")
    header = json_object(raw, lambda reason: _header_error(name, reason), invalid="not JSON")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _header_error(name, "'__metadata__' must map strings to strings")
    data_bytes = size - 8 - n
    tensors = tuple(_tensor(name, key, entry, data_bytes) for key, entry in header.items())
    return SafetensorsHeader(path=name, tensors=tensors, metadata=metadata, header_bytes=8 + n, file_bytes=size)


def read_weight_map(index_path: Path) -> tuple[list[str], dict[str, str]]:
    """The shard file names (sorted) and the tensor -> shard map of a ``model.safetensors.index.json``;
    a map that is not strings to plain file names in the same folder is a :class:`CheckpointError`."""
    weight_map = read_json(index_path).get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointError(str(index_path), "'weight_map' must map tensor names to shard file names")
    shards = sorted(set(weight_map.values()))
    for shard in shards:
        if Path(shard).name != shard:
            raise CheckpointError(str(index_path), f"weight_map names {shard!r}, which is not a file in the folder")
    return shards, weight_map


def _weight_files(folder: Path) -> tuple[list[Path], dict[str, str] | None]:
    """The safetensors files to read, and the index's weight map when there is one."""
    index_path = folder / _INDEX
    if index_path.exists():
        shards, weight_map = read_weight_map(index_path)
        return [folder / s for s in shards], weight_map
    single = folder / "model.safetensors"
    if single.exists():
        return [single], None
    files = sorted(p for p in folder.glob("*.safetensors") if not p.name.startswith("adapter_model"))
    return files, None


def _quantization(config: Mapping[str, Any], tensors: Iterable[TensorInfo]) -> str | None:
    qc = config.get("quantization_config")
    if isinstance(qc, dict) and qc:
        return str(qc.get("quant_method") or qc.get("quant_type") or "unknown method")
    tensors = list(tensors)
    packed = next((t.name for t in tensors if t.name.endswith(".qweight")), None)
    if packed is not None:
        return f"packed integer weights, GPTQ/AWQ style (e.g. {packed!r})"
    low_bit_weights = None
    for t in tensors:
        if t.name.endswith(_QUANT_SUFFIXES):
            return f"unknown method (quantization tensors such as {t.name!r})"
        if low_bit_weights is None and t.dtype in _LOW_BIT_DTYPES and t.name.endswith(".weight") and len(t.shape) >= 2:
            low_bit_weights = f"{t.dtype} weights (e.g. {t.name!r})"
    return low_bit_weights


def checkpoint_from_headers(
    path: str,
    config: Mapping[str, Any],
    headers: Iterable[SafetensorsHeader],
    *,
    weight_map: Mapping[str, str] | None = None,
    notes: tuple[str, ...] = (),
    **fields: Any,
) -> LocalCheckpoint:
    """A :class:`LocalCheckpoint` from a parsed ``config.json`` and safetensors headers (local or
    from the Hub); ``fields`` go to :func:`~llmcatalog.importers.hfconfig.model_from_hf_config`."""
    headers = tuple(headers)
    params: dict[str, int] = {}
    nbytes: dict[str, int] = {}
    buffers = 0
    seen: dict[str, str] = {}
    for h in headers:
        for t in h.tensors:
            if t.name in seen:
                raise CheckpointError(h.path, f"tensor {t.name!r} is also in {seen[t.name]}; shards must not overlap")
            seen[t.name] = h.path
            params[t.dtype] = params.get(t.dtype, 0) + t.n_elements
            nbytes[t.dtype] = nbytes.get(t.dtype, 0) + t.nbytes
            if t.name.endswith(_BUFFER_SUFFIXES):
                buffers += t.n_elements
    if weight_map is not None:
        by_file = {os.path.basename(h.path): {t.name for t in h.tensors} for h in headers}
        for key, shard in weight_map.items():
            if key not in by_file.get(shard, ()):
                raise CheckpointError(f"{path}/{_INDEX}", f"weight_map puts {key!r} in {shard}, whose header lacks it")
    tensors = [t for h in headers for t in h.tensors]
    quantization = _quantization(config, tensors) if headers else None
    all_notes = list(notes)
    if headers and quantization is None:
        fields.setdefault("n_params", sum(params.values()) - buffers)
        if buffers:
            all_notes.append(f"{buffers:,} elements of rotary-frequency buffers are stored but are not parameters")
    elif quantization is not None:
        all_notes.append(
            f"quantized checkpoint ({quantization}): n_params is the config architecture's count;"
            " the stored element counts are packed values"
        )
    try:
        model = model_from_hf_config(config, **fields)
    except CatalogDataError as exc:
        raise CheckpointError(path, f"its config.json cannot be read as a model: {exc}") from exc
    except (TypeError, ValueError) as exc:  # a field the Model validators refuse (they name it)
        raise CheckpointError(path, f"cannot build a model: {exc}") from exc
    return LocalCheckpoint(
        path=path,
        model=model,
        config=config,
        files=tuple(h.path for h in headers),
        params_by_dtype=params,
        bytes_by_dtype=nbytes,
        n_tensors=len(seen),
        quantization=quantization,
        header_bytes_read=sum(h.header_bytes for h in headers),
        notes=tuple(all_notes),
    )


def from_local(path: str | os.PathLike[str], **fields: Any) -> LocalCheckpoint:
    """Read a model folder (``config.json`` + safetensors headers) or a ``config.json`` alone.

    The returned :class:`LocalCheckpoint` holds the :class:`Model` (architecture from the config,
    ``n_params`` exact from the headers), the stored elements and bytes per dtype and the files
    read. ``fields`` override the Model's fields (``name``, ``id``, ``domain``, ...). Raises
    :class:`CheckpointError` naming the file for a missing ``config.json``, a corrupt header or a
    path that is not a regular file or folder.
    """
    p = Path(path)
    if p.is_dir():
        folder, config_path = p, p / "config.json"
        if not config_path.exists():
            raise CheckpointError(str(p), "no config.json in this folder; pass a Hugging Face model folder")
        files, weight_map = _weight_files(folder)
    elif p.exists() or p.is_symlink():
        if p.name != "config.json" and p.suffix != ".json":
            raise CheckpointError(
                str(p), "expected a model folder or its config.json (GGUF files: llmcatalog.from_gguf)"
            )
        folder, config_path, files, weight_map = p.parent, p, [], None
    else:
        raise CheckpointError(str(p), "no such file or folder")
    config = read_json(config_path)
    if "_name_or_path" not in config and "name" not in fields:
        fields["name"] = folder.resolve().name or "model"
    headers = [read_safetensors_header(f) for f in files]
    notes: tuple[str, ...] = ()
    if not files and p.is_dir():
        notes = ("no safetensors weights in the folder: n_params is the config architecture's count",)
    return checkpoint_from_headers(str(p), config, headers, weight_map=weight_map, notes=notes, **fields)
