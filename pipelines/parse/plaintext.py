"""Plain-text articles: a leading date line (CEC corpus), bare bodies, and court case digests."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from pipelines.parse.common import find_url, finish_body, site_of
from pipelines.parse.dates import find_date, parse_date_line
from pipelines.parse.text import clean_line, normalise_body, normalise_title, squeeze_cjk_spaces

_SOURCE_IN_LINE = re.compile(r"(?:来源|来自)\s*[:：]\s*(?P<outlet>[^\s\d][^\s]{0,20})")
_BEFORE_PUBTIME = re.compile(r"^(?P<outlet>[^\s:：]{2,20})\s*(?:发布时间|发表时间|时间)\s*[:：]")
_WEEKDAY = re.compile(r"^(?:星期|周)[一二三四五六日天]$")
# a URL in (full-width) parentheses closing the body: "…（https://m.yybnet.net/chengdu/…）"
_TRAILING_URL = re.compile(r"[（(]\s*(https?://[^\s)）]+)\s*[)）]\s*$")


def _date_line(line: str) -> tuple[Any, str | None] | None:
    """If ``line`` is a date line, return (datetime, outlet named on it)."""
    dt = parse_date_line(line)
    outlet = None
    if dt is None:
        m = _BEFORE_PUBTIME.match(line)
        if not m:
            return None
        dt, _ = find_date(line)
        if dt is None:
            return None
        outlet = m.group("outlet")
    m = _SOURCE_IN_LINE.search(line)
    if m:
        outlet = m.group("outlet")
    elif outlet is None:
        _, matched = find_date(line)
        tail = line.split(matched, 1)[1].strip() if matched and matched in line else ""
        tail = tail.strip("　 ")
        # '2014-04-18 10:24环球网': a short name after the date is the outlet
        if tail and len(tail) <= 12 and not _WEEKDAY.match(tail) and not re.search(r"[\d左右许前后]", tail):
            outlet = tail
    return dt, outlet


def parse_plain_text(text: str) -> dict[str, Any]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    rec: dict[str, Any] = {}
    first = next((i for i, ln in enumerate(lines) if clean_line(ln)), None)
    if first is not None:
        found = _date_line(clean_line(lines[first]))
        if found is not None:
            rec["published_at"], rec["outlet"] = found
            rec["published_at_source"] = "date_line"
            lines = lines[first + 1 :]
    # the URL a scraper appended to the body
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            m = _TRAILING_URL.search(clean_line(lines[i]))
            if m:
                rec["url"] = m.group(1)
                rec["site"] = site_of(m.group(1))
                lines[i] = _TRAILING_URL.sub("", clean_line(lines[i]))
            break
    if "url" not in rec and len(lines) and (url := find_url("\n".join(lines[-3:]))):
        rec["url"] = url
        rec["site"] = site_of(url)
    # the headline: the first line that is not a field line (【来源:太奇MBA】 may stand above it)
    head = next((i for i, ln in enumerate(lines) if (c := clean_line(ln)) and not _META_LINE.match(c)), None)
    if head is not None and _headline(clean_line(lines[head]), lines[head + 1 :]):
        rec["title"] = clean_line(lines[head])
        lines = lines[:head] + lines[head + 1 :]
    body, byline = finish_body(lines)
    rec["body"] = body
    rec["byline"] = byline
    return rec


_META_LINE = re.compile(r"^[【\[(]?[\u4e00-\u9fff]{1,4}\s*:")  # 时间:… 关键字:… 【来源:…】: a field, not a headline
_HEADLINE_END = ("。", "！", "？", "!", "?", "；", ";", "，", ",", "：", ":", "、", "…")


def _headline(line: str, rest: list[str]) -> bool:
    """Is the first line of a plain text its headline? Short, no sentence in it, not a byline, and the
    story follows (a careful reader takes 皇帝“金口”吓走奇才 over a paragraph for the title)."""
    return (
        4 <= len(line) <= 40
        and not line.endswith(_HEADLINE_END)
        and "。" not in line
        and not line.startswith(("□", "■", "●", "记者", "本报", "来源", "作者"))
        and "记者" not in line
        and "通讯员" not in line
        and not _META_LINE.match(line)
        and sum(len(clean_line(x)) for x in rest) >= 2 * len(line)
    )


# --- court case digests (人民法院案例库), extracted from PDF with hard line wraps -----------------

DIGEST_SECTIONS = ("关键词", "基本案情", "裁判理由", "裁判要旨", "关联索引", "裁判结果", "法律问题", "典型意义")
_PAGE_NUMBER = re.compile(r"^\d{1,4}$")
_CASE_ID = re.compile(r"^\d{4}-\d{1,3}-\d-\d{3}-\d{3}$")
# the case database's entry number (入库编号) that PDF extraction sometimes wraps into the heading
_CASE_ID_INSIDE = re.compile(r"\s*\d{4}-\d{1,3}-\d-\d{3}-\d{3}\s*")
_SENTENCE_END = ("。", "!", "?", "；", ";", "：", ":", "”", "」", "』")


def looks_like_digest(lines: list[str]) -> bool:
    if "关键词" not in "\n".join(lines[:40]):  # one scan, not one per line
        return False
    heads = {clean_line(ln) for ln in lines[:40]}
    return "关键词" in heads and bool(heads & {"基本案情", "裁判理由", "裁判要旨"})


def _unwrap(lines: list[str]) -> list[str]:
    """Join hard-wrapped lines into paragraphs: a line ends a paragraph only after 。！？ etc."""
    paras: list[str] = []
    buf: list[str] = []  # joined once per paragraph: repeated concatenation is quadratic on a paragraph with no 。
    for ln in lines:
        ln = clean_line(ln)
        if not ln:
            continue
        buf.append(ln)
        if ln.endswith(_SENTENCE_END):
            paras.append(squeeze_cjk_spaces(" ".join(buf)))
            buf = []
    if buf:
        paras.append(squeeze_cjk_spaces(" ".join(buf)))
    return paras


def split_court_digests(text: str) -> list[str]:
    """Split a slice of the case database into one text per case.

    A case starts at a line opening with 【 that is followed by 关键词 within a dozen lines. Text
    before the first such line (the tail of a case cut by the slice) is kept as its own piece.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    starts = [
        i for i, ln in enumerate(lines) if ln.lstrip().startswith("【") and any(clean_line(x) == "关键词" for x in lines[i + 1 : i + 13])
    ]
    if not starts:
        return [text]
    bounds = ([0] if any(clean_line(x) for x in lines[: starts[0]]) else []) + starts + [len(lines)]
    return ["\n".join(lines[a:b]) for a, b in pairwise(bounds) if any(clean_line(x) for x in lines[a:b])]


