"""Data quality: rejects by reason, articles without date or region, coverage by outlet and month."""

from __future__ import annotations

import shlex

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.ui import FIX_COMMAND, Ctx, ctx, empty_note, text_table

TOP_OUTLETS = 20


def render(c: Ctx) -> None:
    st.title(c.t("page_quality"))
    if c.ds.db.derived:
        st.warning(c.t("dq_derived"))
        st.code(", ".join(f"aggregates/{d}.parquet" for d in c.ds.db.derived), language=None)
        st.code(FIX_COMMAND.format(root=shlex.quote(str(c.ds.root))), language="bash")
    _rejects(c)

    st.subheader(c.t("dq_missing"))
    st.caption(c.t("dq_missing_note"))
    miss, flags = data.quality_summary(c.ds, c.f)
    if miss.empty:
        empty_note(c)
        return
    _missing_metrics(c, miss)
    _missing_by_outlet_table(c, miss)
    if not flags.empty:
        st.subheader(c.t("dq_flags"))
        fig = charts.bar_figure(flags["flag"].tolist(), flags["articles"].tolist(), x_title=c.t("articles"))
        st.plotly_chart(fig, key="dq_flags_chart", config={"displaylogo": False})
    _coverage_heatmap(c)


def _rejects(c: Ctx) -> None:
    """Rejected files by reason (of the whole dataset: filters do not apply to rejects)."""
    st.subheader(c.t("dq_rejects"))
    st.caption(c.t("dq_rejects_note"))
    rej = data.rejects_by_reason(c.ds)
    if rej.empty:
        st.info(c.t("dq_no_rejects"))
    else:
        fig = charts.bar_figure(rej["reason"].tolist(), rej["n"].tolist(), x_title=c.t("count"))
        st.plotly_chart(fig, key="dq_rejects_chart", config={"displaylogo": False})
        text_table(rej.rename(columns={"reason": c.t("reason"), "n": c.t("count"), "bytes": c.t("bytes")}), key="dq_rejects_table")


def _missing_metrics(c: Ctx, miss: pd.DataFrame) -> None:
    """Articles, and how many (and what share) have no date or no region."""
    total = int(miss["articles"].sum())
    no_date = int(miss["no_date"].sum())
    no_region = int(miss["no_region"].sum())
    m1, m2, m3 = st.columns(3)
    m1.metric(c.t("articles"), f"{total:,}")
    m2.metric(c.t("dq_no_date"), f"{no_date:,}", f"{no_date / total:.1%}" if total else None, delta_color="off", delta_arrow="off")
    m3.metric(c.t("dq_no_region"), f"{no_region:,}", f"{no_region / total:.1%}" if total else None, delta_color="off", delta_arrow="off")


def _missing_by_outlet_table(c: Ctx, miss: pd.DataFrame) -> None:
    outlet_label = [o if isinstance(o, str) else c.t("unknown") for o in miss["outlet"]]
    text_table(
        pd.DataFrame(
            {
                c.t("outlet"): outlet_label,
                c.t("articles"): miss["articles"],
                c.t("dq_no_date"): miss["no_date"],
                c.t("dq_no_region"): miss["no_region"],
                c.t("dq_no_date") + " %": miss["no_date"] / miss["articles"],
                c.t("dq_no_region") + " %": miss["no_region"] / miss["articles"],
            }
        ),
        key="dq_missing_table",
        column_config={
            c.t("dq_no_date") + " %": st.column_config.NumberColumn(format="percent"),
            c.t("dq_no_region") + " %": st.column_config.NumberColumn(format="percent"),
        },
    )


def _coverage_heatmap(c: Ctx) -> None:
    """Articles by outlet (the TOP_OUTLETS largest; no outlet as "unknown") and month."""
    st.subheader(c.t("dq_coverage"))
    cov = data.counts(c.ds, c.f, by=["outlet"], period="month")
    if cov.empty:
        empty_note(c)
        return
    cov = cov.assign(outlet=cov["outlet"].fillna("\x00"), month=pd.to_datetime(cov["period"]).dt.strftime("%Y-%m"))
    order = cov.groupby("outlet")["articles"].sum().sort_values(ascending=False).index.tolist()[:TOP_OUTLETS]
    cov = cov[cov["outlet"].isin(order)]
    labels = {o: (c.t("unknown") if o == "\x00" else o) for o in order}
    fig = charts.heatmap_figure(cov, x="month", y="outlet", z="articles", y_labels=labels, y_order=order, z_title=c.t("articles"))
    st.plotly_chart(fig, key="dq_coverage_chart", config={"displaylogo": False})


render(ctx())
