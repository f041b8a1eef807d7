"""Marketing OS dashboards: `streamlit run dashboards/app.py`.

The entry point owns the shared frame (page config, navigation, title, tenant and date filters,
snapshot freshness) and runs the selected page inside it. Every number comes from the published
serving snapshot through `dashboards.queries`; nothing here touches the warehouse.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    # `streamlit run dashboards/app.py` puts dashboards/ on sys.path, not the repo root; without an
    # installed package, make `import dashboards` work all the same.
    sys.path.insert(0, _ROOT)

from dashboards import frame, queries  # noqa: E402

st.set_page_config(page_title="Marketing OS", page_icon=":material/insights:", layout="wide")

# Pages live in views/, not pages/: Streamlit treats a pages/ folder beside the entry point as the
# legacy multipage layout until some session has called st.navigation, so a first visit straight to
# /channels (and AppTest.switch_page) would run the page without this frame.
page = st.navigation(
    [
        st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("views/channels.py", title="Channels & ROAS", icon=":material/stacked_line_chart:"),
        st.Page("views/science.py", title="Marketing science", icon=":material/science:"),
    ]
)

st.title(page.title)
selection = frame.render()
if selection is None:
    st.stop()
st.caption(
    f"{selection.tenant_name} · {selection.start:%d %b %Y} – {selection.end:%d %b %Y} "
    f"({selection.days} days) · amounts in {selection.currency}"
)

try:
    page.run()
except queries.SnapshotError as error:
    # The pipeline may have replaced the file between the frame's check and the page's reads.
    frame.snapshot_problem(error=error)
