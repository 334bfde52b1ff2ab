"""The 2024-2026 open model families added to the bundled catalog ("catalog of 2026", part 1).

The new entries are the ones after the "2024-2026 families" marker in each domain's data file.
Facts outside our code that these tests compare with: the real ``config.json`` fixtures in
tests/data/hf_configs (provenance in its README) and the parameter totals the authors publish
(model cards, technical reports; listed below with their sources).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

import llmcatalog as lc

DATA = Path(lc.__file__).parent / "registry" / "data"
CONFIGS = Path(__file__).parent / "data" / "hf_configs"
MARKER = "# -- 2024-2026 families"
HUB = "https://huggingface.co/"


def _new_entries() -> list[dict[str, Any]]:
    entries = []
    for path in sorted(DATA.glob("*/models.toml")):
        text = path.read_text(encoding="utf-8")
        if MARKER in text:
            entries.extend(tomllib.loads(text[text.index(MARKER) :])["models"])
    return entries


NEW = _new_entries()
NEW_IDS = [e["id"] for e in NEW]

#: config.json fixture -> the new catalog entries whose architecture is that file's, unchanged
#: (directly, or inherited from a base that has it).
FIXTURE_MODELS = {
    "qwen3-0.6b": ["qwen3-0.6b"],
    "qwen3-8b": ["qwen3-8b"],
    "qwen3-30b-a3b": ["qwen3-30b-a3b"],
    "qwen2.5-7b": ["qwen2.5-7b"],
    "qwen2.5-vl-7b-instruct": ["qwen2.5-vl-7b-instruct"],
    "llama-3.1-8b": ["llama-3.1-8b", "llama-3.1-8b-instruct", "deepseek-r1-distill-llama-8b"],
    "llama-4-scout-17b-16e": ["llama-4-scout-17b-16e", "llama-4-scout-17b-16e-instruct"],
    "llama-4-maverick-17b-128e-text": ["llama-4-maverick-17b-128e", "llama-4-maverick-17b-128e-instruct"],
    "deepseek-v2-lite": [
        "deepseek-v2-lite",
        "deepseek-v2-lite-chat",
        "deepseek-coder-v2-lite-base",
        "deepseek-coder-v2-lite-instruct",
    ],
    "deepseek-v3": [
        "deepseek-v3-base",
        "deepseek-v3",
        "deepseek-v3.1",
        "deepseek-r1",
        "deepseek-r1-zero",
        "deepseek-r1-0528",
    ],
    "gemma-2-2b": ["gemma-2-2b", "gemma-2-2b-it"],
    "gemma-3-1b-it": ["gemma-3-1b-it", "gemma-3-1b-pt"],
    "gemma-3-4b-it": ["gemma-3-4b-it", "gemma-3-4b-pt"],
    "phi-3-mini-4k-instruct": ["phi-3-mini-4k-instruct"],
    "phi-3.5-moe-instruct": ["phi-3.5-moe-instruct"],
    "mistral-small-3.1-24b-instruct-2503": [
        "mistral-small-3.1-24b-instruct-2503",
        "mistral-small-3.2-24b-instruct-2506",
    ],
    "gpt-oss-20b": ["gpt-oss-20b"],
    "gpt-oss-120b": ["gpt-oss-120b"],
    "glm-4-9b-chat-hf": ["glm-4-9b-chat-hf"],
    "glm-4-9b-0414": ["glm-4-9b-0414"],
    "starcoder2-3b": ["starcoder2-3b"],
    "starcoder2-7b": ["starcoder2-7b"],
    "olmo-2-1124-7b": ["olmo-2-1124-7b"],
    # Copies of the hub files kept in public repositories (tests/data/hf_configs/README.md, "Verified").
    "llama-3.2-3b": ["llama-3.2-3b", "llama-3.2-3b-instruct"],
    "llama-3.2-1b": ["llama-3.2-1b", "llama-3.2-1b-instruct"],
    "llama-3.1-70b": [
        "llama-3.1-70b",
        "llama-3.1-70b-instruct",
        "llama-3.3-70b-instruct",
        "deepseek-r1-distill-llama-70b",
        "huatuogpt-o1-70b",
    ],
    "qwen2.5-3b": ["qwen2.5-3b", "qwen2.5-3b-instruct"],
    "qwen2.5-14b": ["qwen2.5-14b", "deepseek-r1-distill-qwen-14b"],
    "qwen2.5-32b": ["qwen2.5-32b", "deepseek-r1-distill-qwen-32b"],
    "qwen2-7b-instruct": ["qwen2-7b-instruct"],
    "qwen2-72b-instruct": ["qwen2-72b-instruct"],
    "qwen2-7b": ["qwen2-7b"],
    "mixtral-8x22b-instruct-v0.1": ["mixtral-8x22b-instruct-v0.1"],
    "qwen2.5-coder-32b-instruct": ["qwen2.5-coder-32b-instruct"],
    "qwen2.5-14b-instruct": ["qwen2.5-14b-instruct"],
    "qwen2.5-72b-instruct": ["qwen2.5-72b-instruct"],
    "mixtral-8x7b-instruct-v0.1": ["mixtral-8x7b-instruct-v0.1"],
    "mistral-nemo-instruct-2407": ["mistral-nemo-instruct-2407"],
    "phi-3-medium-4k-instruct": ["phi-3-medium-4k-instruct"],
    "deepseek-r1-distill-qwen-1.5b": ["deepseek-r1-distill-qwen-1.5b"],
    "qwen3-1.7b": ["qwen3-1.7b"],
    "qwen3-4b": ["qwen3-4b"],
    "qwen3-14b": ["qwen3-14b"],
    "qwen3-32b": ["qwen3-32b"],
    "gemma-2-27b": ["gemma-2-27b", "gemma-2-27b-it"],
    "mistral-7b-v0.3": ["mistral-7b-v0.3", "mistral-7b-instruct-v0.3"],
    "phi-3.5-mini-instruct": ["phi-3.5-mini-instruct"],
    "phi-4-mini-instruct": ["phi-4-mini-instruct", "phi-4-mini-reasoning"],
    "internlm2_5-7b-chat": ["internlm2_5-7b-chat"],
    "phi-4": ["phi-4"],
    "glm-4.5": ["glm-4.5"],
    "glm-4.5-air": ["glm-4.5-air"],
    "internlm3-8b-instruct": ["internlm3-8b-instruct"],
    "minicpm3-4b": ["minicpm3-4b"],
    "deepseek-v2": ["deepseek-v2", "deepseek-v2-chat", "deepseek-v2.5", "deepseek-coder-v2-instruct"],
    # The hub's own config.json pages (or an unmodified re-upload naming the official repo), read with
    # the docs search index (tests/data/hf_configs/README.md, "Hub pages").
    "deepseek-math-7b-base": ["deepseek-math-7b-base"],
    "yi-1.5-9b": ["yi-1.5-9b"],
    "qwen2-72b": ["qwen2-72b"],
    "qwen2.5-math-1.5b": ["qwen2.5-math-1.5b"],
    "qwen2.5-math-7b": ["qwen2.5-math-7b"],
    "deepseek-r1-distill-qwen-7b": ["deepseek-r1-distill-qwen-7b"],
    # qwen: whole copies of the hub files (tests/data/hf_configs/README.md, "qwen stream").
    "qwen2-0.5b": ["qwen2-0.5b"],
    "qwen2-0.5b-instruct": ["qwen2-0.5b-instruct"],
    "qwen2-1.5b": ["qwen2-1.5b"],
    "qwen2-1.5b-instruct": ["qwen2-1.5b-instruct"],
    "qwen2-57b-a14b": ["qwen2-57b-a14b"],
    "qwq-32b-preview": ["qwq-32b-preview"],
    "qwen2.5-coder-0.5b-instruct": ["qwen2.5-coder-0.5b-instruct"],
    "qwen2.5-coder-3b-instruct": ["qwen2.5-coder-3b-instruct"],
    "qwen2.5-coder-14b": ["qwen2.5-coder-14b"],
    # mm: vision-language checkpoints (hub file copies read with the docs index; tests/data/hf_configs/README.md)
    "qwen2.5-vl-3b-instruct": ["qwen2.5-vl-3b-instruct"],
    "qwen2-vl-2b-instruct": ["qwen2-vl-2b-instruct"],
    "qwen2-vl-7b-instruct": ["qwen2-vl-7b-instruct"],
    "qwen2-vl-72b-instruct": ["qwen2-vl-72b-instruct"],
    # domain
    "saullm-141-base": ["saullm-141-base", "saullm-141b-instruct"],
    "mathstral-7b-v0.1": ["mathstral-7b-v0.1"],
    "opencoder-1.5b-instruct": ["opencoder-1.5b-base", "opencoder-1.5b-instruct"],
    "opencoder-8b-instruct": ["opencoder-8b-base", "opencoder-8b-instruct"],
    # misc: the hub's own config.json pages / a whole copy naming the official repository (README "misc stream")
    "ministral-8b-instruct-2410": ["ministral-8b-instruct-2410"],
    "internlm2_5-20b": ["internlm2_5-20b"],
    "internlm2_5-20b-chat": ["internlm2_5-20b-chat"],
    "phi-3-small-8k-instruct": ["phi-3-small-8k-instruct"],
    "phi-3-mini-128k-instruct": ["phi-3-mini-128k-instruct"],
    "phi-3-medium-128k-instruct": ["phi-3-medium-128k-instruct"],
    # y2025: whole or assembled public copies of the hub config.json (tests/data/hf_configs/README.md, "y2025").
    "mistral-large-instruct-2411": ["mistral-large-instruct-2407", "mistral-large-instruct-2411"],
    "smollm3-3b": ["smollm3-3b"],
    "ernie-4.5-0.3b-pt": ["ernie-4.5-0.3b-pt"],
    "ernie-4.5-21b-a3b-pt": ["ernie-4.5-21b-a3b-pt"],
    "seed-oss-36b-instruct": ["seed-oss-36b-base", "seed-oss-36b-instruct"],
    "qwen2-math-7b-instruct": ["qwen2-math-7b-instruct"],
    "smollm2-1.7b-instruct": ["smollm2-1.7b-instruct"],
    "smollm2-360m-instruct": ["smollm2-360m-instruct"],
    "smollm2-135m-instruct": ["smollm2-135m-instruct"],
    "granite-3.3-8b-instruct": ["granite-3.3-8b-instruct"],
    "granite-3.3-2b-instruct": ["granite-3.3-2b-instruct"],
    "minimax-m2": ["minimax-m2"],
}

# dsglm: DeepSeek variants, GLM-4.5 bases, GLM-4.6, R1-0528's Qwen3 distill (tests/data/hf_configs/README.md).
FIXTURE_MODELS["deepseek-v3"] += [
    "deepseek-v3-0324",
    "deepseek-v3.1-base",
    "deepseek-v3.1-terminus",
    "deepseek-prover-v2-671b",
]
FIXTURE_MODELS["deepseek-v2"] += ["deepseek-v2-chat-0628", "deepseek-v2.5-1210"]
FIXTURE_MODELS["glm-4.5"] += ["glm-4.5-base"]
FIXTURE_MODELS["glm-4.5-air"] += ["glm-4.5-air-base"]
FIXTURE_MODELS["glm-4.6"] = ["glm-4.6"]
FIXTURE_MODELS["deepseek-r1-0528-qwen3-8b"] = ["deepseek-r1-0528-qwen3-8b"]
# vl: Qwen2.5-VL 32B/72B, assembled from partial copies that together state every key the count needs
# (tests/data/hf_configs/README.md, "vl"; the copies are checks in tests/data/config_crosschecks.json).
FIXTURE_MODELS["qwen2.5-vl-32b-instruct"] = ["qwen2.5-vl-32b-instruct"]
FIXTURE_MODELS["qwen2.5-vl-72b-instruct"] = ["qwen2.5-vl-72b-instruct"]
# vl: MedGemma 4B keeps Gemma 3 4B's layout (KerasHub's exact count; partial copies in config_crosschecks.json).
FIXTURE_MODELS["gemma-3-4b-it"] += ["medgemma-4b-pt", "medgemma-4b-it"]

#: Totals the authors publish, in billions, where the name's size is nominal (further than 3% off).
#: (published total, source)
_QWEN7 = (7.61, "Qwen2.5-7B model card: Number of Parameters 7.61B")
_MISTRAL7 = (7.3, "https://mistral.ai/news/announcing-mistral-7b: 'Mistral 7B is a 7.3B parameter model'")
PUBLISHED_B: dict[str, tuple[float, str]] = {
    "qwen3-14b": (14.8, "Qwen3-14B model card: Number of Parameters 14.8B"),
    "qwen2.5-14b": (14.7, "Qwen2.5-14B model card: 14.7B"),
    "qwen2.5-14b-instruct": (14.7, "Qwen2.5-14B-Instruct model card: 14.7B"),
    "deepseek-r1-distill-qwen-14b": (14.7, "base Qwen2.5-14B model card: 14.7B"),
    "qwen2.5-7b": _QWEN7,
    "qwen2-7b": _QWEN7,
    "qwen2-7b-instruct": _QWEN7,
    "qwen2.5-coder-7b-instruct": (7.61, "Qwen2.5-Coder-7B-Instruct model card: 7.61B"),
    "qwen2.5-math-7b": _QWEN7,
    "qwen2.5-math-7b-instruct": _QWEN7,
    "deepseek-r1-distill-qwen-7b": _QWEN7,
    "huatuogpt-o1-7b": _QWEN7,
    "fin-r1": _QWEN7,
    "qwen2.5-vl-7b-instruct": (8.29, "Qwen2.5-VL-7B-Instruct hub page: 8.29B params, language model and vision tower"),
    "deepseek-r1-distill-qwen-1.5b": (
        1.78,
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B hub page: 1.78B params (safetensors; untied output layer)",
    ),
    "llama-3.2-1b": (1.23, "Llama 3.2 model card: 1B (1.23B)"),
    "llama-3.2-1b-instruct": (1.23, "Llama 3.2 model card: 1B (1.23B)"),
    "llama-3.2-3b": (3.21, "Llama 3.2 model card: 3B (3.21B)"),
    "llama-3.2-3b-instruct": (3.21, "Llama 3.2 model card: 3B (3.21B)"),
    "llama-4-scout-17b-16e": (109, "Llama 4 model card: 17B activated / 109B total"),
    "llama-4-scout-17b-16e-instruct": (109, "Llama 4 model card: 17B activated / 109B total"),
    "llama-4-maverick-17b-128e": (400, "Llama 4 model card: 17B activated / 400B total"),
    "llama-4-maverick-17b-128e-instruct": (400, "Llama 4 model card: 17B activated / 400B total"),
    "gemma-2-2b": (2.6, "Gemma 2 technical report (arXiv 2408.00118), Table 1: 2.6B"),
    "gemma-2-2b-it": (2.6, "Gemma 2 technical report: 2.6B"),
    "gemma-3-4b-it": (
        4.30,
        "Gemma 3 report (arXiv 2503.19786) Table 1: 417M vision encoder + 675M embedding + 3,209M non-embedding",
    ),
    "phi-3.5-moe-instruct": (41.9, "Phi-3.5-MoE-instruct model card / hub: 41.9B"),
    "phi-4": (14.7, "microsoft/phi-4 hub page: 14.7B params (safetensors)"),
    "mistral-7b-v0.3": _MISTRAL7,
    "mistral-7b-instruct-v0.1": _MISTRAL7,
    "mistral-7b-instruct-v0.3": _MISTRAL7,
    "biomistral-7b": _MISTRAL7,
    "saul-7b-base": _MISTRAL7,
    "saul-7b-instruct-v1": _MISTRAL7,
    "mixtral-8x7b-instruct-v0.1": (46.7, "https://mistral.ai/news/mixtral-of-experts: 46.7B total parameters"),
    "mixtral-8x22b-v0.1": (141, "https://mistral.ai/news/mixtral-8x22b: 141B parameters, 39B active"),
    "mixtral-8x22b-instruct-v0.1": (141, "https://mistral.ai/news/mixtral-8x22b: 141B parameters"),
    "gpt-oss-20b": (21, "gpt-oss model card: 21B total parameters (20.91B in its Table 1)"),
    "glm-4-9b-chat": (9.4, "THUDM/glm-4-9b-chat hub page: 9.4B params (safetensors)"),
    "glm-4-9b-chat-hf": (9.4, "THUDM/glm-4-9b-chat-hf hub page: 9.4B params"),
    "glm-4-9b-0414": (9.4, "THUDM/GLM-4-9B-0414 hub page: 9.4B params"),
    # qwen
    "qwen3-14b-base": (14.8, "Qwen3-14B-Base model card: Number of Parameters 14.8B"),
    "qwen2.5-coder-7b": (7.61, "Qwen2.5-Coder-7B model card: 7.61B"),
    "qwen2.5-coder-14b": (14.7, "Qwen2.5-Coder-14B model card: 14.7B"),
    "qwen2.5-coder-14b-instruct": (14.7, "Qwen2.5-Coder-14B-Instruct model card: 14.7B"),
    # mm
    "qwen2-vl-2b-instruct": (2.21, "hub pages of full Qwen2-VL-2B copies (zhangfaen/Qwen2-VL-2B-checkpoint): 2.21B"),
    "qwen2-vl-7b-instruct": (8.29, "hub pages of full Qwen2-VL-7B-Instruct copies (dannyXSC/qwen): 8.29B"),
    "llama-3.2-11b-vision": (10.6, "Llama 3.2-Vision model card (llama-models MODEL_CARD_VISION.md): 11B (10.6)"),
    "llama-3.2-11b-vision-instruct": (10.6, "Llama 3.2-Vision model card: 11B (10.6)"),
    "llama-3.2-90b-vision": (88.8, "Llama 3.2-Vision model card: 90B (88.8)"),
    "llama-3.2-90b-vision-instruct": (88.8, "Llama 3.2-Vision model card: 90B (88.8)"),
    # domain
    "saullm-54-base": (47, "Equall models listing on the hub: SaulLM-54-Base 47B (Mixtral 8x7B's 46.7B)"),
    "saullm-54b-instruct": (47, "Equall models listing on the hub: SaulLM-54B-Instruct 47B"),
    "starcoder2-15b-instruct-v0.1": (
        15.958,
        "bigcode/starcoder2-15b Open LLM Leaderboard request file: params 15.958 (the base; the shape is kept)",
    ),
    "opencoder-1.5b-base": (1.91, "infly/OpenCoder-1.5B-Instruct files: one bf16 model.safetensors of 3.81 GB"),
    "opencoder-1.5b-instruct": (1.91, "infly/OpenCoder-1.5B-Instruct files: one bf16 model.safetensors of 3.81 GB"),
    "mathstral-7b-v0.1": _MISTRAL7,
    "dianjin-r1-7b": _QWEN7,
    "scidfm-moe-a5.6b-v1.0": (18.52, "OpenDFM/SciDFM-MoE-A5.6B-v1.0 files: eight bf16 shards of 37.05 GB in all"),
    "skywork-or1-math-7b": _QWEN7,
    "skywork-or1-7b": _QWEN7,
    "fino1-14b": (14.8, "TheFinAI/Fino1-14B (Featherless listing): 14.8B; base Qwen2.5-14B-Instruct card: 14.7B"),
    "internlm2-math-plus-7b": (
        7.74,
        "internlm/internlm2-math-plus-7b files: bf16 shards of 3.90 + 3.93 + 3.93 + 3.73 GB = 7.74B parameters",
    ),
    # misc
    "gemma-3-4b-pt": (
        4.30,
        "Gemma 3 report (arXiv 2503.19786) Table 1: 417M vision encoder + 675M embedding + 3,209M non-embedding",
    ),
    "phi-3-small-8k-instruct": (
        7.39,
        "microsoft/Phi-3-small-8k-instruct files: bf16 shards of 4.83 + 4.8 + 4.8 + 0.352 GB (7.39B x 2 bytes)",
    ),
    "phi-3-small-128k-instruct": (7.39, "the Phi-3-small-8k-instruct shapes (7.39B in bf16 shards); 128K via LongRoPE"),
    # y2025
    "qwen2-math-7b-instruct": _QWEN7,
}
# dsglm
_KIMI_K2 = (1040, "Kimi K2 tech report (arXiv 2507.20534): 1.04 trillion total parameters, 32B activated")
PUBLISHED_B.update(
    {
        "kimi-k2-base": _KIMI_K2,
        "kimi-k2-instruct": _KIMI_K2,
        "kimi-k2-instruct-0905": _KIMI_K2,
        "glm-z1-9b-0414": (9.4, "GGUF of THUDM/GLM-Z1-9B-0414 on Ollama (sllm/glm-z1-9b): glm4, 9.4B params"),
    }
)
# vl
_KERAS_MEDGEMMA = "keras-team/keras-hub gemma3_presets.py @ 00d9f10: medgemma_4b, medgemma_instruct_4b: 4,300,079,472"
PUBLISHED_B.update(
    {
        "qwen2.5-vl-32b-instruct": (
            33,
            "Qwen/Qwen2.5-VL-32B-Instruct in hub model listings (e.g. huggingface.co/AleRo96/activity/likes): 33B",
        ),
        "qwen2.5-vl-72b-instruct": (
            73.4,
            "mlx-community/Qwen2.5-VL-72B-Instruct-bf16 hub page (a bf16 conversion of the official checkpoint): 73.4B",
        ),
        "medgemma-4b-pt": (4.300079472, _KERAS_MEDGEMMA),
        "medgemma-4b-it": (4.300079472, _KERAS_MEDGEMMA),
    }
)
#: Entries whose nominal size is explained by sharing another catalog entry's layout (same count).
#: Entries whose only published size is the nominal one in the name; their count is checked exactly
#: against transformers' model built from the config.json fixture instead (FIXTURE_MODELS).
EXACT_FROM_FIXTURE = {
    # 8.80B: the card says only "8B"; untied embeddings of a 128,512-token vocabulary add 1.05B.
    "internlm3-8b-instruct",
    # 7.30B: the card says only "7B"; untied embeddings of a 100,352-token vocabulary add 0.82B.
    "olmo-2-1124-7b",
    # mm: 3.75B: "3B" names the language model (3.09B); the 0.67B vision tower comes on top. The hub
    # pages of later full copies that the index kept round it to "4B".
    "qwen2.5-vl-3b-instruct",
    # y2025: 0.36B; the card names the model 0.3B (18 layers, tied 103,424-token vocabulary).
    "ernie-4.5-0.3b-pt",
    # y2025: 21.83B; the card says 21B total (3B active).
    "ernie-4.5-21b-a3b-pt",
    # y2025: sizes named in millions (the name test reads billions); 361.8M and 134.5M.
    "smollm2-360m-instruct",
    "smollm2-135m-instruct",
    # y2025: 2.53B; the card names it 2B (40 layers of width 2048).
    "granite-3.3-2b-instruct",
}
#: Exact counts read from a quantized checkpoint's dtype breakdown (test_count_from_quantized_artifact).
#: 14.47B: the card says only "14B".
EXACT_FROM_ARTIFACT = {"baichuan-m1-14b-instruct"}
SAME_COUNT_AS = {
    "internlm2_5-7b-chat": "internlm2-7b",
    # misc: fine-tunes and siblings with unchanged shapes (the names' sizes are nominal)
    "internlm2_5-7b": "internlm2-7b",
    "internlm2_5-7b-chat-1m": "internlm2-7b",
    "internlm2_5-1_8b-chat": "internlm2-1_8b",
    "phi-4-reasoning": "phi-4",
    "phi-4-reasoning-plus": "phi-4",
    "meditron-7b": "llama-2-7b",
    # domain: continued pretraining + SFT of InternLM2-1.8B (1.89B, the name's 1.8B is nominal)
    "internlm2-math-plus-1_8b": "internlm2-1_8b",
}

SAME_COUNT_AS["baichuan-m1-14b-base"] = "baichuan-m1-14b-instruct"
# The chat model is the base fine-tuned; the base's 3.78 GB bf16 file (Hub listing) bounds it to 1.887-1.892B.
SAME_COUNT_AS["internlm2_5-1_8b"] = "internlm2_5-1_8b-chat"  # dsglm: the Instruct is the Base fine-tuned

# gaps: Seed-Coder-8B-Base's hub config.json (a whole copy; tests/data/hf_configs/README.md, "gaps"), which the
# Instruct model inherits; Mistral Small 3.1 Base takes the Instruct model's fixture (same keras-hub count).
FIXTURE_MODELS["seed-coder-8b-base"] = ["seed-coder-8b-base", "seed-coder-8b-instruct"]
FIXTURE_MODELS["mistral-small-3.1-24b-instruct-2503"] += ["mistral-small-3.1-24b-base-2503"]
# 8.25B; the card says only "8B" (the 155,136-token untied vocabulary adds 1.27B).
EXACT_FROM_FIXTURE |= {"seed-coder-8b-base", "seed-coder-8b-instruct"}
#: gaps: keras-hub's Mistral3 presets (keras_hub/src/models/mistral3/mistral3_presets.py, the version with
#: filled-in counts) give each converted checkpoint's parameter count; its conversion of
#: mistralai/Mistral-Small-3.1-24B-Base-2503 has 24,011,361,280, the count of the Instruct model's config.json.
KERAS_HUB_MISTRAL3_PARAMS = {
    "mistral-small-3.1-24b-base-2503": 24_011_361_280,
    "mistral-small-3.1-24b-instruct-2503": 24_011_361_280,
}


@pytest.mark.parametrize("mid", sorted(KERAS_HUB_MISTRAL3_PARAMS))
def test_mistral_small_31_counts_match_keras_hub(mid: str, catalog: lc.Catalog) -> None:
    """gaps: the Base checkpoint, whose config.json was not found, has the Instruct layout: keras-hub's
    conversions of both repositories count the same 24,011,361,280 parameters, and so does the catalog."""
    m = catalog.get_model(mid)
    assert m.n_params == KERAS_HUB_MISTRAL3_PARAMS[mid]
    assert sum(c.n_params or 0 for c in m.components) == KERAS_HUB_MISTRAL3_PARAMS[mid]


def test_qwen2_math_72b_does_not_inherit_qwen2_72b(catalog: lc.Catalog) -> None:
    """gaps: Qwen2-Math changes Qwen2's context settings (Qwen2-Math-7B-Instruct's config.json: 4,096
    positions against Qwen2-7B's 131,072), so the 72B math models must not take Qwen2-72B's architecture
    until their own config.json is read."""
    base = catalog.get_model("Qwen/Qwen2-Math-72B")
    assert base.base_model == "qwen2-72b"
    assert base.architecture is None
    assert base.n_params is None
    assert catalog.get_model("Qwen/Qwen2-Math-72B-Instruct").base_model == base.id
    math7 = catalog.get_model("qwen2-math-7b-instruct").architecture
    assert math7 is not None
    assert math7.max_context == 4096


def _fixture(name: str) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((CONFIGS / f"{name}.json").read_text())
    return cfg


def test_enough_new_entries() -> None:
    """The block adds the issue's families: at least 60 entries, each id once."""
    assert len(NEW_IDS) >= 60
    assert len(set(NEW_IDS)) == len(NEW_IDS)


