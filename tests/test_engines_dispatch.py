"""Choosing a serving engine by name, side-by-side answers, the inverse questions, and `estimate --engine`."""

from __future__ import annotations

import json

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main
from llmcatalog.engines.sglang import estimate_sglang
from llmcatalog.engines.vllm import VLLMSettings, estimate_vllm

MODEL = "llama-3.1-8b"
GPU = "rtx-4090"


def test_engine_names() -> None:
    """The five engines of the issue, transformers first (the default)."""
    assert lc.ENGINES == ("transformers", "vllm", "sglang", "llama.cpp", "ollama")


def test_unknown_engine_is_a_workload_error() -> None:
    """An unknown engine name says which ones exist."""
    with pytest.raises(lc.WorkloadError, match=r"llama\.cpp"):
        lc.engine_estimate(lc.get_model(MODEL), lc.get_gpu(GPU), "tgi")


def test_llamacpp_and_ollama_dispatch_to_their_models() -> None:
    """engine='llama.cpp' / 'ollama' hand the workload to engines/llamacpp.py and engines/ollama.py:
    the breakdown is their GPU buffers, and the settings mapping reaches them."""
    from llmcatalog.engines import llamacpp, ollama

    model, gpu, w = lc.get_model(MODEL), lc.get_gpu(GPU), lc.Inference(context_tokens=4096, batch_size=2)
    b = lc.engine_estimate(model, gpu, "llama.cpp", w, {"flash_attn": True})
    direct = llamacpp.estimate_inference(model, w, gpu=gpu, flash_attn=True)
    assert (b.weights_bytes, b.kv_cache_bytes, b.activation_bytes) == (
        direct.gpu_model_bytes,
        direct.gpu_kv_bytes,
        direct.gpu_compute_bytes,
    )
    assert b.fits == direct.fits
    o = lc.engine_estimate(model, gpu, "ollama", w)
    assert o.detail.layers_offload == ollama.estimate_inference(model, w, gpu=gpu).layers_offload
    with pytest.raises(TypeError, match="no_such_setting"):
        lc.engine_estimate(model, gpu, "llama.cpp", w, {"no_such_setting": 1})
    with pytest.raises(lc.WorkloadError, match="mapping"):
        lc.engine_estimate(model, gpu, "llama.cpp", w, 5)  # type: ignore[arg-type]


def test_llamacpp_inverse_answers_are_exact_at_the_boundary() -> None:
    """The longest context and the most parallel sequences llama.cpp holds: that one fits, one more does not."""
    model, gpu, w = lc.get_model(MODEL), lc.get_gpu(GPU), lc.Inference(context_tokens=4096)
    s = {"flash_attn": False}  # without flash attention the full 128k context does not fit a 24 GB card
    n = lc.engine_max_model_len(model, gpu, "llama.cpp", w, s)
    assert 0 < n < model.architecture.max_context
    assert lc.engine_estimate(model, gpu, "llama.cpp", attrs.evolve(w, context_tokens=n), s).fits
    assert not lc.engine_estimate(model, gpu, "llama.cpp", attrs.evolve(w, context_tokens=n + 1), s).fits
    most = lc.engine_max_concurrency(model, gpu, "llama.cpp", w, s)
    assert lc.engine_estimate(model, gpu, "llama.cpp", attrs.evolve(w, batch_size=most), s).fits
    if most < 256:
        assert not lc.engine_estimate(model, gpu, "llama.cpp", attrs.evolve(w, batch_size=most + 1), s).fits


def test_transformers_is_estimate_vram() -> None:
    """engine='transformers' is today's estimate, part for part, with the fit on the GPU."""
    model, gpu, w = lc.get_model(MODEL), lc.get_gpu(GPU), lc.Inference(context_tokens=4096, batch_size=2)
    b = lc.engine_estimate(model, gpu, "transformers", w)
    est = lc.estimate_vram(model, w)
    assert b.total_bytes == est.total_bytes
    assert b.fits == (est.total_bytes <= gpu.available_bytes)


def test_compare_engines_side_by_side() -> None:
    """One call, every engine: estimates where an engine answers, its error where it cannot."""
    w = lc.Inference(context_tokens=8192)
    out = lc.compare_engines(lc.get_model(MODEL), lc.get_gpu(GPU), w, settings={"vllm": {"max_model_len": 16384}})
    assert list(out) == list(lc.ENGINES)
    assert out["vllm"].detail.max_model_len == 16384
    assert out["vllm"].kv_tokens == out["vllm"].detail.kv_tokens
    assert out["sglang"].kv_tokens == out["sglang"].detail.max_total_num_tokens
    assert all(out[name].estimated for name in lc.ENGINES)
    assert out["llama.cpp"].detail.n_ctx == 8192


def test_settings_as_mappings_are_checked() -> None:
    """Settings may be given as a mapping of option names; an unknown option is refused by name."""
    with pytest.raises(lc.WorkloadError, match="max_seqs"):
        lc.engine_estimate(lc.get_model(MODEL), lc.get_gpu(GPU), "vllm", settings={"max_seqs": 8})


