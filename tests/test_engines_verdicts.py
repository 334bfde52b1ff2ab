"""The llama.cpp / Ollama verdicts of ``llmcatalog estimate --engine llama.cpp|ollama``: unified memory,
exit status, whose "most layers", and what "fits" means for each engine (a user trial's findings)."""

from __future__ import annotations

import json

import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main
from llmcatalog.engines import llamacpp, ollama

MIB, GIB = 2**20, 2**30


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(["estimate", *args])
    return rc, capsys.readouterr().out


def test_gemma3_sliding_layers_sized_by_the_window_as_ollama_logs_them() -> None:
    """gemma3:12b Q4_K_M at num_ctx 2048, one slot: Ollama v0.6.5/0.6.6 logged memory.required.kv=608.0 MiB
    (ollama/ollama#10341, a user's 'offload to cuda' line on an RTX 3060). Ollama's GraphSize (fs/ggml/ggml.go,
    since commit f66216e, v0.6.3) sizes every 6th layer for the context and the others for
    num_parallel * sliding_window + batch cells. Gemma 3 12B's config (google/gemma-3-12b-it config.json):
    48 layers, 8 KV heads of 256, sliding_window 1024. Sizing every layer for 2048 cells gives 768 MiB."""
    m = lc.get_model("gemma-3-12b-it")
    arch = m.architecture
    assert (arch.n_layers, arch.n_kv_heads, arch.head_dim, arch.sliding_window) == (48, 8, 256, 1024)
    e = ollama.estimate(m, quant="Q4_K_M", num_ctx=2048)
    per_cell = (256 + 256) * 8 * 2  # K and V, f16
    assert e.kv_bytes == (8 * 2048 + 40 * (1024 + 512)) * per_cell
    assert ollama.human_bytes(e.kv_bytes) == "608.0 MiB"
    # the log's memory.required.full (10.3 GiB) also holds the vision encoder, which the estimate leaves out
    assert any("vision encoder" in n and "not counted" in n for n in e.notes)


def test_gemma3_27b_on_a_4090_has_no_contradiction(capsys: pytest.CaptureFixture[str]) -> None:
    """At Ollama's default context on a 24 GB card (32768), Ollama's plan and llama.cpp's buffers agree: every
    layer on the GPU (the old reproduction sized the sliding layers for the full context and planned 36/63)."""
    e = lc.estimate_ollama("gemma-3-27b-it", gpu="RTX 4090")
    assert e.num_ctx == 32768
    assert e.fully_offloaded
    assert e.llamacpp.max_gpu_layers == e.layers_model
    rc, out = _run(capsys, "gemma-3-27b-it", "--engine", "ollama", "--gpu", "RTX 4090")
    assert rc == 0
    assert "fits (every layer on the GPU)" in out
    assert "partial offload" not in out


def test_most_layers_says_whose_and_why_ollama_differs(capsys: pytest.CaptureFixture[str]) -> None:
    """When Ollama's planner places fewer layers than llama.cpp's buffers would hold, the output says which
    figure is whose and why (Ollama plans with its own estimate); the discrete GPU's host share is stated."""
    e = lc.estimate_ollama("Llama-2-70b", gpu="RTX 3060 12GB")
    most = e.llamacpp.max_gpu_layers
    assert most is not None
    assert most > e.layers_offload
    rc, out = _run(capsys, "Llama-2-70b", "--engine", "ollama", "--gpu", "RTX 3060 12GB")
    assert rc == 0
    assert f"Ollama's planner puts {e.layers_offload} layers on the GPU" in out
    assert f"llama.cpp's buffers: most layers that fit the GPU: {most}/{e.layers_model}" in out
    host = f"{e.llamacpp.cpu_total_bytes / GIB:,.2f} GiB of host RAM"
    assert f"fits with partial offload: {e.layers_offload} of {e.layers_model} layers on the GPU" in out
    assert host in out


def test_unified_memory_holds_gpu_and_host_buffers(capsys: pytest.CaptureFixture[str]) -> None:
    """DeepSeek-R1 under Ollama on a 192 GB M2 Ultra at its default num_ctx (163,840): the host buffers exceed a
    terabyte, which a machine whose CPU and GPU share 192 GiB cannot hold: does NOT fit, exit 1."""
    gpu = lc.get_gpu("M2 Ultra 192GB")
    e = lc.estimate_ollama("deepseek-r1", gpu=gpu)
    lcpp = e.llamacpp
    assert lcpp.unified_memory_bytes == gpu.memory_bytes == 192 * GIB
    assert lcpp.gpu_fits  # the GPU's 144 GiB share alone would hold Ollama's split
    assert lcpp.gpu_total_bytes + lcpp.cpu_total_bytes > gpu.memory_bytes
    assert e.fits is False
    assert lcpp.fits is False
    rc, out = _run(capsys, "deepseek-r1", "--engine", "ollama", "--gpu", "M2 Ultra 192GB")
    assert rc == 1
    assert "-> does NOT fit: host buffers" in out
    assert "exceed the machine's 192 GiB unified memory" in out
    assert "fits with partial offload" not in out


