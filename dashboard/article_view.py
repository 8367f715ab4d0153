"""Article tables and the single-article view (body with highlighted evidence), shared by pages.

All scraped text is shown through ``st.dataframe`` (inert cells), ``st.text``/``st.code`` or
``st.html`` of ``safe.highlight_html`` (every piece escaped); the source URL is a link only when it
is http(s).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.filters import Filters
from dashboard.labels import agency_level_label, column_label
from dashboard.safe import Span, escaped_block, find_all, highlight_html, http_url, legend_html, locate, truncate
from dashboard.search import ParsedQuery, parse_query
from dashboard.ui import Ctx, text_table
from pipelines.schema import TIMEZONE

BODY_LIMIT = 100_000
MAX_SPANS = 2_000


def _list(v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, float) and v != v:
        return []
    try:
        return list(v)
    except TypeError:
        return []


def _date(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
        return ""
    try:
        return pd.Timestamp(v).strftime("%Y-%m-%d")
    except (ValueError, TypeError):
        return ""


def _time(v: Any) -> str:
    """A timestamp in the dataset's time zone (Asia/Shanghai), e.g. '2023-05-01 00:00 +0800'."""
    try:
        if v is None or pd.isna(v):
            return ""
        ts = pd.Timestamp(v)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
        return ts.tz_convert(TIMEZONE).strftime("%Y-%m-%d %H:%M %z")
    except (ValueError, TypeError):
        return ""


def _region_of(c: Ctx, row: Any) -> str:
    for col in ("county_code", "prefecture_code", "province_code"):
        code = row.get(col)
        if isinstance(code, str) and code:
            return c.region(code)
    return ""


def table_frame(c: Ctx, rows: pd.DataFrame, snippets: dict[int, str] | None = None) -> pd.DataFrame:
    """The display table for article rows (``queries.article_page``), text truncated for the grid.

    With ``snippets`` (facts row -> text around the search match) a column shows where it matched.
    """
    recs = rows.to_dict("records")
    snip = {c.t("snippet"): [truncate(snippets.get(int(r["row"]), ""), 200) for r in recs]} if snippets is not None and "row" in rows.columns else {}
    return pd.DataFrame(
        {
            column_label("title", c.lang): [truncate(r.get("title"), 200) for r in recs],
            **snip,
            column_label("published_at", c.lang): [_date(r.get("day")) for r in recs],
            column_label("outlet", c.lang): [truncate(r.get("outlet"), 60) for r in recs],
            column_label("site", c.lang): [truncate(r.get("site"), 60) for r in recs],
            c.t("area"): [_region_of(c, r) for r in recs],
            column_label("topics", c.lang): ["、".join(c.topic(t) for t in _list(r.get("topics"))) for r in recs],
            **({column_label("agencies", c.lang): [truncate("、".join(str(a) for a in _list(r.get("agency_names"))), 200) for r in recs]} if "agency_names" in rows.columns else {}),
            column_label("article_id", c.lang): [r.get("article_id") for r in recs],
        }
    )


def article_table(c: Ctx, f: Filters, *, key: str, limit: int = 100, offset: int = 0, sort: str = "newest", selectable: bool = False) -> str | None:
    """Show a page of articles; return the article id of the selected row (when ``selectable``)."""
    rows = data.article_page(c.ds, f, sort, limit, offset)
    if rows.empty:
        st.info(c.t("none_match"))
        return None
    snippets = data.snippets(c.ds, [int(r) for r in rows["row"]], f) if f.search and "row" in rows.columns else None
    frame = table_frame(c, rows, snippets)
    if not selectable:
        text_table(frame, key=key)
        return None
    event = text_table(frame, key=key, on_select="rerun", selection_mode="single-row")
    picked = getattr(getattr(event, "selection", None), "rows", None) or []
    if picked and 0 <= int(picked[0]) < len(rows):
        return str(rows.iloc[int(picked[0])]["article_id"])
    return None