def test_vllm_longest_request_fits_and_one_block_more_does_not() -> None:
    """engine_max_model_len for vLLM: vLLM starts with it and refuses a length one block longer."""
    model, gpu = lc.get_model(MODEL), lc.get_gpu(GPU)
    n = lc.engine_max_model_len(model, gpu, "vllm")
    assert 0 < n < 131072
    assert estimate_vllm(model, gpu, settings=VLLMSettings(max_model_len=n)).fits
    assert not estimate_vllm(model, gpu, settings=VLLMSettings(max_model_len=n + 16)).fits


def test_vllm_most_concurrent_requests() -> None:
    """engine_max_concurrency for vLLM: whole requests of the workload's length the cache holds."""
    model, gpu = lc.get_model(MODEL), lc.get_gpu(GPU)
    w = lc.Inference(context_tokens=4096)
    s = VLLMSettings(max_model_len=8192)
    n = lc.engine_max_concurrency(model, gpu, "vllm", w, s)
    est = estimate_vllm(model, gpu, w, s)
    assert n == min(int(est.concurrency_for(4096)), est.max_num_seqs)
    assert est.breakdown(4096, n).fits
    assert not est.breakdown(4096, n + 1).fits


def test_sglang_inverse_answers() -> None:
    """SGLang: the longest request is its token pool (at most the context length); requests = pool // length."""
    model, gpu = lc.get_model(MODEL), lc.get_gpu(GPU)
    est = estimate_sglang(model, gpu)
    assert lc.engine_max_model_len(model, gpu, "sglang") == min(est.max_total_num_tokens, 131072)
    w = lc.Inference(context_tokens=2048)
    assert lc.engine_max_concurrency(model, gpu, "sglang", w) == est.max_total_num_tokens // 2048


def test_transformers_inverse_answers_are_the_boundary() -> None:
    """transformers: the largest batch (and context) whose estimate fits; one more does not."""
    model, gpu = lc.get_model(MODEL), lc.get_gpu(GPU)
    w = lc.Inference(context_tokens=4096)
    n = lc.engine_max_concurrency(model, gpu, "transformers", w)
    assert n >= 1
    assert lc.estimate_vram(model, lc.Inference(context_tokens=4096, batch_size=n)).total_bytes <= gpu.available_bytes
    assert (
        lc.estimate_vram(model, lc.Inference(context_tokens=4096, batch_size=n + 1)).total_bytes > gpu.available_bytes
    )
    length = lc.engine_max_model_len(model, gpu, "transformers")
    assert lc.estimate_vram(model, lc.Inference(context_tokens=length)).total_bytes <= gpu.available_bytes
    assert lc.estimate_vram(model, lc.Inference(context_tokens=length + 1)).total_bytes > gpu.available_bytes


# -- the command line ----------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_vllm_prints_its_start_up_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """`estimate MODEL --engine vllm --gpu H100` prints what vLLM would report."""
    code, out, _ = run(capsys, "estimate", MODEL, "--engine", "vllm", "--gpu", "h100-sxm5-80gb")
    assert code == 0
    assert "Model loading took 14.98" in out
    assert "Available KV cache memory:" in out
    assert "GPU KV cache size:" in out
    assert "Maximum concurrency for 131,072 tokens per request:" in out


def test_cli_vllm_refusal_exits_one(capsys: pytest.CaptureFixture[str]) -> None:
    """When vLLM would refuse to start, the suggestion is printed and the exit status is 1."""
    code, out, _ = run(capsys, "estimate", MODEL, "--engine", "vllm", "--gpu", GPU)
    assert code == 1
    assert "estimated maximum model length" in out


def test_cli_all_engines_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--engine all --json: every engine's breakdown, side by side."""
    code, out, _ = run(
        capsys,
        "estimate",
        MODEL,
        "--engine",
        "all",
        "--gpu",
        GPU,
        "--context",
        "4096",
        "--max-model-len",
        "8192",
        "--json",
    )
    data = json.loads(out)
    assert list(data["engines"]) == list(lc.ENGINES)
    assert data["engines"]["vllm"]["log"][1].startswith("Available KV cache memory")
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--engine", "vllm"], "needs --gpu"),
        (["--max-model-len", "4096", "--gpu", GPU], "apply to --engine"),
        (["--engine", "vllm", "--gpu", GPU, "--mem-fraction-static", "0.8"], "SGLang options"),
        (["--engine", "sglang", "--gpu", GPU, "--max-num-seqs", "8"], "vLLM options"),
        (["--engine", "vllm", "--gpu", GPU, "--kv-precision", "fp8"], "--kv-cache-dtype"),
        (["--engine", "vllm", "--gpu", GPU, "--quant", "Q4_K_M"], "apply to --engine llama.cpp"),
    ],
)
def test_cli_engine_option_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    """Options that would be ignored or cannot be answered are refused with exit status 2."""
    code, _, err = run(capsys, "estimate", MODEL, *argv)
    assert code == 2
    assert message in err
