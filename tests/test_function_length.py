"""No function of the package, the dashboard or app.py is longer than 60 lines unless the comment right
above it names it and says why (issue 15: a newcomer reads each function in one screen)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

MAX_LINES = 60


def _comment_above(lines: list[str], lineno: int) -> str:
    """The block of ``#`` comment lines directly above line ``lineno`` (1-based; decorators skipped)."""
    i = lineno - 2
    while i >= 0 and lines[i].strip().startswith("@"):
        i -= 1
    block = []
    while i >= 0 and lines[i].strip().startswith("#"):
        block.append(lines[i].strip())
        i -= 1
    return " ".join(reversed(block))


def long_functions_without_reason(paths: list[Path], root: Path = ROOT) -> list[str]:
    found = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_LINES and node.name not in _comment_above(lines, node.lineno):
                    found.append(f"{path.relative_to(root).as_posix()}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_long_functions_state_why() -> None:
    paths = [*sorted((ROOT / "pipelines").rglob("*.py")), *sorted((ROOT / "dashboard").rglob("*.py")), ROOT / "app.py"]
    assert long_functions_without_reason(paths) == []


def test_the_check_finds_a_long_function_without_a_reason(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    bare = tmp_path / "bare.py"
    bare.write_text(f"def long_one():\n{body}\n", encoding="utf-8")
    explained = tmp_path / "explained.py"
    explained.write_text(f"# long_one stays whole: one table of steps\ndef long_one():\n{body}\n", encoding="utf-8")
    assert long_functions_without_reason([bare], tmp_path) == [f"bare.py:1 long_one ({MAX_LINES + 1} lines)"]
    assert long_functions_without_reason([explained], tmp_path) == []
