"""KV-cache and per-sequence state bytes equal those of transformers' own cache objects.

Each case builds transformers' model for a real checkpoint's config (tests/data/hf_configs/, fewer
layers where noted; head geometry, windows and layer patterns unchanged) on fake tensors, runs a
prefill of N tokens and then one decoding step through a ``DynamicCache(config=...)`` exactly as
``generate()`` does, and sums the storages the cache's tensors pin (``untyped_storage().nbytes()``:
a view pins its whole storage). Our :func:`kv_cache_bytes` must give the same bytes, below and above
the sliding window, for full/sliding layers, multi-head latent attention and LFM2's conv layers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.memory.kvcache import kv_bytes_per_token, kv_cache_bytes, state_bytes_per_sequence

CONFIGS = Path(__file__).parent / "data" / "hf_configs"


def _config(name: str, **changes: Any) -> dict[str, Any]:
    cfg = json.loads((CONFIGS / f"{name}.json").read_text())
    cfg.update(changes)
    if "num_hidden_layers" in changes and isinstance(cfg.get("layer_types"), list):
        cfg["layer_types"] = cfg["layer_types"][: changes["num_hidden_layers"]]
    return cfg


def _cache_storage_bytes(cache: Any, torch: Any) -> int:
    """Bytes of the distinct storages the cache layers' tensors pin (not the sliding-window scalar)."""
    seen: dict[int, int] = {}

    def visit(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            if value.dim() == 0:  # DynamicSlidingWindowLayer._sliding_window_tensor: bookkeeping
                return
            storage = value.untyped_storage()
            seen[id(storage)] = storage.nbytes()
        elif isinstance(value, list | tuple):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    for layer in cache.layers:
        for value in vars(layer).values():
            visit(value)
    return sum(seen.values())


def _traced_cache_bytes(cfg: dict[str, Any], batch: int, prompt: int) -> tuple[int, int]:
    """(bytes after a prefill of ``prompt`` tokens, bytes after one more decoding step)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import DynamicCache

    from llmcatalog.trace import _balanced_moe, _build, _quiet, _to_fake

    model = _build(cfg, "bf16", "sdpa")
    with _quiet(), FakeTensorMode(), torch.no_grad(), _balanced_moe(model):
        _to_fake(model)
        model.eval()
        cache = DynamicCache(config=model.config)
        ids = torch.zeros((batch, prompt), dtype=torch.long)
        model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        after_prefill = _cache_storage_bytes(cache, torch)
        step = torch.zeros((batch, 1), dtype=torch.long)
        model(input_ids=step, past_key_values=cache, use_cache=True, logits_to_keep=1)
        after_step = _cache_storage_bytes(cache, torch)
    return after_prefill, after_step


CASES = {
    # Gemma 3: 5 sliding (window 512) : 1 full; 7 layers keep one whole period plus one.
    "gemma3-sliding-5-to-1": (_config("gemma-3-1b-it", num_hidden_layers=7), (100, 511, 512, 900)),
    # Gemma 2: alternating sliding (4096) and full layers.
    "gemma2-alternating": (_config("gemma-2-2b", num_hidden_layers=4), (1000, 4095, 5000)),
    # gpt-oss: alternating sliding (128) and full layers from the config's own layer_types; sinks are no cache.
    "gpt-oss-alternating": (_config("gpt-oss-20b", num_hidden_layers=4, num_local_experts=4), (60, 127, 128, 300)),
    # Qwen2 use_sliding_window with max_window_layers: layers >= 2 slide (window 64).
    "qwen2-max-window-layers": (
        _config("qwen2.5-7b", num_hidden_layers=4, use_sliding_window=True, sliding_window=64, max_window_layers=2),
        (30, 63, 64, 200),
    ),
    # Mistral: every layer slides (window 4096).
    "mistral-all-sliding": (_config("mistral-7b-v0.1", num_hidden_layers=2), (1000, 5000)),
    # Multi-head latent attention: DeepSeek-V2-Lite (no q_lora) and DeepSeek-V3 (q_lora, 128 heads).
    "deepseek-v2-lite-mla": (_config("deepseek-v2-lite", num_hidden_layers=2, n_routed_experts=8), (50, 700)),
    "deepseek-v3-mla": (
        _config("deepseek-v3", num_hidden_layers=4, n_routed_experts=8, n_group=1, topk_group=1),
        (50, 300),
    ),
    # LFM2 hybrid: 6 attention layers with a growing cache, 10 conv layers with a fixed state.
    "lfm2-hybrid": (_config("lfm2-1.2b"), (1, 2, 3, 500)),
}


@pytest.mark.trace
@pytest.mark.parametrize("case", sorted(CASES))
def test_cache_bytes_equal_transformers_cache(case: str) -> None:
    """kv_cache_bytes equals the storages of transformers' DynamicCache after a prefill and after a decode step."""
    cfg, prompts = CASES[case]
    arch = lc.architecture_from_hf_config(cfg)
    batch = 2
    for prompt in prompts:
        prefill, step = _traced_cache_bytes(cfg, batch, prompt)
        ours_prefill = kv_cache_bytes(arch, batch_size=batch, tokens=prompt, dtype="bf16", new_tokens=prompt)
        ours_step = kv_cache_bytes(arch, batch_size=batch, tokens=prompt + 1, dtype="bf16")
        assert (ours_prefill, ours_step) == (prefill, step), (case, prompt)


def test_layer_counts_are_arithmetic_for_huge_models() -> None:
    """count_layers is O(period): 10**12 layers of Gemma 3's 6-layer period count in no time."""
    arch = attrs.evolve(lc.architecture_from_hf_config(_config("gemma-3-1b-it")), n_layers=10**12 + 5)
    n = 10**12 + 5
    assert arch.count_layers("full") == n // 6  # Gemma3TextConfig: layer i is full when (i + 1) % 6 == 0
    assert arch.count_layers("sliding") == n - n // 6
    assert kv_cache_bytes(arch, batch_size=1, tokens=10, dtype="bf16") > 0


def test_sliding_layers_only_where_transformers_puts_them() -> None:
    """The per-layer kinds read from a config are transformers' resolved config.layer_types."""
    transformers = pytest.importorskip("transformers")
    names = {"full_attention": "full", "sliding_attention": "sliding", "conv": "conv"}
    for case, (cfg, _) in CASES.items():
        kw = {k: v for k, v in cfg.items() if k not in {"model_type", "architectures", "_name_or_path"}}
        hf = transformers.AutoConfig.for_model(cfg["model_type"], **kw)
        arch = lc.architecture_from_hf_config(cfg)
        theirs = getattr(hf, "layer_types", None) or [
            "sliding_attention" if getattr(hf, "sliding_window", None) else "full_attention"
        ] * (hf.num_hidden_layers)
        pattern = arch.layer_types or ("sliding" if arch.sliding_window else "full",)
        ours = [pattern[i % len(pattern)] for i in range(arch.n_layers)]
        assert ours == [names[t] for t in theirs], case


def test_mla_layouts() -> None:
    """DeepSeek-V3: the latent layout is (512 + 64) x 2 B per layer and token (vLLM/SGLang/transformers 5);
    the expanded one 128 heads x (192 + 128) x 2 B (transformers 4.x)."""
    arch = lc.architecture_from_hf_config(_config("deepseek-v3"))
    assert kv_bytes_per_token(arch, "bf16") == 61 * (512 + 64) * 2
    assert kv_bytes_per_token(arch, "bf16", mla_layout="expanded") == 61 * 128 * (192 + 128) * 2
    # The latent is one head: tensor parallelism replicates it.
    assert kv_bytes_per_token(arch, "bf16", tensor_parallel=8) == kv_bytes_per_token(arch, "bf16")
    with pytest.raises(ValueError, match="mla_layout"):
        kv_bytes_per_token(arch, "bf16", mla_layout="compressed")


def test_conv_state_is_fixed_per_sequence() -> None:
    """LFM2's conv state does not grow with tokens: 10 layers x 2048 channels x 3 taps x 2 B per sequence."""
    arch = lc.architecture_from_hf_config(_config("lfm2-1.2b"))
    assert state_bytes_per_sequence(arch, "bf16") == 10 * 2048 * 3 * 2
    grow = kv_cache_bytes(arch, batch_size=1, tokens=2, dtype="bf16") - kv_cache_bytes(
        arch, batch_size=1, tokens=1, dtype="bf16"
    )
    assert grow == 6 * 2 * 8 * 64 * 2  # only the 6 attention layers grow: K and V, 8 heads of 64


def test_invalid_layer_types_are_refused() -> None:
    """Unknown kinds, too many entries, or sliding/conv kinds without their sizes name the field."""
    base = lc.architecture_from_hf_config(_config("gemma-2-2b"))
    with pytest.raises(ValueError, match="layer_types"):
        attrs.evolve(base, layer_types=("local",))
    with pytest.raises(ValueError, match="n_layers"):
        attrs.evolve(base, n_layers=1)
    with pytest.raises(ValueError, match="sliding_window"):
        attrs.evolve(base, sliding_window=None)
    with pytest.raises(ValueError, match="conv_kernel"):
        attrs.evolve(base, layer_types=("conv", "full"))
    with pytest.raises(lc.CatalogDataError, match="layer_types"):
        lc.architecture_from_hf_config(_config("gpt-oss-20b", layer_types=["chunked_attention"] * 24))
