"""Weight formats read from ``quantization_config`` (llmcatalog.importers.quantization) and their bytes.

Every byte count is checked against tensors a quantizer itself produces or a published size:

- compressed-tensors (pip ``compressed-tensors``, the library vLLM and llm-compressor use): a real
  ``nn.Linear`` is initialised for a quantization scheme and compressed by the library's own
  compressor; the stored state dict's bytes are compared with :meth:`WeightFormat.linear_bytes`.
- FP8 block scales: transformers' ``FP8Linear`` (``integrations/finegrained_fp8.py``) built on the
  meta device (its ``weight`` and ``weight_scale_inv`` are the checkpoint's tensors).
- GPTQ / AWQ: the tensor shapes of AutoGPTQ ``QuantLinear``
  (``auto_gptq/nn_modules/qlinear/qlinear_cuda_old.py``: ``qweight`` int32 ``[in//32*bits, out]``,
  ``qzeros`` int32 ``[ceil(in/g), out//32*bits]``, ``scales`` fp16 ``[ceil(in/g), out]``, ``g_idx``
  int32 ``[in]``) and AutoAWQ ``WQLinear_GEMM`` (``awq/modules/linear/gemm.py``: ``qweight`` int32
  ``[in, out//(32//bits)]``, ``qzeros`` int32 ``[in//g, out//(32//bits)]``, ``scales`` fp16
  ``[in//g, out]``), with configs made by transformers' own ``GPTQConfig`` / ``AwqConfig`` /
  ``BitsAndBytesConfig``.
- MXFP4: the gpt-oss model card (OpenAI, "gpt-oss-120b & gpt-oss-20b Model Card", arXiv 2508.10925,
  table 1) gives checkpoint sizes of 60.8 GiB and 12.8 GiB; the configs are those of
  ``tests/data/hf_configs`` with the ``quantization_config`` of openai/gpt-oss-20b's config.json.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest

import llmcatalog as lc
from llmcatalog.importers.quantization import parts_named, weight_format_from_quantization_config
from llmcatalog.memory.weights import linear_parts, quantized_linear_bytes, weight_bytes

CONFIGS = Path(__file__).parent / "data" / "hf_configs"

#: openai/gpt-oss-20b and -120b config.json ``quantization_config``.
GPT_OSS_Q = {
    "modules_to_not_convert": [
        "model.layers.*.self_attn",
        "model.layers.*.mlp.router",
        "model.embed_tokens",
        "lm_head",
    ],
    "quant_method": "mxfp4",
}
#: deepseek-ai/DeepSeek-V3 config.json ``quantization_config``.
DEEPSEEK_V3_Q = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]}

SHAPES = [(4096, 4096), (11008, 4096), (4096, 11008), (576, 7168), (1024, 2880)]


def _config(name: str, **extra: Any) -> dict[str, Any]:
    return {**json.loads((CONFIGS / f"{name}.json").read_text()), **extra}


# --- compressed-tensors: the library's own compressed tensors --------------------------------------------------

CT_SCHEMES = [
    ("pack-quantized", {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": 128}, None),
    (
        "pack-quantized",
        {"num_bits": 4, "type": "int", "symmetric": False, "strategy": "group", "group_size": 128},
        None,
    ),
    ("pack-quantized", {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": 32}, None),
    ("pack-quantized", {"num_bits": 8, "type": "int", "symmetric": False, "strategy": "channel"}, None),
    (
        "int-quantized",
        {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "channel"},
        {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "token", "dynamic": True},
    ),
    (
        "int-quantized",
        {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "channel"},
        {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "tensor", "dynamic": False},
    ),
    ("int-quantized", {"num_bits": 8, "type": "int", "symmetric": False, "strategy": "group", "group_size": 128}, None),
    ("float-quantized", {"num_bits": 8, "type": "float", "symmetric": True, "strategy": "channel"}, None),
    ("float-quantized", {"num_bits": 8, "type": "float", "symmetric": True, "strategy": "tensor"}, None),
    (
        "float-quantized",
        {"num_bits": 8, "type": "float", "symmetric": True, "strategy": "block", "block_structure": [128, 128]},
        None,
    ),
    (
        "nvfp4-pack-quantized",
        {"num_bits": 4, "type": "float", "symmetric": True, "strategy": "tensor_group", "group_size": 16},
        {
            "num_bits": 4,
            "type": "float",
            "symmetric": True,
            "strategy": "tensor_group",
            "group_size": 16,
            "dynamic": "local",
        },
    ),
    (
        "mxfp4-pack-quantized",
        {
            "num_bits": 4,
            "type": "float",
            "symmetric": True,
            "strategy": "group",
            "group_size": 32,
            "scale_dtype": "uint8",
        },
        None,
    ),
]


def _ct_stored_bytes(fmt: str, weights: dict[str, Any], inputs: dict[str, Any] | None, out: int, inn: int) -> int:
    """Bytes of the tensors compressed-tensors stores for one bf16 Linear [out, inn] (bias-free)."""
    import torch
    from compressed_tensors.compressors import BaseCompressor
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme, initialize_module_for_quantization

    w = dict(weights)
    if w.get("scale_dtype") == "uint8":
        w["scale_dtype"] = torch.uint8
    linear = torch.nn.Linear(inn, out, bias=False, dtype=torch.bfloat16)
    scheme = QuantizationScheme(
        targets=["Linear"],
        weights=QuantizationArgs(**w),
        input_activations=QuantizationArgs(**inputs) if inputs else None,
        format=fmt,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        initialize_module_for_quantization(linear, scheme)
        with torch.no_grad():
            for name, p in linear.named_parameters():
                if "scale" in name:
                    p.fill_(1.0)
        BaseCompressor.load_from_registry(fmt).compress_module(linear)
    tensors = {**dict(linear.named_parameters()), **dict(linear.named_buffers())}
    return sum(t.nbytes for t in tensors.values())


@pytest.mark.parametrize(("fmt", "weights", "inputs"), CT_SCHEMES)
def test_compressed_tensors_bytes_match_the_library(fmt: str, weights: dict, inputs: dict | None) -> None:
    """Each compressed-tensors format's bytes equal what the library's compressor stores, for several shapes."""
    pytest.importorskip("compressed_tensors")
    cfg_weights = {k: v for k, v in weights.items() if k != "scale_dtype"}
    qcfg = {
        "quant_method": "compressed-tensors",
        "format": fmt,
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": cfg_weights, "input_activations": inputs}},
        "ignore": ["lm_head"],
    }
    wf = lc.weight_format_from_quantization_config(qcfg, compute_dtype="bf16")
    for out, inn in [(256, 512), (768, 1024), (512, 1536)]:
        assert wf.linear_bytes(out, inn) == _ct_stored_bytes(fmt, weights, inputs, out, inn), (fmt, weights, out, inn)


# --- FP8 block scales: transformers' FP8Linear ---------------------------------------------------------------


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("block", [[128, 128], None])
def test_fp8_bytes_match_transformers_fp8linear(block: list[int] | None, static: bool) -> None:
    """FP8 weight + weight_scale_inv (+ activation_scale) bytes equal transformers' FP8Linear tensors."""
    torch = pytest.importorskip("torch")
    from transformers.integrations.finegrained_fp8 import FP8Linear

    qcfg = {**DEEPSEEK_V3_Q, "weight_block_size": block, "activation_scheme": "static" if static else "dynamic"}
    wf = lc.weight_format_from_quantization_config(qcfg)
    for out, inn in SHAPES:
        with torch.device("meta"):
            layer = FP8Linear(
                inn, out, block_size=tuple(block) if block else None, activation_scheme=qcfg["activation_scheme"]
            )
        stored = sum(p.numel() * p.element_size() for p in layer.parameters())
        assert wf.linear_bytes(out, inn) == stored, (out, inn)