@pytest.mark.parametrize("entry", NEW, ids=NEW_IDS)
@pytest.mark.filterwarnings("ignore::llmcatalog.SeriesNameWarning")
def test_resolves_by_every_name(entry: dict[str, Any], catalog: lc.Catalog) -> None:
    """Id, display name, every alias and the Hub id resolve to the entry (a series-like alias such as
    "R1" with a SeriesNameWarning: tests/test_names_series_warning.py)."""
    m = catalog.get_model(entry["id"])
    for name in (entry["name"], *entry.get("aliases", ())):
        assert catalog.get_model(name).id == m.id, name
    hub = entry["links"]["hub"]
    assert hub.startswith(HUB)
    repo = hub.removeprefix(HUB)
    assert catalog.get_model(repo).id == m.id
    assert lc.get_model(repo).id == m.id


@pytest.mark.parametrize("entry", NEW, ids=NEW_IDS)
def test_sources_and_lineage(entry: dict[str, Any], catalog: lc.Catalog) -> None:
    """Every entry names its Hub page among its sources; a base model is in the catalog."""
    assert any(s.startswith(entry["links"]["hub"]) for s in entry["sources"])
    m = catalog.get_model(entry["id"])
    if m.base_model is not None:
        assert catalog.get_model(m.base_model).id == m.base_model
        assert m.base_model != m.id


