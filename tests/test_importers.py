"""The checkpoint importers: local folders (safetensors headers), GGUF files, the Hub (from a cache
built here) and the resolver behind ``llmcatalog estimate PATH``.

Every expected count comes from the tensors the test itself writes (numpy sizes and nbytes), from
the formats' own readers (``safetensors.safe_open``, ``gguf.GGUFReader``) or from transformers'
own models; never from numbers our code printed. Nothing touches the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import llmcatalog as lc
from llmcatalog.importers.local import read_safetensors_header
from llmcatalog.registry.resolve import resolve_model

np = pytest.importorskip("numpy")
safetensors_numpy = pytest.importorskip("safetensors.numpy")
gguf = pytest.importorskip("gguf")

#: A llama-style config (the keys of transformers' LlamaConfig), tiny sizes.
LLAMA = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 64,
    "intermediate_size": 160,
    "num_hidden_layers": 3,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 512,
    "max_position_embeddings": 1024,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
}


def llama_tensors(cfg: dict[str, Any], dtype: Any = "float16") -> dict[str, Any]:
    """The state dict of transformers' LlamaForCausalLM for ``cfg`` (names and shapes as in
    modeling_llama.py), filled with zeros of ``dtype``; norms in float32."""
    h, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = h // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    out = {"model.embed_tokens.weight": np.zeros((v, h), dtype), "model.norm.weight": np.zeros(h, "float32")}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out.update(
            {
                p + "self_attn.q_proj.weight": np.zeros((q, h), dtype),
                p + "self_attn.k_proj.weight": np.zeros((kv, h), dtype),
                p + "self_attn.v_proj.weight": np.zeros((kv, h), dtype),
                p + "self_attn.o_proj.weight": np.zeros((h, q), dtype),
                p + "mlp.gate_proj.weight": np.zeros((f, h), dtype),
                p + "mlp.up_proj.weight": np.zeros((f, h), dtype),
                p + "mlp.down_proj.weight": np.zeros((h, f), dtype),
                p + "input_layernorm.weight": np.zeros(h, "float32"),
                p + "post_attention_layernorm.weight": np.zeros(h, "float32"),
            }
        )
    if not cfg.get("tie_word_embeddings"):
        out["lm_head.weight"] = np.zeros((v, h), dtype)
    return out


def _per_dtype(tensors: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    names = {"float16": "F16", "float32": "F32", "int32": "I32", "int8": "I8", "uint8": "U8"}
    elements: dict[str, int] = {}
    nbytes: dict[str, int] = {}
    for t in tensors.values():
        key = names[str(t.dtype)]
        elements[key] = elements.get(key, 0) + t.size
        nbytes[key] = nbytes.get(key, 0) + t.nbytes
    return elements, nbytes


def write_folder(folder: Path, cfg: dict[str, Any], tensors: dict[str, Any], shards: int = 1) -> Path:
    """A Hugging Face model folder: config.json and ``shards`` safetensors files (with an index when > 1;
    none when 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg))
    if shards == 0:
        return folder
    if shards == 1:
        safetensors_numpy.save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
        return folder
    names = sorted(tensors)
    weight_map = {}
    for k in range(shards):
        part = {n: tensors[n] for n in names[k::shards]}
        fname = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        safetensors_numpy.save_file(part, folder / fname)
        weight_map.update(dict.fromkeys(part, fname))
    total = sum(t.nbytes for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return folder


# -- local folders -------------------------------------------------------------------------------
def test_local_folder_counts_exactly_what_was_written(tmp_path: Path) -> None:
    """from_local: n_params, elements and bytes per dtype equal the numpy sizes of the tensors written."""
    tensors = llama_tensors(LLAMA)
    ckpt = lc.from_local(write_folder(tmp_path / "tiny-llama", LLAMA, tensors))
    elements, nbytes = _per_dtype(tensors)
    assert ckpt.model.n_params == sum(t.size for t in tensors.values())
    assert dict(ckpt.params_by_dtype) == elements
    assert dict(ckpt.bytes_by_dtype) == nbytes
    assert ckpt.weight_bytes == sum(t.nbytes for t in tensors.values())
    assert ckpt.n_tensors == len(tensors)
    assert ckpt.quantization is None
    assert ckpt.model.id == "tiny-llama"
    arch = ckpt.model.architecture
    assert arch is not None
    assert (arch.n_layers, arch.hidden_size, arch.n_kv_heads, arch.vocab_size) == (3, 64, 2, 512)
    # The config's architecture describes the same layout the tensors have.
    assert lc.count_params(arch) == ckpt.model.n_params


def test_sharded_folder_reads_every_shard_once(tmp_path: Path) -> None:
    """A sharded checkpoint (index + 4 shards): every shard's header read, totals equal what was written."""
    tensors = llama_tensors(LLAMA)
    ckpt = lc.from_local(write_folder(tmp_path / "m", LLAMA, tensors, shards=4))
    assert len(ckpt.files) == 4
    elements, nbytes = _per_dtype(tensors)
    assert dict(ckpt.params_by_dtype) == elements
    assert ckpt.weight_bytes == sum(nbytes.values())
    folder_bytes = sum(p.stat().st_size for p in (tmp_path / "m").glob("*.safetensors"))
    assert 0 < ckpt.header_bytes_read < folder_bytes - ckpt.weight_bytes + 1


def test_header_reader_agrees_with_safetensors_own_reader(tmp_path: Path) -> None:
    """Names, dtypes, shapes and metadata equal what safetensors.safe_open reports for the same file."""
    from safetensors import safe_open

    tensors = {"a": np.zeros((3, 5), "float16"), "b": np.zeros(7, "int32"), "c": np.zeros((2, 2, 2), "uint8")}
    path = tmp_path / "x.safetensors"
    safetensors_numpy.save_file(tensors, path, metadata={"format": "np", "note": "hi"})
    header = read_safetensors_header(path)
    with safe_open(str(path), framework="numpy") as f:
        theirs = {k: (f.get_slice(k).get_dtype(), tuple(f.get_slice(k).get_shape())) for k in f.keys()}  # noqa: SIM118
        assert dict(header.metadata) == f.metadata()
    assert {t.name: (t.dtype, t.shape) for t in header.tensors} == theirs
    assert {t.name: t.nbytes for t in header.tensors} == {k: v.nbytes for k, v in tensors.items()}
    # The format: 8-byte length + JSON header + data, nothing else; only the first two were read.
    assert header.header_bytes == header.file_bytes - sum(v.nbytes for v in tensors.values())


def test_transformers_models_count_matches(tmp_path: Path) -> None:
    """Folders saved by transformers' own save_pretrained (llama, qwen2 with biases, tied gemma-style
    embeddings): n_params equals the model's own parameter count."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    configs = [
        transformers.LlamaConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, vocab_size=128
        ),
        transformers.Qwen2Config(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=128,
            tie_word_embeddings=True,
        ),
    ]
    for i, config in enumerate(configs):
        model = transformers.AutoModelForCausalLM.from_config(config)
        model.save_pretrained(tmp_path / str(i))
        ckpt = lc.from_local(tmp_path / str(i))
        assert ckpt.model.n_params == sum(p.numel() for p in model.parameters()), config.model_type
        assert ckpt.weight_bytes == sum(p.numel() * p.element_size() for p in model.parameters())


def test_gptq_checkpoint_reports_bytes_as_stored(tmp_path: Path) -> None:
    """A GPTQ-style checkpoint (int32 qweight/qzeros, f16 scales): bytes as stored, quantization named,
    and n_params from the config (packed int32 elements are not parameters)."""
    cfg = {**LLAMA, "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 32}}
    tensors = llama_tensors(LLAMA)
    qtensors = {}
    for name, t in tensors.items():
        if name.endswith("proj.weight"):
            out_f, in_f = t.shape
            base = name.removesuffix(".weight")
            qtensors[base + ".qweight"] = np.zeros((in_f // 8, out_f), "int32")
            qtensors[base + ".qzeros"] = np.zeros((in_f // 32, out_f // 8), "int32")
            qtensors[base + ".scales"] = np.zeros((in_f // 32, out_f), "float16")
            qtensors[base + ".g_idx"] = np.zeros(in_f, "int32")
        else:
            qtensors[name] = t
    ckpt = lc.from_local(write_folder(tmp_path / "gptq", cfg, qtensors))
    assert ckpt.quantization == "gptq"
    assert ckpt.weight_bytes == sum(t.nbytes for t in qtensors.values())
    assert ckpt.model.n_params == sum(t.size for t in tensors.values())  # the unquantized model's count
    assert ckpt.stored_elements == sum(t.size for t in qtensors.values())
    # Without a quantization_config the tensor names still give it away.
    del cfg["quantization_config"]
    (tmp_path / "gptq" / "config.json").write_text(json.dumps(cfg))
    assert "GPTQ/AWQ" in (lc.from_local(tmp_path / "gptq").quantization or "")


def test_int8_weights_are_detected(tmp_path: Path) -> None:
    """A checkpoint whose linear weights are stored as I8 counts as quantized."""
    tensors = {k: (v.astype("int8") if v.ndim == 2 else v) for k, v in llama_tensors(LLAMA).items()}
    ckpt = lc.from_local(write_folder(tmp_path / "m", LLAMA, tensors))
    assert ckpt.quantization is not None
    assert "I8" in ckpt.quantization
    assert ckpt.bytes_by_dtype["I8"] == sum(t.nbytes for t in tensors.values() if t.dtype == np.int8)


def test_config_json_alone(tmp_path: Path) -> None:
    """A config.json path alone gives the architecture's count and no header facts."""
    (tmp_path / "config.json").write_text(json.dumps(LLAMA))
    ckpt = lc.from_local(tmp_path / "config.json")
    assert ckpt.files == ()
    assert not ckpt.has_headers
    assert ckpt.model.n_params == sum(t.size for t in llama_tensors(LLAMA).values())


def test_folder_without_config_is_an_error(tmp_path: Path) -> None:
    """A folder without config.json is a CheckpointError naming the folder and the missing file."""
    safetensors_numpy.save_file({"a": np.zeros(3, "float32")}, tmp_path / "model.safetensors")
    with pytest.raises(lc.CheckpointError, match=r"no config\.json") as info:
        lc.from_local(tmp_path)
    assert info.value.source == str(tmp_path)


def test_index_naming_a_missing_tensor_is_an_error(tmp_path: Path) -> None:
    """An index whose weight_map names a tensor its shard lacks is an error naming the tensor."""
    folder = write_folder(tmp_path / "m", LLAMA, llama_tensors(LLAMA), shards=2)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    index["weight_map"]["model.layers.99.mlp.up_proj.weight"] = "model-00001-of-00002.safetensors"
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(lc.CheckpointError, match=r"model\.layers\.99\.mlp\.up_proj\.weight"):
        lc.from_local(folder)


def _header_file(path: Path, header_length: int, body: bytes) -> Path:
    path.write_bytes(header_length.to_bytes(8, "little") + body)
    return path


@pytest.mark.parametrize(
    ("length", "body", "match"),
    [
        (5 * 10**9, b"{}", r"claims a 5,000,000,000-byte header"),  # a header claiming gigabytes
        (2**64 - 1, b"", r"claims a"),
        (1000, b'{"a": 1}', r"truncated"),
        (8, b"not json", r"not JSON"),
        (2, b"[]", r"expected a JSON object"),
        (
            len(b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}'),
            b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}' + bytes(8),
            r"needs 16 bytes",
        ),
        (
            len(b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'),
            b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}' + bytes(8),
            r"data_offsets",
        ),
        (
            len(b'{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}'),
            b'{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}',
            r"shape",
        ),
    ],
)
def test_bad_safetensors_headers(tmp_path: Path, length: int, body: bytes, match: str) -> None:
    """Corrupt headers are CheckpointErrors naming the file: oversized claims, truncation, bad JSON, bad offsets."""
    path = _header_file(tmp_path / "bad.safetensors", length, body)
    with pytest.raises(lc.CheckpointError, match=match) as info:
        read_safetensors_header(path)
    assert info.value.source == str(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_and_devices_are_refused(tmp_path: Path) -> None:
    """A FIFO (which would block a reader) and /dev/zero (endless) are refused before reading."""
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(lc.CheckpointError, match="regular file"):
            read_safetensors_header(path)
        with pytest.raises(lc.CheckpointError, match="regular file"):
            lc.from_gguf(path)
    (tmp_path / "config.json").write_text(json.dumps(LLAMA))
    with pytest.raises(lc.CheckpointError, match="regular file"):
        lc.from_local(tmp_path)  # the folder's only safetensors file is the FIFO


@given(
    position=st.integers(min_value=0, max_value=400),
    value=st.integers(min_value=0, max_value=255),
    cut=st.integers(min_value=0, max_value=2000),
)
def test_corrupt_safetensors_give_typed_errors(tmp_path_factory: Any, position: int, value: int, cut: int) -> None:
    """Any single-byte change or truncation of a valid file reads fine or raises CheckpointError; nothing else."""
    folder = tmp_path_factory.mktemp("st")
    path = folder / "x.safetensors"
    safetensors_numpy.save_file({"a": np.zeros((3, 5), "float16"), "b": np.zeros(7, "int32")}, path)
    data = bytearray(path.read_bytes())
    data[position % len(data)] = value
    path.write_bytes(bytes(data[: max(0, len(data) - cut % (len(data) + 1))]))
    try:
        header = read_safetensors_header(path)
    except lc.CheckpointError as exc:
        source = exc.source
    else:
        assert all(t.nbytes <= header.file_bytes for t in header.tensors)
        return
    assert source == str(path)


# -- GGUF ----------------------------------------------------------------------------------------
Q = gguf.GGMLQuantizationType


def write_gguf(path: Path, *, moe: bool = False, with_output: bool = True) -> dict[str, tuple[str, int, int]]:
    """A tiny llama GGUF with tensors of mixed types (Q8_0 quantized by gguf.quants, Q4_K and IQ2_XXS
    as raw blocks, F16, F32). Returns name -> (type, elements, bytes) as written."""
    rng = np.random.default_rng(0)
    hidden, ffn, vocab, layers = 256, 512, 300, 2
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("Tiny GGUF Llama")
    w.add_block_count(layers)
    w.add_context_length(4096)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(8)
    w.add_head_count_kv(2)
    w.add_key_length(32)
    w.add_value_length(32)
    if moe:
        w.add_expert_count(4)
        w.add_expert_used_count(2)
    w.add_token_list([f"tok{i}" for i in range(vocab)])
    written: dict[str, tuple[str, int, int]] = {}

    def add(name: str, array: Any, qtype: Any, elements: int) -> None:
        w.add_tensor(name, array, raw_dtype=qtype)
        written[name] = (qtype.name, elements, array.nbytes)

    embd = rng.random((vocab, hidden), dtype=np.float32)
    add("token_embd.weight", gguf.quants.quantize(embd, Q.Q8_0), Q.Q8_0, embd.size)
    for i in range(layers):
        # Q4_K: 256-element blocks of 144 bytes; IQ2_XXS: 256-element blocks of 66 bytes (ggml-common.h).
        add(f"blk.{i}.attn_q.weight", rng.integers(0, 255, (hidden, 144), dtype=np.uint8), Q.Q4_K, hidden * hidden)
        add(f"blk.{i}.attn_k.weight", rng.integers(0, 255, (64, 66), dtype=np.uint8), Q.IQ2_XXS, 64 * hidden)
        add(f"blk.{i}.attn_v.weight", rng.integers(0, 255, (64, 66), dtype=np.uint8), Q.IQ2_XXS, 64 * hidden)
        add(
            f"blk.{i}.attn_output.weight",
            rng.random((hidden, hidden), dtype=np.float32).astype(np.float16),
            Q.F16,
            hidden**2,
        )
        add(f"blk.{i}.ffn_gate.weight", rng.integers(0, 255, (ffn, 144), dtype=np.uint8), Q.Q4_K, ffn * hidden)
        add(f"blk.{i}.ffn_up.weight", rng.integers(0, 255, (ffn, 144), dtype=np.uint8), Q.Q4_K, ffn * hidden)
        down = rng.random((hidden, ffn), dtype=np.float32)
        add(f"blk.{i}.ffn_down.weight", gguf.quants.quantize(down, Q.Q8_0), Q.Q8_0, down.size)
        add(f"blk.{i}.attn_norm.weight", np.ones(hidden, np.float32), Q.F32, hidden)
        add(f"blk.{i}.ffn_norm.weight", np.ones(hidden, np.float32), Q.F32, hidden)
    add("output_norm.weight", np.ones(hidden, np.float32), Q.F32, hidden)
    if with_output:
        add("output.weight", rng.integers(0, 255, (vocab, 144), dtype=np.uint8), Q.Q4_K, vocab * hidden)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return written


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory: Any) -> tuple[Path, dict[str, tuple[str, int, int]]]:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    return path, write_gguf(path)


