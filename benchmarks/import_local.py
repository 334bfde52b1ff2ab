"""Importing a 100-shard local model folder reads headers only.

Run: python benchmarks/import_local.py [--shards 100]
Writes a llama-style checkpoint split into N safetensors shards (with the index transformers
writes) into a temporary folder, then times ``llmcatalog.from_local`` on it and counts every byte
it reads (the importer's file object is swapped for one that counts), against the folder's size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from io import FileIO
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

import llmcatalog as lc
from llmcatalog.importers import files

RUNS = 7


def write_checkpoint(folder: Path, shards: int) -> int:
    """A llama config with ``shards - 2`` layers: embeddings, one layer per shard, then norm + head."""
    layers, hidden, ffn, vocab = shards - 2, 128, 344, 4096
    config = {
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": ffn,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "vocab_size": vocab,
        "max_position_embeddings": 4096,
    }
    (folder / "config.json").write_text(json.dumps(config))
    parts: list[dict[str, Any]] = [{"model.embed_tokens.weight": np.zeros((vocab, hidden), np.float16)}]
    for i in range(layers):
        p = f"model.layers.{i}."
        part = {p + f"self_attn.{n}_proj.weight": np.zeros((hidden, hidden), np.float16) for n in "qkvo"}
        part |= {p + f"mlp.{n}_proj.weight": np.zeros((ffn, hidden), np.float16) for n in ("gate", "up")}
        part[p + "mlp.down_proj.weight"] = np.zeros((hidden, ffn), np.float16)
        part[p + "input_layernorm.weight"] = np.zeros(hidden, np.float16)
        part[p + "post_attention_layernorm.weight"] = np.zeros(hidden, np.float16)
        parts.append(part)
    parts.append(
        {"model.norm.weight": np.zeros(hidden, np.float16), "lm_head.weight": np.zeros((vocab, hidden), np.float16)}
    )
    weight_map = {}
    n_params = 0
    for k, part in enumerate(parts):
        name = f"model-{k + 1:05d}-of-{len(parts):05d}.safetensors"
        save_file(part, folder / name, metadata={"format": "pt"})
        weight_map |= dict.fromkeys(part, name)
        n_params += sum(t.size for t in part.values())
    index = {"metadata": {"total_size": 2 * n_params}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return n_params


class CountingFileIO(FileIO):
    """A FileIO that adds every byte it returns to ``CountingFileIO.bytes_read``."""

    bytes_read = 0
    reads = 0

    def read(self, size: int = -1, /) -> bytes:
        data = super().read(size)
        CountingFileIO.bytes_read += len(data or b"")
        CountingFileIO.reads += 1
        return data or b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        n_params = write_checkpoint(folder, args.shards)
        written_s = time.perf_counter() - t0
        folder_bytes = sum(p.stat().st_size for p in folder.iterdir())
        files.FileIO = CountingFileIO  # type: ignore[misc]
        try:
            times = []
            for _ in range(RUNS):
                CountingFileIO.bytes_read = CountingFileIO.reads = 0
                t = time.perf_counter()
                ckpt = lc.from_local(folder)
                times.append(time.perf_counter() - t)
        finally:
            files.FileIO = FileIO  # type: ignore[misc]
        assert ckpt.model.n_params == n_params, (ckpt.model.n_params, n_params)
        print(f"checkpoint: {len(ckpt.files)} shards, {ckpt.n_tensors} tensors, {n_params:,} parameters")
        print(f"  (written in {written_s:.2f} s)")
        print(f"folder size:        {folder_bytes:>13,} bytes")
        print(f"bytes read:         {CountingFileIO.bytes_read:>13,} bytes in {CountingFileIO.reads} reads")
        print(f"  of which headers: {ckpt.header_bytes_read:>13,} bytes")
        print(f"share of the folder read: {CountingFileIO.bytes_read / folder_bytes:.4%}")
        print(
            f"from_local: median {statistics.median(times) * 1e3:.1f} ms, best {min(times) * 1e3:.1f} ms ({RUNS} runs)"
        )


if __name__ == "__main__":
    main()
