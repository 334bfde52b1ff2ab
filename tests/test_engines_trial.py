"""Fixes from a user trial of the serving-engine models (issue 12 follow-up): each test failed before.

Facts used, with their sources:
- Ollama caps ``num_ctx`` at the GGUF's training context (``llm/server.go`` ``NewLlamaServer``, which
  logs "requested context size too large for model" and lowers ``NumCtx``); qwen3-8b's config has
  ``max_position_embeddings`` 40,960.
- gpt-oss checkpoints ship their experts in MXFP4; ``convert_hf_to_gguf.py`` (``GptOssModel``) writes
  them as ggml MXFP4 (17 bytes per 32 weights, ggml ``type_traits``) and ``llama-quantize`` will not
  requantize a quantized tensor without ``--allow-requantize`` (``src/llama-quant.cpp``). The published
  gpt-oss-20b GGUFs on the Hugging Face Hub (ggml-org's MXFP4 file, unsloth's Q4_K_M ... Q8_0 files)
  are 11.6 to 12.8 GB, as the trial report quoted from their listings.
- Gemma 3's vision tower (SigLIP, ~417M parameters) and projector go to a separate ``mmproj`` file
  (``convert_hf_to_gguf.py --mmproj``); the text GGUF of gemma-3-12b-it at Q4_K_M is ~7.3 GB.
- ``llama-server`` defaults to ``-fa auto`` (``common/arg.cpp``), resolved on in ``llama-context.cpp``
  when each layer's flash-attention op runs on the device holding its KV cache.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings

import pytest

import llmcatalog as lc
from llmcatalog.engines import llamacpp, ollama

GB = 10**9


def test_ollama_caps_num_ctx_at_training_context() -> None:
    """qwen3-8b on an H100: the VRAM rule's 262,144 is cut to the model's 40,960, as Ollama does."""
    est = lc.estimate_ollama("qwen3-8b", gpu="H100")
    assert est.num_ctx == 40960
    assert est.llamacpp.n_ctx_seq <= 40960 + 255
    assert any("capped" in n for n in est.notes)
    explicit = ollama.estimate(lc.get_model("qwen3-8b"), num_ctx=100_000)
    assert explicit.num_ctx == 40960


def test_gpt_oss_experts_stay_mxfp4() -> None:
    """gpt-oss-20b at Q4_K_M: experts in MXFP4, the file within the published 11.6-12.8 GB."""
    lay = llamacpp.layout(lc.get_model("gpt-oss-20b"), "Q4_K_M")
    types = dict(lay.bytes_by_type)
    assert "MXFP4" in types
    tensors = llamacpp.quantized_tensors(lc.get_model("gpt-oss-20b"), "Q4_K_M")
    assert all(t.type_name == "MXFP4" for t in tensors if "_exps.weight" in t.name)
    assert 11.5 * GB <= lay.model_bytes <= 12.8 * GB


def test_vision_tower_is_a_separate_mmproj() -> None:
    """gemma-3-12b-it: the text GGUF (~7.3 GB) has no vision tower; mmproj=True adds it in F16."""
    m = lc.get_model("gemma-3-12b-it")
    lay = llamacpp.layout(m, "Q4_K_M")
    assert 7.1 * GB <= lay.model_bytes <= 7.5 * GB
    vision = sum(c.n_params or 0 for c in m.components if c.role != "language-model")
    assert vision > 400_000_000
    plain = llamacpp.estimate(m)
    assert any("mmproj" in n for n in plain.notes)
    with_mmproj = llamacpp.estimate(m, mmproj=True)
    assert with_mmproj.gpu_total_bytes - plain.gpu_total_bytes == 2 * vision
    with pytest.raises(lc.WorkloadError, match="mmproj"):
        llamacpp.estimate(lc.get_model("llama-3.1-8b"), mmproj=True)


def test_flash_attention_default_is_auto_on() -> None:
    """The default follows current llama-server (-fa auto: on); flash_attn=False gives older builds."""
    m = lc.get_model("llama-3.1-8b")
    default = llamacpp.estimate(m, n_ctx=32768)
    old = llamacpp.estimate(m, n_ctx=32768, flash_attn=False)
    assert default.flash_attn
    assert not old.flash_attn
    assert default.gpu_compute_bytes < old.gpu_compute_bytes  # no n_kv x n_head score matrix


def test_llamacpp_warns_past_training_context_and_bounds_n_ctx() -> None:
    """n_ctx past the trained 40,960 warns (ContextLengthWarning); 10**9 is refused, not computed."""
    m = lc.get_model("qwen3-8b")
    with pytest.warns(lc.ContextLengthWarning, match="40,960"):
        llamacpp.estimate(m, n_ctx=131072)
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.ContextLengthWarning)
        llamacpp.estimate(m, n_ctx=40960)
        llamacpp.estimate(m, n_ctx=4 * 40960, n_parallel=4)  # 4 sequences of 40,960
    with pytest.raises(lc.WorkloadError, match="n_ctx"):
        llamacpp.estimate(m, n_ctx=10**9)
    capped = ollama.estimate(m, num_ctx=10**9, num_parallel=4)  # Ollama cuts it to the trained context
    assert capped.num_ctx == 40960


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_cuda_engines_refuse_apple_silicon(engine: str) -> None:
    """vLLM and SGLang on an M2 Ultra: a typed error naming the vendors they run on."""
    gpu = next(g for g in lc.catalog().gpus if g.vendor == "Apple")
    with pytest.raises(lc.NotEstimableError, match=r"NVIDIA.*AMD"):
        lc.engine_estimate(lc.get_model("llama-3.1-8b"), gpu, engine)
    both = lc.compare_engines(lc.get_model("llama-3.1-8b"), gpu)
    assert not both[engine].estimated
    assert both["llama.cpp"].estimated


def test_llamacpp_reserve_is_worded_per_backend() -> None:
    """On Apple silicon the memory kept free is not called a CUDA context."""
    apple = next(g for g in lc.catalog().gpus if g.vendor == "Apple")
    est = llamacpp.estimate(lc.get_model("llama-3.1-8b"), gpu=apple)
    assert "CUDA" not in est.reserve_reason
    assert "Metal" in est.reserve_reason
    nvidia = llamacpp.estimate(lc.get_model("llama-3.1-8b"), gpu=lc.get_gpu("H100"))
    assert "CUDA" in nvidia.reserve_reason


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from llmcatalog.cli.main import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("engine", ["vllm", "llama.cpp", "ollama", "all"])
def test_cli_engine_honours_format(engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--format json/csv/markdown with --engine gives that format, not the text report."""
    _, out, _ = _cli(capsys, "estimate", "llama-3.1-8b", "--engine", engine, "--gpu", "H100", "--format", "json")
    json.loads(out)
    _, out, _ = _cli(capsys, "estimate", "llama-3.1-8b", "--engine", engine, "--gpu", "H100", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) >= 2
    assert len({len(r) for r in rows}) == 1
    _, out, _ = _cli(capsys, "estimate", "llama-3.1-8b", "--engine", engine, "--gpu", "H100", "--format", "markdown")
    assert out.lstrip().startswith("|")


