"""Marketing-science assets: the media-mix model and the budget plan (INTERFACES.md §7.4).

Reads spend per channel-day from `marts.fct_channel_daily`, the owned media's volume (emails
delivered, organic reach) per channel-day from `marts.fct_owned_media_daily` (non-spend media inputs:
adstock + saturation, non-negative effect, a contribution share but no ROI) and the sales KPI per day
from `marts.fct_kpi_daily`, fits
`models_ml.mmm` per tenant and KPI, optimises the budget on the revenue model's response curves
(`models_ml.budget`) and writes `ml.mmm_channel`, `ml.mmm_fit`, `ml.mmm_decomposition`,
`ml.response_curves`, `ml.budget_plan` and `ml.mmm_calibration` (each lift test the model used: measured
against what the fit says of it, `models_ml.mmm.lift_test_fit`).

Lift tests calibrate the model: by default the experiment read-outs in the warehouse
(`staging.stg_experiments__lift_tests`, loaded from the measurement vendor's drops by `raw/lift_tests`);
when `lift_tests_path` names a Parquet or CSV file with columns tenant_id, kpi, channel, start, end,
incremental[, standard_error, treatment_spend_scale, control_spend_scale], that file instead (without
the scale columns every test is a holdout: 1.0 / 0.0); `calibrate=False` fits without experiments. A
test on a channel the tenant has no media for, or outside the fitted history, is left out with a
warning. Budget-scaling tests (scales other than 1.0 / 0.0) pin the slope of a channel's curve around
today's spend (`models_ml.mmm.LiftTest`).
"""

import math
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl

from models_ml.budget import (
    BUDGET_PLAN_SCHEMA,
    InfeasibleBudget,
    ResponseCurve,
    budget_plan_table,
    optimise_budget,
)
from models_ml.mmm import ChannelParams, MMMConfig, MMMFit, recent_daily_spend, run_mmm
from pipelines.resources import WarehouseResource
from pipelines.warehouse import create_or_replace, table_exists

MMM_DEPS = [
    ["marts", "fct_channel_daily"],
    ["marts", "fct_owned_media_daily"],
    ["marts", "fct_kpi_daily"],
    ["staging", "stg_experiments__lift_tests"],
]
LIFT_TESTS_TABLE = "staging.stg_experiments__lift_tests"
MMM_TABLES = (
    "mmm_channel",
    "mmm_fit",
    "mmm_decomposition",
    "response_curves",
    "budget_plan",
    "mmm_calibration",
)
# A lift test compares treatment x BAU spend with control x it; a holdout/geo test is 1.0 / 0.0.
SPEND_SCALES: dict[str, float] = {"treatment_spend_scale": 1.0, "control_spend_scale": 0.0}


