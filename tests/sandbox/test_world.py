"""The generated sandbox world: determinism, schemas, internal consistency and ground truth."""

from __future__ import annotations

import hashlib
import itertools
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from connectors.sandbox.channels import CAUSES, CHANNELS, PLATFORMS, RESPONSE_RANGES
from connectors.sandbox.generator import GENERATOR_VERSION, ensure_world, generate_world
from connectors.sandbox.plan import slugify
from connectors.sandbox.response import incremental_conversions, roi_and_mroi
from connectors.sandbox.schema import TRUTH_SCHEMAS, WORLD_SCHEMAS
from connectors.sandbox.simulate import _to_utc_exact, local_to_utc_us
from connectors.sandbox.world import TRUTH_TABLES, WORLD_TABLES, World

# Column lists as written in docs/INTERFACES.md §1 (kept literal here so a drift in the schema module
# shows up as a failing test).
INTERFACE_COLUMNS = {
    "tenants": "tenant_id name currency timezone",
    "accounts": "tenant_id platform account_id name currency timezone",
    "campaigns": "tenant_id platform account_id campaign_id campaign_name objective status start_date end_date "
    "target_cpa budget_id daily_budget",
    "ad_groups": "tenant_id platform account_id campaign_id ad_group_id ad_group_name status daily_budget",
    "ads": "tenant_id platform account_id campaign_id ad_group_id ad_id ad_name status launch_date",
    "delivery": "tenant_id platform account_id campaign_id ad_group_id ad_id date spend_micros impressions clicks "
    "platform_conversions platform_conversion_value",
    "fx_rates": "date currency rate_to_usd",
    "contacts": "tenant_id contact_id email firstname lastname anonymous_id created_at updated_at lifecyclestage "
    "lead_date mql_date sql_date opportunity_date customer_date marketing_opt_in opt_in_date opt_out_date archived "
    "archived_at",
    "deals": "tenant_id deal_id contact_id dealname amount dealstage pipeline createdate closedate updated_at "
    "archived",
    "touchpoints": "tenant_id event_id anonymous_id event_ts event_type utm_source utm_medium utm_campaign "
    "landing_page",
    "channel_params": "tenant_id channel adstock_decay hill_k hill_alpha beta revenue_per_conversion",
    "channel_daily": "tenant_id date channel spend volume adstock incremental_conversions incremental_revenue",
    "baseline_daily": "tenant_id date baseline_conversions total_conversions total_revenue",
    "roi": "tenant_id channel spend incremental_revenue roi mroi",
    # INTERFACES §7.1
    "email_campaigns": "tenant_id account_id email_campaign_id list_id campaign_title type send_time emails_sent "
    "hard_bounces soft_bounces unsubscribed abuse_reports opens_total unique_opens clicks_total unique_clicks",
    "social_posts": "tenant_id platform account_id post_id created_at post_type message permalink reach impressions "
    "likes comments shares saves link_clicks",
    "social_mentions": "tenant_id platform mention_id created_at author_handle author_followers text url likes "
    "reposts language",
    "influencers": "tenant_id platform influencer_id handle display_name followers engagement_rate avg_reach "
    "category country",
    "erasure_requests": "tenant_id request_id contact_id email requested_at",
    "offline_conversions": "tenant_id order_id contact_id email conversion_ts value currency location",
    "attribution_shares": "tenant_id channel incremental_conversions share",
    "anomalies": "anomaly_id tenant_id platform campaign_id metric start_date end_date direction magnitude kind",
    "lead_propensity": "tenant_id contact_id propensity",
    "campaign_budgets": "tenant_id platform campaign_id date daily_budget",
}
NEW_TRUTH = ("attribution_shares", "anomalies", "lead_propensity", "campaign_budgets")
OPTIONAL = ("social_mentions", "influencers", "erasure_requests", "offline_conversions")  # other builders


