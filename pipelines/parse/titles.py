"""Title cleaning rules (``data/titles.toml``): site labels, section tags, serial suffixes, stray brackets."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path

from pipelines.errors import DataFileError

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "titles.toml"


@lru_cache(maxsize=4)
def _rules(path: str) -> tuple[re.Pattern[str], ...]:
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataFileError(f"{path}: {exc}") from exc
    out = []
    for i, rule in enumerate(raw.get("strip", [])):
        try:
            out.append(re.compile(rule["pattern"]))
        except (KeyError, TypeError, re.error) as exc:
            raise DataFileError(f"{path}: [[strip]] rule {i + 1}: pattern: {exc}") from exc
    return tuple(out)


def clean_title(title: str | None, path: Path = DATA_FILE) -> str | None:
    """``title`` without the furniture ``titles.toml`` describes (None stays None; never made empty)."""
    if not title:
        return title
    for rule in _rules(str(path)):
        cut = rule.sub("", title).strip()
        if cut:
            title = cut
    return title
