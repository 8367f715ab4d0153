"""Page-text dumps of news portals (yybnet.net 地方网 and the like).

Shape: a sub-channel nav line; a breadcrumb (地方网 > 甘肃 > 兰州市 > 兰州新闻 > 正文); the title;
``来源:OUTLET YYYY-MM-DD HH:MM  https://site/``; the body, whose last paragraph may carry a glued
``□`` byline; then recommendations and other furniture from 新闻推荐 on.
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.parse.common import find_url, finish_body, site_of
from pipelines.parse.dates import find_date
from pipelines.parse.text import clean_line, clean_lines, normalise_text, normalise_title

_CRUMB_SEP = re.compile(r"\s*[>›»]\s*")
BREADCRUMB_LINE = re.compile(r"^[^\s>]{1,20}(?:\s*[>›»]\s*[^\s>]{1,20}){2,}$")
SOURCE_LINE = re.compile(r"^(?:来源|来自|稿源|文章来源)\s*[:：]\s*(?P<rest>.*)$")
_CRUMB_TAIL = {"正文", "内容", "详情", "正文内容"}


def parse_breadcrumb(line: str) -> list[str]:
    parts = [p.strip() for p in _CRUMB_SEP.split(clean_line(line)) if p.strip()]
    if parts and parts[-1] in _CRUMB_TAIL:
        parts = parts[:-1]
    return parts[1:] if len(parts) > 1 else parts  # drop the site root (地方网, 首页)


def parse_source_line(rest: str) -> tuple[str | None, Any, str | None]:
    """'兰州日报 2018-08-09 03:27  https://www.yybnet.net/' → (outlet, datetime, url)."""
    rest = clean_line(rest)
    url = find_url(rest)
    if url:
        rest = rest.replace(url, " ")
    dt, matched = find_date(rest)
    outlet_text = rest.split(matched, 1)[0] if matched else rest
    outlet = clean_line(outlet_text) or None
    return outlet, dt, url


def looks_like_page_text(lines: list[str]) -> bool:
    if not any(">" in ln or "›" in ln or "»" in ln or "来" in ln or "稿" in ln for ln in lines[:12]):
        return False
    head = clean_lines(lines[:12])
    return any(BREADCRUMB_LINE.match(ln) for ln in head) or any(SOURCE_LINE.match(ln) and find_date(ln)[0] for ln in head)


def parse_page_text(text: str) -> dict[str, Any]:
    lines = normalise_text(text).split("\n")
    cleaned = [ln.strip() for ln in lines]
    rec: dict[str, Any] = {}
    start = 0
    for i, ln in enumerate(cleaned[:12]):
        if BREADCRUMB_LINE.match(ln):
            rec["breadcrumb"] = parse_breadcrumb(ln)
            start = i + 1
            break
    title = None
    body_start = start
    for i in range(start, min(len(cleaned), start + 12)):
        ln = cleaned[i]
        if not ln:
            continue
        m = SOURCE_LINE.match(ln)
        if m:
            outlet, dt, url = parse_source_line(m.group("rest"))
            rec["outlet"] = outlet
            if dt is not None:
                rec["published_at"] = dt
                rec["published_at_source"] = "source_line"
            if url:
                rec["site"] = site_of(url)
                # the dump gives the site's home page, not the article's address
                if url.rstrip("/").count("/") > 2:
                    rec["url"] = url
            body_start = i + 1
            break
        if title is None:
            title = ln
            body_start = i + 1
    rec["title"] = normalise_title(title)
    body, byline = finish_body(lines[body_start:], normalised=True)
    rec["body"] = body
    rec["byline"] = byline
    return rec