def test_cli_engine_all_fills_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    """--engine all: the llama.cpp and Ollama sections show their buffers/decision; a weights column."""
    _, out, _ = _cli(capsys, "estimate", "llama-3.1-8b", "--engine", "all", "--gpu", "H100")
    sections = out.split("\n[")
    for body in sections[1:]:  # every engine's section says something under its header
        assert body.splitlines()[1].startswith("  "), body
    for name in ("llama.cpp", "ollama"):
        body = next(s for s in sections if s.startswith(name))
        assert "buffer size" in body
    assert "layers.offload" in out
    header = next(line for line in out.splitlines() if line.startswith("engine "))
    assert "weights as" in header
    assert "Q4_K_M" in out
    assert "bf16" in out


def test_cli_apple_gpu_wording_and_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    """On Apple silicon: llama.cpp's reserve is not a 'CUDA context'; vLLM is refused (exit 2)."""
    apple = next(g for g in lc.catalog().gpus if g.vendor == "Apple")
    _, out, _ = _cli(capsys, "estimate", "llama-3.1-8b", "--engine", "llama.cpp", "--gpu", apple.id)
    assert "CUDA context" not in out
    code, _, err = _cli(capsys, "estimate", "llama-3.1-8b", "--engine", "vllm", "--gpu", apple.id)
    assert code == 2
    assert "NVIDIA" in err


