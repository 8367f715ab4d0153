"""Rendering scraped text safely.

Titles, bodies, outlet names and URLs come from the web and may hold HTML, scripts, Markdown or
megabytes of text. Rules used across the dashboard:

* never pass scraped text to ``st.markdown``/``st.caption``/``st.info`` (Markdown) — use
  ``st.text``, ``st.code``, ``st.dataframe`` or ``st.html`` with ``highlight_html`` output;
* ``highlight_html`` escapes every piece of text with ``html.escape`` and adds only its own
  ``<mark>``/``<span>`` tags;
* Plotly renders a subset of HTML in labels (``<a href>``, ``<b>``…), so text for figures goes
  through ``plotly_text`` (escaped; Plotly shows the entities as the literal characters);
* a URL becomes a link only when ``http_url`` accepts it (http or https with a host).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

ELLIPSIS = "…"


def truncate(text: object, limit: int = 300) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= limit else s[: max(0, limit - 1)] + ELLIPSIS


def plotly_text(text: object, limit: int = 80) -> str:
    """Text for a Plotly label or hover: truncated, tags escaped (& < >), control characters removed.

    Plotly decodes &amp; &lt; &gt; back to the characters but shows &quot; literally, and quotes are
    harmless once no tag can open, so quotes are left as they are.
    """
    s = truncate(text, limit)
    s = "".join(ch if ch.isprintable() else " " for ch in s)
    return html.escape(s, quote=False)


def http_url(url: object) -> str | None:
    """The URL when it is an http(s) URL with a host (usable as a link), else None."""
    if not isinstance(url, str):
        return None
    u = url.strip()
    if not u or len(u) > 4096 or any(ch.isspace() or not ch.isprintable() for ch in u):
        return None
    try:
        parts = urlsplit(u)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return u


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # region | agency | topic
    note: str  # tooltip: what the evidence is


KIND_STYLE = {
    "search": "background:#fff176;border-bottom:2px solid #c9a800;font-weight:600;",
    "agency": "background:#ffd79a;border-bottom:2px solid #e08a00;",
    "region": "background:#b9e3ff;border-bottom:2px solid #1f77b4;",
    "topic": "background:#d7f5c4;border-bottom:2px solid #2ca02c;",
}
KIND_PRIORITY = {"search": -1, "agency": 0, "region": 1, "topic": 2}


def find_all(text: str, needle: str, limit: int = 200) -> list[int]:
    out: list[int] = []
    if not needle:
        return out
    i = text.find(needle)
    while i >= 0 and len(out) < limit:
        out.append(i)
        i = text.find(needle, i + len(needle))
    return out


def locate(text: str, surface: str, offset: int | None) -> list[int]:
    """Where ``surface`` is in ``text``: at ``offset`` when it matches there, else every occurrence."""
    if not surface:
        return []
    if offset is not None and 0 <= offset <= len(text) - len(surface) and text[offset : offset + len(surface)] == surface:
        return [offset]
    return find_all(text, surface)


def resolve_spans(spans: Iterable[Span], length: int) -> list[Span]:
    """Non-overlapping spans inside [0, length): search matches first, then earlier first, then
    agency > region > topic, longer first."""
    inside = [s for s in spans if 0 <= s.start < s.end <= length]
    taken = bytearray(length)
    out: list[Span] = []
    for first in (True, False):
        group = sorted((s for s in inside if (s.kind == "search") == first), key=lambda s: (s.start, KIND_PRIORITY.get(s.kind, 9), -(s.end - s.start)))
        for s in group:
            if not any(taken[s.start : s.end]):
                out.append(s)
                taken[s.start : s.end] = b"\x01" * (s.end - s.start)
    return sorted(out, key=lambda s: s.start)


def highlight_html(text: str, spans: Sequence[Span], tag: str = "", style: str = "") -> str:
    """``text`` as escaped HTML with ``spans`` wrapped in <mark> (only our own tags are unescaped).

    Without ``tag`` the text is an article body (a pre-wrapped div); with ``tag`` (h3, p, div) it is
    wrapped in that tag with ``style``.
    """
    parts: list[str] = []
    pos = 0
    for s in resolve_spans(spans, len(text)):
        parts.append(html.escape(text[pos : s.start]))
        style = KIND_STYLE.get(s.kind, "")
        parts.append(f'<mark class="ev-{s.kind}" style="{style}" title="{html.escape(s.note, quote=True)}">{html.escape(text[s.start : s.end])}</mark>')
        pos = s.end
    parts.append(html.escape(text[pos:]))
    body = "".join(parts)
    if tag:
        if tag not in ("div", "h3", "p"):
            raise ValueError(tag)
        return f'<{tag} style="{html.escape(style, quote=True)};overflow-wrap:anywhere;">{body}</{tag}>'
    return f'<div class="article-body" style="white-space:pre-wrap;line-height:1.7;font-size:1rem;overflow-wrap:anywhere;">{body}</div>'


def legend_html(items: Sequence[tuple[str, str]]) -> str:
    """A legend of (kind, label) with the highlight colours; labels are escaped."""
    cells = [f'<mark style="{KIND_STYLE.get(kind, "")}">{html.escape(label)}</mark>' for kind, label in items]
    return '<div style="display:flex;gap:0.8rem;flex-wrap:wrap;">' + "".join(cells) + "</div>"


def escaped_block(text: str, tag: str = "div", style: str = "") -> str:
    """Escaped text in one of our tags (for a title shown as a heading without Markdown)."""
    if tag not in ("div", "h3", "p"):
        raise ValueError(tag)
    return f'<{tag} style="{html.escape(style, quote=True)};overflow-wrap:anywhere;">{html.escape(text)}</{tag}>'
