"""A user trial of the serving-engine and speed answers: ``--engine all``'s exit status, ``--context`` as
the engines' request length, speed caveats (host bound, MoE under transformers, does not fit), and the
training dtype of dequantized checkpoints."""

from __future__ import annotations

import csv
import json
import re
import warnings
from pathlib import Path

import attrs
import pytest

import llmcatalog as lc
from llmcatalog.cli.main import main
from llmcatalog.performance.engines import ENGINE_PROFILES, TRANSFORMERS_FAST_LAYER_OVERHEAD_S
from llmcatalog.performance.inference import decode_speed, generation_time


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_engine_all_exits_zero_when_some_engine_serves(capsys: pytest.CaptureFixture[str]) -> None:
    """Qwen3-8B at 8,192 tokens on a 24 GiB card: bf16 weights (15.3 GiB) leave room for the cache, so
    at least one engine serves it; `--engine all` answers "which engine", so the exit status is 0."""
    code, out, _ = _cli(capsys, "estimate", "qwen3-8b", "--engine", "all", "--gpu", "RTX 4090", "--context", "8192")
    assert code == 0
    assert "serves it:" in out


def test_engine_all_exits_one_when_none_serves(capsys: pytest.CaptureFixture[str]) -> None:
    """DeepSeek-V3 (671B parameters, >600 GiB as stored) fits no engine on one 24 GiB card: exit 1."""
    code, out, _ = _cli(capsys, "estimate", "deepseek-v3", "--engine", "all", "--gpu", "RTX 4090")
    assert code == 1
    assert "no engine serves" in out


def test_context_is_vllm_max_model_len(capsys: pytest.CaptureFixture[str]) -> None:
    """--context 8192 starts vLLM with max_model_len 8192 (qwen3-8b's config says 40,960, whose one
    request needs more KV cache than a 4090 leaves): its row holds requests of 8,192 tokens."""
    code, out, _ = _cli(
        capsys, "estimate", "qwen3-8b", "--engine", "vllm", "--gpu", "RTX 4090", "--context", "8192", "--json"
    )
    data = json.loads(out)["engines"]["vllm"]
    assert code == 0
    assert data["fits"] is True
    assert data["kv_tokens"] > 8192
    assert data["max_concurrency"] >= 1
    assert any("max_model_len 8,192" in n for n in data["notes"])


def test_given_max_model_len_wins_over_context(capsys: pytest.CaptureFixture[str]) -> None:
    """--max-model-len is vLLM's own option: it wins over --context."""
    _, out, _ = _cli(
        capsys,
        "estimate",
        "qwen3-8b",
        "--engine",
        "vllm",
        "--gpu",
        "RTX 4090",
        "--context",
        "8192",
        "--max-model-len",
        "16384",
        "--json",
    )
    notes = json.loads(out)["engines"]["vllm"]["notes"]
    assert any("max_model_len 16,384" in n for n in notes)


def test_context_is_sglang_context_length(capsys: pytest.CaptureFixture[str]) -> None:
    """SGLang's context_len follows --context (not the config's 40,960)."""
    _, out, _ = _cli(capsys, "estimate", "qwen3-8b", "--engine", "sglang", "--gpu", "RTX 4090", "--context", "8192")
    assert "context_len=8192" in out
    assert "context_len=40960" not in out


def test_vllm_refusal_printed_once(capsys: pytest.CaptureFixture[str]) -> None:
    """vLLM's refusal is in its own log; the section does not repeat it."""
    code, out, _ = _cli(capsys, "estimate", "qwen3-8b", "--engine", "vllm", "--gpu", "RTX 4090")
    assert code == 1
    assert out.count("estimated maximum model length") == 1


# ---- item 2: transformers speed: host bound, MoE expert loop, jobs that do not fit --------------------------

_SPEED = Path(__file__).parent / "data" / "speed" / "qwen3_h20.csv"


def _qwen3_rows(model: str, quantization: str = "BF16") -> list[dict[str, str]]:
    """Rows of the Qwen3 speed page (provenance: tests/data/speed/README.md)."""
    with _SPEED.open() as f:
        return [
            r
            for r in csv.DictReader(f)
            if r["model"] == model and r["engine"] == "transformers" and r["quantization"] == quantization
        ]


def test_transformers_moe_expert_loop_matches_published_qwen3_30b_a3b() -> None:
    """transformers 4.51 on an H20 (the Qwen3 page): Qwen3-30B-A3B at 1.9-27 tokens/s (the page counts the
    prompt too). The expert loop's host cost reproduces every BF16 row within 15%; without it (the dense
    per-layer cost only) the prediction is over 10x too fast."""
    m, gpu = lc.get_model("qwen3-30b-a3b"), lc.get_gpu("H20")
    rows = _qwen3_rows("Qwen3-30B-A3B")
    assert len(rows) == 4
    no_loop = attrs.evolve(ENGINE_PROFILES["transformers"], expert_overhead_s=0.0)
    for r in rows:
        s = int(r["input_tokens"])
        w = lc.Inference(precision="bf16", prompt_tokens=s, context_tokens=s + 2048)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = (s + 2048) / generation_time(m, gpu, w).seconds
            plain = (s + 2048) / generation_time(m, gpu, w, engine=no_loop).seconds
        assert ours == pytest.approx(float(r["tokens_per_s"]), rel=0.15), r
        if s == 1:
            assert plain > 10 * float(r["tokens_per_s"])