def test_gguf_bytes_and_params_per_type(gguf_file: tuple[Path, dict[str, tuple[str, int, int]]]) -> None:
    """Bytes and elements per ggml type (k-quant, i-quant, Q8_0, F16, F32 mixed) equal what was written."""
    path, written = gguf_file
    g = lc.from_gguf(path)
    by_type: dict[str, int] = {}
    params: dict[str, int] = {}
    for qtype, elements, nbytes in written.values():
        by_type[qtype] = by_type.get(qtype, 0) + nbytes
        params[qtype] = params.get(qtype, 0) + elements
    assert dict(g.bytes_by_type) == by_type
    assert dict(g.params_by_type) == params
    assert g.model.n_params == sum(params.values())
    assert g.file_bytes == path.stat().st_size
    assert g.tensor_bytes < g.file_bytes


def test_gguf_agrees_with_gguf_own_reader(gguf_file: tuple[Path, dict[str, tuple[str, int, int]]]) -> None:
    """Every tensor's type, shape, element count and byte size equal gguf.GGUFReader's."""
    path, _ = gguf_file
    theirs = {
        t.name: (t.tensor_type.name, tuple(int(d) for d in t.shape), int(t.n_elements), int(t.n_bytes))
        for t in gguf.GGUFReader(str(path)).tensors
    }
    ours = {t.name: (t.type_name, t.shape, t.n_elements, t.nbytes) for t in lc.from_gguf(path).tensors}
    assert ours == theirs