@pytest.mark.parametrize("fixture", sorted(FIXTURE_MODELS))
def test_architecture_is_the_config(fixture: str, catalog: lc.Catalog) -> None:
    """Where the real config.json is a fixture, the catalog's architecture and count are its."""
    cfg = _fixture(fixture)
    arch = lc.architecture_from_hf_config(cfg)
    full = lc.Model.from_hf_config(cfg, id="x", name="x", sources=[HUB])
    for mid in FIXTURE_MODELS[fixture]:
        assert mid in NEW_IDS
        m = catalog.get_model(mid)
        assert m.architecture == arch, mid
        # One rule for every model (tests/test_catalog_facts.py): n_params is the total of all components
        # -- the language model's count for a text model, language model + vision tower + projector for
        # a vision-language checkpoint (the split is in its components), as transformers builds it.
        if full.components:
            assert sum(c.n_params or 0 for c in m.components) == full.n_params, mid
            assert m.n_params == full.n_params, mid
        elif m.components:  # a text_config fixture of a multimodal checkpoint: the language model is its count
            (lm,) = (c for c in m.components if c.role == "language-model")
            assert lm.n_params == lc.count_params(arch), mid
            assert m.n_params == sum(c.n_params or 0 for c in m.components), mid
        else:
            assert m.n_params == lc.count_params(arch), mid


