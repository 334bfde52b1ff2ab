"""Multimodal totals: every encoder, projector and resampler count in the catalog equals the
count of the module that transformers (or torch) builds from the model's own config.

Each builder below instantiates the part on the meta device from the shapes its source fixes
(config.json or the model's code at a commit; provenance in tests/data/multimodal_parts.md and
in each component's ``source``) and counts its parameters. The catalog's numbers are data typed
in by hand; these counts are transformers' own, so a wrong figure in the data fails here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import llmcatalog as lc
from llmcatalog.memory.params import count_params

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
nn = torch.nn


def _count(module: object) -> int:
    return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]


def _meta(build: Callable[[], object]) -> int:
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        return _count(build())


# --- BLIP-2 / MiniGPT-4 family (LAVIS code vendored by MarineGPT and Video-LLaMA) -----------------


def eva_vit_g() -> int:
    """EVA-CLIP ViT-g/14 as LAVIS builds it (create_eva_vit_g: width 1408, 39 blocks, 16 heads,
    mlp_ratio 4.3637 -> 6144, patch 14, 224 px) plus ``ln_vision``. transformers' port
    (Blip2VisionModel, post_layernorm = ln_vision) stores one fused qkv bias per block; LAVIS has
    only q_bias and v_bias, and transformers' conversion script fills the key bias with zeros, so
    the original has 39 x 1408 parameters fewer."""
    from transformers import Blip2VisionConfig, Blip2VisionModel

    cfg = Blip2VisionConfig(
        hidden_size=1408,
        intermediate_size=int(1408 * 4.3637),
        num_hidden_layers=39,
        num_attention_heads=1408 // 88,
        patch_size=14,
        image_size=224,
    )
    return _meta(lambda: Blip2VisionModel(cfg)) - 39 * 1408


def qformer(layers: int, cross_every: int, encoder_width: int, queries: int = 32, extra: int = 0) -> int:
    """A LAVIS Q-Former as MiniGPT-4-style models keep it (BERT-base layers with the text FFN,
    word/position embeddings and LM head removed; the query FFN kept) plus its query tokens:
    transformers' Blip2QFormerModel has exactly those weights. ``extra`` adds parameters the
    model keeps beside it (Video-LLaMA's frame position embeddings)."""
    from transformers import Blip2QFormerConfig, Blip2QFormerModel

    cfg = Blip2QFormerConfig(
        num_hidden_layers=layers, cross_attention_frequency=cross_every, encoder_hidden_size=encoder_width
    )
    return _meta(lambda: Blip2QFormerModel(cfg)) + queries * cfg.hidden_size + extra


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return _meta(lambda: nn.Linear(n_in, n_out, bias=bias))


# --- CLIP / LLaVA family ------------------------------------------------------------------------


def clip_vision(width: int, layers: int, ffn: int, heads: int, patch: int, image: int) -> int:
    """transformers' CLIPVisionModel (what LLaVA-style code loads, post_layernorm included)."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    cfg = CLIPVisionConfig(
        hidden_size=width,
        num_hidden_layers=layers,
        intermediate_size=ffn,
        num_attention_heads=heads,
        patch_size=patch,
        image_size=image,
    )
    return _meta(lambda: CLIPVisionModel(cfg))


def mlp2x_gelu_norm(mm_hidden: int, hidden: int) -> int:
    """Yi-VL's projector (VL/llava/model/multimodal_projector/builder.py, type mlp2x_gelu_Norm)."""
    return _meta(
        lambda: nn.Sequential(
            nn.Linear(mm_hidden, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.LayerNorm(hidden),
        )
    )


# --- IDEFICS (transformers' own IdeficsForVisionText2Text) --------------------------------------


def _idefics(**text: int | float) -> object:
    from transformers import IdeficsConfig, IdeficsForVisionText2Text

    cfg = IdeficsConfig(
        vocab_size=32000,
        additional_vocab_size=2,
        cross_layer_interval=4,
        qk_layer_norms=True,
        alpha_type="float",
        tie_word_embeddings=False,
        use_resampler=True,
        vision_config={
            "embed_dim": 1280,
            "image_size": 224,
            "intermediate_size": 5120,
            "patch_size": 14,
            "num_attention_heads": 16,
            "num_hidden_layers": 32,
        },
        perceiver_config={
            "qk_layer_norms_perceiver": True,
            "resampler_depth": 6,
            "resampler_head_dim": 96,
            "resampler_n_heads": 16,
            "resampler_n_latents": 64,
        },
        **text,
    )
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        return IdeficsForVisionText2Text(cfg)


IDEFICS_TEXT = {
    "idefics-9b": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32},
    "idefics-80b": {
        "hidden_size": 8192,
        "intermediate_size": 22016,
        "num_hidden_layers": 80,
        "num_attention_heads": 64,
    },
}


def idefics_parts(mid: str) -> dict[str, int]:
    m = _idefics(**IDEFICS_TEXT[mid])
    inner = m.model  # type: ignore[attr-defined]
    added = inner.embed_tokens.additional_embedding.weight.numel() + _count(m.lm_head.additional_fc)  # type: ignore[attr-defined]
    return {
        "total": _count(m),
        "vision": _count(inner.vision_model),
        "perceiver": _count(inner.perceiver_resampler),
        "cross": _count(inner.gated_cross_attn_layers) + added,
    }


# --- MiniCPM-V 2.6 ------------------------------------------------------------------------------


def navit_siglip_400m() -> int:
    """MiniCPM-V 2.6's vision module: the SigLIP-so400m shapes of its config.json vision_config
    (1152 wide, 27 layers, FFN 4304, 16 heads, patch 14, position table for 980 px; the last
    layer kept: drop_vision_last_layer false), built as transformers' Idefics2VisionTransformer
    (the NaViT SigLIP that vLLM loads the checkpoint into)."""
    from transformers import Idefics2VisionConfig
    from transformers.models.idefics2.modeling_idefics2 import Idefics2VisionTransformer

    cfg = Idefics2VisionConfig(
        hidden_size=1152,
        intermediate_size=4304,
        num_hidden_layers=27,
        num_attention_heads=16,
        patch_size=14,
        image_size=980,
    )
    return _meta(lambda: Idefics2VisionTransformer(cfg))


def minicpmv_resampler(embed_dim: int, kv_dim: int, queries: int) -> int:
    """The 2.5/2.6 resampler (one cross-attention layer): queries, kv_proj without bias,
    nn.MultiheadAttention(embed_dim, embed_dim // 128), ln_q, ln_kv, ln_post and the square
    ``proj`` matrix; the 2D sin-cos position table is a non-persistent buffer."""
    parts = nn.ModuleList(
        [
            nn.Linear(kv_dim, embed_dim, bias=False),
            nn.MultiheadAttention(embed_dim, embed_dim // 128),
            nn.LayerNorm(embed_dim),
            nn.LayerNorm(embed_dim),
            nn.LayerNorm(embed_dim),
        ]
    )
    return _meta(lambda: parts) + queries * embed_dim + embed_dim * embed_dim


def qwen2_lm(vocab: int) -> int:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=vocab,
        tie_word_embeddings=False,
    )
    return _meta(lambda: Qwen2ForCausalLM(cfg))


# --- DeepSeek-VL 7B (transformers' DeepseekVLHybridForConditionalGeneration) ---------------------


def deepseek_vl_7b_parts() -> dict[str, int]:
    """The parts of DeepSeek-VL-7B as transformers builds them from the config its conversion
    script writes for deepseek-ai/deepseek-vl-7b-chat
    (src/transformers/models/deepseek_vl_hybrid/convert_deepseek_vl_hybrid_weights_to_hf.py):
    SigLIP-L/16 at 384 px without the attention-pool head (1024 wide, 24 layers, FFN 4096,
    16 heads), SAM-B at 1024 px (768 wide, 12 layers, 12 heads) with the high-resolution neck,
    the two downsampling convolutions and the mixing scalar, and the split-MLP aligner. The
    LLaMA part (the untied DeepSeek-LLM-7B) is the language model's own architecture."""
    from transformers import DeepseekVLHybridConfig, DeepseekVLHybridForConditionalGeneration

    cfg = DeepseekVLHybridConfig(
        text_config={
            "hidden_size": 4096,
            "intermediate_size": 11008,
            "max_position_embeddings": 16384,
            "num_attention_heads": 32,
            "num_hidden_layers": 30,
            "vocab_size": 102400,
        },
        vision_config={
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "image_size": 384,
            "patch_size": 16,
            "vision_use_head": False,
            "num_attention_heads": 16,
            "num_hidden_layers": 24,
        },
        high_res_vision_config={
            "hidden_size": 768,
            "intermediate_size": 3072,
            "image_size": 1024,
            "patch_size": 16,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
        },
        tie_word_embeddings=False,
    )
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model = DeepseekVLHybridForConditionalGeneration(cfg)
    parts = {"siglip": 0, "sam": 0, "aligner": 0, "total": _count(model)}
    for name, p in model.named_parameters():
        if name.startswith("model.vision_model."):
            parts["siglip"] += p.numel()
        elif name.startswith("model.high_res_vision"):
            parts["sam"] += p.numel()
        elif name.startswith("model.aligner."):
            parts["aligner"] += p.numel()
    return parts


# --- what each catalog model must carry ---------------------------------------------------------

_VIT_G = "EVA-CLIP ViT-g/14"
_QFORMER = "BLIP-2 Q-Former"


def _blip2_style(hidden: int) -> dict[str, Callable[[], int]]:
    return {
        _VIT_G: eva_vit_g,
        _QFORMER: lambda: qformer(12, 2, 1408),
        "linear projection": lambda: linear(768, hidden),
    }


EXPECTED: dict[str, dict[str, Callable[[], int]]] = {
    "marinegpt-vicuna-7b": _blip2_style(4096),
    "marinegpt-vicuna-13b": _blip2_style(5120),
    "marinegpt-gemma-2b": _blip2_style(2048),
    "marinegpt-gemma-2b-it": _blip2_style(2048),
    "marinegpt-gemma-7b": _blip2_style(3072),
    "marinegpt-gemma-7b-it": _blip2_style(3072),
    "video-llama-billa-7b-zh": {
        **_blip2_style(4096),
        "video Q-Former": lambda: qformer(2, 1, 768, extra=32 * 768),
    },
    "video-llama-ziya-13b-zh": {
        **_blip2_style(5120),
        "video Q-Former": lambda: qformer(2, 1, 768, extra=32 * 768),
    },
    "yi-vl-6b": {
        "CLIP ViT-H/14": lambda: clip_vision(1280, 32, 5120, 16, 14, 448),
        "2-layer MLP": lambda: mlp2x_gelu_norm(1280, 4096),
    },
    "yi-vl-34b": {
        "CLIP ViT-H/14": lambda: clip_vision(1280, 32, 5120, 16, 14, 448),
        "2-layer MLP": lambda: mlp2x_gelu_norm(1280, 7168),
    },
    "idefics-9b": {
        "OpenCLIP ViT-H/14": lambda: idefics_parts("idefics-9b")["vision"],
        "perceiver resampler": lambda: idefics_parts("idefics-9b")["perceiver"],
        "gated cross-attention": lambda: idefics_parts("idefics-9b")["cross"],
    },
    "idefics-80b": {
        "OpenCLIP ViT-H/14": lambda: idefics_parts("idefics-80b")["vision"],
        "perceiver resampler": lambda: idefics_parts("idefics-80b")["perceiver"],
        "gated cross-attention": lambda: idefics_parts("idefics-80b")["cross"],
    },
    "minicpm-v-2_6": {
        "SigLIP-400M": navit_siglip_400m,
        "resampler": lambda: minicpmv_resampler(3584, 1152, 64),
    },
    "deepseek-vl-7b-base": {
        "SigLIP-L": lambda: deepseek_vl_7b_parts()["siglip"],
        "SAM-B": lambda: deepseek_vl_7b_parts()["sam"],
        "split MLP aligner": lambda: deepseek_vl_7b_parts()["aligner"],
    },
    "deepseek-vl-7b-chat": {
        "SigLIP-L": lambda: deepseek_vl_7b_parts()["siglip"],
        "SAM-B": lambda: deepseek_vl_7b_parts()["sam"],
        "split MLP aligner": lambda: deepseek_vl_7b_parts()["aligner"],
    },
}


@pytest.mark.parametrize("mid", ["deepseek-vl-7b-base", "deepseek-vl-7b-chat"])
def test_deepseek_vl_7b_total_is_transformers_whole_model(catalog: lc.Catalog, mid: str) -> None:
    """DeepSeek-VL-7B's total is transformers' whole DeepseekVLHybrid model for the converted config."""
    assert catalog.get_model(mid).n_params == deepseek_vl_7b_parts()["total"]


@pytest.mark.parametrize("mid", ["idefics-9b", "idefics-80b"])
def test_idefics_total_is_transformers_whole_model(catalog: lc.Catalog, mid: str) -> None:
    """IDEFICS is a transformers model: the catalog total equals IdeficsForVisionText2Text's
    count for the published config, and its LLaMA share equals the LLaMA architecture's count."""
    m = catalog.get_model(mid)
    parts = idefics_parts(mid)
    assert m.n_params == parts["total"]
    assert m.architecture is not None
    assert count_params(m.architecture) == parts["total"] - parts["vision"] - parts["perceiver"] - parts["cross"]


def test_minicpm_v_2_6_language_model_is_qwen2_with_its_own_vocabulary(catalog: lc.Catalog) -> None:
    """MiniCPM-V 2.6's LLM is Qwen2-7B's shape with the 151666-token vocabulary of its config,
    not Qwen2-7B's 152064: the catalog architecture counts what Qwen2ForCausalLM counts."""
    m = catalog.get_model("minicpm-v-2_6")
    assert m.architecture is not None
    assert m.architecture.vocab_size == 151666
    assert count_params(m.architecture) == qwen2_lm(151666)
    assert count_params(m.architecture) != qwen2_lm(152064)


def test_eva_vit_g_matches_lavis_by_hand() -> None:
    """The EVA ViT-g count against a hand count of LAVIS' modules (q/v biases, no k bias)."""
    d, ffn, layers = 1408, 6144, 39
    block = 2 * (2 * d) + 3 * d * d + 2 * d + (d * d + d) + (d * ffn + ffn) + (ffn * d + d)
    embed = (3 * 14 * 14 * d + d) + d + (16 * 16 + 1) * d
    assert eva_vit_g() == layers * block + embed + 2 * d


def test_minicpm4_8b_count_is_a_llama_shaped_model_of_its_config(catalog: lc.Catalog) -> None:
    """MiniCPM4-8B (issue 9, item 1): MiniCPMForCausalLM is LLaMA-shaped (no biases; muP scales
    are scalars, not weights). transformers' LlamaForCausalLM built from the shape keys of the
    fixture tests/data/hf_configs/minicpm4-8b.json counts what the catalog does."""
    import json
    from pathlib import Path

    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = json.loads((Path(__file__).parent / "data" / "hf_configs" / "minicpm4-8b.json").read_text())
    keys = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads")
    llama = LlamaConfig(
        vocab_size=cfg["vocab_size"], tie_word_embeddings=cfg["tie_word_embeddings"], **{k: cfg[k] for k in keys}
    )
    m = catalog.get_model("minicpm4-8b")
    assert m.n_params == _meta(lambda: LlamaForCausalLM(llama))


# --- LinkSoul's LLaVA / LLaSM on Chinese-Llama-2-7b, and Whisper-large-v2 ------------------------

WHISPER_LARGE_V2 = {
    "d_model": 1280,
    "encoder_layers": 32,
    "decoder_layers": 32,
    "encoder_attention_heads": 20,
    "decoder_attention_heads": 20,
    "encoder_ffn_dim": 5120,
    "decoder_ffn_dim": 5120,
    "num_mel_bins": 80,
    "max_source_positions": 1500,
    "max_target_positions": 448,
    "vocab_size": 51865,
}


def whisper_large_v2(cls_name: str = "WhisperModel") -> int:
    """transformers' Whisper built from openai/whisper-large-v2's config.json shape keys."""
    from transformers import WhisperConfig

    cls = getattr(transformers, cls_name)
    return _meta(lambda: cls(WhisperConfig(**WHISPER_LARGE_V2)))


def llama_7b_vocab(vocab: int) -> int:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=vocab,
        tie_word_embeddings=False,
    )
    return _meta(lambda: LlamaForCausalLM(cfg))


