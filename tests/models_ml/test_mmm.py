"""The media-mix model: truth recovered, honest intervals, tables that add up, reproducible, clear errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bench.mmm_world import true_channel
from models_ml.media_transforms import delayed_adstock, geometric_adstock, hill, hill_derivative
from models_ml.mmm import (
    MMM_CALIBRATION_SCHEMA,
    ChannelParams,
    LiftTest,
    MMMConfig,
    MMMFit,
    channel_summary,
    decomposition,
    fit_mmm,
    lift_test_fit,
    recent_daily_spend,
    response_curves,
    run_mmm,
    steady_state_mroi,
    steady_state_response,
)
from tests.models_ml.mmm_world_fixture import demo_fit, truth

# Calibrated ROI tolerance per channel on the demo world. The world's holdout tests pin each channel's
# contribution in its 4 test windows to ~5 % (4 x 10 % SE); the model must carry that to the whole two
# years (its 4 budget-scaling tests speak to the curve's slope, with 20-90 % relative error each). On
# demo-s7 the holdouts themselves err by up to 16 % on a channel (northwind tiktok), and the model's ROI
# follows them (max |error| 16.8 %, median 4.8 %).
CALIBRATED_ROI_TOLERANCE = 0.20
MEDIAN_ROI_TARGET = 0.10


def _roi_vs_truth(outputs) -> pl.DataFrame:
    # Paid channels only: non-paid ones (email, organic social) have no ROI in the truth or the model.
    true = (
        truth("roi")
        .filter(pl.col("roi").is_not_null())
        .select("tenant_id", "channel", pl.col("roi").alias("true_roi"))
    )
    return (
        outputs.channel.filter(pl.col("kpi") == "revenue")
        .join(true, on=["tenant_id", "channel"], how="inner")
        .with_columns(error=pl.col("roi") / pl.col("true_roi") - 1.0)
    )


def test_calibrated_roi_recovers_the_truth_on_the_demo_world() -> None:
    table = _roi_vs_truth(demo_fit(calibrated=True))

    assert table.height == truth("roi")["roi"].is_not_null().sum()  # every paid channel of every tenant
    worst = table["error"].abs().max()
    assert worst <= CALIBRATED_ROI_TOLERANCE, table.select("tenant_id", "channel", "roi", "true_roi", "error")
    assert table["error"].abs().median() <= MEDIAN_ROI_TARGET


def test_calibrated_roi_follows_the_experiments_not_the_noise() -> None:
    # What the holdout tests say about a channel's average ROI (measured / true incremental over its
    # tests) is the best the model can know; its ROI error must track that, not wander off on the daily
    # noise. (Budget-scaling tests speak to the curve's slope: they are left out of this comparison.)
    tests = (
        truth("lift_tests")
        .filter((pl.col("kpi") == "revenue") & (pl.col("control_spend_scale") == 0.0))
        .group_by("tenant_id", "channel")
        .agg(experiment_error=pl.col("incremental").sum() / pl.col("true_incremental").sum() - 1.0)
    )
    table = _roi_vs_truth(demo_fit(calibrated=True)).join(tests, on=["tenant_id", "channel"])

    assert table.height == 8
    gap = (table["error"] - table["experiment_error"]).abs()
    assert gap.max() <= 0.08, table.select("tenant_id", "channel", "error", "experiment_error")


def test_calibrated_intervals_cover_the_truth() -> None:
    # Nominal 90 % intervals from the block bootstrap with the experiments redrawn within their
    # standard errors: 6 of 8 cover on demo-s7 (the two misses are channels whose 4 experiments
    # themselves came out 8 % and 16 % low, 1.5 and 3 standard errors of their mean).
    table = _roi_vs_truth(demo_fit(calibrated=True))

    covered = table.filter(pl.col("true_roi").is_between(pl.col("roi_lower"), pl.col("roi_upper"))).height
    assert covered >= 0.75 * table.height
    widths = (table["roi_upper"] - table["roi_lower"]) / table["roi"]
    assert widths.median() < 0.3  # and the experiments make them tight


def test_pooling_prior_helps_the_uncalibrated_model() -> None:
    # Without experiments the demo data barely identify ROI (daily revenue noise ~28 % of its mean,
    # paid spend moves little). Pooling the channels' ROIs keeps the model from zeroing channels out:
    # median |ROI error| 32 % with it, 100 % without (three of eight channels at ROI 0) on demo-s7.
    table = _roi_vs_truth(demo_fit(calibrated=False))

    assert table["error"].abs().median() <= 0.45
    assert (table["roi"] > 0).all()


def test_uncalibrated_intervals_are_wide_and_mostly_cover_the_truth() -> None:
    # Without experiments the model must say how little the data identify, with wide intervals rather
    # than be confidently wrong. The randomised priors do it: 8 of 8 covered on demo-s7 (median width
    # 1.4 x the true ROI); with every draw shrunk toward the same prior centres it was 5 of 8 (0.6 x).
    table = _roi_vs_truth(demo_fit(calibrated=False))

    covered = table.filter(pl.col("true_roi").is_between(pl.col("roi_lower"), pl.col("roi_upper"))).height
    assert covered >= 0.75 * table.height
    widths = (table["roi_upper"] - table["roi_lower"]) / table["true_roi"]
    assert 0.5 < widths.median() < 2.0  # wide, but still saying something


@pytest.mark.parametrize("calibrated", [False, True])
def test_draws_bracket_the_true_response_curve(calibrated: bool) -> None:
    # What the budget optimiser uses: each paid channel's steady-state revenue per day at half and at
    # today's spend. The bootstrap draws' 90 % band must hold the true response for most channels
    # (demo-s7: 8 + 8 of 8 uncalibrated; calibrated 8 of 8 at 0.5x, 7 of 8 at 1x - northwind tiktok,
    # whose experiments came out 16 % low, is the miss).
    params = truth("channel_params")
    inside = {0.5: 0, 1.0: 0}
    n = 0
    for (tenant, _), fit in demo_fit(calibrated=calibrated).fits.items():
        current = recent_daily_spend(fit)
        for j, fitted in enumerate(fit.params):
            if not fitted.paid:
                continue
            true = true_channel(params, tenant, fitted.channel)
            spend = np.array(list(inside)) * current[fitted.channel]
            target = steady_state_response(true, spend)
            draws = np.array([steady_state_response(d[j], spend) for d in fit.draws])
            low, high = np.quantile(draws, [0.05, 0.95], axis=0)
            for multiple, lo, hi, t in zip(inside, low, high, target, strict=True):
                inside[multiple] += int(lo <= t <= hi)
            n += 1
    assert n == 8
    assert all(count >= 0.75 * n for count in inside.values()), inside


def _synthetic(
    n: int = 400, noise: float = 0.03, seed: int = 1, volume_channel: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, dict[str, float]]]:
    """A world the model can identify: flighted spend (whole weeks off, so the response is seen from
    zero up), little noise, known parameters."""
    rng = np.random.default_rng(seed)
    start = date(2024, 1, 1)
    dates = [start + timedelta(days=i) for i in range(n)]
    params = {
        "meta": {"decay": 0.6, "k": 900.0, "alpha": 1.6, "beta": 1400.0, "mean": 500.0},
        "google_ads": {"decay": 0.2, "k": 250.0, "alpha": 1.1, "beta": 900.0, "mean": 300.0},
    }
    if volume_channel:
        params["email"] = {"decay": 0.3, "k": 40_000.0, "alpha": 1.0, "beta": 500.0, "mean": 30_000.0}
    t = np.arange(n)
    baseline = 2000.0 * (1 + 0.1 * t / 365) * (1 + 0.08 * np.sin(2 * np.pi * t / 7))
    y = baseline.copy()
    rows = []
    for channel, p in params.items():
        weeks_on = np.repeat(rng.random(n // 7 + 1) > 0.3, 7)[:n]
        activity = p["mean"] * rng.lognormal(0.0, 0.4, n) * weeks_on
        y += p["beta"] * hill(geometric_adstock(activity, p["decay"]), p["k"], p["alpha"])
        is_volume = channel == "email"
        rows.append(
            pl.DataFrame(
                {
                    "tenant_id": "t1",
                    "date": dates,
                    "channel": channel,
                    "spend": np.zeros(n) if is_volume else activity,
                    "volume": activity if is_volume else np.zeros(n),
                }
            )
        )
        p["spend"] = 0.0 if is_volume else float(activity.sum())
        p["contribution"] = float(
            (p["beta"] * hill(geometric_adstock(activity, p["decay"]), p["k"], p["alpha"])).sum()
        )
    y *= rng.lognormal(0.0, noise, n)
    kpi = pl.DataFrame({"tenant_id": "t1", "date": dates, "revenue": y, "conversions": y / 100.0})
    return pl.concat(rows), kpi, params


FAST = MMMConfig(n_bootstrap=8, n_candidates=32, n_starts=2, seed=11)


def test_recovers_roi_and_curve_when_the_data_carry_the_information() -> None:
    media, kpi, params = _synthetic()
    fit = fit_mmm(media, kpi, "revenue", config=FAST)

    rows = {r["channel"]: r for r in channel_summary(fit)}
    for channel in ("meta", "google_ads"):
        true_roi = params[channel]["contribution"] / params[channel]["spend"]
        assert rows[channel]["roi"] == pytest.approx(true_roi, rel=0.08), channel
        assert rows[channel]["roi_lower"] <= rows[channel]["roi"] <= rows[channel]["roi_upper"]
    assert fit.r2 > 0.8
    assert fit.oot_mape is not None and fit.oot_mape < 0.1


def test_volume_channels_are_modelled_without_an_roi() -> None:
    media, kpi, params = _synthetic(volume_channel=True)
    fit = fit_mmm(media, kpi, "revenue", config=FAST)

    rows = {r["channel"]: r for r in channel_summary(fit)}
    assert fit.channels == ("google_ads", "meta", "email")  # paid first, then volume channels
    assert rows["email"]["roi"] is None and rows["email"]["spend"] == 0.0
    assert rows["email"]["contribution"] == pytest.approx(params["email"]["contribution"], rel=0.25)
    assert set(response_curves(fit)["channel"]) == {"meta", "google_ads"}


def test_tables_add_up() -> None:
    media, kpi, _ = _synthetic(n=300, noise=0.1)
    out = run_mmm(media, kpi, config=FAST)

    assert out.fit.height == 2 and set(out.fit["kpi"]) == {"revenue", "conversions"}
    for (_, kpi_name), fit in out.fits.items():
        parts = decomposition(fit).group_by("date").agg(pl.col("value").sum()).sort("date")
        assert np.allclose(parts["value"].to_numpy(), fit.fitted, rtol=1e-9, atol=1e-6), kpi_name
        assert (fit.contributions >= 0).all()
    channels = out.channel.filter(pl.col("kpi") == "revenue")
    assert channels["contribution_share"].sum() < 1.0
    assert set(out.decomposition["component"]) >= {"trend", "weekly", "yearly", "meta", "google_ads"}
    curves = out.response_curves.filter(pl.col("kpi") == "revenue").sort("channel", "spend")
    for _, part in curves.group_by("channel"):
        assert (np.diff(part["response"].to_numpy()) >= -1e-9).all()  # more spend never less response
        assert (part["mroi"] >= 0).all()


def test_same_seed_same_answer() -> None:
    media, kpi, _ = _synthetic(n=250, noise=0.1)
    first = run_mmm(media, kpi, config=FAST, kpis=("revenue",))
    second = run_mmm(media, kpi, config=FAST, kpis=("revenue",))

    assert first.channel.equals(second.channel)
    assert first.decomposition.equals(second.decomposition)


def test_weekly_grain_fits_too() -> None:
    media, kpi, params = _synthetic(n=560, noise=0.03)
    fit = fit_mmm(media, kpi, "revenue", config=MMMConfig(grain="week", n_bootstrap=4, seed=3))

    assert fit.grain == "week" and len(fit.y) == 80
    rows = {r["channel"]: r for r in channel_summary(fit)}
    true_total = sum(params[c]["contribution"] for c in ("meta", "google_ads"))
    assert sum(rows[c]["contribution"] for c in ("meta", "google_ads")) == pytest.approx(true_total, rel=0.15)


def test_lift_tests_pull_the_channel_toward_the_experiment() -> None:
    media, kpi, _ = _synthetic(n=300, noise=0.25, seed=5)
    lift = pl.DataFrame(
        {
            "tenant_id": ["t1"],
            "kpi": ["revenue"],
            "channel": ["meta"],
            "start": [date(2024, 3, 1)],
            "end": [date(2024, 3, 28)],
            "incremental": [0.0],  # an experiment that says Meta did nothing
            "standard_error": [1.0],
        }
    )
    free = run_mmm(media, kpi, config=FAST, kpis=("revenue",))
    pulled = run_mmm(media, kpi, config=FAST, kpis=("revenue",), lift_tests=lift)

    def meta_roi(out) -> float:
        return out.channel.filter(pl.col("channel") == "meta")["roi"].item()

    assert meta_roi(pulled) < 0.2 * meta_roi(free)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m, k: (m.drop("spend"), k), "channel_daily lacks columns"),
        (lambda m, k: (m, k.drop("revenue")), "kpi_daily lacks columns"),
        (lambda m, k: (m.with_columns(spend=-pl.col("spend")), k), "negative"),
        (lambda m, k: (m, k.with_columns(revenue=pl.lit(None, pl.Float64))), "null or negative"),
        (lambda m, k: (m.with_columns(spend=pl.lit(0.0), volume=pl.lit(0.0)), k), "no channel with spend"),
    ],
)
def test_bad_input_is_named(mutate, message) -> None:
    media, kpi, _ = _synthetic(n=120)
    media, kpi = mutate(media, kpi)
    with pytest.raises(ValueError, match=message):
        run_mmm(media, kpi, config=FAST)


def test_transforms_match_their_definitions() -> None:
    x = np.array([10.0, 0.0, 0.0, 5.0])
    stock = geometric_adstock(x, 0.5)
    assert stock[0] == pytest.approx(10.0 + 0.5 * 20.0)  # steady state before day 1
    assert stock[1] == pytest.approx(0.5 * stock[0])
    assert hill(np.array([3.0]), 3.0, 2.0)[0] == pytest.approx(0.5)
    a = np.linspace(0.1, 10, 50)
    numeric = (hill(a + 1e-6, 3.0, 1.7) - hill(a - 1e-6, 3.0, 1.7)) / 2e-6
    assert np.allclose(hill_derivative(a, 3.0, 1.7), numeric, rtol=1e-5)
    constant = delayed_adstock(np.full(60, 2.0), 0.6, peak=3.0)
    assert constant[-1] == pytest.approx(2.0 / (1 - 0.6))  # same settled level as geometric
    spike = delayed_adstock(np.r_[np.zeros(30), 1.0, np.zeros(30)], 0.6, peak=3.0)
    assert int(np.argmax(spike)) == 33


def test_steady_state_curve_and_its_slope_agree() -> None:
    params = ChannelParams("meta", True, decay=0.5, k=800.0, alpha=1.8, beta=1000.0)
    s = np.linspace(10, 2000, 40)
    numeric = (steady_state_response(params, s + 1e-3) - steady_state_response(params, s - 1e-3)) / 2e-3
    assert np.allclose(steady_state_mroi(params, s), numeric, rtol=1e-5)


@pytest.mark.parametrize("with_lift_tests", [False, True])
def test_exact_gradient_matches_finite_differences(with_lift_tests: bool) -> None:
    # The fit's L-BFGS-B runs on the envelope-theorem gradient (geometric adstock): it must be the
    # derivative of the profiled objective - ridge, pooling prior, lift rows, case weights and the
    # prior on the unit box included, their centres moved as a bootstrap draw moves them - or the fit
    # stops at the wrong place.
    from models_ml.mmm import LiftTest, _prepare, _Problem

    media, kpi, _ = _synthetic(n=200, volume_channel=True)
    config = MMMConfig(seed=3)
    data = _prepare(media, kpi, "revenue", config, None)
    tests = (
        [
            LiftTest("meta", date(2024, 3, 1), date(2024, 3, 28), 20_000.0, 2_000.0),
            # Budget-scaling tests: +50 % (both arms spend) and -50 % (control at half spend).
            LiftTest("meta", date(2024, 4, 10), date(2024, 5, 1), 6_000.0, 2_000.0, 1.5, 1.0),
            LiftTest("google_ads", date(2024, 5, 5), date(2024, 5, 25), 5_000.0, 2_000.0, 1.0, 0.5),
        ]
        if with_lift_tests
        else []
    )
    rng = np.random.default_rng(5)
    base = _Problem(data, config, tests)
    problem = base.with_weights(
        rng.poisson(1.0, len(data.y)).astype(np.float64),
        rng.standard_normal(len(tests)),
        rng.standard_normal(base.n_channels * (base.n_params + 1)),  # randomised priors, as in a draw
    )
    for _ in range(3):
        u = rng.uniform(0.05, 0.95, problem.n_channels * problem.n_params)
        value, grad = problem.value_and_grad(u)
        h = 1e-6
        numeric = np.array(
            [(problem.objective(u + h * e) - problem.objective(u - h * e)) / (2 * h) for e in np.eye(len(u))]
        )
        assert value == pytest.approx(problem.objective(u), rel=1e-12)
        assert np.max(np.abs(grad - numeric)) <= 1e-5 * np.max(np.abs(numeric))


def test_owned_media_volume_is_what_the_world_ran_on() -> None:
    # The MMM's owned-media input (fct_owned_media_daily's rules, applied to the world's Mailchimp
    # reports and social posts) must carry the volume the true response model used: every email
    # delivered on its day (automations spread evenly), all organic reach (on the post's day, while
    # the world spreads it over the following days).
    from bench.mmm_world import owned_media_volume
    from tests.models_ml.mmm_world_fixture import demo_world

    mine = owned_media_volume(demo_world())
    true = truth("channel_daily").filter(pl.col("channel").is_in(["email", "organic_social"]))
    joined = true.select("tenant_id", "date", "channel", pl.col("volume").alias("true_volume")).join(
        mine, on=["tenant_id", "date", "channel"], how="left"
    )
    assert joined.height == true.height and mine.height <= true.height
    per_channel = (
        joined.fill_null(0.0)
        .group_by("tenant_id", "channel")
        .agg(
            total=pl.col("volume").sum() / pl.col("true_volume").sum(),
            r=pl.corr("volume", "true_volume"),
        )
    )
    assert per_channel.height == 4
    for row in per_channel.iter_rows(named=True):
        assert row["total"] == pytest.approx(1.0, abs=1e-3), row
        assert row["r"] > (0.99 if row["channel"] == "email" else 0.8), row


# -- calibration evidence: each lift test against what the fit says of it ------------------------------

# On demo-s7 (revenue, 64 tests over 2 tenants): the fit's modelled incremental of the 32 holdout/geo
# tests (spend 1 vs 0) errs against the TRUE incremental by median 4.4 %, max 17.2 % (the experiments
# themselves: median 5.8 %, max 33 %); of the 32 budget-scaling tests by median 10.2 % (their
# read-outs: 17.6 %). Tolerances with some room for other seeds.
HOLDOUT_MEDIAN_TOLERANCE = 0.08
HOLDOUT_MAX_TOLERANCE = 0.25
SCALE_MEDIAN_TOLERANCE = 0.15


def test_modelled_lift_matches_the_true_incremental_on_the_demo_world() -> None:
    calibration = demo_fit(calibrated=True).calibration
    true = truth("lift_tests").filter(pl.col("kpi") == "revenue")
    keys = ["tenant_id", "channel", "start", "end", "treatment_spend_scale", "control_spend_scale"]
    table = calibration.join(
        true.select(
            *keys[:2],
            pl.col("start_date").alias("start"),
            pl.col("end_date").alias("end"),
            *keys[4:],
            "true_incremental",
        ),
        on=keys,
        how="inner",
    ).with_columns(error=pl.col("modelled") / pl.col("true_incremental") - 1.0)

    assert calibration.schema == pl.Schema(MMM_CALIBRATION_SCHEMA)
    assert calibration.height == true.height == table.height  # one row per test, each found in the truth
    assert (
        table["measured"].to_list()
        == table.join(
            true.select(*keys[:2], pl.col("start_date").alias("start"), "incremental", *keys[4:]),
            on=[*keys[:3], *keys[4:]],
        )["incremental"].to_list()
    )
    holdouts = table.filter(pl.col("control_spend_scale") == 0.0)
    scaling = table.filter(pl.col("control_spend_scale") > 0.0)
    assert holdouts.height > 0 and scaling.height > 0
    assert holdouts["error"].abs().median() <= HOLDOUT_MEDIAN_TOLERANCE
    assert holdouts["error"].abs().max() <= HOLDOUT_MAX_TOLERANCE, holdouts.sort("error")
    assert scaling["error"].abs().median() <= SCALE_MEDIAN_TOLERANCE
    assert (table["modelled_lower"] <= table["modelled"]).all()
    assert (table["modelled"] <= table["modelled_upper"]).all()
    z = (table["modelled"] - table["measured"]) / table["standard_error"]
    assert np.allclose(table["z"].to_numpy(), z.to_numpy())
    fit_row = demo_fit(calibrated=True).fit.filter(pl.col("tenant_id") == "northwind")
    tenant_holdouts = holdouts.filter(pl.col("tenant_id") == "northwind")
    mape = (tenant_holdouts["modelled"] / tenant_holdouts["measured"] - 1.0).abs().median()
    assert fit_row["calibration_mape"].item() == pytest.approx(mape)


def _hand_adstock(x: list[float], decay: float) -> list[float]:
    out, previous = [], x[0] / (1.0 - decay)  # steady state before the first period
    for value in x:
        previous = value + decay * previous
        out.append(previous)
    return out


def _hand_hill(a: float, k: float, alpha: float) -> float:
    return a**alpha / (a**alpha + k**alpha)


def _known_fit(grain: str, n: int, betas: tuple[float, ...] = (600.0, 900.0, 300.0)):
    step = 7 if grain == "week" else 1
    start = np.datetime64("2025-01-06", "D")  # a Monday
    dates = start + np.arange(n) * step
    rng = np.random.default_rng(11)
    activity = np.column_stack([rng.uniform(50.0, 150.0, n), rng.uniform(10.0, 40.0, n)])
    params = (
        ChannelParams("meta", True, decay=0.6, k=180.0, alpha=1.7, beta=500.0),
        ChannelParams("google_ads", True, decay=0.2, k=30.0, alpha=0.9, beta=80.0),
    )
    draws = tuple((replace_beta(params[0], b), params[1]) for b in betas)
    y = np.ones(n)
    return MMMFit(
        kpi="revenue",
        grain=grain,  # type: ignore[arg-type]
        adstock="geometric",
        dates=dates,
        channels=("meta", "google_ads"),
        activity=activity,
        spend=activity.copy(),
        y=y,
        params=params,
        draws=draws,
        baseline={"trend": y},
        contributions=np.zeros((n, 2)),
        r2=1.0,
        nrmse=0.0,
        oot_mape=None,
        interval_level=0.9,
        objective=0.0,
    )


def replace_beta(params: ChannelParams, beta: float) -> ChannelParams:
    return replace(params, beta=beta)


@pytest.mark.parametrize(
    ("treatment", "control"), [(1.0, 0.0), (1.5, 1.0), (1.0, 0.5)], ids=["holdout", "+50%", "-50%"]
)
def test_modelled_lift_is_the_hand_computation_daily(treatment: float, control: float) -> None:
    fit = _known_fit("day", 40)
    test = LiftTest(
        "meta",
        date(2025, 1, 16),
        date(2025, 1, 25),
        1234.0,
        50.0,
        treatment_spend_scale=treatment,
        control_spend_scale=control,
    )
    (row,) = lift_test_fit(fit, [test])

    stock = _hand_adstock(fit.activity[:, 0].tolist(), 0.6)
    days = range(10, 20)  # 16th..25th January, the series starting on the 6th

    def modelled(beta: float) -> float:
        return beta * sum(
            _hand_hill(treatment * stock[t], 180.0, 1.7) - _hand_hill(control * stock[t], 180.0, 1.7)
            for t in days
        )

    assert row["modelled"] == pytest.approx(modelled(500.0), rel=1e-12)
    drawn = [modelled(b) for b in (600.0, 900.0, 300.0)]
    assert row["modelled_lower"] == pytest.approx(min(np.quantile(drawn, 0.05), row["modelled"]))
    assert row["modelled_upper"] == pytest.approx(max(np.quantile(drawn, 0.95), row["modelled"]))
    assert row["measured"] == 1234.0 and row["standard_error"] == 50.0
    assert row["z"] == pytest.approx((modelled(500.0) - 1234.0) / 50.0)
    assert (row["treatment_spend_scale"], row["control_spend_scale"]) == (treatment, control)
    assert (row["channel"], row["start"], row["end"]) == ("meta", date(2025, 1, 16), date(2025, 1, 25))


def test_modelled_lift_at_weekly_grain_counts_the_share_of_each_week_in_the_test() -> None:
    fit = _known_fit("week", 20)
    # Weeks start on Mondays from 6 Jan 2025; Thursday 16 Jan .. Sunday 2 Feb covers 4 days of week 1
    # (13-19 Jan), all of weeks 2 and 3; a scale test (1.5 vs 1) on google_ads, SE defaulted.
    test = LiftTest("google_ads", date(2025, 1, 16), date(2025, 2, 2), 300.0, None, 1.5, 1.0)
    (row,) = lift_test_fit(fit, [test])

    stock = _hand_adstock(fit.activity[:, 1].tolist(), 0.2)
    shares = {1: 4 / 7, 2: 1.0, 3: 1.0}
    expected = 80.0 * sum(
        share * (_hand_hill(1.5 * stock[w], 30.0, 0.9) - _hand_hill(stock[w], 30.0, 0.9))
        for w, share in shares.items()
    )
    assert row["modelled"] == pytest.approx(expected, rel=1e-12)
    assert row["standard_error"] == pytest.approx(30.0)  # 10 % of the incremental
    assert row["modelled_lower"] == row["modelled_upper"] == pytest.approx(expected)  # draws share its beta


def test_lift_test_fit_names_a_test_it_cannot_place() -> None:
    fit = _known_fit("day", 40)
    with pytest.raises(ValueError, match="channel 'tiktok'"):
        lift_test_fit(fit, [LiftTest("tiktok", date(2025, 1, 16), date(2025, 1, 25), 10.0)])
    with pytest.raises(ValueError, match=r"lift test on meta \(2024-01-01..2024-01-31\) is outside the data"):
        lift_test_fit(fit, [LiftTest("meta", date(2024, 1, 1), date(2024, 1, 31), 10.0)])


def test_run_mmm_reports_each_test_and_nothing_when_uncalibrated() -> None:
    media, kpi, _ = _synthetic(n=200, noise=0.1)
    lift = pl.DataFrame(
        {
            "tenant_id": ["t1", "t1"],
            "kpi": ["revenue", "revenue"],
            "channel": ["meta", "google_ads"],
            "start": [date(2024, 3, 1), date(2024, 4, 1)],
            "end": [date(2024, 3, 28), date(2024, 4, 14)],
            "incremental": [5000.0, 800.0],
            "standard_error": [500.0, 80.0],
            "treatment_spend_scale": [1.0, 1.5],
            "control_spend_scale": [0.0, 1.0],
        }
    )
    calibrated = run_mmm(media, kpi, config=FAST, lift_tests=lift, fitted_at=datetime(2025, 1, 1))
    plain = run_mmm(media, kpi, config=FAST)

    rows = calibrated.calibration
    assert rows.schema == pl.Schema(MMM_CALIBRATION_SCHEMA)
    assert rows.select("kpi", "channel", "measured").rows() == [
        ("revenue", "meta", 5000.0),
        ("revenue", "google_ads", 800.0),
    ]
    assert (rows["fitted_at"] == datetime(2025, 1, 1)).all()
    fit = calibrated.fits[("t1", "revenue")]
    meta_holdout = rows["modelled"][0]
    tests = [LiftTest("meta", date(2024, 3, 1), date(2024, 3, 28), 5000.0, 500.0)]
    assert meta_holdout == pytest.approx(lift_test_fit(fit, tests)[0]["modelled"])
    mape = calibrated.fit.filter(pl.col("kpi") == "revenue")["calibration_mape"].item()
    assert mape == pytest.approx(abs(meta_holdout / 5000.0 - 1.0))  # the one holdout; the scale test is not
    assert calibrated.fit.filter(pl.col("kpi") == "conversions")["calibration_mape"].item() is None
    assert plain.calibration.height == 0 and plain.calibration.schema == pl.Schema(MMM_CALIBRATION_SCHEMA)
    assert plain.fit["calibration_mape"].is_null().all()
