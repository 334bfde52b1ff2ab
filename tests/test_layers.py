"""The package's wings and the rules between them, checked on the source (every import statement)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "llmcatalog"

#: Wings from the bottom up: a module may import its own wing and the wings below it.
ORDER = (
    "errors",
    "values",
    "memory",
    "performance",
    "importers",
    "engines",
    "registry",
    "planning",
    "accuracy",
    "faces",
)
FACES = {"cli", "trace", "__main__", "__init__"}

#: Upward imports inside a function body that are deliberate: none. (``Model.from_hf_config`` lives
#: on the value but delegates to a reader that the package's ``__init__`` installs.)
ALLOWED_LAZY: set[tuple[str, str]] = set()


def _wing(parts: tuple[str, ...]) -> str:
    head = parts[0].removesuffix(".py")
    if head in FACES:
        return "faces"
    if head not in ORDER:
        raise AssertionError(f"{'/'.join(parts)} belongs to no wing; add it to tests/test_layers.py ORDER")
    return head


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported llmcatalog module as a relative path, module-level?) for every import in ``path``."""
    rel = path.relative_to(SRC)
    package = list(rel.parts[:-1])
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(n) for n in tree.body}
    # Imports under `if TYPE_CHECKING:` at module level count as module-level.
    for node in tree.body:
        if isinstance(node, ast.If):
            top_level.update(id(n) for n in ast.walk(node))
    out = []
    for node in ast.walk(tree):
        targets: list[list[str]] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = [*base, *(node.module.split(".") if node.module else [])]
                targets = [[*mod, a.name] for a in node.names] if node.module is None else [mod]
            elif node.module and node.module.split(".")[0] == "llmcatalog":
                targets = [node.module.split(".")[1:]]
        elif isinstance(node, ast.Import):
            targets = [a.name.split(".")[1:] for a in node.names if a.name.split(".")[0] == "llmcatalog"]
        for t in targets:
            if t:
                out.append(("/".join(t), id(node) in top_level))
    return out


def _rank(wing: str) -> int:
    return ORDER.index(wing)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_wings(path: Path) -> None:
    """Each module imports only its own wing and those below (upward lazy imports only where allowed);
    the calculus never imports the catalog or a face; values import only values; nothing imports the CLI."""
    rel = path.relative_to(SRC)
    wing = _wing(rel.parts)
    problems = []
    for target, module_level in _imports(path):
        parts = tuple(target.split("/"))
        if parts[0] in ("cli",) and rel.parts[0] not in ("cli", "__main__.py"):
            problems.append(f"imports the CLI ({target})")
            continue
        other = _wing((parts[0] + ".py",) if len(parts) == 1 else parts)
        if wing == "faces" or _rank(other) <= _rank(wing):
            continue
        if not module_level and (str(rel), other) in ALLOWED_LAZY:
            continue
        problems.append(f"{'module-level' if module_level else 'lazy'} import of {target} ({other} is above {wing})")
    assert not problems, f"{rel}: " + "; ".join(problems)


def test_rules_are_checked_on_real_imports() -> None:
    """The checker sees the imports that exist (so an empty result above means something)."""
    found = dict(_imports(SRC / "memory" / "estimate.py"))
    assert "values/model" in found
    assert "memory/training" in found
    assert found["memory/training"] is True


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
    return "/".join(parts)


def test_no_import_cycles() -> None:
    """No module reaches itself through imports, lazy ones included (the old ``_estimate``/``_training``
    and ``_model``/``_hfconfig`` circles), except the allowed named-constructor edge."""
    graph: dict[str, set[str]] = {}
    for path in _modules():
        rel = str(path.relative_to(SRC))
        edges = set()
        for target, module_level in _imports(path):
            if (
                not module_level
                and (rel, _wing(tuple(target.split("/")) if "/" in target else (target + ".py",))) in ALLOWED_LAZY
            ):
                continue
            edges.add(target)
        graph[_module_name(path)] = edges
    # A package's own __init__ is imported with any of its modules; ignore the top-level package.
    graph.pop("", None)
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, stack: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycle.extend([*stack[stack.index(nxt) :], nxt] if nxt in stack else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*stack, nxt]):
                return True
        state[node] = 2
        return False

    for node in sorted(graph):
        if state.get(node) is None and visit(node, [node]):
            break
    assert not cycle, "import cycle: " + " -> ".join(cycle)