def test_maverick_vision_parts_are_scouts(catalog: lc.Catalog) -> None:
    """Llama 4 Maverick's fixture is its text_config; its vision tower and projector take the counts
    transformers gives Scout's (the same vision shape, read from a GGUF conversion of Maverick)."""
    scout = lc.Model.from_hf_config(_fixture("llama-4-scout-17b-16e"), id="x", name="x", sources=[HUB])
    parts = {c.role: c.n_params for c in scout.components if c.role != "language-model"}
    for mid in ("llama-4-maverick-17b-128e", "llama-4-maverick-17b-128e-instruct"):
        m = catalog.get_model(mid)
        assert {c.role: c.n_params for c in m.components if c.role != "language-model"} == parts
        assert 400e9 < m.n_params < 402e9  # the card's "400B total", with the 0.87B vision part


def test_fixture_map_covers_fixture_notes() -> None:
    """Every entry whose notes cite a fixture is checked against it above."""
    checked = {mid for mids in FIXTURE_MODELS.values() for mid in mids}
    cited = {e["id"] for e in NEW if re.search(r"config\.json fixture tests/data/hf_configs/", e.get("notes", ""))}
    assert cited <= checked


def _nominal_b(label: str) -> float | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)B(?:-A\d+(?:\.\d+)?B)?", label)
    return float(match.group(1)) if match else None