def test_gguf_architecture_from_metadata(gguf_file: tuple[Path, dict[str, tuple[str, int, int]]]) -> None:
    """The architecture and KV geometry are the metadata written; vocab is the token list's length."""
    path, _ = gguf_file
    g = lc.from_gguf(path)
    a = g.architecture
    assert a is not None
    assert (a.family, a.n_layers, a.hidden_size, a.ffn_size) == ("llama", 2, 256, 512)
    assert (a.n_heads, a.n_kv_heads, a.head_dim, a.max_context, a.vocab_size) == (8, 2, 32, 4096, 300)
    assert not a.tied_embeddings  # output.weight is present
    assert a.mlp == "gated"
    assert a.norms_per_layer == 2
    assert g.model.name == "Tiny GGUF Llama"
    assert g.metadata["llama.attention.head_count_kv"] == 2
    assert g.version == 3


def test_gguf_moe_and_tied(tmp_path: Path) -> None:
    """Expert counts come from the metadata; no output.weight means tied embeddings."""
    path = tmp_path / "moe.gguf"
    write_gguf(path, moe=True, with_output=False)
    a = lc.from_gguf(path).architecture
    assert a is not None
    assert (a.n_experts, a.n_experts_per_token, a.expert_ffn_size) == (4, 2, 512)
    assert a.tied_embeddings