EXPECTED.update(
    {
        "chinese-llava-cllama2": {
            "CLIP ViT-L/14": lambda: clip_vision(1024, 24, 4096, 16, 14, 224),
            "linear projection": lambda: linear(1024, 4096),
        },
        "llasm-cllama2": {
            "Whisper-large-v2": whisper_large_v2,
            "linear projection": lambda: linear(1280, 4096),
        },
    }
)


@pytest.mark.parametrize("mid", ["chinese-llava-cllama2", "llasm-cllama2"])
def test_linksoul_language_models_carry_their_three_added_tokens(catalog: lc.Catalog, mid: str) -> None:
    """Both configs say vocab_size 32003 (Chinese-Llama-2-7b's 32000 + 3 image/audio tokens, the
    code resizes the embeddings): the catalog architecture is its own, and counts what
    LlamaForCausalLM counts with 32003 rows."""
    m = catalog.get_model(mid)
    assert m.architecture is not None
    assert m.architecture.vocab_size == 32003
    assert count_params(m.architecture) == llama_7b_vocab(32003)


def test_whisper_large_v2_is_transformers_count(catalog: lc.Catalog) -> None:
    """Whisper-large-v2's exact count (the README's 1550M, rounded) is transformers'
    WhisperForConditionalGeneration for its config (output projection tied to the embeddings)."""
    m = catalog.get_model("whisper-large-v2")
    assert m.n_params == whisper_large_v2("WhisperForConditionalGeneration") == whisper_large_v2("WhisperModel")