def test_unified_memory_fit_and_discrete_host_not_checked() -> None:
    """A model whose buffers fit the unified memory fits; on a discrete GPU there is no unified check."""
    mac = llamacpp.estimate(lc.get_model("Llama-2-70b"), gpu=lc.get_gpu("M2 Ultra 192GB"))
    assert mac.unified_fits is True
    assert mac.fits is True
    card = llamacpp.estimate(lc.get_model("Llama-2-70b"), gpu=lc.get_gpu("RTX 3060 12GB"), n_gpu_layers=10)
    assert card.unified_memory_bytes is None
    assert card.unified_fits is None
    assert card.fits is True
    assert card.cpu_total_bytes > 12 * GIB


def test_ollama_exit_status_follows_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    """deepseek-r1 at num_ctx 8192 on the M2 Ultra prints "does NOT fit": exit 1, and the JSON says fits false
    with the verdict, as the llama.cpp JSON does."""
    args = ("deepseek-r1", "--engine", "ollama", "--gpu", "M2 Ultra 192GB", "--context", "8192")
    assert lc.estimate_ollama("deepseek-r1", gpu="M2 Ultra 192GB", num_ctx=8192).llamacpp.fits is False
    rc, out = _run(capsys, *args)
    assert rc == 1
    assert "-> does NOT fit" in out
    rc, out = _run(capsys, *args, "--format", "json")
    data = json.loads(out)
    assert rc == 1
    assert data["fits"] is False
    assert data["verdict"].startswith("does NOT fit")
    rc, out = _run(capsys, "Llama-2-7b", "--engine", "ollama", "--gpu", "RTX 3060 12GB", "--format", "json")
    data = json.loads(out)
    assert rc == 0
    assert data["fits"] is True
    assert data["verdict"] == "fits (every layer on the GPU)"


def test_llamacpp_verdict_names_the_ngl_that_fits(capsys: pytest.CaptureFixture[str]) -> None:
    """llama.cpp's default -ngl puts every layer on the GPU: when that does not fit, the verdict says so and
    names the largest -ngl that does (and that -ngl does fit, one more does not); a partial -ngl that fits
    says what the host needs."""
    m = lc.get_model("Llama-2-70b")
    gpu = lc.get_gpu("RTX 3060 12GB")
    est = llamacpp.estimate(m, gpu=gpu)
    k = est.max_gpu_layers
    assert est.fits is False
    assert k is not None
    assert 0 < k < est.n_layers + 1
    assert llamacpp.estimate(m, gpu=gpu, n_gpu_layers=k).fits
    assert not llamacpp.estimate(m, gpu=gpu, n_gpu_layers=k + 1).fits
    rc, out = _run(capsys, "Llama-2-70b", "--engine", "llama.cpp", "--gpu", "RTX 3060 12GB")
    assert rc == 1
    assert f"does NOT fit with every layer on the GPU; -ngl {k} ({k} of {est.n_layers + 1} layers) fits" in out
    part = llamacpp.estimate(m, gpu=gpu, n_gpu_layers=20)
    rc, out = _run(capsys, "Llama-2-70b", "--engine", "llama.cpp", "--gpu", "RTX 3060 12GB", "--n-gpu-layers", "20")
    assert rc == 0
    assert f"fits with -ngl 20 (20 of {est.n_layers + 1} layers on the GPU" in out
    assert f"which needs {part.cpu_total_bytes / GIB:,.2f} GiB of host RAM" in out


def test_dispatch_names_the_unified_memory() -> None:
    """The engine comparison's Ollama and llama.cpp rows do not fit on unified memory that cannot hold the
    buffers, and say why."""
    w = lc.Inference(precision="int4", context_tokens=8192)
    gpu = lc.get_gpu("M2 Ultra 192GB")
    for engine in ("ollama", "llama.cpp"):
        b = lc.engine_estimate(lc.get_model("deepseek-r1"), gpu, engine, w)
        assert b.fits is False
        assert b.error is not None
        assert "unified memory" in b.error