@pytest.mark.parametrize("entry", NEW, ids=NEW_IDS)
def test_params_match_the_name(entry: dict[str, Any], catalog: lc.Catalog) -> None:
    """n_params is within 3% of the size in the name, else within 1.5% of the published total."""
    m = catalog.get_model(entry["id"])
    if m.n_params is None:
        assert m.architecture is None
        assert re.search(r"not recorded|not read|no architecture recorded", m.notes or "", re.IGNORECASE)
        return
    billions = m.n_params / 1e9
    if m.id in SAME_COUNT_AS:
        assert m.n_params == catalog.get_model(SAME_COUNT_AS[m.id]).n_params
    elif m.id in EXACT_FROM_FIXTURE:
        fixtures = [f for f, mids in FIXTURE_MODELS.items() if m.id in mids]
        assert fixtures, f"{m.id}: no config.json fixture checks its count"
        assert m.n_params == lc.Model.from_hf_config(_fixture(fixtures[0]), id="x", name="x", sources=[HUB]).n_params
    elif m.id in EXACT_FROM_ARTIFACT:
        assert m.id in {c["id"] for c in ARTIFACT_COUNTS}, f"{m.id}: no artifact breakdown checks its count"
    elif m.id in PUBLISHED_B:
        published, _source = PUBLISHED_B[m.id]
        assert abs(billions - published) / published <= 0.015, (billions, published)
    else:
        nominal = _nominal_b(m.size_label or "")
        assert nominal is not None, f"{m.id}: size label {m.size_label!r} needs a published total"
        assert abs(billions - nominal) / nominal <= 0.03, (billions, nominal)


