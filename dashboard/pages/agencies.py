"""Agencies: the most-mentioned organs by type and level, over time, and one organ's articles."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.article_view import table_frame
from dashboard.labels import agency_level_label
from dashboard.queries import PERIODS
from dashboard.ui import Ctx, ctx, keep, page_choice, request_filters, text_table
from pipelines.schema import AGENCY_TYPES

TOP_N = 30
TREND_N = 5


def _jurisdiction(c: Ctx, code: object) -> str:
    if not isinstance(code, str) or not code:
        return c.t("unknown")
    if code == "000000":
        return agency_level_label("national", c.lang)
    return c.region(code)


def render(c: Ctx) -> None:
    st.title(c.t("page_agencies"))
    rank, tl = data.agency_overview(c.ds, c.f, TOP_N)
    if rank.empty:
        st.info(c.t("ag_none"))
        return
    names = rank["name"].tolist()
    _agency_ranking(c, rank)
    _type_level_heatmap(c, tl)
    _top_agencies_over_time(c, names[:TREND_N])
    _organ_detail(c, names)


def _agency_ranking(c: Ctx, rank: pd.DataFrame) -> None:
    """The most-mentioned organs: a bar chart coloured by agency type, and their table."""
    st.subheader(c.t("ag_top"))
    fig = charts.bar_figure(
        rank["name"].tolist(),
        rank["articles"].tolist(),
        colors=rank["type"].tolist(),
        color_names=[c.agency_type(t) for t in rank["type"]],
        color_order=AGENCY_TYPES,
        x_title=c.t("articles"),
    )
    st.plotly_chart(fig, key="ag_rank_chart", config={"displaylogo": False})
    text_table(
        pd.DataFrame(
            {
                c.t("organ"): rank["name"],
                c.t("agency_type"): [c.agency_type(t) for t in rank["type"]],
                c.t("level"): [agency_level_label(lv, c.lang) for lv in rank["level"]],
                c.t("jurisdiction"): [_jurisdiction(c, r) for r in rank["region_code"]],
                c.t("articles"): rank["articles"],
                c.t("mentions"): rank["mentions"],
            }
        ),
        key="ag_rank_table",
    )


def _type_level_heatmap(c: Ctx, tl: pd.DataFrame) -> None:
    """Articles by agency type (most first) and level (unknown level shown as its own column)."""
    st.subheader(c.t("ag_type_level"))
    if tl.empty:
        return
    tl = tl.assign(level=tl["level"].fillna("?"))
    types = tl.groupby("type")["articles"].sum().sort_values(ascending=False).index.tolist()
    fig = charts.heatmap_figure(
        tl.assign(level_label=[agency_level_label(lv if lv != "?" else None, c.lang) for lv in tl["level"]]),
        x="level_label",
        y="type",
        z="articles",
        y_labels={t: c.agency_type(t) for t in types},
        y_order=types,
        z_title=c.t("articles"),
    )
    st.plotly_chart(fig, key="ag_type_level_chart", config={"displaylogo": False})


def _top_agencies_over_time(c: Ctx, top: list[str]) -> None:
    """The top organs' article counts per period, with spikes."""
    st.subheader(c.t("ag_over_time", n=len(top)))
    period = st.radio(c.t("tr_period"), PERIODS, key=page_choice("ag_period", PERIODS, "month"), format_func=c.t, horizontal=True)
    keep("ag_period", period, "month")
    trend = data.agency_trend(c.ds, c.f, top, period)
    if not trend.empty:
        table = charts.mark_spikes(charts.trend_table(trend, pd.DataFrame(), period, series_col="name", den_by_series=False), "count")
        fig = charts.trend_figure(table, measure="count", series_labels={n: n for n in top}, y_title=c.t("articles"), spike_label=c.t("tr_spikes"), height=380)
        st.plotly_chart(fig, key="ag_trend_chart", config={"displaylogo": False})


def _organ_detail(c: Ctx, names: list[str]) -> None:
    """One organ (by default the filtered organ, else the most mentioned): its facts, a button to filter by it, its articles."""
    st.subheader(c.t("ag_organ"))
    choices = list(dict.fromkeys([*([c.f.organ] if c.f.organ else []), *names]))
    organ = st.selectbox(c.t("ag_pick"), choices, key=page_choice("ag_organ", choices, choices[0]))
    keep("ag_organ", organ, choices[0])
    _organ_info_table(c, organ)
    if c.f.organ != organ and st.button(c.t("ag_filter_by"), key="ag_filter_btn"):
        request_filters(organ=organ)
    st.markdown(f"**{c.t('ag_articles')}**")
    rows = data.organ_articles(c.ds, c.f, organ, 50)
    if rows.empty:
        st.info(c.t("none_match"))
    else:
        text_table(table_frame(c, rows), key="ag_articles")


def _organ_info_table(c: Ctx, organ: str) -> None:
    info = data.organ_info(c.ds, organ)
    if info:
        text_table(
            pd.DataFrame(
                [
                    (c.t("organ"), info["name"]),
                    (c.t("agency_type"), c.agency_type(info["type"])),
                    (c.t("level"), agency_level_label(info["level"], c.lang)),
                    (c.t("jurisdiction"), _jurisdiction(c, info["region_code"])),
                    (c.t("articles"), f"{info['articles']:,}"),
                    (c.t("mentions"), f"{info['mentions']:,}"),
                    (c.t("surface"), "、".join(info["surfaces"])),
                ],
                columns=[c.t("field"), c.t("value")],
            ),
            key="ag_organ_info",
        )


render(ctx())