def test_llamacpp_decode_reads_the_gguf_bytes() -> None:
    """decode_speed with the llama.cpp profile reads bf16 weights whatever the GGUF; llamacpp_decode_speed
    reads the file type's bytes: at batch 1 (memory-bound) Q4_K_M decodes over 2x as fast as F16, at most by
    the ratio of their model buffers, and F16 agrees with the fp16 roofline of decode_speed."""
    m, gpu, w = lc.get_model("llama-3.1-8b"), lc.get_gpu("rtx-4090"), lc.Inference(context_tokens=512)
    q4 = lc.llamacpp_decode_speed(m, gpu, w, quant="Q4_K_M")
    f16 = lc.llamacpp_decode_speed(m, gpu, w, quant="F16")
    prof = lc.performance.engines.ENGINE_PROFILES["llama.cpp"]  # by name it is refused (a bf16 figure)
    generic = lc.decode_speed(m, gpu, lc.Inference(context_tokens=512, precision="fp16"), engine=prof)
    assert q4.bound == "memory"
    ratio = llamacpp.layout(m, "F16").model_bytes / llamacpp.layout(m, "Q4_K_M").model_bytes
    assert 2.0 < q4.tokens_per_s / f16.tokens_per_s <= ratio  # host time per step dilutes the ratio
    assert f16.tokens_per_s == pytest.approx(generic.tokens_per_s, rel=0.05)
    assert q4.tokens_per_s > 2.0 * lc.decode_speed(m, gpu, w, engine=prof).tokens_per_s


def test_file_size_is_reported_apart_from_buffers() -> None:
    """gemma-3-12b-it Q4_K_M: the GGUF holds ~7.3 GB (the published text file); the model buffers add the
    tied output's GPU copy of token_embd on top (token_embd itself stays on the host)."""
    est = llamacpp.estimate(lc.get_model("gemma-3-12b-it"))
    assert 7.1 * GB <= est.file_bytes <= 7.5 * GB
    lay = llamacpp.layout(lc.get_model("gemma-3-12b-it"), "Q4_K_M")
    assert est.gpu_model_bytes + est.cpu_model_bytes == est.file_bytes + lay.tied_output_bytes


def test_ollama_partial_offload_is_not_a_plain_fits(capsys: pytest.CaptureFixture[str]) -> None:
    """A 32B Q4_K_M on a 64 GB M2 Ultra at num_ctx 98304 runs with some layers on the CPU: the verdict says so.
    (At Ollama's default there, 131,072, the GPU and host buffers together exceed the 64 GiB of unified
    memory: tests/test_engines_verdicts.py.)"""
    from llmcatalog.cli.main import main

    args = ["estimate", "deepseek-r1-distill-qwen-32b", "--engine", "ollama", "--gpu", "M2 Ultra 64GB"]
    assert main([*args, "--context", "98304"]) == 0
    out = capsys.readouterr().out
    verdict = next(line for line in out.splitlines() if "->" in line and "kept free" in line)
    on_gpu, total = re.search(r"offloaded (\d+)/(\d+) layers", out).groups()  # Ollama's own layer split
    assert int(on_gpu) < int(total)
    assert f"partial offload: {on_gpu} of {total} layers on the GPU" in verdict
