"""Shared UI: the page context, the sidebar filters, URL state, error pages and small widgets.

URL state: on a session's first run the query parameters are read once (``_url0``) and validated
into filters; after that the widgets are the truth, and every run ends by writing the current
filters, the language and the page's own parameters back to the URL (``sync_url``), so the
address bar always holds a shareable link to the current view.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import shlex
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.data import DATA_ERRORS, Dataset, Options, Problem
from dashboard.filters import (
    SEARCH_IN,
    FilterOptions,
    Filters,
    from_query,
    has_filter_params,
    to_query,
)
from dashboard.i18n import LANGS, Lang, tr
from dashboard.labels import GANSU, Regions, agency_type_label, topic_label
from dashboard.queries import EXPORT_LIMIT
from pipelines.schema import AGENCY_TYPES

log = logging.getLogger("dashboard")
MAX_SELECT_OPTIONS = 2000
TRENDS_DEFAULT_TOPIC = "judicial_enforcement"
FIX_COMMAND = "python -m pipelines build --input DIR --dataset {root}"

W = {  # widget keys of the sidebar filters
    "dates": "w_dates",
    "province": "w_prov",
    "prefecture": "w_pref",
    "county": "w_county",
    "topic": "w_topic",
    "agency_type": "w_atype",
    "organ": "w_organ",
    "outlet": "w_outlet",
    "site": "w_site",
    "search": "w_q",
    "search_in": "w_qin",
    "unique": "w_unique",
}


@dataclass
class Ctx:
    """What a page needs: the dataset, the current filters, the language and the label lookups."""

    ds: Dataset
    f: Filters
    lang: Lang
    opts: Options
    regions: Regions
    topics: dict[str, tuple[str, str]]
    page: str

    def t(self, key: str, **fmt: object) -> str:
        return tr(key, self.lang, **fmt)

    def region(self, code: str | None) -> str:
        return self.regions.label(code, self.lang)

    def topic(self, tid: str | None) -> str:
        return topic_label(self.topics, tid, self.lang)

    def agency_type(self, t: str | None) -> str:
        return agency_type_label(t, self.lang)


def ctx() -> Ctx:
    """The current run's context (set by app.py before the page runs)."""
    c = st.session_state.get("_ctx")
    if not isinstance(c, Ctx):
        st.stop()
    return c


# --- URL state ------------------------------------------------------------------------------------


def url0() -> dict[str, Any]:
    """The query parameters the session started with (read once)."""
    if "_url0" not in st.session_state:
        st.session_state["_url0"] = st.query_params.to_dict()
    return st.session_state["_url0"]


def begin_run() -> None:
    url0()
    st.session_state["_qp"] = {}


def set_param(name: str, value: str | None) -> None:
    if value is not None:
        st.session_state.setdefault("_qp", {})[name] = value


def sync_url() -> None:
    target = {k: v for k, v in st.session_state.get("_qp", {}).items() if v is not None}
    if st.query_params.to_dict() != target:
        st.query_params.from_dict(target)


def page_choice(name: str, choices: Sequence[str], default: str) -> str:
    """Session-state key for a page widget whose value survives page switches and comes from the URL.

    Call before creating the widget with ``key=<returned key>``; call ``keep`` after it.
    """
    wkey, store = f"p_{name}", f"_keep_{name}"
    ss = st.session_state
    if wkey not in ss:
        if store in ss and ss[store] in choices:
            ss[wkey] = ss[store]
        else:
            v = url0().get(name)
            ss[wkey] = v if v in choices else default
    elif ss[wkey] not in choices:
        ss[wkey] = default
    return wkey


def keep(name: str, value: str, default: str) -> None:
    st.session_state[f"_keep_{name}"] = value
    if value != default:
        set_param(name, value)


# --- language -------------------------------------------------------------------------------------


def language() -> Lang:
    ss = st.session_state
    if "w_lang" not in ss:
        v = url0().get("lang")
        ss["w_lang"] = v if v in LANGS else "zh"
    lang = st.sidebar.segmented_control(
        "语言 / Language", LANGS, key="w_lang", format_func=lambda x: "中文" if x == "zh" else "English", label_visibility="collapsed"
    )
    if lang not in LANGS:  # deselected: keep the previous choice
        lang = ss.get("_lang_prev", "zh")
    ss["_lang_prev"] = lang
    if lang != "zh":
        set_param("lang", lang)
    return lang  # type: ignore[return-value]


# --- sidebar filters ------------------------------------------------------------------------------