def test_gguf_estimate_runs(gguf_file: tuple[Path, dict[str, tuple[str, int, int]]]) -> None:
    """The imported model goes through the calculus; its KV cache follows the metadata's geometry."""
    path, _ = gguf_file
    model = lc.from_gguf(path).model
    est = lc.estimate_vram(model, lc.Inference(precision="bf16", batch_size=1, context_tokens=1000))
    assert est.n_params == model.n_params
    # K and V, bf16, 2 layers x 2 KV heads x 32 dims per token (the metadata written above).
    assert est.kv_cache_bytes == 2 * 2 * 2 * 2 * 32 * 1000


@pytest.mark.parametrize("fraction", [0.001, 0.01, 0.05, 0.2, 0.5, 0.9, 0.999])
def test_truncated_gguf_is_a_typed_error(
    tmp_path: Path, gguf_file: tuple[Path, dict[str, tuple[str, int, int]]], fraction: float
) -> None:
    """A GGUF cut anywhere (header, metadata, tensor infos, data) is a CheckpointError naming the file."""
    data = gguf_file[0].read_bytes()
    path = tmp_path / "cut.gguf"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(lc.CheckpointError) as info:
        lc.from_gguf(path)
    assert info.value.source == str(path)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"GGUF",
        b"not a gguf file at all, just some text....",
        b"GGUF" + (3).to_bytes(4, "little") + (2**63).to_bytes(8, "little") + (0).to_bytes(8, "little"),
        b"GGUF" + (3).to_bytes(4, "little") + (0).to_bytes(8, "little") + (2**62).to_bytes(8, "little") + bytes(64),
        # one metadata key whose string length claims an exabyte
        b"GGUF"
        + (3).to_bytes(4, "little")
        + (0).to_bytes(8, "little")
        + (1).to_bytes(8, "little")
        + (2**60).to_bytes(8, "little")
        + bytes(16),
        b"GGUF" + (99).to_bytes(4, "little") + bytes(16),
    ],
)
def test_garbage_gguf_is_a_typed_error_without_hanging(tmp_path: Path, blob: bytes) -> None:
    """Garbage, huge counts and huge lengths are refused at once (checked against the file size)."""
    path = tmp_path / "junk.gguf"
    path.write_bytes(blob)
    with pytest.raises(lc.CheckpointError):
        lc.from_gguf(path)


