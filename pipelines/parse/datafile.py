"""Reading the parse stage's editable data files: a bad value is an error naming the file, line and key."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipelines.errors import DataFileError


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataFileError(f"{path}: {exc}", "fix the file (or restore it from the repository)") from exc


def _where(path: Path, key: str) -> str:
    """``file:line: key`` for a top-level key of a TOML file (the line where ``key =`` stands)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return f"{path}: {key}"
    m = re.search(rf"^\s*{re.escape(key)}\s*=", text, re.M)
    return f"{path}:{text.count(chr(10), 0, m.start()) + 1}: {key}" if m else f"{path}: {key}"


def string_lists(raw: dict[str, Any], path: Path, names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each of ``names`` as a tuple of strings (a key left out is empty); another key, or a value that
    is not a list of strings, is a ``DataFileError``."""
    names = tuple(names)
    for key, value in raw.items():
        if key not in names:
            raise DataFileError(f"{_where(path, key)}: unknown key (known: {', '.join(names)})")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DataFileError(f"{_where(path, key)}: must be a list of strings, got {value!r}"[:300])
    return {name: tuple(raw.get(name, ())) for name in names}