def _set_widgets(f: Filters, opts: Options) -> None:
    ss = st.session_state
    if opts.min_day and opts.max_day:
        lo = f.date_from or opts.min_day
        hi = f.date_to or opts.max_day
        ss[W["dates"]] = (max(lo, opts.min_day), min(hi, opts.max_day))
    for name in ("province", "prefecture", "county", "topic", "agency_type", "organ", "outlet", "site"):
        ss[W[name]] = getattr(f, name)
    ss[W["search"]] = f.search
    ss[W["search_in"]] = f.search_in
    ss[W["unique"]] = f.unique


def request_filters(**changes: Any) -> None:
    """Ask for filter changes from a page (applied before the sidebar is drawn), then rerun."""
    st.session_state["_pending"] = {**st.session_state.get("_pending", {}), **changes}
    st.rerun()


def _reset() -> None:
    for key in W.values():
        st.session_state.pop(key, None)
    st.session_state["_reset"] = True


def _capped(values: Sequence[str], current: str | None) -> list[str | None]:
    opts: list[str | None] = [None, *values[:MAX_SELECT_OPTIONS]]
    if current is not None and current not in opts:
        opts.append(current)
    return opts


def _valid(value: Any, allowed: Sequence[Any] | frozenset[Any]) -> Any:
    return value if value in allowed else None


def _current_filters(opts: Options) -> Filters:
    """Filters from the widget state (validated again: session state can hold stale values)."""
    ss = st.session_state
    v: FilterOptions = opts.valid
    date_from = date_to = None
    dates = ss.get(W["dates"])
    if isinstance(dates, tuple | list) and opts.min_day and opts.max_day:
        if len(dates) >= 1 and isinstance(dates[0], dt.date) and dates[0] > opts.min_day:
            date_from = dates[0]
        if len(dates) == 2 and isinstance(dates[1], dt.date) and dates[1] < opts.max_day:
            date_to = dates[1]
    province = _valid(ss.get(W["province"]), v.provinces)
    prefecture = _valid(ss.get(W["prefecture"]), opts.prefectures.get(province or "", ()))
    county = _valid(ss.get(W["county"]), opts.counties.get(prefecture or "", ()))
    return Filters(
        date_from=date_from,
        date_to=date_to,
        province=province,
        prefecture=prefecture,
        county=county,
        topic=_valid(ss.get(W["topic"]), v.topics),
        agency_type=_valid(ss.get(W["agency_type"]), AGENCY_TYPES),
        organ=_valid(ss.get(W["organ"]), v.organs),
        outlet=_valid(ss.get(W["outlet"]), v.outlets),
        site=_valid(ss.get(W["site"]), v.sites),
        search=str(ss.get(W["search"]) or "").strip()[:200],
        unique=bool(ss.get(W["unique"], True)),
        search_in=_valid(ss.get(W["search_in"]), SEARCH_IN) or "all" if str(ss.get(W["search"]) or "").strip() else "all",
    )


def sidebar(ds: Dataset, lang: Lang, page: str) -> Ctx:
    """Draw the filters and downloads; return the page context."""
    opts = data.options(ds)
    regions = data.regions(ds)
    topics = data.topic_labels()
    _prepare_widgets(opts, page)

    sb = st.sidebar
    sb.header(tr("filters", lang))
    _date_filter(opts, lang)
    _region_filters(opts, regions, lang)
    _topic_and_agency_filters(opts, topics, lang)
    _source_filters(opts, lang)
    search_note = _search_widgets(lang)

    f = _current_filters(opts)
    for k, v in to_query(f).items():
        set_param(k, v)
    if f.search:
        _search_note(search_note, ds, f, lang)

    c = Ctx(ds, f, lang, opts, regions, topics, page)
    _downloads(c)
    sb.caption(tr("share_link", lang))
    return c


def _prepare_widgets(opts: Options, page: str) -> None:
    """Set the widget state before the widgets are drawn: from the URL on the first run, cleared on
    reset, the trends page's default view, and the filter changes pages asked for."""
    ss = st.session_state
    if not ss.get("_init"):
        ss["_init"] = True
        _set_widgets(from_query(url0(), opts.valid), opts)
    if ss.pop("_reset", False):
        _set_widgets(Filters(), opts)
    if page == "trends" and not ss.get("_trends_default_done"):
        ss["_trends_default_done"] = True
        if not has_filter_params(url0()) and _current_filters(opts).is_default():
            _set_widgets(replace(Filters(), **_trends_defaults(opts)), opts)
    pending = ss.pop("_pending", None)
    if pending:
        cur = _current_filters(opts)
        merged = replace(cur, **{k: v for k, v in pending.items() if hasattr(cur, k)})
        # re-validate through the URL form: unknown values are dropped, parents follow children
        _set_widgets(from_query({**to_query(merged), **({} if merged.unique else {"copies": "1"})}, opts.valid), opts)


