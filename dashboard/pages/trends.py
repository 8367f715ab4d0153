"""Trends: article counts over time by topic, region or agency type, as counts or shares, with spikes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.filters import Filters
from dashboard.labels import GANSU
from dashboard.queries import PERIODS, region_level
from dashboard.ui import TRENDS_DEFAULT_TOPIC, Ctx, ctx, empty_note, keep, page_choice, text_table

BYS = ("region", "topic", "agency_type")
MEASURES = ("count", "share")


def render(c: Ctx) -> None:
    st.title(c.t("page_trends"))
    if c.f == Filters(topic=TRENDS_DEFAULT_TOPIC, province=GANSU):
        st.caption(c.t("tr_default"))
    col1, col2, col3 = st.columns([2, 2, 2])
    by_labels = {"region": c.t("tr_by_region"), "topic": c.t("tr_by_topic"), "agency_type": c.t("tr_by_agency_type")}
    by = col1.radio(c.t("tr_by"), BYS, key=page_choice("by", BYS, "region"), format_func=by_labels.__getitem__, horizontal=True)
    keep("by", by, "region")
    period = col2.radio(c.t("tr_period"), PERIODS, key=page_choice("period", PERIODS, "month"), format_func=c.t, horizontal=True)
    keep("period", period, "month")
    measure_labels = {"count": c.t("tr_count"), "share": c.t("tr_share")}
    measure = col3.radio(c.t("tr_measure"), MEASURES, key=page_choice("measure", MEASURES, "count"), format_func=measure_labels.__getitem__, horizontal=True)
    keep("measure", measure, "count")

    f = c.f
    base = f.without("topic", "agency_type", "organ", "search")  # the denominator: all coverage
    unknown = 0
    if by == "region":
        dim = region_level(f)
        num = data.counts(c.ds, f, by=[dim], period=period)
        den = data.counts(c.ds, base, by=[dim], period=period)
        unknown = int(num.loc[num[dim].isna(), "articles"].sum())
        num = num[num[dim].notna()]
        den = den[den[dim].notna()]
        labels = {code: c.region(code) for code in num[dim].unique()}
        den_by_series = True
    elif by == "topic":
        dim = "topic"
        num = data.counts(c.ds, f, by=["topic"], period=period)
        den = data.counts(c.ds, base, period=period)
        labels = {t: c.topic(t) for t in num["topic"].unique()}
        den_by_series = False
    else:
        dim = "agency_type"
        num = data.counts(c.ds, f, by=["agency_type"], period=period)
        den = data.counts(c.ds, base, period=period)
        labels = {t: c.agency_type(t) for t in num["agency_type"].unique()}
        den_by_series = False

    if num.empty:
        empty_note(c)
        return
    table = charts.trend_table(num, den, period, series_col=dim, den_by_series=den_by_series)
    table = charts.mark_spikes(table, measure)
    n_series = num[dim].nunique()
    if n_series > table["series"].nunique():
        st.caption(c.t("showing_top", n=table["series"].nunique(), total=n_series))
    fig = charts.trend_figure(
        table, measure=measure, series_labels=labels, y_title=c.t("articles") if measure == "count" else c.t("share"), spike_label=c.t("tr_spikes")
    )
    st.plotly_chart(fig, key="trend_chart", config={"displaylogo": False})
    st.caption(c.t("tr_spike_note", min=charts.SPIKE_MIN_COUNT))
    if measure == "share":
        st.caption(c.t("tr_share_note"))
    if unknown:
        st.caption(c.t("tr_region_unknown", n=unknown))

    with st.expander(c.t("tr_table"), expanded=False):
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
