"""Run the ``llmcatalog`` command in-process for a test: (exit status, stdout, stderr)."""

from __future__ import annotations

import pytest

from llmcatalog.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refuses bad input with exit status 2
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
