"""A GGUF file (llama.cpp's format): its architecture, and its tensors' types and sizes as stored.

    >>> g = llmcatalog.from_gguf("llama-2-7b.Q4_K_M.gguf")           # doctest: +SKIP
    >>> g.model.n_params, dict(g.bytes_by_type), g.file_bytes

The format (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): magic ``GGUF``, a
version, the tensor and metadata counts, the metadata key/value pairs, the tensor infos (name,
dimensions, ggml type, offset), then the aligned tensor data. Bytes per tensor follow from the
ggml type's block size and bytes per block, taken from the ``gguf`` package
(``gguf.GGML_QUANT_SIZES``, the table llama.cpp's own Python tools use), so k-quants, i-quants
and files that mix types per tensor are counted exactly as stored.

The header is parsed here, not with ``gguf.GGUFReader``: the reader trusts every count and
length in the file (a corrupt count makes it loop or allocate accordingly) and builds a numpy
view per metadata item, which is slow for 150k-token vocabularies. This parser memory-maps the
file read-only and checks every count and length against the bytes that remain before using it,
so a truncated or garbage file is a :class:`CheckpointError` naming the file, never a hang or a
huge allocation; tensor data is never touched (only its extent is checked against the file size).

The architecture comes from the metadata llama.cpp writes (``{arch}.block_count``,
``{arch}.embedding_length``, ``{arch}.attention.head_count_kv``, ...; see llama.cpp
``gguf-py/gguf/constants.py`` ``Keys.LLM`` and ``Keys.Attention``); biases, gating, norms and
tied embeddings from which tensors exist. ``model.n_params`` is the exact number of stored
elements. Architectures whose KV cache the calculus cannot describe (multi-head latent attention,
recurrent models) get ``architecture=None`` and a note saying why: estimating them raises
:class:`~llmcatalog.NotEstimableError` instead of giving a wrong number.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from ..errors import CheckpointError, MissingDependencyError
from ..values.model import Architecture, Model
from ..values.precision import WeightFormat
from .files import open_regular

__all__ = ["ArrayLength", "GGUFCheckpoint", "GGUFTensor", "from_gguf"]

_MAGIC = b"GGUF"
_MAX_ARRAY_DEPTH = 4
#: Fixed-size GGUF metadata value types: type id -> struct format character.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
#: Arrays longer than these are kept as their length only (token lists, merges, scores); per-layer
#: numeric arrays (head counts, FFN sizes) are shorter and kept.
_KEEP_NUMBERS = 4096
_KEEP_STRINGS = 64

#: llama.cpp architectures whose blocks run attention and MLP in parallel (llama-arch.cpp graphs).
_PARALLEL = frozenset({"phi2", "gptj", "gptneox", "falcon", "command-r", "cohere2"})
_GELU = frozenset({"gpt2", "bloom", "falcon", "phi2", "starcoder", "gptneox", "gptj", "mpt", "refact", "starcoder2"})
_ALIBI = frozenset({"bloom", "mpt", "baichuan-alibi", "jais"})
#: Keys whose presence means a KV cache the Architecture cannot describe.
_UNREPRESENTABLE = ("attention.kv_lora_rank", "ssm.state_size", "rwkv.head_size", "wkv.head_size")


def _counts(value: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(sorted(value.items())))


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _int_tuple(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(int(d) for d in value)


@attrs.frozen(kw_only=True)
class GGUFTensor:
    """One tensor's info: ``shape`` in ggml order (fastest dimension first), type name, size."""

    name: str
    shape: tuple[int, ...] = attrs.field(converter=_int_tuple)
    type_name: str
    offset: int
    nbytes: int

    @property
    def n_elements(self) -> int:
        """Elements (parameters) in the tensor."""
        n = 1
        for d in self.shape:
            n *= d
        return n


