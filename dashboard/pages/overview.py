"""Overview: the dataset at a glance, and the same numbers under the current filters."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.ui import Ctx, ctx, empty_note, text_table


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _span(s: dict[str, object]) -> str:
    lo, hi = s.get("first_day"), s.get("last_day")
    return f"{lo} – {hi}" if lo and hi else "–"


def _metrics(c: Ctx, s: dict[str, object], originals: int | None = None) -> None:
    n = int(s["articles"])  # type: ignore[call-overload]
    row1 = st.columns(4)
    if originals is not None:
        row1[0].metric(c.t("ov_articles"), f"{n:,}")
        row1[1].metric(c.t("ov_unique"), f"{originals:,}")
    else:
        row1[0].metric(c.t("matching"), f"{n:,}")
    row1[2].metric(c.t("ov_outlets"), f"{int(s['outlets']):,}")  # type: ignore[call-overload]
    row1[3].metric(c.t("ov_sites"), f"{int(s['sites']):,}")  # type: ignore[call-overload]
    row2 = st.columns([1, 1, 2])
    row2[0].metric(c.t("ov_known_date"), _pct(int(s["with_date"]), n))  # type: ignore[call-overload]
    row2[1].metric(c.t("ov_known_region"), _pct(int(s["with_region"]), n))  # type: ignore[call-overload]
    row2[2].metric(c.t("ov_span"), _span(s))


def render(c: Ctx) -> None:
    st.title(c.t("page_overview"))
    everything, originals = data.dataset_summary(c.ds)
    st.subheader(c.t("ov_dataset"))
    with st.container(key="ov_dataset"):
        _metrics(c, everything, originals)

    st.subheader(c.t("ov_build"))
    m = c.ds.manifest
    if m:
        rows = [(k, str(m.get(k))) for k in ("finished_at", "pipeline_version", "articles", "rejects", "inputs", "label_hash", "input") if k in m]
        text_table(pd.DataFrame(rows, columns=[c.t("field"), c.t("value")]), key="ov_manifest")
    else:
        st.info(c.t("ov_no_manifest"))

    st.subheader(c.t("ov_filtered"))
    s = data.summary(c.ds, c.f)
    with st.container(key="ov_filtered"):
        _metrics(c, s)
    if s["articles"] == 0:
        empty_note(c)
        return
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{c.t('ov_per_month')}**")
        monthly = data.counts(c.ds, c.f, period="month")
        if not monthly.empty:
            fig = charts.bar_figure([str(p)[:7] for p in monthly["period"]], monthly["articles"].tolist(), horizontal=False, x_title=c.t("articles"), height=340)
            st.plotly_chart(fig, key="ov_monthly", config={"displayModeBar": False})
    with right:
        st.markdown(f"**{c.t('ov_topics')}**")
        by_topic = data.counts(c.ds, c.f, by=["topic"]).sort_values("articles", ascending=False)
        if not by_topic.empty:
            fig = charts.bar_figure([c.topic(t) for t in by_topic["topic"]], by_topic["articles"].tolist(), x_title=c.t("articles"))
            st.plotly_chart(fig, key="ov_topics", config={"displayModeBar": False})


render(ctx())
