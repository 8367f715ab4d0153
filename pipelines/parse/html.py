"""HTML article pages: main text by text density on the lexbor DOM, metadata from meta tags and the visible text.

The declared charset is not trusted: callers decode from the bytes (see read.decode).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from pipelines.parse.common import finish_body, site_of
from pipelines.parse.dates import date_from_url, find_date, parse_any
from pipelines.parse.html_extract import extract_main_text
from pipelines.parse.text import clean_line, normalise_title

_META_TITLE = ("og:title", "twitter:title", "title", "headline", "ArticleTitle")
_META_DATE = ("article:published_time", "pubdate", "publishdate", "PubDate", "publish_time", "og:release_date", "date", "dc.date", "datePublished")
_META_MODIFIED = ("dateUpdate", "dateModified", "article:modified_time", "og:updated_time")
_META_OUTLET = ("source", "article:author", "og:site_name", "ContentSource", "mediaid")
_PUBTIME_TEXT = re.compile(r"(?:发布时间|发表时间|发布日期|时间|日期)\s*[:：]\s*(?P<d>[\d年月日:\- ./]{8,25})")
_SOURCE_TEXT = re.compile(r"(?:来源|稿源|来自)\s*[:：]\s*(?P<o>[^\s|/:：<>\d]{2,20})")
_BAO_XUN = re.compile(r"^(?P<o>[^\s,,。:：]{2,16}?)(?:-(?P<o2>[^\s,,。:：]{2,12}))?讯")  # not "原标题:快讯"
# words that follow an empty "来源:" label on share bars, not outlet names
_NOT_OUTLET = ("分享", "收藏", "打印", "关注", "评论", "作者", "发布", "编辑", "责任")
_TITLE_SUFFIX = re.compile(r"\s*[-_|—–]\s*[^-_|—–]{1,30}$")


def _metas(tree: LexborHTMLParser) -> dict[tuple[str, str], str]:
    """(attribute, value) → content of the first <meta> with that property/name/itemprop.

    One pass over the <meta> tags instead of a CSS query per name and attribute (27 for the dates alone).
    """
    out: dict[tuple[str, str], str] = {}
    for node in tree.css("meta"):
        attrs = node.attributes
        for attr in ("property", "name", "itemprop"):
            value = attrs.get(attr)
            if value is not None and (attr, value) not in out:
                out[(attr, value)] = attrs.get("content") or ""
    return out


def _meta(metas: dict[tuple[str, str], str], names: tuple[str, ...]) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            content = metas.get((attr, name))
            if content and (content := content.strip()):
                return content
    return None


def _canonical(tree: LexborHTMLParser, metas: dict[tuple[str, str], str]) -> str | None:
    node = tree.css_first('link[rel="canonical"]')
    if node is not None and (href := node.attributes.get("href")) and href.startswith("http"):
        return href
    return _meta(metas, ("og:url",))


def _best_title(tree: LexborHTMLParser, metas: dict[tuple[str, str], str], extracted: str | None) -> str | None:
    """Prefer an <h1> that the <title> starts with; else the <title> without its site suffix."""
    page_title = clean_line(node.text()) if (node := tree.css_first("title")) is not None else ""
    for h in tree.css("h1, h2"):
        text = clean_line(h.text())
        if 4 <= len(text) <= 80 and (not page_title or page_title.startswith(text) or text in page_title):
            return text
    meta = _meta(metas, _META_TITLE)
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


def parse_html(html: str, url_hint: str | None = None, date_hint: datetime | None = None, extractor: str = "fast") -> dict[str, Any]:
    """Article fields of one HTML page. ``extractor``: "fast" (lexbor text density, trafilatura only
    when the fast result is doubtful) or "trafilatura" (the previous default, kept to compare)."""
    if html.count("<") > MAX_BLOCK_DEPTH and (depth := block_depth(html)) > MAX_BLOCK_DEPTH:
        raise HtmlTooDeep(f"HTML block elements nested {depth} deep (limit {MAX_BLOCK_DEPTH}); a page nested this deep is not an article")
    # one DOM for metadata and body: the body extractor reads it after the metadata (it prunes it)
    tree = LexborHTMLParser(html)
    metas = _metas(tree)
    url = url_hint or _canonical(tree, metas)
    rec: dict[str, Any] = {"url": url, "site": site_of(url), "title": normalise_title(_best_title(tree, metas, None))}
    visible = clean_line(tree.body.text(separator=" ")) if tree.body is not None else ""
    dt, source, squeezed = _date_in_page(metas, visible, rec["title"])
    lines, doc = _body_lines(tree, html, url_hint, extractor)
    if rec["url"] is None and doc is not None and doc.url:
        rec["url"] = doc.url
        rec["site"] = site_of(doc.url)
    if rec["title"] is None and doc is not None and doc.title:
        rec["title"] = normalise_title(_best_title(tree, metas, doc.title))
    if dt is None:
        dt, source = _date_elsewhere(doc, metas, squeezed, lines, url, date_hint)
    rec["published_at"] = dt
    rec["published_at_source"] = source if dt is not None else None
    source_line = m.group("o") if (m := _SOURCE_TEXT.search(visible)) and not m.group("o").startswith(_NOT_OUTLET) else None
    lines = _drop_tail_furniture(_drop_head_furniture(lines, rec["title"]))
    rec["outlet"] = _outlet(source_line, lines, metas)
    body, byline = finish_body(lines)
    rec["body"] = body
    rec["byline"] = byline
    return rec


def _date_in_page(metas: dict[tuple[str, str], str], visible: str, title: str | None) -> tuple[datetime | None, str, str]:
    """The date the page states: meta tags, then a 发布时间 label, then the date under the headline.

    Returns (date, its source, the visible text with whitespace squeezed where that was needed to look).
    """
    dt = parse_any(_meta(metas, _META_DATE))
    source = "meta"
    if dt is None and (m := _PUBTIME_TEXT.search(visible)):
        dt, source = find_date(m.group("d"))[0], "page_text"
    if dt is None and title and (pos := visible.rfind(title[:20])) >= 0:
        # CMS pages print the date right under the headline, often unlabelled ("2011年10月08 来源:")
        dt, source = find_date(visible[pos : pos + len(title) + 160])[0], "page_text"
    # the headline's words may come back in the body (rfind above lands there) or the <h1> may hold
    # line breaks the normalised title does not: look again from its first place, whitespace squeezed
    squeezed = " ".join(visible.split()) if dt is None else visible
    if dt is None and title and (pos := squeezed.find(title[:20])) >= 0:
        dt, source = find_date(squeezed[pos : pos + len(title) + 160])[0], "page_text"
    return dt, source, squeezed


def _body_lines(tree: LexborHTMLParser, html: str, url_hint: str | None, extractor: str) -> tuple[list[str], Any]:
    """The main text's lines, and trafilatura's document where it was run (None otherwise)."""
    if extractor != "fast":
        doc = _trafilatura(html, url_hint)
        return ((doc.text if doc is not None else None) or "").split("\n"), doc
    got = extract_main_text(tree, html)
    if not got.doubtful:
        return got.lines, None
    doc = _trafilatura(html, url_hint)
    if doc is not None and len(doc.text or "") > got.chars:
        return (doc.text or "").split("\n"), doc
    return got.lines, doc


def _date_elsewhere(doc: Any, metas: dict[tuple[str, str], str], squeezed: str, lines: list[str], url: str | None,
                    date_hint: datetime | None) -> tuple[datetime | None, str]:
    """A date the page does not state outright, from the likeliest signal to the least."""
    if doc is not None and doc.date and (found := parse_any(doc.date)) is not None:
        return found, "extractor"
    if (found := parse_any(_meta(metas, _META_MODIFIED))) is not None:
        return found, "meta"  # a last-modified stamp beats guessing from the text
    if (found := _date_near_top(squeezed, lines)) is not None:
        return found, "page_text"
    if (found := date_from_url(url)) is not None:
        return found, "url_path"
    if date_hint is not None:
        return date_hint, "warc_date"
    return None, ""


def _outlet(source_line: str | None, lines: list[str], metas: dict[tuple[str, str], str]) -> str | None:
    """Who published the story: a 来源: label in the page, the body's "…讯" opening, else the meta tags."""
    outlet = source_line
    first = clean_line(lines[0]) if lines else ""
    if outlet is None and (m := _BAO_XUN.match(first)):
        # "每日甘肃网-科技鑫报讯" names the outlet that wrote the story
        outlet = m.group("o2") or m.group("o")
    if outlet is None:
        outlet = _meta(metas, _META_OUTLET)
    return clean_line(outlet) if outlet else None