@attrs.frozen(kw_only=True)
class GGUFCheckpoint:
    """A GGUF file's :class:`Model` and the facts its header states.

    ``bytes_by_type`` and ``params_by_type`` sum the tensors per ggml type (``"Q4_K"``,
    ``"Q6_K"``, ``"F32"``, ...); ``tensor_bytes`` is their total, ``file_bytes`` the file size.
    ``metadata`` holds the key/value pairs (arrays longer than 64 items as their length only).
    """

    path: str
    model: Model
    version: int
    file_bytes: int
    tensors: tuple[GGUFTensor, ...] = attrs.field(repr=False)
    metadata: Mapping[str, Any] = attrs.field(converter=_frozen, repr=False)
    bytes_by_type: Mapping[str, int] = attrs.field(converter=_counts)
    params_by_type: Mapping[str, int] = attrs.field(converter=_counts)
    alignment: int
    notes: tuple[str, ...] = ()

    @property
    def tensor_bytes(self) -> int:
        """Bytes of all tensors as stored."""
        return sum(self.bytes_by_type.values())

    @property
    def n_params(self) -> int:
        """Elements of all tensors (the exact parameter count)."""
        return sum(self.params_by_type.values())

    @property
    def architecture(self) -> Architecture | None:
        """The model's architecture (None when the calculus cannot describe it; see ``notes``)."""
        return self.model.architecture


class _Cursor:
    """Bounds-checked reads over the mapped file; every overrun is a truncation error."""

    def __init__(self, buf: mmap.mmap | bytes, name: str, endian: str) -> None:
        self.buf, self.name, self.endian, self.pos, self.size = buf, name, endian, 0, len(buf)

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise CheckpointError(
                self.name,
                f"truncated or corrupt GGUF: {what} needs {n:,} bytes at offset {self.pos:,},"
                f" but the file has {self.size:,}",
            )

    def scalar(self, fmt: str, what: str) -> Any:
        n = struct.calcsize(fmt)
        self.need(n, what)
        (value,) = struct.unpack_from(self.endian + fmt, self.buf, self.pos)
        self.pos += n
        return value

    def string(self, what: str) -> str:
        n = self.scalar("Q", what)
        self.need(n, what)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype], what)
        if vtype == _STRING:
            return self.string(what)
        if vtype != _ARRAY:
            raise CheckpointError(self.name, f"corrupt GGUF: {what} has unknown value type {vtype}")
        if depth >= _MAX_ARRAY_DEPTH:
            raise CheckpointError(self.name, f"corrupt GGUF: {what} nests arrays deeper than {_MAX_ARRAY_DEPTH}")
        item_type = self.scalar("I", what)
        count = self.scalar("Q", what)
        if item_type in _SCALARS:
            size = struct.calcsize(_SCALARS[item_type])
            self.need(count * size, f"{what} ({count:,} items)")
            if count > _KEEP_NUMBERS:
                self.pos += count * size
                return ArrayLength(count)
            items = struct.unpack_from(f"{self.endian}{count}{_SCALARS[item_type]}", self.buf, self.pos)
            self.pos += count * size
            return list(items)
        # Strings and nested arrays take at least 8 bytes each: bound the loop by the file first.
        self.need(count * 8, f"{what} ({count:,} items)")
        if count > _KEEP_STRINGS:
            for _ in range(count):
                self.value(item_type, what, depth + 1)
            return ArrayLength(count)
        return [self.value(item_type, what, depth + 1) for _ in range(count)]


@attrs.frozen
class ArrayLength:
    """A long metadata array kept as its length only (token lists, merges, scores)."""

    count: int

    def __repr__(self) -> str:
        return f"<array of {self.count:,} items>"


def _quant_sizes() -> tuple[dict[int, tuple[int, int]], dict[int, str]]:
    try:
        import gguf
    except ImportError as exc:
        raise MissingDependencyError("reading GGUF files", "gguf", "gguf") from exc
    sizes = {int(t): (int(b), int(s)) for t, (b, s) in gguf.GGML_QUANT_SIZES.items()}
    names = {int(t): t.name for t in gguf.GGMLQuantizationType}
    return sizes, names