def blip2_vision_hf() -> int:
    """transformers' Blip2VisionModel with BLIP-2's default ViT-g vision_config (fused qkv bias)."""
    from transformers import Blip2VisionConfig, Blip2VisionModel

    return _meta(lambda: Blip2VisionModel(Blip2VisionConfig()))


EXPECTED["ziya-blip2-14b-visual-v1"] = {
    "EVA ViT-g/14 as transformers' Blip2VisionModel": blip2_vision_hf,
    _QFORMER: lambda: qformer(12, 2, 1408),
    "linear projection": lambda: linear(768, 5120),
}


def test_ziya_blip2_parts_match_its_weight_file(catalog: lc.Catalog) -> None:
    """The hub lists Ziya-BLIP2-14B-Visual-v1's pytorch_model.bin (vision, Q-Former, projection;
    the LLM is loaded separately) as 4.38 GB: float32 weights of the parts counted here."""
    m = catalog.get_model("ziya-blip2-14b-visual-v1")
    parts = sum(c.n_params or 0 for c in m.components if c.role != "language-model")
    assert round(parts * 4 / 1e9, 2) == 4.38


# --- cog: CogVLM2-Llama3-19B (THUDM remote code; parts from config.json and the port's modules) ---


def eva2_clip_e(width: int = 1792, layers: int = 63, ffn: int = 15360, patch: int = 14, positions: int = 9217) -> int:
    """CogVLM's EVA2-CLIP tower as its visual.py builds it from config.json's vision_config: a patch
    Conv2d with bias, a cls vector, a position table of ``positions`` rows, then post-norm layers of
    qkv (fused, biased), dense, fc1 and fc2 (biased) and two LayerNorms; no final norm."""
    one = nn.ModuleList(
        [
            nn.LayerNorm(width),
            nn.Linear(width, 3 * width),
            nn.Linear(width, width),
            nn.Linear(width, ffn),
            nn.Linear(ffn, width),
            nn.LayerNorm(width),
        ]
    )
    embed = nn.ModuleList([nn.Conv2d(3, width, patch, stride=patch), nn.Embedding(positions, width)])
    return layers * _meta(lambda: one) + _meta(lambda: embed) + width


