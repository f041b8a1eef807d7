"""The Marketing science page, headless (AppTest), on a snapshot holding real MMM outputs."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from models_ml.budget import ResponseCurve, budget_plan_table, optimise_budget
from models_ml.media_transforms import geometric_adstock, hill
from models_ml.mmm import MMMConfig, recent_daily_spend, run_mmm
from tests.dashboards.conftest import APP
from tests.dashboards.snapshot_fixture import END, write_snapshot

PAGE = "views/science.py"
TIMEOUT = 60


def _science_tables(seed: int = 3) -> dict[str, pl.DataFrame]:
    """MMM tables from a small synthetic world with known curves, for both snapshot tenants."""
    rng = np.random.default_rng(seed)
    n = 200
    dates = [END - timedelta(days=n - 1 - i) for i in range(n)]
    media_rows, kpi_rows, lift_rows = [], [], []
    for tenant in ("northwind", "bellavista"):
        total = np.full(n, 900.0)
        for channel, mean, decay, k, beta in (
            ("meta", 400.0, 0.5, 700.0, 900.0),
            ("google_ads", 300.0, 0.2, 300.0, 600.0),
        ):
            spend = mean * rng.lognormal(0.0, 0.35, n)
            total += beta * hill(geometric_adstock(spend, decay), k, 1.3)
            if tenant == "northwind":
                # The world's truth for two experiments: a holdout (1 vs 0) over the last 28 days and
                # a +50 % test (1.5 vs 1) over days 100-127.
                for first, treatment, control in ((n - 28, 1.0, 0.0), (100, 1.5, 1.0)):
                    stock = geometric_adstock(spend, decay)[first : first + 28]
                    caused = float(
                        beta * (hill(treatment * stock, k, 1.3) - hill(control * stock, k, 1.3)).sum()
                    )
                    lift_rows.append(
                        {
                            "tenant_id": tenant,
                            "kpi": "revenue",
                            "channel": channel,
                            "start": dates[first],
                            "end": dates[first + 27],
                            "incremental": caused,
                            "standard_error": 0.1 * caused,
                            "treatment_spend_scale": treatment,
                            "control_spend_scale": control,
                        }
                    )
            media_rows.append(
                pl.DataFrame({"tenant_id": tenant, "date": dates, "channel": channel, "spend": spend})
            )
        revenue = total * rng.lognormal(0.0, 0.05, n)
        kpi_rows.append(
            pl.DataFrame(
                {"tenant_id": tenant, "date": dates, "revenue": revenue, "conversions": revenue / 90}
            )
        )
    config = MMMConfig(n_bootstrap=5, n_candidates=16, n_starts=1, seed=seed)
    out = run_mmm(
        pl.concat(media_rows), pl.concat(kpi_rows), config=config, lift_tests=pl.DataFrame(lift_rows)
    )
    plans = []
    for (tenant, kpi), fit in out.fits.items():
        if kpi == "revenue":
            curves = [ResponseCurve(p.channel, p.decay, p.k, p.alpha, p.beta) for p in fit.params]
            draws = [[ResponseCurve(p.channel, p.decay, p.k, p.alpha, p.beta) for p in d] for d in fit.draws]
            plan = optimise_budget(curves, recent_daily_spend(fit), max_change=0.3)
            plans.append(budget_plan_table(tenant, plan, curves, draws))
    return {
        "mmm_channel": out.channel,
        "mmm_fit": out.fit,
        "mmm_decomposition": out.decomposition,
        "response_curves": out.response_curves,
        "budget_plan": pl.concat(plans),
        "mmm_calibration": out.calibration,
    }


ATTRIBUTION = pl.DataFrame(
    {
        "tenant_id": ["northwind"] * 4,
        "period_start": [date(2026, 8, 3)] * 4,
        "period_end": [END] * 4,
        "model": ["last_touch", "last_touch", "markov", "markov"],
        "channel": ["meta", "google_ads", "meta", "google_ads"],
        "conversions": [120.0, 300.0, 220.0, 200.0],
        "revenue": [12_000.0, 30_000.0, 22_000.0, 20_000.0],
        "share": [0.2857, 0.7143, 0.5238, 0.4762],
    }
)


@pytest.fixture(scope="module")
def science_tables() -> dict[str, pl.DataFrame]:
    return _science_tables()


def _snapshot(path: Path, tables: dict[str, pl.DataFrame]) -> Path:
    write_snapshot(path)
    con = duckdb.connect(str(path))
    try:
        for name, frame in tables.items():
            con.register("frame", frame.to_arrow())
            con.execute(f"create table {name} as select * from frame")
            con.unregister("frame")
    finally:
        con.close()
    return path


def _page(tenant: str = "northwind") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.sidebar.selectbox(key="tenant_id").select(tenant).run()
    return at.switch_page(PAGE).run()


def _texts(at: AppTest) -> str:
    kinds = ("title", "subheader", "caption", "info", "warning", "error", "markdown")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_page_shows_roi_curves_planner_and_recommendation(tmp_path, monkeypatch, science_tables) -> None:
    monkeypatch.setenv("MOS_SERVING", str(_snapshot(tmp_path / "snap.duckdb", science_tables)))
    at = _page()

    assert not at.exception
    assert [t.value for t in at.title] == ["Marketing science"]
    headers = [s.value for s in at.subheader]
    for header in ("Return on spend", "Response curves", "Budget planner", "Recommendation"):
        assert header in headers
    roi = at.dataframe[0].value
    expected = science_tables["mmm_channel"].filter(
        (pl.col("tenant_id") == "northwind") & (pl.col("kpi") == "revenue")
    )
    assert set(roi["channel"]) == set(expected["channel"])
    assert np.allclose(sorted(roi["roi"]), sorted(expected["roi"]))
    # Attribution is absent from this snapshot: the page says so instead of failing.
    assert "No attribution models in this snapshot" in _texts(at)


def test_moving_a_slider_changes_the_predicted_revenue(tmp_path, monkeypatch, science_tables) -> None:
    monkeypatch.setenv("MOS_SERVING", str(_snapshot(tmp_path / "snap.duckdb", science_tables)))
    at = _page()
    revenue_tile = next(m for m in at.metric if m.label == "Media-driven revenue per day")
    assert revenue_tile.delta in ("$0", "-$0", "+$0")

    slider = at.slider(key="planner_meta")
    slider.set_value(0.0).run()

    assert not at.exception
    after = next(m for m in at.metric if m.label == "Media-driven revenue per day")
    assert after.delta.startswith("-")  # no Meta spend, less revenue


def test_optimiser_tab_respects_the_budget(tmp_path, monkeypatch, science_tables) -> None:
    monkeypatch.setenv("MOS_SERVING", str(_snapshot(tmp_path / "snap.duckdb", science_tables)))
    at = _page()
    at.number_input(key="planner_budget").set_value(1500.0).run()
    at.slider(key="planner_change").set_value(100).run()

    assert not at.exception
    plan = next(d for d in at.dataframe if "recommended" in d.value.columns).value
    assert plan["recommended"].sum() == pytest.approx(1500.0, rel=1e-6)


def test_attribution_models_side_by_side_when_published(tmp_path, monkeypatch, science_tables) -> None:
    tables = {**science_tables, "attribution_channel": ATTRIBUTION}
    monkeypatch.setenv("MOS_SERVING", str(_snapshot(tmp_path / "snap.duckdb", tables)))
    at = _page()

    assert not at.exception
    shares = at.dataframe[-1].value
    assert {"last_touch", "markov", "mmm (incremental)"} <= set(shares.columns)
    assert shares["markov"].sum() == pytest.approx(1.0, abs=1e-3)


def test_snapshot_without_the_model_explains_itself(snapshot: Path) -> None:
    at = _page()

    assert not at.exception
    assert not at.error
    assert "No media-mix model in this snapshot yet" in _texts(at)


def test_experiments_vs_model_shows_each_lift_test(tmp_path, monkeypatch, science_tables) -> None:
    monkeypatch.setenv("MOS_SERVING", str(_snapshot(tmp_path / "snap.duckdb", science_tables)))
    at = _page()

    assert not at.exception
    assert "Experiments vs model" in [s.value for s in at.subheader]
    table = next(d for d in at.dataframe if "design" in d.value.columns).value
    expected = science_tables["mmm_calibration"].filter(
        (pl.col("tenant_id") == "northwind") & (pl.col("kpi") == "revenue")
    )
    assert len(table) == expected.height == 4  # two tests on each of the two channels
    assert sorted(table["design"]) == ["+50 %", "+50 %", "holdout", "holdout"]
    assert np.allclose(sorted(table["modelled"]), sorted(expected["modelled"]))
    assert "within the experiment's 95 % interval on" in _texts(at)

    # Conversions were not tested: the section says so instead of an empty chart.
    at.segmented_control(key="science_kpi").set_value("conversions").run()
    assert not at.exception
    assert "No lift tests calibrated the conversions model" in _texts(at)


def test_snapshot_without_calibration_evidence_says_so(tmp_path, monkeypatch, science_tables) -> None:
    tables = {k: v for k, v in science_tables.items() if k != "mmm_calibration"}
    monkeypatch.setenv("MOS_SERVING", str(_snapshot(tmp_path / "snap.duckdb", tables)))
    at = _page()

    assert not at.exception
    assert "No calibration evidence in this snapshot" in _texts(at)
    assert not any("design" in d.value.columns for d in at.dataframe)