def _parse(buf: mmap.mmap | bytes, name: str) -> tuple[int, dict[str, Any], list[GGUFTensor], int]:
    if len(buf) < 24 or bytes(buf[:4]) != _MAGIC:
        raise CheckpointError(name, "not a GGUF file (no 'GGUF' magic and 24-byte header)")
    endian = "<"
    (version,) = struct.unpack_from("<I", buf, 4)
    if version not in (2, 3):
        (swapped,) = struct.unpack_from(">I", buf, 4)
        if swapped not in (2, 3):
            raise CheckpointError(name, f"GGUF version {version} is not supported (2 and 3 are)")
        endian, version = ">", swapped
    cur = _Cursor(buf, name, endian)
    cur.pos = 8
    n_tensors = cur.scalar("Q", "the tensor count")
    n_kv = cur.scalar("Q", "the metadata count")
    # Each metadata pair takes at least 8+4 bytes and each tensor info 8+4+4+8: bound the loops.
    cur.need(n_kv * 12 + n_tensors * 24, f"{n_kv:,} metadata pairs and {n_tensors:,} tensor infos")
    metadata: dict[str, Any] = {}
    for i in range(n_kv):
        key = cur.string(f"metadata key #{i}")
        vtype = cur.scalar("I", f"the type of {key!r}")
        metadata[key] = cur.value(vtype, f"metadata {key!r}")
    sizes, type_names = _quant_sizes()
    infos = []
    for i in range(n_tensors):
        tname = cur.string(f"tensor name #{i}")
        n_dims = cur.scalar("I", f"the dimensions of tensor {tname!r}")
        if n_dims > 8:
            raise CheckpointError(name, f"corrupt GGUF: tensor {tname!r} claims {n_dims} dimensions")
        shape = tuple(cur.scalar("Q", f"the shape of tensor {tname!r}") for _ in range(n_dims))
        ttype = cur.scalar("I", f"the type of tensor {tname!r}")
        offset = cur.scalar("Q", f"the offset of tensor {tname!r}")
        if ttype not in sizes or ttype not in type_names:
            raise CheckpointError(
                name, f"tensor {tname!r} has ggml type {ttype}, unknown to this gguf package (upgrade gguf?)"
            )
        block, type_bytes = sizes[ttype]
        n = 1
        for d in shape:
            n *= d
        if shape and shape[0] % block:
            raise CheckpointError(
                name,
                f"corrupt GGUF: tensor {tname!r} of {type_names[ttype]} has a row of {shape[0]} elements,"
                f" not a multiple of its block size {block}",
            )
        infos.append(
            GGUFTensor(
                name=tname, shape=shape, type_name=type_names[ttype], offset=offset, nbytes=n // block * type_bytes
            )
        )
    alignment = metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise CheckpointError(name, f"corrupt GGUF: general.alignment {alignment!r} is not a power of two")
    data_start = -(-cur.pos // alignment) * alignment
    for t in infos:
        end = data_start + t.offset + t.nbytes
        if end > len(buf):
            raise CheckpointError(
                name,
                f"truncated GGUF: tensor {t.name!r} ({t.type_name}, {t.nbytes:,} bytes) ends at byte {end:,},"
                f" but the file has {len(buf):,}",
            )
    return version, metadata, infos, alignment


def _uniform(meta: Mapping[str, Any], key: str, name: str) -> int | None:
    """An integer key that may be stored per layer (an array): one value, or an error."""
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, ArrayLength):
        raise CheckpointError(name, f"{key} is an array of {value.count:,} items; expected one integer per model")
    if isinstance(value, list):
        distinct = set(value) - {0}
        if len(distinct) != 1:
            raise CheckpointError(name, f"{key} differs between layers ({sorted(distinct)[:4]}...); not supported")
        value = distinct.pop()
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckpointError(name, f"{key} must be an integer, got {value!r}")
    return int(value)


