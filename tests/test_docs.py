"""The documentation: its Python examples run, and the generated pages are current."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]  # docs/engines/ too
BLOCKS = [(p, i, code) for p in PAGES for i, code in enumerate(re.findall(r"```python\n(.*?)```", p.read_text(), re.S))]


@pytest.mark.parametrize(("page", "index", "code"), BLOCKS, ids=[f"{p.name}#{i}" for p, i, _ in BLOCKS])
def test_python_examples_run(page: Path, index: int, code: str) -> None:
    """Every ```python block of the README and docs runs as written (plugin snippets excepted)."""
    if "__package__" in code:  # the plugin module template only runs inside a package
        compile(code, f"{page.name}#{index}", "exec")
        return
    exec(compile(code, f"{page.name}#{index}", "exec"), {"__name__": "__docs__"})


def test_generated_pages_are_current() -> None:
    """docs/catalog.md and docs/published-figures.md match the catalog (python docs/generate.py)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("finetune_plan.py", ["chatglm3-6b", "RTX 3090"], "LoRA r=8 q/v"),
        ("domain_overview.py", ["legal"], "open-weight legal models"),
    ],
)
def test_example_scripts_run(script: str, args: list[str], expect: str) -> None:
    """The scripts in examples/ run and print their table."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert expect in result.stdout
