"""The anomaly asset reads planned budgets when the relation exists and names a bad relation."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pipelines.assets.ml_signals import _read_budgets


def test_budgets_are_read_when_present_and_none_when_absent() -> None:
    con = duckdb.connect()
    assert _read_budgets(con, "ml.campaign_budget_history") is None
    con.execute("create schema ml")
    con.execute(
        "create table ml.campaign_budget_history as select 't' as tenant_id, 'meta' as platform, "
        "'1' as campaign_id, date '2026-01-01' as date, 100.0 as daily_budget, 'x' as extra"
    )
    budgets = _read_budgets(con, "ml.campaign_budget_history")
    assert budgets is not None
    assert budgets.columns == ["tenant_id", "platform", "campaign_id", "date", "daily_budget"]
    assert budgets.row(0) == ("t", "meta", "1", date(2026, 1, 1), 100.0)
    with pytest.raises(ValueError, match=r"schema\.table"):
        _read_budgets(con, "campaign_budget_history")