@given(position=st.integers(min_value=0, max_value=10**6), value=st.integers(min_value=0, max_value=255))
def test_corrupt_gguf_gives_typed_errors(
    tmp_path_factory: Any, gguf_file: tuple[Path, dict[str, tuple[str, int, int]]], position: int, value: int
) -> None:
    """Any single-byte change in the header region reads fine or raises CheckpointError; nothing else."""
    data = bytearray(gguf_file[0].read_bytes())
    header_end = 4096  # metadata and tensor infos of the tiny file live in its first few KB
    data[position % header_end] = value
    path = tmp_path_factory.mktemp("g") / "x.gguf"
    path.write_bytes(bytes(data))
    try:
        g = lc.from_gguf(path)
    except lc.CheckpointError as exc:
        source = exc.source
    else:
        assert g.tensor_bytes <= g.file_bytes
        return
    assert source == str(path)


def test_missing_extras_name_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without gguf or huggingface_hub the error says which extra to install."""
    monkeypatch.setitem(sys.modules, "gguf", None)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    path = tmp_path / "x.gguf"
    path.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + bytes(16))
    with pytest.raises(lc.MissingDependencyError, match=r"llmcatalog\[gguf\]"):
        lc.from_gguf(path)
    with pytest.raises(lc.MissingDependencyError, match=r"llmcatalog\[hub\]"):
        lc.from_hub("org/name")


# -- the Hub, from a cache built here --------------------------------------------------------------
def make_hub_cache(cache: Path, repo: str, cfg: dict[str, Any], tensors: dict[str, Any], shards: int = 1) -> str:
    """The layout huggingface_hub's cache uses: models--org--name/snapshots/<rev>/..., refs/main."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    root = cache / ("models--" + repo.replace("/", "--"))
    write_folder(root / "snapshots" / revision, cfg, tensors, shards=shards)
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(revision)
    return revision


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytest.importorskip("huggingface_hub")
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def test_from_hub_reads_the_cache_offline(offline_cache: Path) -> None:
    """from_hub("org/name") offline: config and safetensors headers from the cache; exact counts."""
    tensors = llama_tensors(LLAMA)
    revision = make_hub_cache(offline_cache, "org/tiny-llama", LLAMA, tensors, shards=3)
    ckpt = lc.from_hub("org/tiny-llama")
    assert ckpt.model.n_params == sum(t.size for t in tensors.values())
    assert dict(ckpt.params_by_dtype) == _per_dtype(tensors)[0]
    assert len(ckpt.files) == 3
    assert ckpt.model.links.hub == "https://huggingface.co/org/tiny-llama"
    assert ckpt.model.organization == "org"
    assert lc.from_hub("org/tiny-llama", revision=revision).model.n_params == ckpt.model.n_params


