"""Helpers shared by the per-format parsers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pipelines.parse.boilerplate import Boilerplate, load_boilerplate
from pipelines.parse.text import clean_line, normalise_text, paragraphs

_URL = re.compile(r"https?://[^\s)）>\"'<]+", re.I)


def site_of(url: str | None) -> str | None:
    """Host without www./m./wap. prefixes: 'https://m.yybnet.net/x' → 'yybnet.net'."""
    if not url:
        return None
    try:
        host = (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return None
    for prefix in ("www.", "m.", "wap.", "3g."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
    return host or None


def find_url(text: str) -> str | None:
    m = _URL.search(text)
    return m.group(0).rstrip(".,;，。") if m else None


def finish_body(lines: list[str], bp: Boilerplate | None = None, normalised: bool = False) -> tuple[str, list[str]]:
    """Cut trailing boilerplate, split a glued byline off the last paragraph; return (body, byline)."""
    bp = bp or load_boilerplate()
    if not normalised:  # normalise once per document, not per line
        lines = normalise_text("\n".join(lines)).split("\n")
    story, _ = bp.cut(lines)
    story = bp.drop(story)
    # last non-empty line may carry a glued byline (□...记者张烁) or be a byline by itself
    byline: list[str] = []
    for i in range(len(story) - 1, -1, -1):
        line = clean_line(story[i])
        if not line:
            continue
        head, tail = bp.split_glued_byline(line)
        if tail is not None:
            byline = bp.reporters(tail)
            story[i] = head
        elif len(line) <= 30 and bp.reporter_re.fullmatch(line.strip("()（）[]【】 ")):
            byline = bp.reporters(line)
            story[i] = ""
        break
    return paragraphs("\n".join(story)), byline
