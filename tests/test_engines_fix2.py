"""A second user trial of ``llmcatalog estimate --engine llama.cpp|ollama|all``: the comparison gives the
same verdict as the single engine, Ollama's default context follows its own thresholds, options the GGUF
engines do not read are refused or named, and notes and verdicts say only what holds."""

from __future__ import annotations

import json

import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main

GIB = 2**30


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(["estimate", *args])
    return rc, capsys.readouterr().out


def test_all_gives_the_ollama_verdict_of_engine_ollama(capsys: pytest.CaptureFixture[str]) -> None:
    """llama-3.1-70b at 2048 tokens on a 24 GB card: `--engine ollama` says Ollama runs it with a partial
    offload (exit 0); `--engine all` must not call the same plan "fits NO" nor say no engine serves it."""
    args = ("llama-3.1-70b", "--gpu", "RTX 4090", "--context", "2048")
    rc_one, one = _run(capsys, *args, "--engine", "ollama")
    assert rc_one == 0
    assert "fits with partial offload" in one
    rc_all, table = _run(capsys, *args, "--engine", "all")
    assert rc_all == 0
    assert "no engine serves" not in table
    assert "serves it:" in table
    assert "ollama" in table.split("serves it:")[1]
    assert "fits with partial offload" in table
    rc_json, out = _run(capsys, *args, "--engine", "all", "--format", "json")
    assert rc_json == 0
    engines = json.loads(out)["engines"]
    assert engines["ollama"]["fits"] is True
    assert engines["ollama"]["verdict"].startswith("fits with partial offload")
    for name, row in engines.items():  # every engine's row says its verdict in words
        assert isinstance(row["verdict"], str), name
        assert row["verdict"], name
        assert row["verdict"].startswith("fits") == row["fits"], name


def test_dispatch_ollama_fits_is_the_estimate_verdict() -> None:
    """engine_estimate(..., 'ollama').fits is OllamaEstimate.fits (partial offload included), for a
    workload that fits wholly, one that fits in part and one that does not fit."""
    model = lc.get_model("llama-3.1-70b")
    for gpu_name in ("H200", "RTX 4090"):
        gpu = lc.get_gpu(gpu_name)
        b = lc.engine_estimate(model, gpu, "ollama", lc.Inference(context_tokens=2048))
        assert b.fits is bool(b.detail.fits)
        assert b.verdict == b.detail.verdict
    b = lc.engine_estimate(model, lc.get_gpu("RTX 4090"), "ollama", lc.Inference(context_tokens=2048))
    assert b.fits
    assert not b.detail.fully_offloaded
    assert b.error is None


def test_default_num_ctx_uses_ollamas_thresholds_on_reported_memory() -> None:
    """ollama/ollama commit 0334ffa (v0.15.5), server/routes.go Serve: totalVRAM (each device's reported
    total less OLLAMA_GPU_OVERHEAD) >= 47 GiB -> 262144, >= 23 GiB -> 32768, else 4096."""
    from llmcatalog.engines import ollama

    assert ollama.default_num_ctx(23 * GIB) == 32768
    assert ollama.default_num_ctx(23 * GIB - 1) == 4096
    assert ollama.default_num_ctx(47 * GIB) == 262144
    assert ollama.default_num_ctx(47 * GIB - 1) == 32768


@pytest.mark.parametrize(
    ("gpu", "num_ctx"),
    [
        # Metal reports its recommended working set: 3/4 of 48 GB (36 GiB) and 2/3 of 32 GB (21.3 GiB)
        ("M3 Max 48GB", 32768),
        ("M1 Max 32GB", 4096),
        # an L4 reports about 22 GiB, below Ollama's 23 GiB tier: nvidia-smi total 23,034 MiB
        # (modal-labs/modal-client PR #2797), CUDA total 22.05 GiB (vllm-project/vllm issue #20214)
        ("L4", 4096),
        ("RTX 4090", 32768),
    ],
)
def test_ollama_default_context_by_reported_memory(gpu: str, num_ctx: int) -> None:
    g = lc.get_gpu(gpu)
    assert (g.available_bytes >= 23 * GIB) is (num_ctx > 4096)  # the catalog's reported figure decides
    e = lc.estimate_ollama("qwen2.5-7b", gpu=gpu)
    assert e.num_ctx == num_ctx
    assert any(f"{g.available_bytes / GIB:.2f} GiB the GPU reports" in n for n in e.notes)