def test_from_hub_offline_without_weights_uses_the_config(offline_cache: Path) -> None:
    """Only config.json cached: the architecture's count, with a note saying the weights were not read."""
    make_hub_cache(offline_cache, "org/cfg-only", LLAMA, {}, shards=0)
    ckpt = lc.from_hub("org/cfg-only")
    assert not ckpt.has_headers
    assert ckpt.model.n_params == sum(t.size for t in llama_tensors(LLAMA).values())
    assert any("offline" in n for n in ckpt.notes)


def test_from_hub_offline_and_not_cached(offline_cache: Path) -> None:
    """A Hub id while offline and not cached is a CheckpointError naming the repository and HF_HUB_OFFLINE."""
    with pytest.raises(lc.CheckpointError, match="HF_HUB_OFFLINE") as info:
        lc.from_hub("org/not-cached")
    assert info.value.source == "org/not-cached"


def test_from_hub_online_uses_header_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Online, without cached weights: the counts come from get_safetensors_metadata (stubbed here with
    huggingface_hub's own metadata classes built from the files' JSON headers), one entry per shard."""
    hub = pytest.importorskip("huggingface_hub")
    from huggingface_hub.utils import NotASafetensorsRepoError, SafetensorsFileMetadata, SafetensorsRepoMetadata
    from huggingface_hub.utils import TensorInfo as HubTensorInfo

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    tensors = llama_tensors(LLAMA)
    source = write_folder(tmp_path / "source", LLAMA, tensors, shards=2)
    files_metadata = {}
    for shard in sorted(source.glob("*.safetensors")):
        raw = shard.read_bytes()
        header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
        meta = header.pop("__metadata__", {})
        files_metadata[shard.name] = SafetensorsFileMetadata(
            metadata=meta,
            tensors={
                k: HubTensorInfo(dtype=v["dtype"], shape=v["shape"], data_offsets=tuple(v["data_offsets"]))
                for k, v in header.items()
            },
        )
    weight_map = {k: f for f, m in files_metadata.items() for k in m.tensors}
    repo_meta = SafetensorsRepoMetadata(
        metadata=None, sharded=True, weight_map=weight_map, files_metadata=files_metadata
    )
    config_only = write_folder(tmp_path / "snapshot", LLAMA, {}, shards=0)
    monkeypatch.setattr(hub, "hf_hub_download", lambda *a, **k: str(config_only / "config.json"))
    monkeypatch.setattr(hub, "get_safetensors_metadata", lambda *a, **k: repo_meta)
    # from_hub first sends one HEAD request without retries (fail fast when unreachable): it answers here
    monkeypatch.setattr(hub, "get_hf_file_metadata", lambda *a, **k: None)
    ckpt = lc.from_hub("org/remote", offline=False)
    assert ckpt.model.n_params == sum(t.size for t in tensors.values())
    assert dict(ckpt.bytes_by_dtype) == _per_dtype(tensors)[1]
    assert ckpt.files == ("org/remote/model-00001-of-00002.safetensors", "org/remote/model-00002-of-00002.safetensors")

    def not_safetensors(*a: Any, **k: Any) -> None:
        raise NotASafetensorsRepoError("only .bin weights")

    monkeypatch.setattr(hub, "get_safetensors_metadata", not_safetensors)
    ckpt = lc.from_hub("org/remote", offline=False)
    assert not ckpt.has_headers
    assert any("no safetensors" in n for n in ckpt.notes)


def test_from_hub_unreachable_fails_fast_without_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Online but unable to connect: one HEAD request, then the cache only (no retry loop), and a
    repository not cached is a CheckpointError naming it and saying the Hub is unreachable."""
    hub = pytest.importorskip("huggingface_hub")
    from huggingface_hub.utils import LocalEntryNotFoundError

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    probes: list[float | None] = []

    def refused(*a: Any, timeout: float | None = None, **k: Any) -> None:
        probes.append(timeout)
        raise ConnectionError("[Errno 111] Connection refused")

    def download(*a: Any, local_files_only: bool = False, **k: Any) -> str:
        if not local_files_only:  # hf_hub_download online would retry 5 times with back-off (~24 s)
            raise AssertionError("hf_hub_download went online after the Hub was found unreachable")
        raise LocalEntryNotFoundError("not in the cache")

    monkeypatch.setattr(hub, "get_hf_file_metadata", refused)
    monkeypatch.setattr(hub, "hf_hub_download", download)
    with pytest.raises(lc.CheckpointError, match="unreachable") as info:
        lc.from_hub("org/not-cached", offline=False)
    assert info.value.source == "org/not-cached"
    assert "Connection refused" in str(info.value)
    assert len(probes) == 1
    assert probes[0] is not None
    assert probes[0] <= 3