def test_r1_distill_lineage(catalog: lc.Catalog) -> None:
    """The R1 distills name the bases of DeepSeek-R1's README table."""
    bases = {
        "deepseek-r1-distill-qwen-1.5b": "qwen2.5-math-1.5b",
        "deepseek-r1-distill-qwen-7b": "qwen2.5-math-7b",
        "deepseek-r1-distill-qwen-14b": "qwen2.5-14b",
        "deepseek-r1-distill-qwen-32b": "qwen2.5-32b",
        "deepseek-r1-distill-llama-8b": "llama-3.1-8b",
        "deepseek-r1-distill-llama-70b": "llama-3.3-70b-instruct",
    }
    for mid, base in bases.items():
        assert catalog.get_model(mid).base_model == base
    assert catalog.get_model("DeepSeek-R1").base_model == "deepseek-v3-base"


@pytest.mark.parametrize(
    ("mid", "gib"),
    [("gpt-oss-20b", 12.8), ("gpt-oss-120b", 60.8)],
)
def test_checkpoints_estimated_as_stored(mid: str, gib: float, catalog: lc.Catalog) -> None:
    """Catalog models whose checkpoint is quantized estimate as stored without a precision: gpt-oss's
    MXFP4 experts give the checkpoint sizes of its model card (arXiv 2508.10925, Table 1: 12.8 GiB and
    60.8 GiB), not a bf16 model of four times the size."""
    m = catalog.get_model(mid)
    assert m.weight_format is not None
    weights = lc.estimate_vram(m, lc.Inference()).weights_bytes / 2**30
    assert weights == pytest.approx(gib, abs=0.05)