def test_fast_host_figure_matches_published_dense_qwen3_rows() -> None:
    """TRANSFORMERS_FAST_LAYER_OVERHEAD_S: the dense Qwen3 BF16 rows at a 1-token prompt (host bound)
    give 1 / (tokens/s x layers) within 10% of it."""
    for name, n_layers in (("Qwen3-0.6B", 28), ("Qwen3-8B", 36), ("Qwen3-32B", 64)):
        (row,) = [r for r in _qwen3_rows(name) if r["input_tokens"] == "1"]
        per_layer = 1 / (float(row["tokens_per_s"]) * n_layers)
        assert per_layer == pytest.approx(TRANSFORMERS_FAST_LAYER_OVERHEAD_S, rel=0.1), name
        assert lc.get_model(name.lower()).architecture.n_layers == n_layers


def test_routed_loop_is_faster_than_all_experts() -> None:
    """expert_loop="routed" visits only the experts a batch-1 step routes to (8 of 128 for Qwen3-30B-A3B)."""
    m, gpu, w = lc.get_model("qwen3-30b-a3b"), lc.get_gpu("H100"), lc.Inference(precision="bf16")
    base = ENGINE_PROFILES["transformers"]
    every = decode_speed(m, gpu, w, engine=base)
    routed = decode_speed(m, gpu, w, engine=attrs.evolve(base, expert_loop="routed"))
    assert every.host_s - routed.host_s == pytest.approx(base.expert_overhead_s * 48 * (128 - 8), rel=1e-6)
    with pytest.raises(ValueError, match="expert_loop"):
        attrs.evolve(base, expert_loop="some")


def _speed_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    _, out, _ = _cli(capsys, "estimate", *argv)  # a speed line is printed whatever the exit status
    return next(x for x in out.splitlines() if "speed" in x)


def test_host_bound_line_says_gpu_independent_with_a_span(capsys: pytest.CaptureFixture[str]) -> None:
    """Llama-3.1-8B on an H100 with transformers is host bound: the line says so, names the cause, and
    gives the span between the two published per-layer host costs."""
    line = _speed_line(capsys, "llama-3.1-8b", "--gpu", "H100")
    assert "host bound: Python/kernel-launch overhead, GPU-independent" in line
    assert "across transformers versions" in line
    lo, hi = (float(x) for x in re.search(r"([\d.]+)-([\d.]+) tokens/s across", line).groups())  # type: ignore[union-attr]
    assert hi > 1.3 * lo


def test_moe_line_names_the_expert_loop(capsys: pytest.CaptureFixture[str]) -> None:
    """Qwen3-30B-A3B under transformers: the line names the Python expert loop and its span."""
    line = _speed_line(capsys, "qwen3-30b-a3b", "--gpu", "H100")
    assert "MoE: transformers 4.x runs all 128 experts" in line
    speed = float(re.search(r"([\d.]+) tokens/s decode", line).group(1))  # type: ignore[union-attr]
    assert speed < 5  # the published 1.9 tokens/s at transformers 4.51, not 20


def test_no_speed_when_the_job_does_not_fit(capsys: pytest.CaptureFixture[str]) -> None:
    """DeepSeek-V3 on one RTX 4090: no tokens/s or time to first token for a job that cannot start."""
    line = _speed_line(capsys, "deepseek-v3", "--gpu", "RTX 4090")
    assert "tokens/s" not in line
    assert "time to first token" not in line
    assert "does not fit" in line
    _, out, _ = _cli(capsys, "estimate", "deepseek-v3", "--gpu", "RTX 4090", "--json")
    data = json.loads(out)
    assert data["decode_tokens_per_s"] is None
    assert data["time_to_first_token_s"] is None


# ---- item 4: a fine-tune of a quantized checkpoint says the base weights are counted dequantized --------------


def test_mxfp4_finetune_says_the_experts_are_dequantized() -> None:
    """gpt-oss stores its experts in MXFP4, which transformers cannot train as stored (its own quantizer
    says is_trainable False and asks for Mxfp4Config(dequantize=True), bf16): the LoRA estimate counts
    2 bytes per frozen parameter and has an assumption line saying so."""
    from transformers import Mxfp4Config
    from transformers.quantizers.quantizer_mxfp4 import Mxfp4HfQuantizer

    assert Mxfp4HfQuantizer(Mxfp4Config()).is_trainable is False
    model = lc.get_model("gpt-oss-20b")
    est = lc.estimate_vram(model, lc.FineTune(method="lora"))
    line = next(a for a in est.assumptions if a.startswith("base weights"))
    assert "MXFP4" in line
    assert "dequantized" in line
    assert "Mxfp4Config(dequantize=True)" in line
    frozen = est.n_params - est.trainable_params  # parameter counts are checked against transformers (test_hfconfig)
    assert est.components["weights.frozen"] == pytest.approx(2 * frozen, rel=0.01)


def test_no_dequantized_line_without_a_stored_format_or_for_inference() -> None:
    """The line is about training a quantized checkpoint: not for a bf16 checkpoint, not for inference,
    not when the user gives the frozen base's format."""
    assert not any(
        a.startswith("base weights")
        for a in lc.estimate_vram(lc.get_model("llama-3.1-8b"), lc.FineTune(method="lora")).assumptions
    )
    assert not any(
        a.startswith("base weights") for a in lc.estimate_vram(lc.get_model("gpt-oss-20b"), lc.Inference()).assumptions
    )
    qlora = lc.estimate_vram(lc.get_model("gpt-oss-20b"), lc.FineTune(method="qlora"))
    assert not any(a.startswith("base weights") for a in qlora.assumptions)
