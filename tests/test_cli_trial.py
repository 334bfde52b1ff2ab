"""A fresh user's trial of the CLI and the public API (GPU names, speed notes, doc claims, dir(), fit columns)."""

from __future__ import annotations

import pytest

from llmcatalog.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_geforce_name_is_not_read_as_an_sxm_module(capsys) -> None:
    """`--gpu 'RTX 3060'`: the SXM wording is for data-centre modules; the 3060 Ti is another card."""
    _, out, _ = run(capsys, "estimate", "llama-2-7b", "--gpu", "RTX 3060")
    line = next(x for x in out.splitlines() if "read as" in x)
    assert "SXM" not in line
    assert "rtx-3060-ti" not in line
    assert "RTX 3060 12GB" in line
    _, out, _ = run(capsys, "estimate", "llama-2-7b", "--gpu", "A100")
    assert "a bare name is the SXM module" in out