class MediaMixConfig(dg.Config):
    grain: str = "day"
    n_bootstrap: int = 50  # the plan optimises the mean response over these draws: see MMMConfig
    seed: int = 7
    # Calibrate to lift tests: the warehouse's (stg_experiments__lift_tests), or this file when given.
    calibrate: bool = True
    lift_tests_path: str | None = None
    # The plan: same total budget as the last 28 days, each channel within +-max_change of today.
    max_change: float = 0.3
    # "expected": optimise the mean response over the bootstrap draws (robust to the fit's uncertainty);
    # "point": the point fit's curves.
    budget_curves: str = "expected"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["ml", "mmm_channel"],
            deps=MMM_DEPS,
            description="Media-mix model per tenant, KPI and channel: ROI and marginal ROI with "
            "bootstrap intervals, contribution, adstock and Hill parameters.",
            kinds={"scipy", "duckdb"},
        ),
        dg.AssetSpec(
            ["ml", "mmm_fit"],
            deps=MMM_DEPS,
            description="Media-mix model fit diagnostics: R², NRMSE, out-of-time MAPE.",
            kinds={"scipy", "duckdb"},
        ),
        dg.AssetSpec(
            ["ml", "mmm_decomposition"],
            deps=MMM_DEPS,
            description="Daily KPI decomposition: trend, seasonality, events and each channel.",
            kinds={"scipy", "duckdb"},
        ),
        dg.AssetSpec(
            ["ml", "response_curves"],
            deps=MMM_DEPS,
            description="Steady-state daily response of each paid channel on a spend grid.",
            kinds={"scipy", "duckdb"},
        ),
        dg.AssetSpec(
            ["ml", "budget_plan"],
            deps=MMM_DEPS,
            description="Recommended daily budget split (same total, bounded change) with the "
            "expected revenue change and its bootstrap interval.",
            kinds={"scipy", "duckdb"},
        ),
        dg.AssetSpec(
            ["ml", "mmm_calibration"],
            deps=MMM_DEPS,
            description="Calibration evidence: each lift test the model used, measured incremental "
            "(with its standard error) against the fitted model's incremental for the test's design "
            "and window, with its bootstrap interval and z-score.",
            kinds={"scipy", "duckdb"},
        ),
    ],
    group_name="ml",
)
def media_mix_model(context: dg.AssetExecutionContext, config: MediaMixConfig, warehouse: WarehouseResource):
    with warehouse.connect() as con:
        mart_columns = {
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'fct_channel_daily'"
            ).fetchall()
        }
        volume = "volume::double" if "volume" in mart_columns else "0.0::double"
        channel_daily = con.sql(
            f"""
            select tenant_id, date, channel, spend::double as spend, {volume} as volume
            from marts.fct_channel_daily
            order by tenant_id, date, channel
            """
        ).pl()
        owned = _owned_media(con)
        if owned is not None:
            channel_daily = pl.concat([channel_daily, owned], how="vertical_relaxed")
        kpi_daily = con.sql(
            """
            select tenant_id, date, revenue::double as revenue, conversions::double as conversions
            from marts.fct_kpi_daily
            order by tenant_id, date
            """
        ).pl()
        lift_tests = None
        if config.calibrate:
            lift_tests = (
                _read_lift_tests(config.lift_tests_path)
                if config.lift_tests_path
                else _warehouse_lift_tests(con)
            )
    if lift_tests is not None:
        lift_tests, dropped = usable_lift_tests(lift_tests, channel_daily)
        for problem in dropped:
            context.log.warning(f"lift test left out: {problem}")
    mmm_config = MMMConfig(grain=config.grain, n_bootstrap=config.n_bootstrap, seed=config.seed)  # type: ignore[arg-type]
    fitted_at = datetime.now(UTC).replace(tzinfo=None)
    outputs = run_mmm(channel_daily, kpi_daily, config=mmm_config, lift_tests=lift_tests, fitted_at=fitted_at)

    plans = []
    for (tenant, kpi), fit in sorted(outputs.fits.items()):
        if kpi != "revenue":
            continue
        plan = _budget_plan(tenant, fit, config.max_change, config.budget_curves)
        if plan is None:
            context.log.warning(f"budget plan for {tenant}: no paid channel with recent spend")
        else:
            plans.append(plan)
    budget_plan = pl.concat(plans) if plans else pl.DataFrame(schema=BUDGET_PLAN_SCHEMA)

    tables = {
        "mmm_channel": outputs.channel,
        "mmm_fit": outputs.fit,
        "mmm_decomposition": outputs.decomposition,
        "response_curves": outputs.response_curves,
        "budget_plan": budget_plan,
        "mmm_calibration": outputs.calibration,
    }
    with warehouse.connect() as con:
        for name, frame in tables.items():
            create_or_replace(con, f"ml.{name}", frame)

    revenue_channels = outputs.channel.filter(pl.col("kpi") == "revenue")
    for name, frame in tables.items():
        metadata: dict[str, object] = {"rows": frame.height}
        if name == "mmm_fit":
            metadata["median_r2"] = _median(frame["r2"])
            metadata["median_oot_mape"] = _median(frame["oot_mape"])
            metadata["median_calibration_mape"] = _median(frame["calibration_mape"])
        if name == "mmm_channel":
            metadata["median_roi_revenue"] = _median(revenue_channels["roi"])
            metadata["calibrated_with_lift_tests"] = lift_tests is not None and lift_tests.height > 0
            metadata["lift_tests_used"] = 0 if lift_tests is None else lift_tests.height
        if name == "mmm_calibration":
            metadata["median_abs_z"] = _median(frame["z"].abs())
            metadata["share_within_2se"] = (
                float((frame["z"].abs() <= 2.0).mean()) if frame.height else None  # type: ignore[arg-type]
            )
        yield dg.MaterializeResult(asset_key=["ml", name], metadata=metadata)


def _budget_plan(
    tenant: str, fit: MMMFit, max_change: float, budget_curves: str = "expected"
) -> pl.DataFrame | None:
    if budget_curves not in ("expected", "point"):
        raise ValueError(f"MediaMixConfig.budget_curves must be 'expected' or 'point', got {budget_curves!r}")
    current = recent_daily_spend(fit)
    paid = [p for p in fit.params if p.paid and current[p.channel] > 0]
    if not paid:
        return None
    names = {p.channel for p in paid}
    curves = [_curve(p, fit) for p in paid]
    # Draws list channels in the fit's order, like `paid`: the curves line up one for one.
    draws = [[_curve(p, fit) for p in draw if p.channel in names] for draw in fit.draws]
    spend = {c.channel: current[c.channel] for c in curves}
    try:
        plan = optimise_budget(
            curves, spend, max_change=max_change, draws=draws if budget_curves == "expected" else None
        )
    except InfeasibleBudget:
        return None
    return budget_plan_table(tenant, plan, curves, draws, fit.interval_level)