def _architecture(
    meta: Mapping[str, Any], tensors: list[GGUFTensor], name: str
) -> tuple[Architecture | None, tuple[str, ...]]:
    arch = meta.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        return None, ("no general.architecture in the metadata: architecture unknown",)
    for key in _UNREPRESENTABLE:
        if f"{arch}.{key}" in meta:
            return None, (
                f"{arch}: {arch}.{key} is set; that KV cache/state is not a standard one the calculus describes",
            )

    def get(key: str) -> int | None:
        return _uniform(meta, f"{arch}.{key}", name)

    names = {t.name for t in tensors}
    by_name = {t.name: t for t in tensors}
    fields: dict[str, Any] = {
        "n_layers": get("block_count"),
        "hidden_size": get("embedding_length"),
        "n_heads": get("attention.head_count"),
        "ffn_size": get("feed_forward_length") or get("expert_feed_forward_length"),
        "max_context": get("context_length"),
    }
    tokens = meta.get("tokenizer.ggml.tokens")
    embd = by_name.get("token_embd.weight")
    fields["vocab_size"] = (
        get("vocab_size")
        or (tokens.count if isinstance(tokens, ArrayLength) else len(tokens) if isinstance(tokens, list) else None)
        or (embd.shape[1] if embd is not None and len(embd.shape) == 2 else None)
    )
    missing = [k for k, v in fields.items() if not v]
    if missing:
        return None, (f"{arch}: the metadata lacks {', '.join(missing)}; architecture unknown",)
    fields["n_kv_heads"] = get("attention.head_count_kv") or fields["n_heads"]
    fields["head_dim"] = get("attention.key_length") or fields["hidden_size"] // fields["n_heads"]
    n_experts = get("expert_count") or 0
    if n_experts:
        fields.update(
            n_experts=n_experts,
            n_experts_per_token=get("expert_used_count"),
            expert_ffn_size=get("expert_feed_forward_length") or fields["ffn_size"],
            n_shared_experts=get("expert_shared_count") or 0,
            shared_expert_ffn_size=get("expert_shared_feed_forward_length"),
            n_dense_layers=get("leading_dense_block_count") or 0,
        )
        shared_up = next((t for t in tensors if t.name.endswith("ffn_up_shexp.weight")), None)
        if shared_up is not None:
            # Qwen2-MoE-style shared expert: one, sized by its tensor ([hidden, ffn] in ggml order).
            fields["n_shared_experts"] = fields["n_shared_experts"] or 1
            fields["shared_expert_ffn_size"] = fields["shared_expert_ffn_size"] or shared_up.shape[-1]
    norm_kinds = ("attn_norm", "attn_norm_2", "ffn_norm", "post_attention_norm", "post_ffw_norm")
    layer = fields.get("n_dense_layers", 0) if n_experts else 0
    fields.update(
        family=re.sub(r"[^a-z0-9._+-]+", "-", arch.lower()).strip("-._") or "gguf",
        tied_embeddings="output.weight" not in names,
        mlp="gated" if any(".ffn_gate" in n for n in names) else "standard",
        activation="gelu" if arch in _GELU else "silu",
        norm="layernorm" if "blk.0.attn_norm.bias" in names else "rmsnorm",
        norms_per_layer=sum(f"blk.{layer}.{k}.weight" in names for k in norm_kinds),
        parallel_block=arch in _PARALLEL,
        qkv_bias="blk.0.attn_q.bias" in names or "blk.0.attn_qkv.bias" in names,
        attn_out_bias="blk.0.attn_output.bias" in names,
        mlp_bias="blk.0.ffn_down.bias" in names,
        lm_head_bias="output.bias" in names,
        embedding_norm="token_embd_norm.weight" in names,
        position_embedding="learned" if "position_embd.weight" in names else "alibi" if arch in _ALIBI else "rope",
        sliding_window=get("attention.sliding_window"),
    )
    if fields["sliding_window"] and arch in _SWA_PATTERNS:
        fields["layer_types"] = _SWA_PATTERNS[arch]
    try:
        return Architecture(**fields), ()
    except (TypeError, ValueError) as exc:
        return None, (f"{arch}: the metadata does not make a valid architecture ({exc})",)


#: Architectures whose sliding window covers only some layers, as llama.cpp sets them
#: (``llama-model.cpp``, ``hparams.set_swa_pattern(n)``: n - 1 sliding layers, then one global), the
#: same layouts transformers' configs give (Gemma 2 and gpt-oss alternate, Gemma 3 five to one,
#: Command R7B three to one). Other architectures with a window slide on every layer (Mistral).
_SWA_PATTERNS: dict[str, tuple[str, ...]] = {
    "gemma2": ("sliding", "full"),
    "gemma3": ("sliding",) * 5 + ("full",),
    "cohere2": ("sliding",) * 3 + ("full",),
    "gpt-oss": ("sliding", "full"),
}