def parse_court_digest(text: str) -> dict[str, Any]:
    raw = [clean_line(ln) for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [ln for ln in raw if not _PAGE_NUMBER.match(ln) and not _CASE_ID.match(ln)]
    try:
        kw = lines.index("关键词")
    except ValueError:
        kw = 0
    header = " ".join(ln for ln in lines[:kw] if ln not in ("——", "—"))
    header = re.sub(r"^【\s*】\s*", "", header).strip()
    # (an entry number on the dash's line, 2023-09-2-158-056 —, leaves a space: the case name ends there)
    header = _CASE_ID_INSIDE.sub(" ", header.replace("——", " ")).strip()
    m = re.match(r"^(?P<case>.+?案)[\s—]*\s[\s—]*(?P<sub>.+)$", header)
    case, sub = (m.group("case"), m.group("sub").lstrip("—- ")) if m else (header, "")
    # the heading as published is 案名——裁判要旨: the title keeps both parts (the holding also opens the body)
    title = normalise_title(squeeze_cjk_spaces(f"{case}——{sub}" if sub else case))
    paras: list[str] = [squeeze_cjk_spaces(sub)] if sub else []
    section: list[str] = []
    for ln in lines[kw:]:
        if ln in DIGEST_SECTIONS:
            paras += _unwrap(section)
            section = []
            paras.append(ln)
        else:
            section.append(ln)
    paras += _unwrap(section)
    return {"title": title, "body": normalise_body("\n\n".join(paras)), "byline": []}


__all__ = ["find_url", "looks_like_digest", "parse_court_digest", "parse_plain_text"]