@pytest.mark.parametrize("mid", ["mistral-7b-v0.3", "mistral-nemo-base-2407", "mistral-small-3.1-24b-instruct-2503"])
def test_mistral_v02_and_later_have_no_window(mid: str, catalog: lc.Catalog) -> None:
    """Mistral 7B v0.2+ and the Nemo/Small models attend over the whole context (config sliding_window null)."""
    a = catalog.get_model(mid).architecture
    assert a is not None
    assert a.sliding_window is None


_CROSSCHECKS_FILE = Path(__file__).parent / "data" / "config_crosschecks.json"
CROSSCHECKS: list[dict[str, Any]] = json.loads(_CROSSCHECKS_FILE.read_text())["checks"]
#: config.json key -> Architecture field, for the partial copies.
_KEY_FIELD = {
    "num_hidden_layers": "n_layers",
    "hidden_size": "hidden_size",
    "num_attention_heads": "n_heads",
    "num_key_value_heads": "n_kv_heads",
    "head_dim": "head_dim",
    "intermediate_size": "ffn_size",
    "vocab_size": "vocab_size",
    "max_position_embeddings": "max_context",
    "tie_word_embeddings": "tied_embeddings",
    "sliding_window": "sliding_window",
    "moe_intermediate_size": "expert_ffn_size",
    "num_experts": "n_experts",
    "num_experts_per_tok": "n_experts_per_token",
    "attention_bias": "qkv_bias",
    # y2025: ERNIE 4.5 MoE's names for the expert keys.
    "moe_num_experts": "n_experts",
    "moe_k": "n_experts_per_token",
    "num_local_experts": "n_experts",
}