def _stored_format(tensors: Sequence[GGUFTensor], file: str) -> WeightFormat | None:
    """A :class:`WeightFormat` for the estimate: the decoder blocks' matrices (``blk.*`` tensors of two
    or more dimensions) at the bits per weight they are stored with, averaged over the file's mix of
    k-/i-quants (so their total is exact); a quantized output head at that average too (its own
    type usually differs by a few bits: Q6_K under Q4_K_M, the note says). The token embeddings
    and norms are sized by the compute dtype, as llmcatalog sizes every format's unquantized parts;
    llama.cpp keeps ``token_embd`` quantized (usually in host memory), so this is an upper bound by
    the difference. ``None`` for a file whose matrices are all 16/32-bit (no quantization)."""
    block_bits = block_elems = head_bits = head_elems = 0
    quantized = False
    for t in tensors:
        if len(t.shape) < 2 or not t.name.endswith(".weight"):
            continue
        if t.name.startswith("blk."):
            block_bits, block_elems = block_bits + 8 * t.nbytes, block_elems + t.n_elements
            quantized |= t.type_name not in ("F32", "F16", "BF16")
        elif t.name == "output.weight":
            head_bits, head_elems = 8 * t.nbytes, t.n_elements
    if not quantized or not block_elems:
        return None
    bits = block_bits / block_elems
    parts: tuple[str, ...] = ("attention", "mlp", "experts", "shared_experts", "router")
    note = f"GGUF {file}: blocks at {bits:.3f} bits/weight on average as stored"
    if head_elems:
        parts += ("lm_head",)
        note += f"; output head at {head_bits / head_elems:.3f}"
    return WeightFormat(
        name="gguf",
        linear_bits=bits,
        bits=bits,
        linear_only=True,
        default_compute="fp16",
        description=f"{note} (token embeddings counted at the compute dtype)",
        quantized_parts=parts,
        method="gguf",
    )


def from_gguf(path: str | os.PathLike[str], **fields: Any) -> GGUFCheckpoint:
    """Read a GGUF file's header: its :class:`Model` (architecture from the metadata, ``n_params``
    the exact stored elements) and its tensors' types and bytes as stored.

    ``fields`` override the Model's fields (``name``, ``id``, ``domain``, ...). Needs the ``gguf``
    extra (``pip install 'llmcatalog[gguf]'``) for the ggml type table. Raises
    :class:`CheckpointError` naming the file when it is not a regular file, not GGUF, truncated
    or corrupt.
    """
    name = os.fspath(path)
    with open_regular(name) as (f, size):
        if size < 24:
            raise CheckpointError(name, f"is {size} bytes: too short for a GGUF file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            version, metadata, tensors, alignment = _parse(buf, name)
    bytes_by_type: dict[str, int] = {}
    params_by_type: dict[str, int] = {}
    for t in tensors:
        bytes_by_type[t.type_name] = bytes_by_type.get(t.type_name, 0) + t.nbytes
        params_by_type[t.type_name] = params_by_type.get(t.type_name, 0) + t.n_elements
    architecture, notes = _architecture(metadata, tensors, name)
    stored = _stored_format(tensors, os.path.basename(name)) if architecture is not None else None
    title = metadata.get("general.name")
    display = title if isinstance(title, str) and title.strip() else os.path.basename(name).removesuffix(".gguf")
    n_params = sum(params_by_type.values())
    defaults: dict[str, Any] = {
        "id": re.sub(r"[^a-z0-9._+-]+", "-", display.lower()).strip("-._") or "gguf-model",
        "name": display,
        "domain": "general",
        "architecture": architecture,
        "n_params": n_params or None,
        "open_weights": True,
        "notes": "; ".join(notes) or None,
        "weight_format": stored,
    }
    defaults.update(fields)
    try:
        model = Model(**defaults)
    except (TypeError, ValueError) as exc:  # a field override the Model validators refuse (they name it)
        raise CheckpointError(name, f"cannot build a model: {exc}") from exc
    return GGUFCheckpoint(
        path=name,
        model=model,
        version=version,
        file_bytes=size,
        tensors=tuple(tensors),
        metadata=metadata,
        bytes_by_type=bytes_by_type,
        params_by_type=params_by_type,
        alignment=alignment,
        notes=notes,
    )