def search_spans(text: str, terms: tuple[str, ...], label: str) -> list[Span]:
    """Every occurrence of the search terms (they win over the evidence where both overlap)."""
    return [Span(pos, pos + len(t), "search", f"{label}: {t}") for t in terms for pos in find_all(text, t, limit=200)]


def _spans(c: Ctx, art: dict[str, Any], body: str, mentions: pd.DataFrame) -> list[Span]:
    spans: list[Span] = search_spans(body, _search_terms(c), c.t("ar_ev_search")) if not c.f.title_only else []
    for m in mentions.to_dict("records"):
        off = m.get("offset")
        off = int(off) if off is not None and off == off else None
        for pos in locate(body, str(m.get("surface") or ""), off)[:1] if off is not None else locate(body, str(m.get("surface") or ""), None):
            spans.append(Span(pos, pos + len(str(m["surface"])), "agency", f"{m.get('name')} · {c.agency_type(m.get('type'))}"))
    for ev in _list(art.get("region_evidence")):
        if not isinstance(ev, dict) or ev.get("signal") != "body":
            continue
        surface = str(ev.get("surface") or "")
        off = ev.get("offset")
        off = int(off) if off is not None and off == off else None
        for pos in locate(body, surface, off)[:1] if off is not None else []:
            spans.append(Span(pos, pos + len(surface), "region", f"{c.region(ev.get('code'))} ({ev.get('code')})"))
    for ev in _list(art.get("topic_evidence")):
        if not isinstance(ev, dict):
            continue
        label = c.topic(ev.get("topic"))
        for term in _list(ev.get("terms")):
            term = str(term)
            for pos in find_all(body, term, limit=50):
                spans.append(Span(pos, pos + len(term), "topic", f"{label}: {term}"))
        if len(spans) > MAX_SPANS:
            break
    return spans[:MAX_SPANS]


def _search_terms(c: Ctx) -> tuple[str, ...]:
    parsed = parse_query(c.f.search) if c.f.search else None
    return parsed.positive_terms if isinstance(parsed, ParsedQuery) else ()


def _meta_rows(c: Ctx, art: dict[str, Any]) -> list[tuple[str, str]]:
    def lab(name: str) -> str:
        return column_label(name, c.lang)

    region = " / ".join(c.region(art.get(k)) for k in ("province_code", "prefecture_code", "county_code") if isinstance(art.get(k), str))
    rows = [
        (lab("published_at"), _time(art.get("published_at"))),
        (lab("outlet"), str(art.get("outlet") or "")),
        (lab("site"), str(art.get("site") or "")),
        (lab("url"), truncate(art.get("url") or "", 2000)),
        (c.t("area"), region),
        (lab("scope"), str(art.get("scope") or "")),
        (lab("topics"), "、".join(c.topic(t) for t in _list(art.get("topics")))),
        (lab("agencies"), "、".join(str(a.get("name")) for a in _list(art.get("agencies")) if isinstance(a, dict))),
        (lab("byline"), "、".join(str(x) for x in _list(art.get("byline")))),
        (lab("breadcrumb"), " › ".join(str(x) for x in _list(art.get("breadcrumb")))),
        (lab("quality_flags"), ", ".join(str(x) for x in _list(art.get("quality_flags")))),
        (lab("duplicate_of"), str(art.get("duplicate_of") or "")),
        (lab("source_file"), str(art.get("source_file") or "")),
        (lab("source_format"), str(art.get("source_format") or "")),
        (lab("article_id"), str(art.get("article_id") or "")),
    ]
    return [(k, truncate(v, 2000)) for k, v in rows]


def show_article(c: Ctx, article_id: str) -> bool:
    """The article's metadata, source link, highlighted body and evidence tables; False when not found."""
    art, mentions = data.article(c.ds, article_id)
    if art is None:
        st.warning(c.t("ar_not_found"))
        return False
    _title(c, art)
    _source_link(c, art)
    meta = _meta_rows(c, art)
    text_table(pd.DataFrame(meta, columns=[c.t("field"), c.t("value")]), key="ar_meta", height=35 * (len(meta) + 1) + 3)
    _body(c, art, mentions)
    _region_evidence_table(c, art)
    _agency_evidence_table(c, mentions)
    _topic_evidence_table(c, art)
    return True


