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