def _trends_defaults(opts: Options) -> dict[str, Any]:
    """The trends page's first view without filters: the default topic in Gansu (where present)."""
    defaults: dict[str, Any] = {}
    if TRENDS_DEFAULT_TOPIC in opts.valid.topics:
        defaults["topic"] = TRENDS_DEFAULT_TOPIC
    if GANSU in opts.valid.provinces:
        defaults["province"] = GANSU
    return defaults


def _date_filter(opts: Options, lang: Lang) -> None:
    """The date range (only when the dataset has dates); an out-of-range value resets to the full range."""
    ss = st.session_state
    if opts.min_day and opts.max_day:
        cur_dates = ss.get(W["dates"])
        if not (isinstance(cur_dates, tuple | list) and all(isinstance(d, dt.date) and opts.min_day <= d <= opts.max_day for d in cur_dates)):
            ss[W["dates"]] = (opts.min_day, opts.max_day)
        st.sidebar.date_input(tr("date_range", lang), min_value=opts.min_day, max_value=opts.max_day, key=W["dates"], format="YYYY-MM-DD")


def _region_filters(opts: Options, regions: Regions, lang: Lang) -> None:
    """Province, then its prefectures, then their counties; a level without a parent is cleared."""
    ss = st.session_state
    sb = st.sidebar

    def region_fmt(c: str | None) -> str:
        return tr("all", lang) if c is None else regions.label(c, lang)

    if ss.get(W["province"]) not in opts.provinces:
        ss[W["province"]] = None
    province = sb.selectbox(tr("province", lang), [None, *opts.provinces], key=W["province"], format_func=region_fmt, placeholder=tr("all", lang))
    if province:
        prefs = opts.prefectures.get(province, ())
        if ss.get(W["prefecture"]) not in prefs:
            ss[W["prefecture"]] = None
        prefecture = sb.selectbox(tr("prefecture", lang), [None, *prefs], key=W["prefecture"], format_func=region_fmt, disabled=not prefs, placeholder=tr("all", lang))
        if prefecture:
            counties = opts.counties.get(prefecture, ())
            if ss.get(W["county"]) not in counties:
                ss[W["county"]] = None
            sb.selectbox(tr("county", lang), [None, *counties], key=W["county"], format_func=region_fmt, disabled=not counties, placeholder=tr("all", lang))
        else:
            ss[W["county"]] = None
    else:
        ss[W["prefecture"]] = None
        ss[W["county"]] = None


def _topic_and_agency_filters(opts: Options, topics: dict[str, tuple[str, str]], lang: Lang) -> None:
    """Topic, agency type and organ (the organ list narrowed to the chosen agency type)."""
    ss = st.session_state
    sb = st.sidebar
    if ss.get(W["topic"]) not in opts.topics:
        ss[W["topic"]] = None
    sb.selectbox(
        tr("topic", lang), [None, *opts.topics], key=W["topic"], format_func=lambda t: tr("all", lang) if t is None else topic_label(topics, t, lang),
        placeholder=tr("all", lang),
    )
    if ss.get(W["agency_type"]) not in AGENCY_TYPES:
        ss[W["agency_type"]] = None
    atype = sb.selectbox(
        tr("agency_type", lang), [None, *AGENCY_TYPES], key=W["agency_type"], format_func=lambda t: tr("all", lang) if t is None else agency_type_label(t, lang),
        placeholder=tr("all", lang),
    )
    organ_names = [n for n, t in opts.organs if atype is None or t == atype]
    if ss.get(W["organ"]) not in opts.valid.organs:
        ss[W["organ"]] = None
    sb.selectbox(
        tr("organ", lang), _capped(organ_names, ss.get(W["organ"])), key=W["organ"], format_func=lambda x: tr("all", lang) if x is None else _short(x),
        placeholder=tr("all", lang),
    )


def _source_filters(opts: Options, lang: Lang) -> None:
    """Outlet and site (long lists capped; names shortened and made printable)."""
    ss = st.session_state
    for name, values in (("outlet", opts.outlets), ("site", opts.sites)):
        if ss.get(W[name]) not in getattr(opts.valid, f"{name}s"):
            ss[W[name]] = None
        st.sidebar.selectbox(
            tr(name, lang),
            _capped(values, ss.get(W[name])),
            key=W[name],
            format_func=lambda x: tr("all", lang) if x is None else _short(x),
            placeholder=tr("all", lang),
        )