def _title(c: Ctx, art: dict[str, Any]) -> None:
    """The title as an escaped heading, search terms highlighted."""
    title = truncate(str(art.get("title") or ""), 2000)
    marks = search_spans(title, _search_terms(c), c.t("ar_ev_search"))
    st.html(highlight_html(title, marks, tag="h3", style="margin:0.2rem 0 0.6rem 0") if marks else escaped_block(title or "—", "h3", "margin:0.2rem 0 0.6rem 0"))


def _source_link(c: Ctx, art: dict[str, Any]) -> None:
    """A link button for an http(s) source URL; any other URL only as inert text."""
    url = art.get("url")
    link = http_url(url)
    if link:
        st.link_button(c.t("ar_source"), link, icon=":material/open_in_new:")
    elif isinstance(url, str) and url:
        st.text(c.t("ar_no_link"))
        st.code(truncate(url, 2000), language=None, wrap_lines=True)


def _body(c: Ctx, art: dict[str, Any], mentions: pd.DataFrame) -> None:
    """The body (cut at BODY_LIMIT) with the evidence highlighted, under its legend."""
    st.markdown(f"**{c.t('ar_body')}**")
    body = str(art.get("body") or "")
    shown = body[:BODY_LIMIT]
    if len(body) > BODY_LIMIT:
        st.caption(c.t("ar_truncated", n=BODY_LIMIT))
    legend = [("agency", c.t("ar_ev_agency")), ("region", c.t("ar_ev_region")), ("topic", c.t("ar_ev_topic"))]
    st.html(legend_html([("search", c.t("ar_ev_search")), *legend] if c.f.search else legend))
    if shown:
        st.html(highlight_html(shown, _spans(c, art, shown, mentions)))
    else:
        st.text(c.t("ar_empty_body"))


def _region_evidence_table(c: Ctx, art: dict[str, Any]) -> None:
    ev_region = [e for e in _list(art.get("region_evidence")) if isinstance(e, dict)]
    if ev_region:
        st.markdown(f"**{c.t('ar_ev_region')}**")
        text_table(
            pd.DataFrame(
                {
                    c.t("signal"): [e.get("signal") for e in ev_region],
                    c.t("surface"): [truncate(e.get("surface"), 200) for e in ev_region],
                    c.t("area"): [c.region(e.get("code")) for e in ev_region],
                    c.t("code"): [e.get("code") for e in ev_region],
                    c.t("offset"): [e.get("offset") for e in ev_region],
                }
            ),
            key="ar_ev_region",
        )


def _agency_evidence_table(c: Ctx, mentions: pd.DataFrame) -> None:
    if not mentions.empty:
        st.markdown(f"**{c.t('ar_ev_agency')}**")
        text_table(
            pd.DataFrame(
                {
                    c.t("organ"): mentions["name"],
                    c.t("agency_type"): [c.agency_type(t) for t in mentions["type"]],
                    c.t("level"): [agency_level_label(lv, c.lang) for lv in mentions["level"]],
                    c.t("surface"): mentions["surface"],
                    c.t("offset"): mentions["offset"],
                }
            ),
            key="ar_ev_agency",
        )


def _topic_evidence_table(c: Ctx, art: dict[str, Any]) -> None:
    ev_topic = [e for e in _list(art.get("topic_evidence")) if isinstance(e, dict)]
    if ev_topic:
        st.markdown(f"**{c.t('ar_ev_topic')}**")
        text_table(
            pd.DataFrame(
                {
                    c.t("topic"): [c.topic(e.get("topic")) for e in ev_topic],
                    c.t("terms"): ["、".join(str(t) for t in _list(e.get("terms"))) for e in ev_topic],
                    c.t("score"): [e.get("score") for e in ev_topic],
                }
            ),
            key="ar_ev_topic",
        )
