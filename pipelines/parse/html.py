"""HTML article pages: main text via trafilatura, metadata from meta tags and the visible text.

The declared charset is not trusted: callers decode from the bytes (see read.decode).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import trafilatura
from selectolax.lexbor import LexborHTMLParser

from pipelines.parse.common import finish_body, site_of
from pipelines.parse.dates import find_date, parse_any
from pipelines.parse.text import clean_line, normalise_title

_META_TITLE = ("og:title", "twitter:title", "title", "headline", "ArticleTitle")
_META_DATE = ("article:published_time", "pubdate", "publishdate", "PubDate", "publish_time", "og:release_date", "date", "dc.date", "datePublished")
_META_OUTLET = ("source", "article:author", "og:site_name", "ContentSource", "mediaid")
_PUBTIME_TEXT = re.compile(r"(?:发布时间|发表时间|发布日期|时间|日期)\s*[:：]\s*(?P<d>[\d年月日:\- ./]{8,25})")
_SOURCE_TEXT = re.compile(r"(?:来源|稿源|来自)\s*[:：]\s*(?P<o>[^\s|/:：<>\d]{2,20})")
_BAO_XUN = re.compile(r"^(?P<o>[^\s,,。]{2,16}?)(?:-(?P<o2>[^\s,,。]{2,12}))?讯")
# words that follow an empty "来源:" label on share bars, not outlet names
_NOT_OUTLET = ("分享", "收藏", "打印", "关注", "评论", "作者", "发布", "编辑", "责任")
_TITLE_SUFFIX = re.compile(r"\s*[-_|—–]\s*[^-_|—–]{1,30}$")


def _meta(tree: LexborHTMLParser, names: tuple[str, ...]) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            node = tree.css_first(f'meta[{attr}="{name}"]')
            if node is not None:
                content = (node.attributes.get("content") or "").strip()
                if content:
                    return content
    return None


def _canonical(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first('link[rel="canonical"]')
    if node is not None and (href := node.attributes.get("href")) and href.startswith("http"):
        return href
    return _meta(tree, ("og:url",))


def _best_title(tree: LexborHTMLParser, extracted: str | None) -> str | None:
    """Prefer an <h1> that the <title> starts with; else the <title> without its site suffix."""
    page_title = clean_line(tree.css_first("title").text()) if tree.css_first("title") is not None else ""
    for h in tree.css("h1, h2"):
        text = clean_line(h.text())
        if 4 <= len(text) <= 80 and (not page_title or page_title.startswith(text) or text in page_title):
            return text
    meta = _meta(tree, _META_TITLE)
    for cand in (meta, extracted, page_title):
        if cand:
            cand = clean_line(cand)
            stripped = _TITLE_SUFFIX.sub("", cand)
            return stripped if len(stripped) >= 4 else cand
    return None


# Block elements that only an explicit end tag closes. The HTML parser's work grows with the square
# of their nesting depth (100k nested <div> take over a minute, in native code no signal interrupts),
# while real pages nest them a few dozen deep.
MAX_BLOCK_DEPTH = 5000
_BLOCK_TAG = re.compile(
    r"<(/?)(?:div|section|article|aside|nav|header|footer|main|blockquote|center|fieldset|figure|details|dialog|address|dl|ol|ul|menu|hgroup|form)(?=[\s/>])",
    re.I,
)


class HtmlTooDeep(ValueError):
    """HTML whose block elements nest deeper than ``MAX_BLOCK_DEPTH``: refused before parsing."""


def block_depth(html: str) -> int:
    """Deepest nesting of block elements, counted from the tags (an upper bound for the parser's)."""
    depth = deepest = 0
    for m in _BLOCK_TAG.finditer(html):
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def parse_html(html: str, url_hint: str | None = None, date_hint: datetime | None = None) -> dict[str, Any]:
    if html.count("<") > MAX_BLOCK_DEPTH and (depth := block_depth(html)) > MAX_BLOCK_DEPTH:
        raise HtmlTooDeep(f"HTML block elements nested {depth} deep (limit {MAX_BLOCK_DEPTH}); a page nested this deep is not an article")
    tree = LexborHTMLParser(html)
    rec: dict[str, Any] = {}
    doc = trafilatura.bare_extraction(html, url=url_hint, with_metadata=True, include_comments=False, include_tables=False)
    text = (doc.text if doc is not None else None) or ""
    url = url_hint or _canonical(tree) or (doc.url if doc is not None else None)
    rec["url"] = url
    rec["site"] = site_of(url)
    rec["title"] = normalise_title(_best_title(tree, doc.title if doc is not None else None))

    visible = clean_line(tree.body.text(separator=" ")) if tree.body is not None else ""
    # date: meta tags, then a 发布时间 label in the page, then trafilatura's guess, then the URL path
    dt = parse_any(_meta(tree, _META_DATE))
    source = "meta"
    if dt is None and (m := _PUBTIME_TEXT.search(visible)):
        dt, source = find_date(m.group("d"))[0], "page_text"
    if dt is None and rec["title"] and (pos := visible.rfind(rec["title"][:20])) >= 0:
        # CMS pages print the date right under the headline, often unlabelled ("2011年10月08 来源:")
        dt, source = find_date(visible[pos : pos + len(rec["title"]) + 160])[0], "page_text"
    if dt is None and doc is not None and doc.date:
        dt, source = parse_any(doc.date), "extractor"
    if dt is None and date_hint is not None:
        dt, source = date_hint, "warc_date"
    rec["published_at"] = dt
    rec["published_at_source"] = source if dt is not None else None

    outlet = None
    if (m := _SOURCE_TEXT.search(visible)) and not m.group("o").startswith(_NOT_OUTLET):
        outlet = m.group("o")
    lines = text.split("\n")
    first = clean_line(lines[0]) if lines else ""
    if outlet is None and (m := _BAO_XUN.match(first)):
        # "每日甘肃网-科技鑫报讯" names the outlet that wrote the story
        outlet = m.group("o2") or m.group("o")
    if outlet is None:
        outlet = _meta(tree, _META_OUTLET)
    rec["outlet"] = clean_line(outlet) if outlet else None
    if rec["title"] and lines and clean_line(lines[0]) == rec["title"]:
        lines = lines[1:]  # the extractor sometimes repeats the headline
    body, byline = finish_body(lines)
    rec["body"] = body
    rec["byline"] = byline
    return rec