def cogvlm2_adapter(vision: int = 1792, hidden: int = 4096, ffn: int = 14336) -> int:
    """The adapter after the tower (mindformers' CogVLM2 VisionMLPAdapter, a port of the checkpoint):
    a 2x2 stride-2 Conv2d vision -> vision with bias, a GLU (Linear vision -> hidden without bias,
    LayerNorm, gate and up hidden -> ffn, down ffn -> hidden, no biases) and the boi/eoi vectors."""
    parts = nn.ModuleList(
        [
            nn.Conv2d(vision, vision, 2, stride=2),
            nn.Linear(vision, hidden, bias=False),
            nn.LayerNorm(hidden),
            nn.Linear(hidden, ffn, bias=False),
            nn.Linear(hidden, ffn, bias=False),
            nn.Linear(ffn, hidden, bias=False),
        ]
    )
    return _meta(lambda: parts) + 2 * hidden


def cogvlm2_visual_expert(layers: int = 32, hidden: int = 4096, kv_heads: int = 8, ffn: int = 14336) -> int:
    """The visual expert of every language layer (THUDM's weight map: vision_expert_query_key_value
    weight and bias, vision_expert_dense weight, vision_mlp gate/up/down): a biased fused QKV with
    grouped KV heads (head 128), a dense without bias and a SwiGLU FFN without biases."""
    qkv = hidden + 2 * kv_heads * (hidden // 32)
    one = nn.ModuleList(
        [
            nn.Linear(hidden, qkv),
            nn.Linear(hidden, hidden, bias=False),
            nn.Linear(hidden, ffn, bias=False),
            nn.Linear(hidden, ffn, bias=False),
            nn.Linear(ffn, hidden, bias=False),
        ]
    )
    return layers * _meta(lambda: one)


EXPECTED["cogvlm2-llama3-chat-19b"] = {
    "EVA2-CLIP-E": eva2_clip_e,
    "conv + GLU adapter": cogvlm2_adapter,
    "visual expert": cogvlm2_visual_expert,
}

# THUDM's model.safetensors.index.json (cogvlm2-llama3-chinese-chat-19B, same config.json and shard
# sizes as the English repo; the same figure in the OwlMaster/cog_vlm_2_windows copy at c19926b):
# metadata total_size, every tensor bf16. Its weight map also holds self_attn.rotary_emb.inv_freq
# in each of the 32 layers (head_dim / 2 = 64 elements each), buffers rather than parameters.
COGVLM2_INDEX_TOTAL_SIZE = 39_006_214_656


def test_cogvlm2_total_is_its_checkpoint(catalog: lc.Catalog) -> None:
    """CogVLM2's total equals the checkpoint's bf16 element count less its 32 x 64 rotary buffers,
    and also transformers' LlamaForCausalLM for Llama-3-8B's shape plus the three parts built above:
    the index and the code agree to the element."""
    from transformers import LlamaConfig, LlamaForCausalLM

    llama3_8b = LlamaConfig(
        vocab_size=128256,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        tie_word_embeddings=False,
    )
    lm = _meta(lambda: LlamaForCausalLM(llama3_8b))
    m = catalog.get_model("cogvlm2-llama3-chat-19b")
    assert m.n_params == COGVLM2_INDEX_TOTAL_SIZE // 2 - 32 * 64
    assert m.n_params == lm + eva2_clip_e() + cogvlm2_adapter() + cogvlm2_visual_expert()
    assert round(m.n_params / 1e9, 1) == 19.5  # not the 19B of its name


# --- the catalog against the builders above (kept last: EXPECTED is complete here) ---------------


def _component(m: lc.Model, prefix: str) -> lc.Component:
    found = [c for c in m.components if c.name.startswith(prefix)]
    assert len(found) == 1, f"{m.id}: expected one component named {prefix!r}..., got {[c.name for c in m.components]}"
    return found[0]


@pytest.mark.parametrize("mid", sorted(EXPECTED))
def test_component_counts_are_transformers_counts(catalog: lc.Catalog, mid: str) -> None:
    """Each sized part equals transformers' count of that part, and names where it comes from."""
    m = catalog.get_model(mid)
    for prefix, build in EXPECTED[mid].items():
        c = _component(m, prefix)
        assert c.n_params == build(), (mid, c.name)
        assert c.source is not None, (mid, c.name)
        assert c.source.startswith("https://"), (mid, c.name)


@pytest.mark.parametrize("mid", sorted(EXPECTED))
def test_total_is_language_model_plus_every_part(catalog: lc.Catalog, mid: str) -> None:
    """n_params is the whole system: the language model's exact count plus every other part."""
    m = catalog.get_model(mid)
    assert m.architecture is not None
    lm = [c for c in m.components if c.role == "language-model"]
    assert len(lm) == 1
    assert lm[0].n_params == count_params(m.architecture)
    assert all(c.n_params is not None for c in m.components), mid
    assert m.n_params == sum(c.n_params or 0 for c in m.components)


# --- mm: Llama 3.2 Vision (transformers' MllamaForConditionalGeneration) -------------------------

_MM_CONFIGS = Path(__file__).parent / "data" / "multimodal_configs"
_MLLAMA = {
    "llama-3.2-11b-vision": "llama-3.2-11b-vision",
    "llama-3.2-11b-vision-instruct": "llama-3.2-11b-vision",
    "llama-3.2-90b-vision": "llama-3.2-90b-vision",
    "llama-3.2-90b-vision-instruct": "llama-3.2-90b-vision",
}


def _mllama_config(fixture: str) -> dict[str, object]:
    import json

    cfg: dict[str, object] = json.loads((_MM_CONFIGS / f"{fixture}.json").read_text())
    return cfg


def mllama_parts(fixture: str) -> dict[str, int]:
    """The parts of transformers' MllamaForConditionalGeneration built on the meta device from the
    config.json copy tests/data/multimodal_configs/<fixture>.json: the text model (self- and
    cross-attention layers, the 8 added embedding rows) with its untied LM head, the vision model
    (local and global encoders, tile and position embeddings) and the projector."""
    from transformers import AutoConfig, MllamaForConditionalGeneration

    cfg = _mllama_config(fixture)
    kw = {k: v for k, v in cfg.items() if k not in {"model_type", "architectures", "_name_or_path"}}
    hf = AutoConfig.for_model("mllama", **kw)
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model = MllamaForConditionalGeneration(hf)
    parts = {"text": 0, "vision": 0, "projector": 0, "total": 0, "cross_layers": 0}
    for name, p in model.named_parameters():
        parts["total"] += p.numel()
        if name.startswith("model.vision_model."):
            parts["vision"] += p.numel()
        elif name.startswith("model.multi_modal_projector."):
            parts["projector"] += p.numel()
        else:
            parts["text"] += p.numel()
    text_cfg = hf.text_config
    parts["cross_layers"] = len(text_cfg.cross_attention_layers)
    return parts


@pytest.mark.parametrize("mid", sorted(_MLLAMA))
def test_llama_3_2_vision_counts_are_transformers_mllama(catalog: lc.Catalog, mid: str) -> None:
    """Each part and the total of Llama 3.2 Vision equal transformers' MllamaForConditionalGeneration
    for the config.json copy (text model with its cross-attention layers, vision model, projector)."""
    m = catalog.get_model(mid)
    parts = mllama_parts(_MLLAMA[mid])
    roles = {c.role: c.n_params for c in m.components}
    expected = {"language-model": parts["text"], "vision-encoder": parts["vision"], "projector": parts["projector"]}
    assert roles == expected
    assert m.n_params == parts["total"] == sum(roles.values())  # type: ignore[arg-type]
    assert all(c.source is not None and c.source.startswith("https://") for c in m.components)


@pytest.mark.parametrize(
    ("mid", "text_model", "cross"),
    [("llama-3.2-11b-vision", "llama-3.1-8b", 8), ("llama-3.2-90b-vision", "llama-3.1-70b", 20)],
)
def test_llama_3_2_vision_text_model_is_llama_3_1_plus_cross_attention(
    catalog: lc.Catalog, mid: str, text_model: str, cross: int
) -> None:
    """Meta's card: the vision models add cross-attention layers to Llama 3.1. The mllama text model is
    larger than the Llama 3.1 model it extends by the cross-attention layers and 8 embedding rows, and
    the catalog does not pretend it is that model (no inherited architecture)."""
    m = catalog.get_model(mid)
    parts = mllama_parts(mid)
    base = catalog.get_model(text_model)
    assert m.base_model == text_model
    assert m.architecture is None
    assert m.architecture_differs
    assert parts["cross_layers"] == cross
    assert base.n_params is not None
    assert parts["text"] > base.n_params


@pytest.mark.parametrize("mid", sorted(_MLLAMA))
def test_llama_3_2_vision_memory_is_refused_not_guessed(catalog: lc.Catalog, mid: str) -> None:
    """Cross-attention layers have no Architecture kind: the estimate is refused (NotEstimableError),
    and so is the config.json itself (an unknown model_type without top-level sizes), never a
    Llama-shaped guess."""
    with pytest.raises(lc.NotEstimableError):
        lc.estimate_vram(catalog.get_model(mid), lc.Inference(precision="bf16"))
    with pytest.raises(lc.CatalogDataError, match="mllama"):
        lc.Model.from_hf_config(_mllama_config(_MLLAMA[mid]))


# --- mm: Phi-3.5-vision (remote code; parts as Microsoft's image_embedding_phi3_v.py builds them) --


def phi3v_projector(image_dim_out: int = 1024, hidden: int = 3072) -> int:
    """HD transform with learnable separators (glb_GN [1, 1, 4d], sub_GN [1, 1, 1, 4d]) and the 'mlp'
    projection of 2x2-merged features: Linear(4d, hidden), GELU, Linear(hidden, hidden)."""
    mlp = _meta(lambda: nn.Sequential(nn.Linear(4 * image_dim_out, hidden), nn.GELU(), nn.Linear(hidden, hidden)))
    return mlp + 2 * 4 * image_dim_out


EXPECTED["phi-3.5-vision-instruct"] = {
    "CLIP ViT-L/14-336": lambda: clip_vision(1024, 24, 4096, 16, 14, 336),
    "HD separators": phi3v_projector,
}


def test_phi_3_5_vision_language_model_is_phi_3_5_mini(catalog: lc.Catalog) -> None:
    """Its language model has Phi-3.5-mini's shape (the config's text keys), so the same count."""
    m = catalog.get_model("phi-3.5-vision-instruct")
    assert m.architecture is not None
    mini = catalog.get_model("phi-3.5-mini-instruct")
    assert count_params(m.architecture) == mini.n_params
