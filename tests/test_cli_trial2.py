"""Second user trial of the command line and the speed APIs (stream clis)."""

from __future__ import annotations

import pytest

from llmcatalog.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_tight_estimate_gives_a_speed_and_exits_like_plan(capsys) -> None:
    """A tight job can run: its speed is given and estimate exits 0, as plan does; exit 1 is for "does not fit"."""
    argv = ("gpt-oss-20b", "--gpu", "RTX 4090", "--context", "95300")
    code, out, _ = run(capsys, "estimate", *argv)
    assert "-> tight" in out
    assert "not estimated" not in out
    assert "tokens/s decode" in out
    plan_code, plan_out, _ = run(capsys, "plan", *argv)
    assert ": tight," in plan_out
    assert code == plan_code == 0
    json_code, _, _ = run(capsys, "estimate", *argv, "--format", "json")
    assert json_code == 0


@pytest.mark.parametrize("engine", ["llama.cpp", "ollama"])
def test_generic_speed_refuses_llamacpp_by_name(engine: str) -> None:
    """decode_speed/prefill_speed read bf16 weights; llama.cpp runs Q4_K_M: refused, naming llamacpp_decode_speed."""
    import llmcatalog as lc

    m, gpu, w = lc.get_model("qwen3-8b"), lc.get_gpu("H100"), lc.Inference(context_tokens=2048)
    for func in (lc.decode_speed, lc.prefill_speed, lc.generation_time):
        with pytest.raises(lc.WorkloadError, match="llamacpp_decode_speed"):
            func(m, gpu, w, engine=engine)
    assert lc.llamacpp_decode_speed(m, gpu, w).tokens_per_s > 0  # the way it names works