def test_from_hub_unreachable_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Online but unable to connect, a cached config still reads, and the weights are not fetched."""
    hub = pytest.importorskip("huggingface_hub")
    cache = tmp_path / "hub"
    make_hub_cache(cache, "org/cached", LLAMA, {}, shards=0)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def refused(*a: Any, **k: Any) -> None:
        raise TimeoutError("timed out")

    def no_network(*a: Any, **k: Any) -> None:
        raise AssertionError("fetched safetensors headers from an unreachable Hub")

    monkeypatch.setattr(hub, "get_hf_file_metadata", refused)
    monkeypatch.setattr(hub, "get_safetensors_metadata", no_network)
    ckpt = lc.from_hub("org/cached", offline=False)
    assert ckpt.model.n_params == sum(t.size for t in llama_tensors(LLAMA).values())
    assert any("unreachable" in n for n in ckpt.notes)


# -- the resolver and the CLI ------------------------------------------------------------------------
def test_resolver_order(
    tmp_path: Path, offline_cache: Path, monkeypatch: pytest.MonkeyPatch, catalog: lc.Catalog
) -> None:
    """Paths (folder, config.json, .gguf) first, then catalog names and linked Hub paths, then the Hub."""
    cat = catalog
    folder = write_folder(tmp_path / "local-llama", LLAMA, llama_tensors(LLAMA))
    n = sum(t.size for t in llama_tensors(LLAMA).values())
    assert resolve_model(str(folder), cat).n_params == n
    assert resolve_model(folder / "config.json", cat).n_params == n
    path = tmp_path / "m.gguf"
    written = write_gguf(path)
    assert resolve_model(str(path), cat).n_params == sum(e for _, e, _ in written.values())
    assert resolve_model("Llama-2-7b", cat).id == "llama-2-7b"
    assert resolve_model("meta-llama/Llama-2-7b-hf", cat).id == "llama-2-7b"  # through the catalog's hub link
    make_hub_cache(offline_cache, "someone/tiny", LLAMA, llama_tensors(LLAMA))
    assert resolve_model("someone/tiny", cat).n_params == n
    with pytest.raises(lc.CheckpointError, match="HF_HUB_OFFLINE"):
        resolve_model("someone/absent", cat)
    with pytest.raises(lc.UnknownModelError):
        resolve_model("no-such-model-anywhere", cat)
    with pytest.raises(lc.CheckpointError, match="no such file"):
        resolve_model(str(tmp_path / "absent.gguf"), cat)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    with pytest.raises(lc.CheckpointError, match=r"llmcatalog\[hub\]"):
        resolve_model("someone/tiny", cat)


def test_cli_estimate_and_show_accept_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`llmcatalog estimate FOLDER --json` and `show FILE.gguf` read the checkpoint; bad paths exit 2."""
    from llmcatalog.cli.main import main

    tensors = llama_tensors(LLAMA)
    folder = write_folder(tmp_path / "cli-llama", LLAMA, tensors)
    assert main(["estimate", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_params"] == sum(t.size for t in tensors.values())
    assert out["model"] == "cli-llama"
    path = tmp_path / "m.gguf"
    write_gguf(path)
    assert main(["show", str(path)]) == 0
    assert "Tiny GGUF Llama" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["estimate", str(tmp_path / "empty")]) == 2
    assert "config.json" in capsys.readouterr().err


def test_import_stays_light() -> None:
    """`import llmcatalog` loads none of the importers' optional packages (or numpy)."""
    code = (
        "import sys, llmcatalog; bad = [m for m in ('gguf', 'huggingface_hub', 'safetensors', 'numpy',"
        " 'llmcatalog.importers.local', 'llmcatalog.importers.gguf') if m in sys.modules]; print(bad)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(lc.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[]"


def test_public_names() -> None:
    """The importers are public, lazily loaded names."""
    assert {"from_local", "from_gguf", "from_hub", "LocalCheckpoint", "GGUFCheckpoint", "CheckpointError"} <= set(
        lc.__all__
    )


def test_gguf_estimate_uses_the_stored_bytes(gguf_file: tuple[Path, dict[str, tuple[str, int, int]]]) -> None:
    """With no precision given, the estimate's weights are the bytes the file stores for the decoder
    blocks' matrices (and the output head at their average), not a bf16 model of the same shape."""
    path, written = gguf_file
    g = lc.from_gguf(path)
    assert g.model.weight_format is not None
    est = lc.estimate_vram(g.model, lc.Inference(context_tokens=256))
    block = sum(b for n, (_t, _e, b) in written.items() if n.startswith("blk.") and not n.endswith("norm.weight"))
    block_elems = sum(e for n, (_t, e, _b) in written.items() if n.startswith("blk.") and not n.endswith("norm.weight"))
    head_elems = written["output.weight"][1]
    rest = sum(e for n, (_t, e, _b) in written.items() if n == "token_embd.weight" or n.endswith("norm.weight"))
    expected = block + block * head_elems / block_elems + 2 * rest  # fp16 compute for embeddings and norms
    assert est.weights_bytes == pytest.approx(expected, rel=0.002)
    bf16 = lc.estimate_vram(g.model, lc.Inference(context_tokens=256, precision="bf16"))
    assert bf16.weights_bytes > 1.5 * est.weights_bytes
    assert any("GGUF" in a for a in est.assumptions)


@pytest.mark.parametrize(("arch", "kinds"), [("gemma2", 2), ("gemma3", 6), ("llama", 1)])
def test_gguf_sliding_window_pattern(tmp_path: Path, arch: str, kinds: int) -> None:
    """A GGUF file's sliding window covers the layers its architecture slides on (llama.cpp's SWA
    patterns: Gemma 2 every other layer, Gemma 3 five of six), so the KV cache holds the full context
    on the global layers; other architectures slide on every layer."""
    path = tmp_path / f"{arch}.gguf"
    w = gguf.GGUFWriter(str(path), arch)
    layers, hidden = 6, 64
    w.add_block_count(layers)
    w.add_context_length(8192)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_sliding_window(256)
    w.add_token_list([f"t{i}" for i in range(50)])
    w.add_tensor("token_embd.weight", np.zeros((50, hidden), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    arch_ = lc.from_gguf(path).architecture
    assert arch_ is not None
    full = arch_.count_layers("full")
    assert full == (layers // kinds if kinds > 1 else 0)
    kv = lc.estimate_vram(arch_, lc.Inference(context_tokens=4096, prompt_tokens=1)).kv_cache_bytes
    per_token_layer = 2 * 2 * (hidden // 4) * 2  # K and V, 2 KV heads of head_dim 16, bf16
    assert kv == per_token_layer * (full * 4096 + (layers - full) * 256)


def test_an_importer_result_estimates_as_its_model(gguf_file: tuple[Path, dict[str, tuple[str, int, int]]]) -> None:
    """estimate_vram / fits / min_gpus take what from_gguf returns as the Model it holds (stored format too)."""
    g = lc.from_gguf(gguf_file[0])
    w = lc.Inference(context_tokens=256)
    assert lc.estimate_vram(g, w) == lc.estimate_vram(g.model, w)
    gpu = lc.get_gpu("RTX 4090")
    assert lc.fits(g, gpu, w) == lc.fits(g.model, gpu, w)
