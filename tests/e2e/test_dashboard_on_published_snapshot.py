"""The dashboard on the snapshot the pipeline really published (not a hand-made fixture)."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboards.conftest import APP

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.mark.parametrize("page", [None, "views/channels.py"])
def test_every_page_renders_for_every_tenant(tiny_run, monkeypatch, page) -> None:
    assert tiny_run.result.success
    monkeypatch.setenv("MOS_SERVING", str(tiny_run.settings.serving))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    tenant = at.sidebar.selectbox(key="tenant_id")
    assert len(tenant.options) == 2
    for option in ("northwind", "bellavista"):
        at.sidebar.selectbox(key="tenant_id").select(option).run()
        if page is not None:
            at.switch_page(page).run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        if page is None:
            labels = [m.label for m in at.metric]
            assert labels[:2] == ["Spend", "Attributed revenue"]
            assert all(m.value not in ("", "nan", "None") for m in at.metric)
        else:
            assert at.get("plotly_chart"), "the Channels page drew no chart"