def _search_widgets(lang: Lang) -> Any:
    """Search text, where to search, the unique toggle and the reset button; return the slot for the
    search note (filled once the filters are known)."""
    ss = st.session_state
    sb = st.sidebar
    if not isinstance(ss.get(W["search"]), str):
        ss[W["search"]] = ""
    sb.text_input(tr("search", lang), key=W["search"], max_chars=200, help=tr("search_help", lang))
    if ss.get(W["search_in"]) not in SEARCH_IN:
        ss[W["search_in"]] = "all"
    sb.radio(tr("search_in", lang), SEARCH_IN, key=W["search_in"], horizontal=True, format_func=lambda v: tr(f"search_in_{v}", lang))
    search_note = sb.empty()
    if W["unique"] not in ss:
        ss[W["unique"]] = True
    sb.toggle(tr("unique", lang), key=W["unique"], help=tr("unique_help", lang))
    sb.button(tr("reset", lang), on_click=_reset, width="stretch", key="w_reset")
    return search_note


def _search_note(slot: Any, ds: Dataset, f: Filters, lang: Lang) -> None:
    """How many articles the search found and how (index or scan), or what is wrong with the query."""
    with slot.container(), st.spinner(tr("searching", lang)):
        res = data.search_result(ds, f)
    if res is None:
        slot.empty()
    elif res.error:
        slot.warning(tr(res.error, lang))
    else:
        slot.caption("  \n".join([tr("search_hits", lang, n=res.n), *(tr(k, lang) for k in res.notes)]))


def _short(x: str, n: int = 60) -> str:
    s = "".join(ch if ch.isprintable() else " " for ch in x)
    return s if len(s) <= n else s[: n - 1] + "…"


def _downloads(c: Ctx) -> None:
    sb = st.sidebar
    sb.subheader(tr("download", c.lang))
    ds, f = c.ds, c.f
    for col, (fmt, mime) in zip(sb.columns(2), (("csv", "text/csv"), ("parquet", "application/vnd.apache.parquet")), strict=True):
        col.download_button(
            tr(f"download_{fmt}", c.lang),
            data=lambda fmt=fmt: data.export_bytes(ds, f, fmt),  # bound now: the loop variable moves on
            file_name=f"articles.{fmt}",
            mime=mime,
            on_click="ignore",
            key=f"dl_{fmt}",
            width="stretch",
        )
    sb.caption(tr("download_note", c.lang, n=EXPORT_LIMIT))


# --- errors ---------------------------------------------------------------------------------------


def problem_page(p: Problem, lang: Lang) -> None:
    """A clear page for a missing, empty or broken dataset, with the command that fixes it."""
    st.title(tr("err_title", lang))
    key = {"missing": "err_no_dataset", "not_dataset": "err_not_dataset", "empty": "err_empty", "broken": "err_broken"}[p.kind]
    st.error(tr(key, lang))
    st.code(str(p.root), language=None)
    if p.detail:
        st.code(p.detail, language=None, wrap_lines=True)
    st.write(tr("err_fix", lang) + ":")
    st.code(FIX_COMMAND.format(root=shlex.quote(str(p.root))), language="bash")
    st.caption(tr("err_input_hint", lang))
    if p.kind == "empty":
        reasons = data.reject_summary(p.root)
        if reasons:
            st.subheader(tr("dq_rejects", lang))
            text_table(pd.DataFrame(reasons, columns=[tr("reason", lang), tr("count", lang)]), key="empty_rejects")


@contextlib.contextmanager
def guard(root: Any, lang: Lang) -> Iterator[None]:
    """Turn any error in a page into a clear message (never a traceback in the browser)."""
    try:
        yield
    except DATA_ERRORS as exc:
        log.exception("dataset error while rendering a page")
        problem_page(Problem("broken", root, f"{type(exc).__name__}: {str(exc)[:500]}"), lang)
    except Exception:  # the page must never show a traceback
        log.exception("unexpected error while rendering a page")
        print("dashboard: unexpected error (see log above)", file=sys.stderr)
        st.error(tr("err_unexpected", lang))


# --- small shared widgets -------------------------------------------------------------------------


def empty_note(c: Ctx) -> None:
    st.info(c.t("none_match"))


def text_table(df: pd.DataFrame, *, height: int | str = "auto", key: str | None = None, **kwargs: Any) -> Any:
    """st.dataframe with the index hidden (cells render as inert text)."""
    return st.dataframe(df, hide_index=True, width="stretch", height=height, key=key, **kwargs)