def _curve(params: ChannelParams, fit: MMMFit) -> ResponseCurve:
    return ResponseCurve(
        params.channel, params.decay, params.k, params.alpha, params.beta, fit.days_per_period
    )


def _owned_media(con) -> pl.DataFrame | None:
    """Owned-media volume as extra channel-days (spend 0), or None before dbt has built the mart."""
    if not table_exists(con, "marts.fct_owned_media_daily"):
        return None
    return con.sql(
        """
        select tenant_id, date, channel, 0.0::double as spend, volume::double as volume
        from marts.fct_owned_media_daily
        order by tenant_id, date, channel
        """
    ).pl()


def _read_lift_tests(path: str | None) -> pl.DataFrame | None:
    if not path:
        return None
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"lift tests file {file} does not exist (MediaMixConfig.lift_tests_path)")
    frame = pl.read_parquet(file) if file.suffix == ".parquet" else pl.read_csv(file, try_parse_dates=True)
    needed = {"tenant_id", "kpi", "channel", "start", "end", "incremental"}
    missing = needed - set(frame.columns)
    if missing:
        raise ValueError(f"lift tests file {file} lacks columns {sorted(missing)}")
    return with_spend_scales(frame, f"lift tests file {file}")


def with_spend_scales(frame: pl.DataFrame, where: str) -> pl.DataFrame:
    """`frame` with both spend-scale columns (an absent one: its holdout default), each a finite
    number >= 0 on every row and treatment != control; else ValueError naming `where`, row and column."""
    frame = frame.with_columns(
        pl.lit(default, dtype=pl.Float64).alias(name)
        for name, default in SPEND_SCALES.items()
        if name not in frame.columns
    )
    for i, row in enumerate(frame.select(*SPEND_SCALES).iter_rows()):
        for name, value in zip(SPEND_SCALES, row, strict=True):
            if value is None or not math.isfinite(float(value)) or float(value) < 0:
                raise ValueError(f"{where}, row {i + 1}: {name} must be a finite number >= 0, got {value!r}")
        if float(row[0]) == float(row[1]):
            raise ValueError(
                f"{where}, row {i + 1}: treatment_spend_scale equals control_spend_scale ({row[0]})"
            )
    return frame.with_columns(pl.col(name).cast(pl.Float64) for name in SPEND_SCALES)


def _warehouse_lift_tests(con) -> pl.DataFrame | None:
    """The warehouse's lift tests in `run_mmm`'s shape (None before dbt has built the staging model)."""
    if not table_exists(con, LIFT_TESTS_TABLE):
        return None
    return con.sql(
        f"""
        select tenant_id, kpi, channel, start_date as "start", end_date as "end",
            incremental, standard_error, treatment_spend_scale, control_spend_scale
        from {LIFT_TESTS_TABLE}
        order by tenant_id, kpi, channel, start_date, test_id
        """
    ).pl()


def usable_lift_tests(
    lift_tests: pl.DataFrame, channel_daily: pl.DataFrame
) -> tuple[pl.DataFrame, list[str]]:
    """The tests the model can use - a channel with media for that tenant, a period overlapping its
    history - and a line naming each one left out."""
    media = (
        channel_daily.filter((pl.col("spend") > 0) | (pl.col("volume") > 0))
        .group_by("tenant_id", "channel")
        .agg(first=pl.col("date").min(), last=pl.col("date").max())
    )
    joined = lift_tests.with_row_index("_row").join(media, on=["tenant_id", "channel"], how="left")
    ok = (
        pl.col("first").is_not_null()
        & (pl.col("start").cast(pl.Date) <= pl.col("last"))
        & (pl.col("end").cast(pl.Date) >= pl.col("first"))
    )
    dropped = [
        f"{r['tenant_id']} {r['kpi']} {r['channel']} {r['start']}..{r['end']}: "
        + ("no media on that channel" if r["first"] is None else "outside the fitted history")
        for r in joined.filter(~ok).iter_rows(named=True)
    ]
    kept = joined.filter(ok).sort("_row").select(lift_tests.columns)
    return kept, dropped


def _median(series: pl.Series) -> float | None:
    value = series.drop_nulls().drop_nans().median() if series.len() else None
    return float(value) if value is not None else None  # type: ignore[arg-type]