def test_named_fp8_is_deepseek_v3_layout() -> None:
    """The named 'fp8' precision and DeepSeek-V3's quantization_config give the same bytes."""
    wf = lc.weight_format_from_quantization_config(DEEPSEEK_V3_Q)
    for out, inn in SHAPES:
        assert wf.linear_bytes(out, inn) == lc.FORMATS["fp8"].linear_bytes(out, inn)


# --- GPTQ / AWQ / bitsandbytes: transformers' config objects and the packing layouts -----------------------------


def _gptq_tensors(out: int, inn: int, bits: int, g: int) -> int:
    groups = math.ceil(inn / g)
    qweight = inn // 32 * bits * out * 4
    qzeros = groups * (out // 32 * bits) * 4
    scales = groups * out * 2
    g_idx = inn * 4
    return qweight + qzeros + scales + g_idx


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("group", [32, 128, -1])
@pytest.mark.parametrize("desc_act", [False, True])
def test_gptq_config_bytes_match_quantlinear(bits: int, group: int, desc_act: bool) -> None:
    """transformers.GPTQConfig(...).to_dict() gives AutoGPTQ QuantLinear's tensor bytes."""
    transformers = pytest.importorskip("transformers")
    try:
        qcfg = transformers.GPTQConfig(bits=bits, group_size=group, desc_act=desc_act).to_dict()
    except Exception as exc:  # GPTQConfig checks its optional backends in some versions
        pytest.skip(f"GPTQConfig unavailable: {exc}")
    wf = lc.weight_format_from_quantization_config(qcfg)
    assert wf.default_compute == "fp16"
    for out, inn in SHAPES[:3]:
        assert wf.linear_bytes(out, inn) == _gptq_tensors(out, inn, bits, inn if group == -1 else group)


def test_named_gptq_and_awq_match_their_layouts() -> None:
    """gptq-int4 / gptq-int8 / awq-int4 give the QuantLinear / WQLinear_GEMM tensor bytes."""
    for out, inn in SHAPES[:3]:
        assert lc.FORMATS["gptq-int4"].linear_bytes(out, inn) == _gptq_tensors(out, inn, 4, 128)
        assert lc.FORMATS["gptq-int8"].linear_bytes(out, inn) == _gptq_tensors(out, inn, 8, 128)
        awq = inn * (out // 8) * 4 + (inn // 128) * (out // 8) * 4 + (inn // 128) * out * 2
        assert lc.FORMATS["awq-int4"].linear_bytes(out, inn) == awq


def test_awq_config_matches_wqlinear_gemm() -> None:
    """transformers.AwqConfig(...).to_dict() gives WQLinear_GEMM's bytes; group size is read."""
    transformers = pytest.importorskip("transformers")
    try:
        qcfg = transformers.AwqConfig(bits=4, group_size=64).to_dict()
    except Exception as exc:
        pytest.skip(f"AwqConfig unavailable: {exc}")
    wf = lc.weight_format_from_quantization_config(qcfg)
    out, inn = 4096, 11008
    assert wf.linear_bytes(out, inn) == inn * (out // 8) * 4 + (inn // 64) * (out // 8) * 4 + (inn // 64) * out * 2


def test_bitsandbytes_config_matches_named_formats() -> None:
    """BitsAndBytesConfig for NF4 (+double quant) and int8 gives the named bnb formats' bytes (QLoRA paper sizes)."""
    transformers = pytest.importorskip("transformers")
    cases = [
        ({"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, "bnb-nf4"),
        ({"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True}, "bnb-nf4-dq"),
        ({"load_in_8bit": True}, "bnb-int8"),
    ]
    for kw, name in cases:
        try:
            qcfg = transformers.BitsAndBytesConfig(**kw).to_dict()
        except Exception as exc:
            pytest.skip(f"BitsAndBytesConfig unavailable: {exc}")
        wf = lc.weight_format_from_quantization_config(qcfg)
        for out, inn in SHAPES[:3]:
            assert wf.linear_bytes(out, inn) == lc.FORMATS[name].linear_bytes(out, inn), name
    # 4 + 8/64 + 32/(64*256) bits per weight with double quantization (QLoRA, arXiv 2305.14314, section 3)
    assert lc.FORMATS["bnb-nf4-dq"].linear_bytes(4096, 4096) * 8 / 4096**2 == pytest.approx(4.127, abs=1e-3)


# --- MXFP4: gpt-oss checkpoints --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "gib"), [("gpt-oss-20b", 12.8), ("gpt-oss-120b", 60.8)])
def test_gpt_oss_checkpoint_size(name: str, gib: float) -> None:
    """gpt-oss weights in MXFP4 (experts) + bf16 (rest) match the model card's checkpoint sizes."""
    model = lc.Model.from_hf_config(_config(name, quantization_config=GPT_OSS_Q))
    assert model.weight_format is not None
    assert model.weight_format.quantized_parts == ("experts",)
    assert model.architecture is not None
    size = weight_bytes(model.architecture, model.weight_format) / 2**30
    assert size == pytest.approx(gib, abs=0.05)


def test_mxfp4_expert_bytes_match_checkpoint_tensors() -> None:
    """Per expert layer: ``*_blocks`` uint8 [E, out, in/32, 16] + ``*_scales`` uint8 [E, out, in/32] (gpt-oss)."""
    cfg = _config("gpt-oss-20b", quantization_config=GPT_OSS_Q)
    model = lc.Model.from_hf_config(cfg)
    arch, wf = model.architecture, model.weight_format
    assert arch is not None
    assert wf is not None
    e, h, f, layers = cfg["num_local_experts"], cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    blocks = e * (2 * f) * (h // 32) * 16 + e * h * (f // 32) * 16
    scales = e * (2 * f) * (h // 32) + e * h * (f // 32)
    q_bytes, _ = quantized_linear_bytes(arch, wf)
    assert q_bytes == layers * (blocks + scales)


# --- the model's stored format and the estimate ------------------------------------------------------------------


def test_estimate_uses_the_checkpoint_format_unless_a_precision_is_given() -> None:
    """Inference() on a quantized checkpoint uses its format and says so; an explicit precision wins."""
    model = lc.Model.from_hf_config(_config("gpt-oss-20b", quantization_config=GPT_OSS_Q))
    plain = lc.Model.from_hf_config(_config("gpt-oss-20b"))
    assert plain.weight_format is None
    stored = lc.estimate_vram(model, lc.Inference())
    as_bf16 = lc.estimate_vram(model, lc.Inference(precision="bf16"))
    assert lc.estimate_vram(plain, lc.Inference()).weights_bytes == as_bf16.weights_bytes
    assert stored.weights_bytes < as_bf16.weights_bytes * 0.4
    assert any("from the checkpoint's quantization_config" in a for a in stored.assumptions)
    assert any("the checkpoint itself stores" in a for a in as_bf16.assumptions)
    assert lc.Inference().precision == "bf16"
    assert not lc.Inference().precision_given


def test_min_gpus_and_fits_use_the_checkpoint_format() -> None:
    """min_gpus / fits resolve the stored format as estimate_vram does (gpt-oss-120b MXFP4 fits one 80 GB GPU)."""
    model = lc.Model.from_hf_config(_config("gpt-oss-120b", quantization_config=GPT_OSS_Q))
    gpu = lc.GPU(id="test-80gb", name="80 GB test GPU", vendor="nvidia", memory_bytes=80 * 10**9)
    w = lc.Inference(context_tokens=4096)
    assert lc.fits(model, gpu, w)
    assert lc.min_gpus(model, gpu, w) == 1
    assert lc.min_gpus(model, gpu, lc.Inference(precision="bf16", context_tokens=4096)) > 1


def test_weight_format_value_as_precision() -> None:
    """Inference(precision=WeightFormat) is accepted; its compute dtype is the format's."""
    wf = lc.weight_format_from_quantization_config({"quant_method": "gptq", "bits": 3, "group_size": 64})
    w = lc.Inference(precision=wf)
    assert w.weight_format is wf
    assert w.precision is wf
    assert w.compute == "fp16"
    arch = lc.architecture_from_hf_config(_config("llama-2-7b"))
    assert weight_bytes(arch, lc.FORMATS["int4"]) > lc.estimate_vram(arch, w).weights_bytes * 0.5


def test_modules_to_not_convert_map_to_parts() -> None:
    """Module names map to parts; a single layer cannot be singled out and is noted, not dropped."""
    assert parts_named("lm_head") == {"lm_head"}
    assert parts_named("model.layers.*.self_attn") == {"attention"}
    assert parts_named("re:.*mlp.gate$") == {"router"}
    assert parts_named("model.layers.*.mlp.router") == {"router"}
    assert parts_named("model.visual") == frozenset()
    assert parts_named("model.layers.0.mlp") is None
    wf = weight_format_from_quantization_config(
        {
            "quant_method": "awq",
            "bits": 4,
            "group_size": 128,
            "modules_to_not_convert": ["self_attn", "model.layers.3.mlp"],
        }
    )
    assert "attention" not in wf.quantized_parts
    assert wf.notes
    assert "model.layers.3.mlp" in wf.description


def test_linear_parts_tell_experts_from_dense_layers() -> None:
    """DeepSeek-V3: 3 dense MLP layers, 58 MoE layers of 256 routed + 1 shared expert."""
    arch = lc.architecture_from_hf_config(_config("deepseek-v3"))
    counts: dict[str, int] = {}
    for part, shape in linear_parts(arch):
        counts[part] = counts.get(part, 0) + shape.count
    assert counts["mlp"] == 3 * 3
    assert counts["experts"] == 3 * 58 * 256
    assert counts["shared_experts"] == 3 * 58


@pytest.mark.parametrize(
    ("qcfg", "key"),
    [
        ({"quant_method": "gptq", "bits": "four"}, "bits"),
        ({"quant_method": "gptq", "bits": 5}, "bits"),
        ({"quant_method": "fp8", "weight_block_size": [128]}, "weight_block_size"),
        (
            {"quant_method": "compressed-tensors", "format": "marlin-24", "config_groups": {"g": {"weights": {}}}},
            "format",
        ),
        ({"quant_method": "hqq"}, "quant_method"),
        ({"quant_method": "bitsandbytes"}, "load_in_4bit"),
    ],
)
def test_bad_configs_name_the_key(qcfg: dict, key: str) -> None:
    """A malformed or unsupported quantization_config raises CatalogDataError naming the key."""
    with pytest.raises(lc.CatalogDataError, match=key):
        weight_format_from_quantization_config(qcfg)


def test_unknown_method_in_a_config_warns_and_keeps_no_format() -> None:
    """Model.from_hf_config with an unknown quant_method warns; the model has no weight_format."""
    with pytest.warns(UserWarning, match="hqq"):
        model = lc.Model.from_hf_config(_config("llama-2-7b", quantization_config={"quant_method": "hqq"}))
    assert model.weight_format is None
