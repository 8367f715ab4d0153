"""Articles: a searchable, sortable list; one article's view with its evidence highlighted."""

from __future__ import annotations

import streamlit as st

from dashboard import data
from dashboard.article_view import article_table, show_article
from dashboard.filters import ARTICLE_ID_RE
from dashboard.queries import SORTS
from dashboard.safe import truncate
from dashboard.ui import Ctx, ctx, keep, page_choice, set_param, url0

PAGE_SIZE = 100
SORT_KEYS = tuple(SORTS)


def _open_article_id(c: Ctx) -> str | None:
    """The article to show: from the session, else from the URL (validated: format, then existence)."""
    ss = st.session_state
    if "_article" not in ss:
        v = url0().get("article")
        ss["_article"] = v if isinstance(v, str) and ARTICLE_ID_RE.match(v) and data.article_exists(c.ds, v) else None
    return ss["_article"]


def _close() -> None:
    st.session_state["_article"] = None
    st.session_state.pop("ar_pick", None)


def render(c: Ctx) -> None:
    st.title(c.t("page_articles"))
    sort_labels = {"newest": c.t("ar_newest"), "oldest": c.t("ar_oldest"), "title": c.t("ar_title"), "outlet": c.t("ar_outlet")}
    n = data.total(c.ds, c.f)
    pages = max(1, -(-n // PAGE_SIZE))
    col1, col2 = st.columns([3, 1])
    sort = col1.radio(c.t("ar_sort"), SORT_KEYS, key=page_choice("sort", SORT_KEYS, "newest"), format_func=sort_labels.__getitem__, horizontal=True)
    keep("sort", sort, "newest")
    ss = st.session_state
    if ss.get("_ar_filters") != (c.f, sort):  # new filters or order: back to page 1
        ss["_ar_filters"] = (c.f, sort)
        ss["ar_page"] = 1
    if not isinstance(ss.get("ar_page"), int) or not 1 <= ss["ar_page"] <= pages:
        ss["ar_page"] = 1
    page = int(col2.number_input(c.t("ar_page"), min_value=1, max_value=pages, step=1, key="ar_page"))
    offset = (page - 1) * PAGE_SIZE
    if n == 0:
        st.info(c.t("none_match"))
        return
    st.caption(c.t("ar_found", n=n, a=offset + 1, b=min(n, offset + PAGE_SIZE)))
    picked = article_table(c, c.f, key=f"ar_table_{sort}_{page}", limit=PAGE_SIZE, offset=offset, sort=sort, selectable=True)
    if picked and picked != ss.get("_ar_last_pick"):
        ss["_article"] = picked
    ss["_ar_last_pick"] = picked

    rows = data.article_page(c.ds, c.f, sort, PAGE_SIZE, offset)
    titles = dict(zip(rows["article_id"], rows["title"], strict=True))
    current = _open_article_id(c)
    choices: list[str | None] = [None, *titles]
    if current and current not in choices:
        choices.append(current)
        art, _ = data.article(c.ds, current)
        titles[current] = (art or {}).get("title") or current
    ss["ar_pick"] = current
    st.selectbox(
        c.t("ar_open"),
        choices,
        key="ar_pick",
        format_func=lambda a: c.t("ar_pick_hint") if a is None else truncate(titles.get(a) or a, 100),
        on_change=lambda: ss.__setitem__("_article", ss.get("ar_pick")),
        placeholder=c.t("ar_pick_hint"),
    )
    if current:
        set_param("article", current)
        st.divider()
        st.subheader(c.t("ar_detail"))
        st.button(c.t("ar_close"), on_click=_close, key="ar_close")
        show_article(c, current)


render(ctx())