def _trafilatura(html: str, url: str | None) -> Any:
    import trafilatura  # late: only doubtful pages need it, and importing it costs a no-op rerun ~0.5 s

    return trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False, include_tables=False)


def _date_near_top(squeezed: str, lines: list[str]) -> datetime | None:
    """The date printed just above the story (the line under the headline), if any."""
    for line in lines:
        line = " ".join(line.split())
        if len(line) >= 30 and (pos := squeezed.find(line[:30])) >= 0:
            return find_date(squeezed[max(0, pos - 200) : pos])[0]
    return None


# lines above the story that repeat the headline or print its date, source and font-size switches
_HEAD_META = re.compile(
    r"^(?:发布时间|发布日期|发表时间|时间|日期|来源|稿源|发布人|作者|编辑|字号|浏览|点击|阅读)"
    r"|^\d{4}\s*[-年/.]\s*\d{1,2}\s*[-月/.]\s*\d{1,2}\s*日?\s*(?:\d{1,2}:\d{2}(?::\d{2})?)?\s*(?:来源|$|\s)"
)


def _drop_head_furniture(lines: list[str], title: str | None) -> list[str]:
    start = 0
    for i, raw in enumerate(lines[:8]):
        if len(raw) > 200:
            break  # prose: stop before normalising a whole paragraph
        line = clean_line(raw)
        bare = line.rstrip(".…")
        if not line:
            continue
        if title and (line == title or (len(bare) >= 8 and (title.startswith(bare) or bare in title))):
            start = i + 1
        elif len(line) <= 60 and _HEAD_META.search(line):
            start = i + 1
        elif len(line) <= 4 and not any(c in line for c in "。！？"):
            start = i + 1  # "字号 / 大 / 中 / 小", "图集"
        else:
            break
    return lines[start:]


# credits and widgets under the story: "责任编辑：吴金明", "本文来源：新京报", "点击进入专题：", "延伸 · 推荐", "+1"
_TAIL_META = re.compile(r"^(?:责任编辑|本文来源|点击进入专题|延伸|图集|相关专题|【\s*(?:打印|关闭|纠错))")


# a short heading that opens a recommendation box inside the article container ("延伸 · 推荐", "相关阅读")
_RECOMMEND_HEAD = re.compile(r"^(?:延伸|相关|更多|推荐)[\s·:：]*(?:推荐|阅读|新闻|链接|报道)?$")


def _drop_tail_furniture(lines: list[str]) -> list[str]:
    for i in range(len(lines) - 1, 0, -1):
        line = lines[i].strip()
        if len(line) <= 12 and _RECOMMEND_HEAD.match(line):
            lines = lines[:i]  # the box runs to the end of the container
            break
    end = len(lines)
    while end > 0 and len(lines[end - 1]) <= 200:
        line = clean_line(lines[end - 1])
        if not line or (len(line) <= 60 and _TAIL_META.search(line)) or (len(line) <= 4 and not any(c in line for c in "。！？")):
            end -= 1
        else:
            break
    return lines[:end]
