"""Truths for the ML (issue 4) and owned media (issue 3): each recoverable from what the warehouse sees."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import mannwhitneyu

from connectors.sandbox.channels import JOURNEY
from connectors.sandbox.media import conform_clicks
from connectors.sandbox.plan import slugify
from connectors.sandbox.simulate import LEAD_FORMS, lead_propensity
from connectors.sandbox.world import World


# ---------------------------------------------------------------------------------------- lead propensity
def _journey_channel() -> pl.Expr:
    """Journey channel index of a session from its utm values (channels.JOURNEY order)."""
    source, medium = pl.col("utm_source"), pl.col("utm_medium")
    return (
        pl.when(medium == "cpc")
        .then(JOURNEY.index("google_ads"))
        .when((medium == "paid_social") & source.is_in(["facebook", "instagram"]))
        .then(JOURNEY.index("meta"))
        .when((medium == "paid_social") & (source == "linkedin"))
        .then(JOURNEY.index("linkedin"))
        .when((medium == "paid_social") & (source == "tiktok"))
        .then(JOURNEY.index("tiktok"))
        .when(medium == "email")
        .then(JOURNEY.index("email"))
        .when(medium == "social")
        .then(JOURNEY.index("organic_social"))
        .when(medium == "organic")
        .then(JOURNEY.index("organic"))
        .when(medium == "(none)")
        .then(JOURNEY.index("direct"))
        .otherwise(JOURNEY.index("referral"))
    )


def _lead_features(world: World) -> pl.DataFrame:
    """Per contact, the features at lead time exactly as the warehouse can compute them."""
    # Consent given at creation is the feature (a later opt-out, from the CRM extras, is not).
    contacts = world.contacts.select(
        "tenant_id",
        "contact_id",
        "anonymous_id",
        "created_at",
        pl.col("opt_in_date").is_not_null().alias("marketing_opt_in"),
    )
    events = world.touchpoints.join(contacts, on=["tenant_id", "anonymous_id"])
    before = events.filter((pl.col("event_type") == "session") & (pl.col("event_ts") < pl.col("created_at")))
    sessions = (
        before.sort("event_ts", "event_id")
        .group_by("tenant_id", "contact_id")
        .agg(
            pl.len().alias("sessions"),
            pl.col("landing_page").str.starts_with("/products/").sum().alias("products"),
            _journey_channel().first().alias("first_touch"),
        )
    )
    forms = events.filter(pl.col("event_type") == "lead").select(
        "tenant_id",
        "contact_id",
        pl.col("landing_page").replace_strict(LEAD_FORMS, list(range(len(LEAD_FORMS)))).alias("form"),
    )
    return (
        contacts.join(sessions, on=["tenant_id", "contact_id"], how="left")
        .join(forms, on=["tenant_id", "contact_id"])
        .join(world.truth["lead_propensity"], on=["tenant_id", "contact_id"])
        .join(
            world.contacts.select("tenant_id", "contact_id", "lifecyclestage"), on=["tenant_id", "contact_id"]
        )
    )


def test_lead_propensity_follows_from_the_visible_features_and_the_lead_time(tiny_world: World) -> None:
    features = _lead_features(tiny_world)
    assert features.height == tiny_world.contacts.height
    # every lead came with a first visit and a lead session before the lead event
    assert features["sessions"].min() >= 2
    lead_ratio = tiny_world.truth["tenant_params"]["lead_ratio"][0]
    feature_args = (
        features["first_touch"].to_numpy(),
        features["sessions"].to_numpy() - 2,
        features["products"].to_numpy(),
        features["form"].to_numpy(),
        features["marketing_opt_in"].to_numpy(),
    )
    p = features["propensity"].to_numpy()
    customer = (features["lifecyclestage"] == "customer").to_numpy()
    # The truth = the features' likelihood ratio x the ratio of the classes' lead-time densities: with
    # the features' part taken out, what is left depends on the lead time (its quarter hour) alone.
    feature_odds = lead_propensity(*feature_args, 1.0)
    with np.errstate(divide="ignore"):
        time_part = np.log(p / (1 - p)) - np.log(feature_odds / (1 - feature_odds))
    by_cell = (
        features.with_columns(pl.Series("time_part", time_part))
        .filter(pl.col("time_part").is_finite())
        .group_by("tenant_id", pl.col("created_at").dt.truncate("15m"))
        .agg((pl.col("time_part").max() - pl.col("time_part").min()).alias("spread"), pl.len())
    )
    consistent = by_cell.filter(pl.col("spread") < 1e-6)["len"].sum() / by_cell["len"].sum()
    assert consistent > 0.99  # the rest: a visit moved by a DST gap, a channel with nothing to click
    # Customers' leads trail their purchases by a continuous lag (any hour), other leads follow the
    # evening-peaked traffic: a lead at 4 am local is far likelier a customer than one at 8 pm.
    hour = np.zeros(features.height, dtype=np.int64)
    for tenant, tz in tiny_world.truth["tenant_params"].select("tenant_id", "timezone").iter_rows():
        mine = (features["tenant_id"] == tenant).to_numpy()
        utc = features.filter(pl.col("tenant_id") == tenant)["created_at"].dt.replace_time_zone("UTC")
        hour[mine] = utc.dt.convert_time_zone(tz).dt.hour().to_numpy()
    assert np.median(time_part[hour == 4]) > np.median(time_part[hour == 20]) + 2.0
    # the lead time is real information: the truth predicts who buys better than the features alone
    features_only = lead_propensity(*feature_args, lead_ratio)

    def log_loss(q: np.ndarray) -> float:
        q = np.clip(q, 1e-9, 1 - 1e-9)
        return float(-np.mean(np.where(customer, np.log(q), np.log(1 - q))))

    assert log_loss(p) < log_loss(features_only) - 0.02
    # the truth ranks customers well above non-customers and is calibrated on average
    auc = mannwhitneyu(p[customer], p[~customer]).statistic / (customer.sum() * (~customer).sum())
    auc_features = mannwhitneyu(features_only[customer], features_only[~customer]).statistic / (
        customer.sum() * (~customer).sum()
    )
    assert 0.75 < auc_features < auc < 0.97
    assert p.mean() == pytest.approx(customer.mean(), abs=0.03)
    for low, high in ((0.0, 0.2), (0.2, 0.5), (0.5, 1.0)):  # calibrated by band too
        band = (p >= low) & (p < high)
        assert customer[band].mean() == pytest.approx(p[band].mean(), abs=0.05), (low, high)


def test_consent_columns(tiny_world: World) -> None:
    c = tiny_world.contacts
    opted = c.filter(pl.col("opt_in_date").is_not_null())  # consent at creation
    assert 0.3 < opted.height / c.height < 0.8
    assert (opted["opt_in_date"] == opted["created_at"]).all()
    # Current consent = opted in and not opted out since (the CRM extras add opt-outs and archiving).
    opted_out = pl.col("opt_out_date").is_not_null()
    assert c.filter(pl.col("marketing_opt_in") & opted_out).height == 0
    assert (
        c.filter(~pl.col("marketing_opt_in"))["opt_in_date"].null_count()
        == c.filter(~pl.col("marketing_opt_in") & ~opted_out).height
    )
    assert c.filter(pl.col("archived"))["customer_date"].null_count() == c["archived"].sum()
    assert (c["archived"] == c["archived_at"].is_not_null()).all()
    deals = tiny_world.deals
    assert deals.filter(pl.col("archived") & (pl.col("dealstage") == "closedwon")).height == 0


# ---------------------------------------------------------------------------------------- attribution
def test_attribution_shares_are_the_true_causes(tiny_world: World) -> None:
    shares = tiny_world.truth["attribution_shares"]
    causes = tiny_world.truth["conversions"].filter(pl.col("cause") != "baseline")
    counts = causes.group_by("tenant_id", pl.col("cause").alias("channel")).len()
    joined = shares.join(counts, on=["tenant_id", "channel"], how="left").fill_null(0)
    assert (joined["incremental_conversions"] == joined["len"]).all()
    assert shares.group_by("tenant_id").agg(pl.col("share").sum())["share"].to_list() == pytest.approx([1, 1])
    assert shares.height == 2 * 6


# ---------------------------------------------------------------------------------------- anomalies
def test_anomalies_are_recorded_per_metric_and_visible(tiny_world: World) -> None:
    anomalies = tiny_world.truth["anomalies"]
    assert anomalies["anomaly_id"].n_unique() >= 4  # >= 2 per tenant even in 120 days
    assert set(anomalies["metric"]) <= {"spend", "cpa", "ctr", "conversions", "roas"}
    assert (anomalies["end_date"] >= anomalies["start_date"]).all()
    known = tiny_world.campaigns.select("platform", "campaign_id")
    assert anomalies.join(known, on=["platform", "campaign_id"]).height == anomalies.height
    for row in anomalies.filter(pl.col("magnitude").is_not_null()).iter_rows(named=True):
        if row["metric"] == "spend":
            assert row["magnitude"] > 2.0, row  # runaway: 2.5-5x planned
        elif row["metric"] == "ctr":
            assert row["magnitude"] < 0.5, row  # broken creative: -70..-90 %
        elif row["direction"] == "up":
            assert row["magnitude"] >= 1.25, row  # labelled only when it really moved
        else:
            assert row["magnitude"] <= 0.75, row
    # each incident lists its own metric; consequences (CPA, ROAS, ...) only when they moved
    own = {"budget_runaway": "spend", "tracking_outage": "conversions", "broken_creative": "ctr"}
    own["broken_landing_page"] = "conversions"
    for (kind,), rows in anomalies.group_by("kind"):
        for _, incident in rows.group_by("anomaly_id"):
            assert own[kind] in set(incident["metric"]), incident
            assert set(incident["metric"]) <= {own[kind], "conversions", "cpa", "roas"}, incident


def test_campaign_budgets_are_the_plan_spend_follows(tiny_world: World) -> None:
    """truth/campaign_budgets: one row per running campaign-day; delivered spend tracks it (pacing
    near 1 outside injected runaways), so a detector can tell a budget change from a runaway."""
    budgets = tiny_world.truth["campaign_budgets"]
    keys = ["tenant_id", "platform", "campaign_id", "date"]
    assert budgets.select(keys).is_duplicated().sum() == 0 and (budgets["daily_budget"] > 0).all()
    spend = tiny_world.delivery.group_by(keys).agg((pl.col("spend_micros").sum() / 1e6).alias("spend"))
    pacing = spend.join(budgets, on=keys)
    assert pacing.height >= 0.95 * spend.height  # spend happens on budgeted days
    ratio = (pacing["spend"] / pacing["daily_budget"]).median()
    assert 0.6 < ratio < 1.3, ratio


# ---------------------------------------------------------------------------------------- creative fatigue
def test_creative_fatigue_has_an_onset(tiny_world: World) -> None:
    params = tiny_world.truth["ad_params"]
    assert 0.35 < params["fatigues"].mean() < 0.65
    assert (params["fatigues"] == params["fatigue_onset_days"].is_not_null()).all()
    d = tiny_world.delivery.join(
        tiny_world.ads.select("platform", "ad_id", "launch_date"), on=["platform", "ad_id"]
    ).join(params, on=["tenant_id", "platform", "ad_id"])
    d = d.with_columns(age=(pl.col("date") - pl.col("launch_date")).dt.total_days())
    fresh = pl.col("age") < pl.col("fatigue_onset_days").fill_null(20)
    worn = pl.col("age") > pl.col("fatigue_onset_days").fill_null(20) + 2 * pl.col("fatigue_halflife_days")
    phases = (
        d.filter(fresh | worn)
        .group_by("platform", "ad_id", "fatigues", fresh.alias("fresh"))
        .agg(pl.col("clicks").sum(), pl.col("impressions").sum())
        .with_columns(ctr=pl.col("clicks") / pl.col("impressions"))
        .pivot("fresh", index=["platform", "ad_id", "fatigues"], values="ctr")
        .drop_nulls()
        .with_columns(ratio=pl.col("false") / pl.col("true"))
    )
    by_kind = dict(phases.group_by("fatigues").agg(pl.col("ratio").median()).iter_rows())
    assert by_kind[True] < 0.8  # worn-out creatives lose CTR ...
    assert 0.85 < by_kind[False] < 1.15  # ... stable ones do not


# ---------------------------------------------------------------------------------------- owned media
def test_email_volume_and_clicks_reconcile(tiny_world: World) -> None:
    emails = tiny_world.email_campaigns
    assert set(emails["type"]) == {"regular", "automation"}
    assert emails["email_campaign_id"].str.contains(r"^[0-9a-f]{10}$").all()
    accounts = tiny_world.accounts.filter(pl.col("platform") == "mailchimp").select("tenant_id", "account_id")
    assert emails.join(accounts, on=["tenant_id", "account_id"]).height == emails.height
    for column in ("unique_opens", "unique_clicks"):
        assert (emails[column] <= emails["emails_sent"]).all()
    assert (emails["unique_clicks"] <= emails["unique_opens"]).all()
    delivered = emails.group_by("tenant_id").agg(
        (pl.col("emails_sent") - pl.col("hard_bounces") - pl.col("soft_bounces")).sum()
    )
    volume = (
        tiny_world.truth["channel_daily"]
        .filter(pl.col("channel") == "email")
        .group_by("tenant_id")
        .agg(pl.col("volume").sum())
    )
    both = delivered.join(volume, on="tenant_id")
    assert (both["emails_sent"] == both["volume"]).all()
    sessions = tiny_world.touchpoints.filter(
        (pl.col("event_type") == "session") & (pl.col("utm_medium") == "email")
    )
    assert sessions["utm_source"].unique().to_list() == ["newsletter"]
    ratio = sessions.height / emails["unique_clicks"].sum()
    assert 0.75 < ratio <= 1.0  # landed click-throughs (the last sends' tail clicks fall after the window)
    assert set(sessions["utm_campaign"]) <= set(slugify(emails["campaign_title"]))


def test_social_posts_and_clicks(tiny_world: World) -> None:
    posts = tiny_world.social_posts
    assert set(posts["platform"]) == {"instagram", "facebook", "tiktok", "linkedin"}
    assert posts["post_id"].n_unique() == posts.height
    assert (posts["reach"] <= posts["impressions"]).all() and (posts["link_clicks"] <= posts["reach"]).all()
    sessions = tiny_world.touchpoints.filter(
        (pl.col("event_type") == "session") & (pl.col("utm_medium") == "social")
    )
    assert set(sessions["utm_source"]) <= set(posts["platform"])
    assert 0.7 < sessions.height / posts["link_clicks"].sum() <= 1.0
    reach = tiny_world.truth["channel_daily"].filter(pl.col("channel") == "organic_social")["volume"].sum()
    assert reach == pytest.approx(posts["reach"].sum(), rel=0.05)  # minus the tail after the last day


def test_owned_media_click_tables_are_checked() -> None:
    good = pl.DataFrame(
        {
            "day": [0, 1],
            "utm_source": ["newsletter"] * 2,
            "utm_medium": ["email"] * 2,
            "utm_campaign": ["weekly", None],
            "landing_page": ["/", "/sale"],
            "clicks": [3, 0],
        }
    )
    assert conform_clicks(good, 5, "email").height == 1  # zero-click rows dropped
    with pytest.raises(ValueError, match="outside the window"):
        conform_clicks(good.with_columns(pl.lit(9).alias("day"), pl.lit(1).alias("clicks")), 5, "email")
    with pytest.raises(ValueError, match="products"):
        conform_clicks(good.with_columns(pl.lit("/products/x").alias("landing_page")), 5, "email")
    with pytest.raises(ValueError, match="lack columns"):
        conform_clicks(good.drop("clicks"), 5, "email")