@pytest.mark.parametrize("engine", ["llama.cpp", "ollama"])
def test_gguf_engines_refuse_finetune(engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    """vLLM refuses --finetune (exit 2); llama.cpp and Ollama used to ignore it and print an inference estimate."""
    rc = main(["estimate", "qwen2.5-7b", "--engine", engine, "--gpu", "RTX 4090", "--finetune", "lora"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "drop --finetune" in err


@pytest.mark.parametrize("engine", ["llama.cpp", "ollama"])
def test_gguf_engines_read_batch_as_parallel(engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/cli.md: an engine's exit status says whether it serves --batch requests; llama.cpp/Ollama hold
    concurrent requests as parallel sequences, so --batch 4 must give the same answer as --parallel 4."""
    base = ("estimate", "qwen2.5-7b", "--engine", engine, "--gpu", "RTX 4090", "--context", "8192", "--format", "json")
    assert main([*base, "--batch", "4"]) == main([*base, "--parallel", "4"])
    captured = capsys.readouterr()
    first, second = (json.loads(part) for part in _json_documents(captured.out))
    assert first == second
    assert first != json.loads(_json_documents(_out(capsys, *base))[0])  # one request differs
    assert main([*base, "--batch", "4", "--parallel", "2"]) == 2
    assert "disagree" in capsys.readouterr().err


def _out(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(list(args))
    return capsys.readouterr().out


def _json_documents(text: str) -> list[str]:
    decoder = json.JSONDecoder()
    out, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        _, end = decoder.raw_decode(text, i)
        out.append(text[i:end])
        i = end
    return out


@pytest.mark.parametrize("engine", ["llama.cpp", "ollama"])
def test_gguf_engines_say_tp_is_not_modelled(engine: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["estimate", "qwen2.5-7b", "--engine", engine, "--gpu", "RTX 4090", "--tp", "2"])
    err = capsys.readouterr().err
    assert rc in (0, 1)
    assert "--tp 2 not used" in err
    assert "one GPU" in err
    assert "--parallel" in err


def test_gpu_memory_is_refused_with_an_engine(capsys: pytest.CaptureFixture[str]) -> None:
    for engine in ("vllm", "llama.cpp", "ollama", "all"):
        assert main(["estimate", "qwen2.5-7b", "--engine", engine, "--gpu-memory", "24GiB"]) == 2
        assert "--gpu-memory" in capsys.readouterr().err


def test_first_vs_last_blocks_note_only_when_material(capsys: pytest.CaptureFixture[str]) -> None:
    """Ollama sizes blk.0..k-1 while llama.cpp offloads the last k blocks. Qwen2.5-7B is dense (every block
    the same shape; the Q4_K_M mix moves a few MiB): no note. DeepSeek-V2-Lite's config has
    first_k_dense_replace=1 (layer 0 dense, a far smaller block than its MoE layers): the note, with a figure."""
    rc, out = _run(capsys, "qwen2.5-7b", "--engine", "ollama", "--n-gpu-layers", "5", "--gpu", "RTX 4090")
    assert rc in (0, 1)
    assert "offloads the last" not in out
    from llmcatalog.engines import ollama

    m = lc.get_model("deepseek-v2-lite")
    e = ollama.estimate(m, gpu=lc.get_gpu("RTX 4090"), num_gpu=5, num_ctx=4096)
    [note] = [n for n in e.notes if "offloads the last" in n]
    assert "smaller leading dense layers" in note
    assert "0.0 GiB" not in note
    assert "0.00 GiB" not in note


def test_verdict_cites_every_failed_limit(capsys: pytest.CaptureFixture[str]) -> None:
    """DeepSeek-R1 at 8192 tokens on an M2 Ultra 192GB: the GPU buffers exceed Metal's working-set limit
    (3/4 of 192 GiB = 144 GiB, the catalog's gpu_memory_fraction) *and* the buffers exceed the unified
    memory: the verdict names both (it named only the unified memory)."""
    g = lc.get_gpu("M2 Ultra 192GB")
    for engine in ("ollama", "llama.cpp"):
        rc, out = _run(capsys, "deepseek-r1", "--engine", engine, "--gpu", "M2 Ultra 192GB", "--context", "8192")
        assert rc == 1
        [line] = [x for x in out.splitlines() if "does NOT fit" in x]
        verdict = line.split("does NOT fit", 1)[1]
        assert f"{g.available_bytes / GIB:,.2f} GiB limit" in verdict, engine
        assert "unified memory" in verdict, engine


def test_all_says_the_gguf_rows_ignore_tp(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["estimate", "qwen2.5-7b", "--engine", "all", "--gpu", "H100", "--tp", "2"])
    err = capsys.readouterr().err
    assert rc in (0, 1)
    assert "llama.cpp and ollama rows are for one GPU" in err