def _hashes(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _local_date(column: str, tz: str) -> pl.Expr:
    return pl.col(column).dt.replace_time_zone("UTC").dt.convert_time_zone(tz).dt.date()


def _with_local_date(
    frame: pl.DataFrame, world: World, column: str, alias: str = "local_date"
) -> pl.DataFrame:
    parts = [
        frame.filter(pl.col("tenant_id") == tid).with_columns(_local_date(column, tz).alias(alias))
        for tid, tz in world.tenants.select("tenant_id", "timezone").iter_rows()
    ]
    return pl.concat(parts)


# ---------------------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    first = _hashes(generate_world("tiny", 7).save(tmp_path / "a"))
    second = _hashes(generate_world("tiny", 7).save(tmp_path / "b"))
    other = _hashes(generate_world("tiny", 8).save(tmp_path / "c"))
    assert first == second
    assert set(first) >= {f"world/{t}.parquet" for t in WORLD_TABLES} | {
        f"truth/{t}.parquet" for t in TRUTH_TABLES
    }
    assert first["world/delivery.parquet"] != other["world/delivery.parquet"]
    assert first["world/touchpoints.parquet"] != other["world/touchpoints.parquet"]


def test_ensure_world_generates_once_and_loads(tiny_world_dir: Path, tiny_world: World) -> None:
    assert tiny_world_dir.name == "tiny-s7"
    before = _hashes(tiny_world_dir)
    assert ensure_world("tiny", 7, tiny_world_dir.parent) == tiny_world_dir
    assert _hashes(tiny_world_dir) == before  # not regenerated
    loaded = World.load(tiny_world_dir)
    for name in WORLD_TABLES:
        assert loaded.table(name).equals(tiny_world.table(name)), name
    assert loaded.meta.start_date == date(2026, 7, 4) and loaded.meta.end_date == date(2026, 10, 31)


def test_ensure_world_regenerates_a_world_saved_by_other_code(tmp_path: Path, tiny_world_dir: Path) -> None:
    # A world saved by an older generator (fewer tables, no newer truths) is replaced, not served stale.
    shutil.copytree(tiny_world_dir, tmp_path / "tiny-s7")
    stale = tmp_path / "tiny-s7"
    meta = World.load(stale).meta
    (stale / "meta.json").write_text(replace(meta, generator_version="old").to_json() + "\n")
    (stale / "truth" / "roi.parquet").unlink()
    (stale / "world" / "stale_marker.parquet").write_bytes(b"x")
    assert ensure_world("tiny", 7, tmp_path) == stale
    assert World.load(stale).meta.generator_version == GENERATOR_VERSION
    assert (stale / "truth" / "roi.parquet").exists()
    assert not (stale / "world" / "stale_marker.parquet").exists()
    assert _hashes(stale) == _hashes(tiny_world_dir)  # the same world as a fresh generation
    assert not list(tmp_path.glob(".tiny-s7.*"))  # no temporary or stale copies left behind


def test_unknown_preset_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown sandbox preset 'huge'"):
        generate_world("huge", 7)


# ---------------------------------------------------------------------------------------- schemas
def test_tables_have_the_interface_columns_and_dtypes(tiny_world: World) -> None:
    for name in WORLD_TABLES:
        frame = tiny_world.table(name)
        assert frame.columns == INTERFACE_COLUMNS[name].split(), name
        assert dict(frame.schema) == WORLD_SCHEMAS[name], name
        assert frame.height > 0 or name in OPTIONAL, name
    for name in (*TRUTH_TABLES, *NEW_TRUTH):
        frame = tiny_world.truth[name]
        assert frame.columns == INTERFACE_COLUMNS[name].split(), name
        assert dict(frame.schema) == TRUTH_SCHEMAS[name], name
    assert tiny_world.delivery.schema["spend_micros"] == pl.Int64
    assert tiny_world.touchpoints.schema["event_ts"] == pl.Datetime("us")  # naive UTC


def test_tenants_accounts_and_digit_ids(tiny_world: World) -> None:
    assert tiny_world.tenants.rows() == [
        ("bellavista", "Bella Vista Home", "EUR", "Europe/Berlin"),
        ("northwind", "Northwind Outfitters", "USD", "America/New_York"),
    ]
    accounts = tiny_world.accounts
    digits = {"meta": 15, "google_ads": 10, "linkedin": 9, "tiktok": 19, "hubspot": 8}
    for platform, n in digits.items():
        ids = accounts.filter(pl.col("platform") == platform)["account_id"]
        assert ids.str.len_chars().to_list() == [n, n], platform
    mailchimp = accounts.filter(pl.col("platform") == "mailchimp")["account_id"]
    assert mailchimp.str.contains(r"^[0-9a-f]{25}$").all() and mailchimp.len() == 2
    id_lengths = {"linkedin": {9, 10}, "tiktok": {19}}
    for table, column in [("campaigns", "campaign_id"), ("ad_groups", "ad_group_id"), ("ads", "ad_id")]:
        for platform, lengths in id_lengths.items():
            ids = tiny_world.table(table).filter(pl.col("platform") == platform)[column]
            assert set(ids.str.len_chars().unique().to_list()) <= lengths, (table, platform)
    for table, column in [
        ("campaigns", "campaign_id"),
        ("ad_groups", "ad_group_id"),
        ("ads", "ad_id"),
        ("contacts", "contact_id"),
        ("deals", "deal_id"),
        ("touchpoints", "event_id"),
    ]:
        ids = tiny_world.table(table)[column]
        assert ids.str.contains(r"^[1-9][0-9]+$").all(), (table, column)
        assert ids.n_unique() == len(ids), (table, column)
    ids = tiny_world.accounts.filter(pl.col("platform") != "mailchimp")["account_id"]
    assert ids.str.contains(r"^[1-9][0-9]+$").all()
    # Budgets: Google on the campaign (with a shared budget id), the others on the ad group.
    campaigns = tiny_world.campaigns
    google = campaigns.filter(pl.col("platform") == "google_ads")
    others = campaigns.filter(pl.col("platform") != "google_ads")
    assert google["budget_id"].null_count() == 0 and google["daily_budget"].null_count() == 0
    assert others["budget_id"].null_count() == others.height
    assert others["daily_budget"].null_count() == others.height
    groups = tiny_world.ad_groups
    assert groups.filter(pl.col("platform") != "google_ads")["daily_budget"].null_count() == 0
    google_groups = groups.filter(pl.col("platform") == "google_ads")
    assert google_groups["daily_budget"].null_count() == google_groups.height


def test_tiny_preset_size(tiny_world: World) -> None:
    per_tenant_platform = tiny_world.campaigns.group_by("tenant_id", "platform").len()["len"]
    assert per_tenant_platform.to_list() == [2] * 8  # every platform has always-on campaigns in tiny
    assert set(tiny_world.campaigns["platform"]) == {"meta", "google_ads", "linkedin", "tiktok"}
    ads_per_group = tiny_world.ads.group_by("platform", "ad_group_id").len()
    assert 2 <= ads_per_group.filter(pl.col("platform") != "tiktok")["len"].mean() <= 3.5
    assert ads_per_group.filter(pl.col("platform") == "tiktok")["len"].mean() > 3  # fast rotation
    assert 2_000 <= tiny_world.contacts.height <= 4_000
    assert 25_000 <= tiny_world.touchpoints.height <= 60_000


# ---------------------------------------------------------------------------------------- delivery
def test_delivery_units(tiny_world: World) -> None:
    d = tiny_world.delivery
    assert (d["spend_micros"] > 0).all()
    assert (d["spend_micros"] % 10_000 == 0).all()
    assert (d["clicks"] >= 0).all() and (d["clicks"] <= d["impressions"]).all()
    social = d.filter(pl.col("platform") != "google_ads")["platform_conversions"]
    assert (social == social.round(0)).all()
    google = d.filter(pl.col("platform") == "google_ads")["platform_conversions"]
    assert (google != google.round(0)).any()  # fractional, as Google reports
    assert (d["platform_conversion_value"] == d["platform_conversion_value"].round(2)).all()
    assert d.select(pl.struct("platform", "ad_id", "date").is_unique().all()).item()


def test_delivery_only_for_ads_when_live(tiny_world: World) -> None:
    d = tiny_world.delivery.join(
        tiny_world.ads.select("platform", "ad_id", "launch_date"), on=["platform", "ad_id"]
    )
    assert (d["date"] >= d["launch_date"]).all()
    d = d.join(tiny_world.campaigns.select("campaign_id", "start_date", "end_date"), on="campaign_id")
    assert (d["date"] >= d["start_date"]).all()
    assert d.filter(pl.col("end_date").is_not_null() & (pl.col("date") > pl.col("end_date"))).height == 0


def test_fx_rates_every_day(tiny_world: World) -> None:
    fx = tiny_world.fx_rates
    days = pl.date_range(tiny_world.meta.start_date, tiny_world.meta.end_date, eager=True)
    for currency in ("USD", "EUR"):
        rows = fx.filter(pl.col("currency") == currency)
        assert rows["date"].to_list() == days.to_list()
    assert (fx.filter(pl.col("currency") == "USD")["rate_to_usd"] == 1.0).all()
    eur = fx.filter(pl.col("currency") == "EUR")["rate_to_usd"]
    assert eur.min() > 0.95 and eur.max() < 1.25


# ---------------------------------------------------------------------------------------- ground truth
def test_truth_spend_equals_delivery_to_the_cent(tiny_world: World) -> None:
    delivered = tiny_world.delivery.group_by("tenant_id", pl.col("platform").alias("channel"), "date").agg(
        pl.col("spend_micros").sum()
    )
    truth = tiny_world.truth["channel_daily"].join(delivered, on=["tenant_id", "channel", "date"], how="left")
    truth = truth.with_columns(pl.col("spend_micros").fill_null(0))
    assert truth.height == 2 * 6 * 120
    nonpaid = truth.filter(pl.col("channel").is_in(["email", "organic_social"]))
    assert (nonpaid["spend"] == 0).all() and nonpaid["volume"].sum() > 0
    assert ((truth["spend"] * 100).round(0).cast(pl.Int64) == truth["spend_micros"] // 10_000).all()


def _response_input(rows: pl.DataFrame, channel: str) -> np.ndarray:
    """What a channel's adstock runs on: spend for paid platforms, volume for email / organic social."""
    return rows["spend" if channel in PLATFORMS else "volume"].to_numpy()


def test_incremental_conversions_recompute_from_params(tiny_world: World) -> None:
    daily = tiny_world.truth["channel_daily"]
    for p in tiny_world.truth["channel_params"].iter_rows(named=True):
        rows = daily.filter(
            (pl.col("tenant_id") == p["tenant_id"]) & (pl.col("channel") == p["channel"])
        ).sort("date")
        expected = incremental_conversions(
            _response_input(rows, p["channel"]), p["adstock_decay"], p["hill_k"], p["hill_alpha"], p["beta"]
        )
        np.testing.assert_allclose(rows["incremental_conversions"].to_numpy(), expected, rtol=1e-12)
        np.testing.assert_allclose(
            rows["incremental_revenue"].to_numpy(), expected * p["revenue_per_conversion"], rtol=1e-12
        )
        ranges = RESPONSE_RANGES[CHANNELS.index(p["channel"])]
        assert ranges.decay[0] <= p["adstock_decay"] <= ranges.decay[1], p["channel"]
        assert ranges.alpha[0] <= p["hill_alpha"] <= ranges.alpha[1], p["channel"]
        assert p["beta"] > 0, p["channel"]


def test_conversions_are_closedwon_deals_per_local_day(tiny_world: World) -> None:
    won = _with_local_date(
        tiny_world.deals.filter(pl.col("dealstage") == "closedwon"), tiny_world, "closedate"
    )
    per_day = won.group_by("tenant_id", pl.col("local_date").alias("date")).agg(
        pl.len().alias("deals"), pl.col("amount").sum().alias("amount")
    )
    base = tiny_world.truth["baseline_daily"].join(per_day, on=["tenant_id", "date"], how="left").fill_null(0)
    assert (base["deals"] == base["total_conversions"]).all()
    np.testing.assert_allclose(base["amount"].to_numpy(), base["total_revenue"].to_numpy(), atol=0.005)
    causes = tiny_world.truth["conversions"]
    assert causes.height == won.height
    assert {"baseline", "meta", "google_ads", "tiktok", "email", "organic_social"} <= set(causes["cause"])
    assert set(causes["cause"]) <= set(CAUSES)


def test_revenue_shares_and_roas_are_realistic(tiny_world: World) -> None:
    spend = (
        tiny_world.truth["channel_daily"]
        .group_by("tenant_id")
        .agg(pl.col("spend").sum(), pl.col("incremental_revenue").sum())
    )
    revenue = tiny_world.truth["baseline_daily"].group_by("tenant_id").agg(pl.col("total_revenue").sum())
    both = spend.join(revenue, on="tenant_id")
    roas = both["total_revenue"] / both["spend"]
    share = both["incremental_revenue"] / both["total_revenue"]
    assert ((roas > 1.5) & (roas < 4)).all(), roas
    assert ((share > 0.2) & (share < 0.55)).all(), share


def test_roi_table_from_true_model(tiny_world: World) -> None:
    roi = tiny_world.truth["roi"]
    daily = tiny_world.truth["channel_daily"]
    for p in tiny_world.truth["channel_params"].iter_rows(named=True):
        spend = daily.filter(
            (pl.col("tenant_id") == p["tenant_id"]) & (pl.col("channel") == p["channel"])
        ).sort("date")
        _, r, m = roi_and_mroi(
            _response_input(spend, p["channel"]),
            p["adstock_decay"],
            p["hill_k"],
            p["hill_alpha"],
            p["beta"],
            p["revenue_per_conversion"],
        )
        row = roi.filter((pl.col("tenant_id") == p["tenant_id"]) & (pl.col("channel") == p["channel"])).row(
            0, named=True
        )
        assert row["incremental_revenue"] == pytest.approx(spend["incremental_revenue"].sum(), rel=1e-9)
        if p["channel"] not in PLATFORMS:  # no spend: no ROI
            assert row["roi"] is None and row["mroi"] is None and row["spend"] == 0
            continue
        assert row["roi"] == pytest.approx(r) and row["mroi"] == pytest.approx(m)
        assert 0 < row["mroi"] < row["roi"]  # saturating response: the next dollar earns less
    # LinkedIn is the weak channel of both tenants
    for tenant, rows in roi.filter(pl.col("roi").is_not_null()).group_by("tenant_id"):
        assert rows.sort("roi")["channel"][0] == "linkedin", tenant


def test_platforms_over_claim(tiny_world: World) -> None:
    claimed = tiny_world.delivery.group_by("tenant_id", pl.col("platform").alias("cause")).agg(
        pl.col("platform_conversions").sum()
    )
    true = tiny_world.truth["conversions"].group_by("tenant_id", "cause").len()
    both = claimed.join(true, on=["tenant_id", "cause"])
    assert both.height == 8
    assert (both["platform_conversions"] > both["len"]).all()


# ---------------------------------------------------------------------------------------- CRM and journeys
def test_lifecycle_dates_are_ordered(tiny_world: World) -> None:
    c = tiny_world.contacts
    stages = ["lead_date", "mql_date", "sql_date", "opportunity_date", "customer_date"]
    assert (c["created_at"] == c["lead_date"]).all()
    for earlier, later in itertools.pairwise(stages):
        bad = c.filter(
            pl.col(later).is_not_null() & (pl.col(earlier).is_null() | (pl.col(later) < pl.col(earlier)))
        )
        assert bad.height == 0, (earlier, later)
    latest = pl.max_horizontal(*stages)
    assert c.select((pl.col("updated_at") == latest).all()).item()
    reached = {s: c.filter(pl.col("lifecyclestage") == s) for s in c["lifecyclestage"].unique()}
    assert reached["customer"]["customer_date"].null_count() == 0
    assert reached["lead"]["mql_date"].null_count() == reached["lead"].height
    assert c["email"].str.contains(r"^[a-z]+\.[a-z]+\.[0-9]+@example\.com$").all()


def test_every_customer_has_a_won_deal_and_a_journey(tiny_world: World) -> None:
    customers = tiny_world.contacts.filter(pl.col("lifecyclestage") == "customer")
    won = tiny_world.deals.filter(pl.col("dealstage") == "closedwon")
    assert sorted(won["contact_id"].to_list()) == sorted(customers["contact_id"].to_list())
    joined = won.join(customers, on=["tenant_id", "contact_id"])
    assert (joined["closedate"] == joined["customer_date"]).all()
    assert (joined["createdate"] == joined["opportunity_date"]).all()
    touches = tiny_world.touchpoints.join(
        customers.select("tenant_id", "anonymous_id", "lead_date", "customer_date"),
        on=["tenant_id", "anonymous_id"],
    )
    assert touches["anonymous_id"].n_unique() == customers.height
    leads = touches.filter(pl.col("event_type") == "lead")
    assert leads.height == customers.height and (leads["event_ts"] == leads["lead_date"]).all()
    sessions = touches.filter(
        (pl.col("event_type") == "session") & (pl.col("event_ts") <= pl.col("customer_date"))
    )
    assert sessions["anonymous_id"].n_unique() == customers.height  # a session before buying
    lost = tiny_world.deals.filter(pl.col("dealstage") == "closedlost")
    assert lost.height > 0
    assert lost.join(tiny_world.contacts, on=["tenant_id", "contact_id"])[
        "lifecyclestage"
    ].unique().to_list() == ["opportunity"]


def test_every_contact_has_a_lead_event_at_creation(tiny_world: World) -> None:
    leads = tiny_world.touchpoints.filter(pl.col("event_type") == "lead")
    joined = tiny_world.contacts.join(leads, on=["tenant_id", "anonymous_id"], how="left")
    assert joined.height == tiny_world.contacts.height
    assert (joined["event_ts"] == joined["created_at"]).all()


# utm values of a click on each channel
CHANNEL_UTM = {
    "meta": (pl.col("utm_medium") == "paid_social") & pl.col("utm_source").is_in(["facebook", "instagram"]),
    "google_ads": pl.col("utm_medium") == "cpc",
    "linkedin": (pl.col("utm_medium") == "paid_social") & (pl.col("utm_source") == "linkedin"),
    "tiktok": (pl.col("utm_medium") == "paid_social") & (pl.col("utm_source") == "tiktok"),
    "email": (pl.col("utm_medium") == "email") & (pl.col("utm_source") == "newsletter"),
    "organic_social": pl.col("utm_medium") == "social",
}


def test_incremental_conversions_contain_a_click_of_their_channel(tiny_world: World) -> None:
    causes = tiny_world.truth["conversions"].filter(pl.col("cause") != "baseline")
    contacts = causes.join(tiny_world.contacts, on=["tenant_id", "contact_id"]).select(
        "tenant_id", "anonymous_id", "cause", "customer_date"
    )
    journeys = contacts.join(tiny_world.touchpoints, on=["tenant_id", "anonymous_id"]).filter(
        pl.col("event_ts") <= pl.col("customer_date")
    )
    for channel, clicked in CHANNEL_UTM.items():
        mine = contacts.filter(pl.col("cause") == channel)
        touched = journeys.filter((pl.col("cause") == channel) & clicked)["anonymous_id"].n_unique()
        assert touched == mine.height, channel


def test_last_click_over_credits_google_search(tiny_world: World) -> None:
    customers = tiny_world.contacts.filter(pl.col("lifecyclestage") == "customer").select(
        "tenant_id", "anonymous_id", "customer_date"
    )
    sessions = tiny_world.touchpoints.filter(pl.col("event_type") == "session").join(
        customers, on=["tenant_id", "anonymous_id"]
    )
    last = (
        sessions.filter(pl.col("event_ts") <= pl.col("customer_date"))
        .sort("event_ts")
        .group_by("anonymous_id")
        .last()
    )
    last_click_google = (last["utm_medium"] == "cpc").mean()
    true_google = (tiny_world.truth["conversions"]["cause"] == "google_ads").mean()
    assert last_click_google > 1.5 * true_google


def test_touchpoints_land_from_clicks_and_name_campaigns(tiny_world: World) -> None:
    sessions = tiny_world.touchpoints.filter(pl.col("event_type") == "session")
    clicks = dict(tiny_world.delivery.group_by("platform").agg(pl.col("clicks").sum()).iter_rows())
    for platform in ("meta", "google_ads", "linkedin", "tiktok"):
        landed = sessions.filter(CHANNEL_UTM[platform]).height
        assert 0.7 <= landed / clicks[platform] <= 1.0, platform
    assert {"organic", "(none)", "referral", "email", "social"} <= set(sessions["utm_medium"])
    paid = sessions.filter(pl.col("utm_medium").is_in(["paid_social", "cpc"]))
    assert set(paid["utm_campaign"].unique()) <= set(slugify(tiny_world.campaigns["campaign_name"]))
    emails = sessions.filter(pl.col("utm_medium") == "email")
    assert set(emails["utm_campaign"].unique()) <= set(slugify(tiny_world.email_campaigns["campaign_title"]))
    # Organic social links carry a utm_campaign too (the post), as brands tag their link-in-bio posts.
    untagged = sessions.filter(~pl.col("utm_medium").is_in(["paid_social", "cpc", "email", "social"]))
    assert untagged["utm_campaign"].null_count() == untagged.height
    visits = tiny_world.touchpoints.group_by("anonymous_id").len()["len"]
    assert visits.max() > 1  # journeys, not one-off hits
    assert tiny_world.touchpoints.equals(tiny_world.touchpoints.sort("tenant_id", "event_ts", "event_id"))


def test_touchpoint_local_dates_stay_inside_the_world(tiny_world: World) -> None:
    local = _with_local_date(tiny_world.touchpoints, tiny_world, "event_ts")
    assert local["local_date"].min() == tiny_world.meta.start_date
    assert local["local_date"].max() == tiny_world.meta.end_date
    # event ids carry the local date: <tenant><yyyymmdd><seq>
    from_id = local["event_id"].str.slice(1, 8).str.to_date("%Y%m%d")
    assert (from_id == local["local_date"]).all()


def test_local_to_utc_matches_the_time_zone_database_on_dst_days() -> None:
    rng = np.random.default_rng(3)
    days = [date(2026, 3, 8), date(2026, 3, 29), date(2026, 10, 25), date(2026, 11, 1), date(2026, 6, 1)]
    base = np.array([(d - date(1970, 1, 1)).days * 86400 for d in days])
    seconds = (base[:, None] + rng.integers(0, 86400, (len(days), 2000))).ravel()
    for tz in ("America/New_York", "Europe/Berlin"):
        fast = local_to_utc_us(seconds, tz)
        np.testing.assert_array_equal(fast, _to_utc_exact(seconds, tz))
        order = np.argsort(seconds, kind="stable")
        assert (np.diff(fast[order]) >= 0).all()  # never reorders events


@pytest.mark.slow
def test_demo_preset_scale() -> None:
    world = generate_world("demo", 7)
    assert world.meta.start_date == date(2024, 11, 1) and world.meta.end_date == date(2026, 10, 31)
    assert 40 <= world.campaigns.height < 150
    assert 500 <= world.ads.height < 2_500
    assert 80_000 <= world.contacts.height <= 130_000
    assert 800_000 <= world.touchpoints.height <= 1_800_000
    assert set(world.campaigns["platform"].unique()) == {"meta", "google_ads", "linkedin", "tiktok"}
    statuses = world.campaigns.group_by("status").len()
    assert statuses.height == 2  # some flights ended, others run
