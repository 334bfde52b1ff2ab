"""Read ``tests/data/published_vram.csv`` (see ``tests/data/README.md``) into typed figures.

Each CSV row is a GPU-memory figure that model authors or framework maintainers measured and
published, with its setting and source. :func:`load` turns rows into
``(catalog model id, PublishedFigure)`` pairs; the rules below encode what each source's
scripts did, so the figure's setting says everything the estimate needs:

- litgpt (``Lightning-AI/litgpt`` ``tutorials/resource-tables.md``): ``--precision bf16-true``
  (pure bf16 weights and AdamW states), LoRA r=8 on query and value, no activation
  checkpointing (FSDP rows: per-Block checkpointing), peak allocated / 1e9, on the longest
  Alpaca sample. These rows pin every setting down: ``exact_setting``.
- ChatGLM3-6B ``finetune_demo`` at commit 9484f82: fp16 base, fp32 trainable parameters,
  no autocast flag, LoRA r=8 on ``query_key_value`` (batch 1, 128+256 tokens), P-Tuning v2 with
  64 virtual tokens (batch 4, 256+512 tokens): ``exact_setting`` (figures read off nvidia-smi).
- Qwen-1 README tables: batch 1, the profiled length, bf16, LoRA r=64 on every Linear
  (``c_attn,c_proj,w1,w2``), gradient checkpointing "likely" (scripts pass it): not exact.
  Qwen's scripts divide by 1024**3, so their "GB" is GiB (README caveat 1).
- Everything else keeps the settings the CSV gives and is not exact.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from llmcatalog import PublishedFigure

__all__ = ["CSV_PATH", "MODEL_IDS", "load", "source_url"]

CSV_PATH = Path(__file__).parent / "data" / "published_vram.csv"

#: CSV ``model`` (architecture) -> catalog id of the checkpoint the figure belongs to.
MODEL_IDS = {
    "Qwen/Qwen-1_8B": "qwen-1_8b",
    "Qwen/Qwen-7B": "qwen-7b",
    "Qwen/Qwen-14B": "qwen-14b",
    "Qwen/Qwen-72B": "qwen-72b",
    "THUDM/chatglm3-6b": "chatglm3-6b",
    "THUDM/chatglm2-6b": "chatglm2-6b",
    "THUDM/chatglm-6b": "chatglm-6b",
    "THUDM/codegeex2-6b": "codegeex2-6b",
    "baichuan-inc/Baichuan2-7B-Chat": "baichuan2-7b-chat",
    "baichuan-inc/Baichuan2-13B-Chat": "baichuan2-13b-chat",
    "baichuan-inc/Baichuan-13B-Chat": "baichuan-13b-chat",
    "microsoft/phi-1_5": "phi-1_5",
    "stabilityai/stablelm-base-alpha-3b": "stablelm-base-alpha-3b",
    "meta-llama/Llama-2-7b-hf": "llama-2-7b",
    "meta-llama/Llama-2-13b-hf": "llama-2-13b",
    "meta-llama/Llama-2-70b-hf": "llama-2-70b",
    "codellama/CodeLlama-34b-hf": "codellama-34b",
    "tiiuae/falcon-40b": "falcon-40b",
    "bigscience/bloomz-7b1": "bloomz-7b1",
    "wenge-research/yayi-7b": "yayi-7b",
    "huggyllama/llama-7b": "llama-7b",
}
_CHAT = {
    "qwen-1_8b": "qwen-1_8b-chat",
    "qwen-7b": "qwen-7b-chat",
    "qwen-14b": "qwen-14b-chat",
    "qwen-72b": "qwen-72b-chat",
}
_GPUS = {"A100-SXM4-80GB": "a100-sxm4-80gb", "A100-SXM4-40GB": "a100-sxm4-40gb", "A100-SXM-80GB": "a100-sxm4-80gb"}
_PRECISIONS = [
    ("nf4 + double quant", "bnb-nf4-dq"),
    ("nf4", "bnb-nf4"),
    ("int8 (gptq", "gptq-int8"),
    ("int4 (gptq", "gptq-int4"),
    ("int4 gptq", "gptq-int4"),
    ("int8 (bitsandbytes", "bnb-int8"),
    ("int8 base (bitsandbytes", "bnb-int8"),
    # THUDM's built-in weight-only quantization (``quantization.py``: the four block Linears only, fp16
    # per-row scales; embeddings and output layer stay fp16): accuracy.figures.SOURCE_FORMATS.
    ("int8 (built-in", "chatglm-int8"),
    ("int4 (built-in", "chatglm-int4"),
    ("int8 (chatglm built-in", "chatglm-int8"),
    ("int4 (chatglm built-in", "chatglm-int4"),
    ("int4 base (frozen", "int4"),
    ("bf16 + int8 kv", "bf16"),
    ("fp16/bf16", "fp16"),
    ("bf16/fp16", "bf16"),
    ("fp32", "fp32"),
    ("bf16", "bf16"),
    ("fp16", "fp16"),
]
_METRICS = [
    ("peak allocated", "max_allocated"),
    ("gpu memory occupied", "nvidia-smi"),
    ("minimum", "minimum"),
    ("approximate", "approximate"),
    ("oom", "oom"),
]


def source_url(src: str) -> str:
    """``owner/repo@commit:path §section`` (or ``owner/repo:path ...@commit``) -> a GitHub URL."""
    m = re.match(r"([\w.-]+/[\w.-]+)@([0-9a-f]+):(\S+)", src)
    if m:
        return f"https://github.com/{m.group(1)}/blob/{m.group(2)}/{m.group(3)}"
    m = re.match(r"([\w.-]+/[\w.-]+):(\S+)", src)
    if m:
        commit = re.search(r"@([0-9a-f]{7,40})", src)
        return f"https://github.com/{m.group(1)}/blob/{commit.group(1) if commit else 'main'}/{m.group(2)}"
    raise ValueError(f"unrecognised source {src!r}")


def _int(text: str) -> int | None:
    m = re.match(r"\s*(?:<=\s*|~)?(\d+)", text or "")
    return int(m.group(1)) if m else None


def _precision(text: str) -> str | None:
    t = text.lower()
    return next((v for k, v in _PRECISIONS if t.startswith(k)), None)


def _figure(row: dict[str, str]) -> PublishedFigure:
    rid = row["id"]
    metric = next((v for k, v in _METRICS if row["metric_kind"].lower().startswith(k)), "unspecified")
    kw: dict[str, object] = {
        "workload": row["workload"],
        "source": source_url(row["source"]),
        "n_gpus": int(row["n_gpus"]),
        "per_gpu": not row["per_gpu"].startswith("total"),
        "method": row["method_detail"],
    }
    notes = [f"calibration dataset row {rid}", f"measurement: {row['metric_kind']}"]
    value, unit = row["memory_value"], row["memory_unit"]
    if value == "OOM":
        metric = "oom"
    elif value:
        kw["memory_value"] = float(value)
        if unit in ("GB", "G (GB)", "G"):
            if rid.startswith("qwen"):
                kw["memory_unit"] = "GiB"
                notes.append("printed as GB; Qwen's profiling divides by 1024**3 (calibration README, caveat 1)")
            else:
                kw["memory_unit"] = "GB"
        else:
            kw["memory_unit"] = unit
    kw["metric"] = metric
    precision = _precision(row["precision"])
    if precision:
        kw["precision"] = precision
    if row["precision"] and row["precision"] != precision:
        notes.append(f"precision as published: {row['precision']}")
    for key, col in (("batch_size", "batch"), ("seq_len", "seq_len"), ("gen_len", "gen_len")):
        v = _int(row[col])
        if v:
            kw[key] = v
    if row["gpu"] in _GPUS:
        kw["gpu"] = _GPUS[row["gpu"]]
    elif row["gpu"] and row["gpu"] != "unknown":
        notes.append(f"GPU: {row['gpu']}")
    gc = row["grad_ckpt"].lower()
    if gc == "no" or gc.startswith("yes"):
        kw["gradient_checkpointing"] = gc.startswith("yes")
    elif gc.startswith("likely"):
        notes.append(f"gradient checkpointing: {row['grad_ckpt']}")
    if row["optimizer"] not in ("", "n/a"):
        kw["optimizer"] = row["optimizer"]
    fa = row["flash_attn"].lower()
    if fa.startswith(("fa2", "flash", "yes")):
        kw["attention"] = "flash"
    elif fa.startswith("sdpa"):
        kw["attention"] = "sdpa"
    elif fa.startswith("no"):
        kw["attention"] = "eager"
    if row["seq_len"] and _int(row["seq_len"]) is None and row["seq_len"] != "n/a":
        notes.append(f"sequence length: {row['seq_len']}")
    if row["notes"]:
        notes.append(row["notes"])
    _source_rules(rid, row, kw)
    kw["note"] = "; ".join(notes)
    return PublishedFigure(**kw)  # type: ignore[arg-type]


def _source_rules(rid: str, row: dict[str, str], kw: dict[str, object]) -> None:
    """What each source's scripts did (module docstring)."""
    if rid.startswith("litgpt-"):
        kw["framework"] = "litgpt"
        kw["mixed_precision"] = False  # --precision bf16-true
        if row["optimizer"]:
            # "AdamW (torch) / bnb PagedAdamW for nf4": torch AdamW, bitsandbytes PagedAdamW (32-bit) with --quantize
            kw["optimizer"] = "bnb PagedAdamW" if "nf4" in row["precision"].lower() else "AdamW (torch)"
        kw["exact_setting"] = True
        if rid.startswith(("litgpt-lora", "litgpt-loraFSDP")):
            kw.update(lora_rank=8, lora_targets=("q_proj", "v_proj"), lora_dropout=0.05)
        if rid.startswith("litgpt-loraFSDP"):
            # Per GPU these figures exceed the whole unsharded bf16 model (20.7 GiB on each of 2 GPUs
            # for Llama-2-7B, whose weights are 12.6 GiB): litgpt accumulates gradients under FSDP1's
            # no_sync() with use_orig_params=True, so every block gets an unsharded bf16 gradient
            # (frozen weights included) between micro-batches (docs/sharding.md). Fully specified.
            kw.update(fsdp="full-shard", gradient_checkpointing=True)
        if rid.startswith("litgpt-inf"):
            kw.update(seq_len=6, gen_len=50, batch_size=1)
        if rid.startswith("litgpt-adapter"):
            # litgpt's own LLaMA-Adapter (litgpt/adapter.py: 10 prompt tokens from layer 2 on) is estimated as
            # PEFT's AdaptionPrompt with the same prompt length and layers; v2 (a bias and a scale on every
            # Linear) is not modelled. The same per-token terms, a different implementation: not exact.
            kw["exact_setting"] = False
    elif rid == "chatglm3-lora-1gpu":
        # Dynamic padding (DataCollatorForSeq2Seq, padding="longest"): 384 tokens is the cap, not
        # necessarily the longest batch the run met.
        kw.update(
            precision="fp16",
            mixed_precision=True,
            lora_rank=8,
            lora_targets=("query_key_value",),
            lora_dropout=0.1,
            gradient_checkpointing=False,
            attention="sdpa",
            seq_len=384,
            batch_size=1,
        )
    elif rid == "chatglm3-ptuningv2-1gpu":
        kw.update(
            precision="fp16",
            mixed_precision=True,
            prefix_tokens=64,
            gradient_checkpointing=False,
            attention="sdpa",
            seq_len=768,
            batch_size=4,
        )
    elif rid.startswith("chatglm1-ptuning-min-") or rid == "chatglm2-ptuningv2-int4":
        # ptuning/train.sh of ChatGLM-6B@401bf3a / ChatGLM2-6B@cb8e8b4: PRE_SEQ_LEN=128, batch 1, 64 source
        # tokens + 64 (ChatGLM-6B) or 128 (ChatGLM2-6B) target tokens, quantization_bit 8/4 or none (fp16),
        # no --fp16 flag: the fp16 model (quantized by the remote code's quantize()) with an fp32 prefix
        # encoder and no autocast. main.py casts the prefix encoder to fp32 (.float()).
        kw.update(
            precision=kw.get("precision", "fp16"),
            mixed_precision=True,
            prefix_tokens=128,
            seq_len=192 if rid.startswith("chatglm2") else 128,
            batch_size=1,
            gradient_checkpointing=False,
        )
    elif rid == "chatglm3-sft-zero3-4gpu":
        kw.update(
            precision="fp32", mixed_precision=False, zero_stage=3, seq_len=384, batch_size=1, framework="deepspeed"
        )
    elif rid.startswith("qwen1-ft-"):
        kw["lora_rank"] = 64
        kw["lora_targets"] = ("all-linear",)
        kw["lora_dropout"] = 0.05
        kw["gradient_checkpointing"] = True
        kw["framework"] = "qwen-remote-code"
        # README: "CUDA 11.8 and Pytorch 2.0": foreach AdamW with two intermediates (Parallelism.torch_version).
        kw["torch_version"] = "2.0"
        # The remote code casts the model to bf16 in QWenLMHeadModel.__init__ (config.bf16 autoset), but PEFT
        # 0.5.0-0.6.2 (Oct/Nov 2023) built LoRA's lora_A/lora_B as default-dtype (fp32) nn.Linear and moved
        # them to the weight's device only (peft v0.5.0 tuners/lora.py update_layer: self.to(self.weight.device);
        # v0.6.x lora/layer.py casts to the base weight's dtype only if the layer has a weight, which its
        # Linear no longer creates); without --deepspeed the HF Trainer's --bf16 runs autocast: fp32 adapters
        # under autocast (FineTune.mixed_precision). The modules_to_save copies of "LoRA (emb)" stay bf16
        # (accuracy.figures: copies_precision). DeepSpeed rows cast the whole model to 16 bits either way.
        kw["mixed_precision"] = "-q-lora-" not in rid and "-full-parameter-" not in rid and "deepspeed" not in rid
        if "-loraemb-" in rid:
            kw["train_embeddings"] = True
        if "-q-lora-" in rid:
            kw["precision"] = "gptq-int4"
            # finetune_qlora_single_gpu.sh passes --deepspeed finetune/ds_config_zero2.json (ZeRO-2 on one
            # GPU, fp16: DeepSpeed's mixed precision; buckets 2e8, overlap_comm true).
            kw["zero_stage"] = 2
        if "-full-parameter-" in rid:
            kw["zero_stage"] = 3  # finetune_ds.sh: DeepSpeed ZeRO-3
        if "deepspeedzero3" in rid:
            kw["zero_stage"] = 3
    elif rid.startswith("qwen"):
        # Qwen-1 remote code under transformers 4.3x generate(): tuple KV caches rebuilt every step and
        # logits over the whole prompt (accuracy.figures, Inference.legacy_cache); the August-2023 code
        # also held a causal-mask buffer per layer. The inference figures are tensor peaks
        # (torch.cuda.max_memory_allocated-like): the README's bf16 load figure, 16.38 GiB, is exactly the
        # parameters plus those buffers with no CUDA context (data README).
        kw["framework"] = "qwen-remote-code-2023-08" if rid.startswith("qwen1v1") else "qwen-remote-code"
        if kw["metric"] == "unspecified":
            kw["metric"] = "max_allocated"
    elif rid.startswith(("peft-bloomz7b1-lora-pytorch", "peft-bloomz7b1-full")):
        kw.update(precision="fp32", mixed_precision=False, lora_rank=8, lora_targets=("query_key_value",))
    elif rid.startswith("huatuo"):
        # prepare_model_for_int8_training enabled gradient checkpointing by default (peft 0.2-0.3; PEFT main of
        # 2023-03-31, commit e53661688, src/peft/utils/other.py: use_gradient_checkpointing=True ->
        # model.gradient_checkpointing_enable()). Its LoRA Linear8bitLt made fp32 adapters (nn.Linear(in, r)
        # in tuners/lora.py) and finetune.py runs the Trainer with fp16=True (autocast + GradScaler): AMP,
        # mixed_precision (the default). bitsandbytes 0.37 (accuracy.figures: "peft<0.4").
        kw["framework"] = "peft<0.4"
        kw.update(
            lora_rank=8,
            lora_targets=("q_proj", "v_proj"),
            lora_dropout=0.05,
            precision="bnb-int8",
            gradient_checkpointing=True,
        )
    elif rid.startswith("chinesevicuna-llama7b-lora"):
        kw["framework"] = "peft<0.4"  # early-2023 PEFT: prepare_model_for_int8_training, see figures.py _NO_UPCAST
        kw.update(lora_rank=8, lora_targets=("q_proj", "v_proj"), lora_dropout=0.05, gradient_checkpointing=True)


def load() -> list[tuple[str, str, PublishedFigure]]:
    """``(row id, catalog model id, figure)`` for every CSV row of a model in the catalog map."""
    out = []
    with CSV_PATH.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            mid = MODEL_IDS.get(row["model"])
            if mid is None:
                continue
            if mid in _CHAT and "Chat" in row["method_detail"] and row["workload"].startswith("inference"):
                mid = _CHAT[mid]
            out.append((row["id"], mid, _figure(row)))
    return out
