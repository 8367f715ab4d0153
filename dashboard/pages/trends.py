"""Trends: article counts over time by topic, region or agency type, as counts or shares, with spikes."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.filters import Filters
from dashboard.labels import GANSU
from dashboard.queries import PERIODS, region_level
from dashboard.ui import TRENDS_DEFAULT_TOPIC, Ctx, ctx, empty_note, keep, page_choice, text_table

BYS = ("region", "topic", "agency_type")
MEASURES = ("count", "share")


class _Series(NamedTuple):
    """Counts per period of each series (``num``) and the denominators of their shares (``den``)."""

    dim: str
    num: pd.DataFrame
    den: pd.DataFrame
    labels: dict[str, str]
    den_by_series: bool
    unknown: int  # articles without a region (by region only)


def render(c: Ctx) -> None:
    st.title(c.t("page_trends"))
    if c.f == Filters(topic=TRENDS_DEFAULT_TOPIC, province=GANSU):
        st.caption(c.t("tr_default"))
    by, period, measure = _controls(c)
    s = _series(c, by, period)
    if s.num.empty:
        empty_note(c)
        return
    table = charts.trend_table(s.num, s.den, period, series_col=s.dim, den_by_series=s.den_by_series)
    table = charts.mark_spikes(table, measure)
    _trend_chart(c, s, table, measure)
    with st.expander(c.t("tr_table"), expanded=False):
        _trend_table(c, table, s.labels)


def _controls(c: Ctx) -> tuple[str, str, str]:
    """Series by, period and measure: radios whose choice survives page switches and is in the URL."""
    col1, col2, col3 = st.columns([2, 2, 2])
    by_labels = {"region": c.t("tr_by_region"), "topic": c.t("tr_by_topic"), "agency_type": c.t("tr_by_agency_type")}
    by = col1.radio(c.t("tr_by"), BYS, key=page_choice("by", BYS, "region"), format_func=by_labels.__getitem__, horizontal=True)
    keep("by", by, "region")
    period = col2.radio(c.t("tr_period"), PERIODS, key=page_choice("period", PERIODS, "month"), format_func=c.t, horizontal=True)
    keep("period", period, "month")
    measure_labels = {"count": c.t("tr_count"), "share": c.t("tr_share")}
    measure = col3.radio(c.t("tr_measure"), MEASURES, key=page_choice("measure", MEASURES, "count"), format_func=measure_labels.__getitem__, horizontal=True)
    keep("measure", measure, "count")
    return by, period, measure


def _series(c: Ctx, by: str, period: str) -> _Series:
    """The counts of the chosen series; shares are of all coverage (topic, agency and search filters off),
    per region for regions and per period otherwise."""
    f = c.f
    base = f.without("topic", "agency_type", "organ", "search")  # the denominator: all coverage
    if by == "region":
        dim = region_level(f)
        num = data.counts(c.ds, f, by=[dim], period=period)
        den = data.counts(c.ds, base, by=[dim], period=period)
        unknown = int(num.loc[num[dim].isna(), "articles"].sum())
        num = num[num[dim].notna()]
        den = den[den[dim].notna()]
        return _Series(dim, num, den, {code: c.region(code) for code in num[dim].unique()}, True, unknown)
    if by == "topic":
        num = data.counts(c.ds, f, by=["topic"], period=period)
        den = data.counts(c.ds, base, period=period)
        return _Series("topic", num, den, {t: c.topic(t) for t in num["topic"].unique()}, False, 0)
    num = data.counts(c.ds, f, by=["agency_type"], period=period)
    den = data.counts(c.ds, base, period=period)
    return _Series("agency_type", num, den, {t: c.agency_type(t) for t in num["agency_type"].unique()}, False, 0)


def _trend_chart(c: Ctx, s: _Series, table: pd.DataFrame, measure: str) -> None:
    """The trend lines with spikes, and the notes under them."""
    n_series = s.num[s.dim].nunique()
    if n_series > table["series"].nunique():
        st.caption(c.t("showing_top", n=table["series"].nunique(), total=n_series))
    fig = charts.trend_figure(
        table, measure=measure, series_labels=s.labels, y_title=c.t("articles") if measure == "count" else c.t("share"), spike_label=c.t("tr_spikes")
    )
    st.plotly_chart(fig, key="trend_chart", config={"displaylogo": False})
    st.caption(c.t("tr_spike_note", min=charts.SPIKE_MIN_COUNT))
    if measure == "share":
        st.caption(c.t("tr_share_note"))
    if s.unknown:
        st.caption(c.t("tr_region_unknown", n=s.unknown))


def _trend_table(c: Ctx, table: pd.DataFrame, labels: dict[str, str]) -> None:
    shown = pd.DataFrame(
        {
            c.t("period"): table["period"].dt.date,
            c.t("series"): [labels.get(s, str(s)) for s in table["series"]],
            c.t("articles"): table["count"].astype(int),
            c.t("total"): table["total"].astype(int),
            c.t("share"): table["share"],
            c.t("tr_spikes"): table["spike"].map({True: "▲", False: ""}),
        }
    )
    text_table(shown, key="trend_table", column_config={c.t("share"): st.column_config.NumberColumn(format="percent")})


render(ctx())