# dsglm: MLA and DeepSeek-MoE keys of the partial Kimi K2 copies.
_KEY_FIELD.update(
    {
        "n_routed_experts": "n_experts",
        "n_shared_experts": "n_shared_experts",
        "first_k_dense_replace": "n_dense_layers",
        "q_lora_rank": "q_lora_rank",
        "kv_lora_rank": "kv_lora_rank",
        "qk_rope_head_dim": "qk_rope_head_dim",
        "v_head_dim": "v_head_dim",
    }
)


# vl: vision-tower keys stated by partial copies of vision-language configs.
_VISION_CHECKS = [c for c in CROSSCHECKS if "vision_keys" in c]


@pytest.mark.parametrize("check", _VISION_CHECKS, ids=[c["id"] for c in _VISION_CHECKS])
def test_partial_copies_of_the_vision_tower(check: dict[str, Any]) -> None:
    """Every vision_config key a partial copy states is the one in the fixture the entry is counted from."""
    fixtures = [f for f, mids in FIXTURE_MODELS.items() if check["id"] in mids]
    assert fixtures, f"{check['id']}: no config.json fixture holds its vision tower"
    vision = _fixture(fixtures[0])["vision_config"]
    for key, value in check["vision_keys"].items():
        assert vision[key] == value, (check["id"], key)


@pytest.mark.parametrize("mid", ["medgemma-4b-pt", "medgemma-4b-it"])
def test_medgemma_4b_has_kerashubs_exact_count(mid: str, catalog: lc.Catalog) -> None:
    """vl: Google's Keras port lists 4,300,079,472 parameters for both MedGemma 4B checkpoints (_KERAS_MEDGEMMA),
    exactly what the Gemma 3 4B layout they inherit counts to."""
    assert catalog.get_model(mid).n_params == 4_300_079_472


@pytest.mark.parametrize("check", CROSSCHECKS, ids=[c["id"] for c in CROSSCHECKS])
def test_partial_config_copies(check: dict[str, Any], catalog: lc.Catalog) -> None:
    """Every key a partial public copy of the hub config.json states equals the catalog's architecture."""
    arch = catalog.get_model(check["id"]).architecture
    assert arch is not None
    assert check["source"]
    assert check["keys"]
    for key, value in check["keys"].items():
        assert getattr(arch, _KEY_FIELD[key]) == value, (check["id"], key)


def test_transcribed_architectures_say_what_was_verified() -> None:
    """An architecture first transcribed from memory says whether it was verified, partly checked or not."""
    for entry in NEW:
        notes = entry.get("notes", "")
        if "transcribed" in notes:
            assert re.search(r"Verified on 2026-11-29|Partly checked on 2026-11-29|Unverified:", notes), entry["id"]


_ARTIFACTS_FILE = Path(__file__).parent / "data" / "artifact_counts.json"
ARTIFACT_COUNTS: list[dict[str, Any]] = json.loads(_ARTIFACTS_FILE.read_text())["checks"]


def _baichuan_m1_unquantized(config: dict[str, Any]) -> int:
    """The parameters an mlx-lm conversion of a baichuan_m1 checkpoint leaves in bf16.

    Two RMSNorm weights per layer and the final norm (``hidden_size`` each), and per layer a
    ``(1, 1, kv_heads, 1, conv_window)`` convolution on the keys and one on the values, with the
    sliding-window layers' own KV head count (mlx-lm ``baichuan_m1.py``; Baichuan's
    ``modeling_baichuan.py``).
    """
    layers, hidden = config["num_hidden_layers"], config["hidden_size"]
    swa = set(config["sliding_window_layers"])
    kv = [config["num_swa_key_value_heads"] if i in swa else config["num_key_value_heads"] for i in range(layers)]
    return (2 * layers + 1) * hidden + sum(2 * k * config["conv_window"] for k in kv)


@pytest.mark.parametrize("check", ARTIFACT_COUNTS, ids=[c["id"] for c in ARTIFACT_COUNTS])
def test_count_from_quantized_artifact(check: dict[str, Any], catalog: lc.Catalog) -> None:
    """An exact count read from a quantized checkpoint's dtype breakdown, once its remainder is explained.

    The U32 words hold ``32 / bits`` weights each; each group of ``group_size`` weights has a bf16
    scale and a bf16 bias. What is left in bf16 must be exactly the unquantized parameters the
    config keys predict, else the layout assumption is wrong and the total is not accepted.
    """
    elements = check["dtype_elements"]
    quantized = elements["U32"] * 32 // check["bits"]
    scales_and_biases = 2 * quantized // check["group_size"]
    remainder = elements["BF16"] - scales_and_biases
    assert remainder == _baichuan_m1_unquantized(check["config"])
    model = catalog.get_model(check["id"])
    assert model.n_params == quantized + remainder
    assert check["artifact"] in model.sources
    assert model.architecture is None  # two head geometries: not expressible, so not estimable
