"""Overview: how the brand is doing in the selected period.

KPI tiles with the change against the previous equal period, daily spend against attributed
revenue, the channel mix, and the newest decisions waiting for approval.
"""

from __future__ import annotations

import streamlit as st

from dashboards import charts, queries
from dashboards.frame import filters

f = filters()
daily = queries.channel_daily(f.tenant_id, f.start, f.end)
if daily.empty:
    st.info(f"No channel data for {f.tenant_name} between {f.start} and {f.end}.")
    st.stop()

# KPI tiles
kpis = queries.kpis(f.tenant_id, f.start, f.end)
for column, (_, row) in zip(st.columns(len(kpis)), kpis.iterrows(), strict=True):
    column.metric(**charts.kpi_tile(row, f.currency, f.days), border=True)
prev_start, prev_end = queries.previous_period(f.start, f.end)
st.caption(
    f"Changes compare with the previous {f.days} days ({prev_start:%d %b} – {prev_end:%d %b %Y}). "
    "Revenue and conversions are warehouse-attributed (last touch), all channels; "
    "ROAS and CPA are for paid channels: their attributed revenue and conversions against spend."
)

trend, mix = st.columns([3, 2])
with trend:
    st.subheader("Spend vs attributed revenue")
    st.plotly_chart(charts.spend_revenue_trend(charts.daily_totals(daily), f.currency))
with mix:
    st.subheader("Channel mix")
    st.plotly_chart(charts.channel_mix(queries.channel_summary(f.tenant_id, f.start, f.end)))

st.subheader("Latest proposed decisions")
proposed = queries.decisions(f.tenant_id, status="proposed", limit=10)
proposed["platform"] = proposed["platform"].map(charts.channel_label)
if proposed.empty:
    st.info("No decisions are waiting for approval.")
else:
    st.dataframe(
        proposed,
        hide_index=True,
        column_order=[
            "created_at",
            "platform",
            "action",
            "entity_type",
            "entity_id",
            "reason",
            "expected_impact",
            "policy",
        ],
        column_config={
            "created_at": st.column_config.DatetimeColumn("Proposed", format="YYYY-MM-DD HH:mm"),
            "platform": st.column_config.TextColumn("Platform"),
            "action": st.column_config.TextColumn("Action"),
            "entity_type": st.column_config.TextColumn("Entity"),
            "entity_id": st.column_config.TextColumn("Entity id"),
            "reason": st.column_config.TextColumn("Reason", width="medium"),
            "expected_impact": st.column_config.TextColumn("Expected impact"),
            "policy": st.column_config.TextColumn("Policy"),
        },
    )
    st.caption("Newest ten. Decisions are applied only after approval (DESIGN.md §8).")
