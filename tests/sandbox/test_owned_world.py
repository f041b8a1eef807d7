"""The owned-media builder: exact pinned schemas, reproducible, realistic, and self-consistent."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from connectors.sandbox.owned import (
    OWNED_SCHEMAS,
    OWNED_TRUTH_SCHEMAS,
    OwnedMedia,
    build_owned_media,
    mailchimp_account_id,
)
from connectors.sandbox.plan import slugify
from connectors.sandbox.presets import PRESETS, TENANTS


def _build(preset: str = "tiny", tenant: int = 1, seed: int = 7) -> OwnedMedia:
    p = PRESETS[preset]
    dates = np.arange(np.datetime64(p.start_date, "D"), np.datetime64(p.end_date, "D") + 1)
    return build_owned_media(TENANTS[tenant - 1], tenant, dates, p, np.random.default_rng([seed, 5, tenant]))


@pytest.fixture(scope="module")
def media() -> OwnedMedia:
    return _build()


@pytest.fixture(scope="module")
def demo_media() -> OwnedMedia:
    return _build("demo", tenant=2)


def test_tables_have_exactly_the_pinned_columns(media: OwnedMedia) -> None:
    assert {n: dict(f.schema) for n, f in media.tables.items()} == OWNED_SCHEMAS
    assert {n: dict(f.schema) for n, f in media.truth.items()} == OWNED_TRUTH_SCHEMAS
    for frame in media.tables.values():
        assert frame.height > 0 and frame["tenant_id"].unique().to_list() == ["northwind"]
    assert media.tables["email_campaigns"]["account_id"].unique().to_list() == [
        mailchimp_account_id("northwind", 1)
    ]
    assert media.tables["email_campaigns"]["email_campaign_id"].str.contains(r"^[0-9a-f]{10}$").all()
    assert media.tables["social_mentions"]["mention_id"].str.contains(r"^\d+$").all()


def test_same_seed_same_media_other_seed_other_media(media: OwnedMedia) -> None:
    again = _build()
    for name, frame in media.tables.items():
        assert frame.equals(again.tables[name]), name
    for name, channel in media.channels.items():
        assert np.array_equal(channel.volume, again.channels[name].volume)
        assert channel.clicks.equals(again.channels[name].clicks)
    assert not media.tables["social_posts"].equals(_build(seed=8).tables["social_posts"])


def test_email_rates_and_cadence_are_plausible(demo_media: OwnedMedia) -> None:
    emails = demo_media.tables["email_campaigns"]
    regular = emails.filter(pl.col("type") == "regular")
    delivered = regular["emails_sent"] - regular["hard_bounces"] - regular["soft_bounces"]
    open_rate = regular["unique_opens"].sum() / delivered.sum()
    click_rate = regular["unique_clicks"].sum() / delivered.sum()
    bounce_rate = (regular["hard_bounces"] + regular["soft_bounces"]).sum() / regular["emails_sent"].sum()
    unsub_rate = regular["unsubscribed"].sum() / delivered.sum()
    assert 0.25 < open_rate < 0.5 and 0.015 < click_rate < 0.07
    assert 0.003 < bounce_rate < 0.015 and 0.0005 < unsub_rate < 0.004
    assert (regular["opens_total"] >= regular["unique_opens"]).all()
    assert (regular["unique_opens"] >= regular["unique_clicks"]).all()
    weeks = 730 / 7
    assert 1.6 < regular.height / weeks < 2.4  # ~2 newsletters a week
    assert emails.filter(pl.col("type") == "automation").height == 5
    # The main list grows: sends to it in the second year reach more people than in the first.
    main = regular.filter(pl.col("list_id") == regular["list_id"].mode().first()).sort("send_time")
    half = main.height // 2
    assert main["emails_sent"][half:].median() > 1.1 * main["emails_sent"][:half].median()


def test_email_clicks_land_with_the_campaign_slug(media: OwnedMedia) -> None:
    emails = media.tables["email_campaigns"]
    clicks = media.channels["email"].clicks
    assert set(clicks["utm_source"].unique()) == {"newsletter"} and set(clicks["utm_medium"].unique()) == {
        "email"
    }
    expected = emails.select(slugify(pl.col("campaign_title")).alias("utm_campaign"), "unique_clicks")
    landed = clicks.group_by("utm_campaign").agg(pl.col("clicks").sum())
    joined = expected.join(landed, on="utm_campaign", how="left").fill_null(0)
    assert joined.height == emails.height  # one slug per campaign
    assert (joined["clicks"] <= joined["unique_clicks"]).all()  # a click lands at most once
    assert 0.8 < joined["clicks"].sum() / joined["unique_clicks"].sum() < 0.97
    assert not clicks["landing_page"].str.starts_with("/products/").any()  # reserved by the world
    delivered = emails["emails_sent"] - emails["hard_bounces"] - emails["soft_bounces"]
    assert media.channels["email"].volume.sum() == pytest.approx(delivered.sum())


def test_social_posts_have_heavy_tails_and_clicks_that_land(demo_media: OwnedMedia) -> None:
    posts = demo_media.tables["social_posts"]
    assert set(posts["platform"].unique()) == {"instagram", "facebook", "tiktok", "linkedin"}
    assert (posts["impressions"] >= posts["reach"]).all() and (posts["reach"] >= posts["likes"]).all()
    reach = posts.filter(pl.col("platform") == "instagram")["reach"]
    assert reach.max() > 8 * reach.median()  # a few posts go viral
    clicks = demo_media.channels["organic_social"].clicks
    assert set(clicks["utm_medium"].unique()) == {"social"}
    by_platform = clicks.group_by("utm_source").agg(pl.col("clicks").sum()).sort("utm_source")
    expected = posts.group_by("platform").agg(pl.col("link_clicks").sum()).sort("platform")
    ratio = by_platform["clicks"].to_numpy() / expected["link_clicks"].to_numpy()
    assert ((ratio > 0.75) & (ratio <= 1.0)).all()
    # Daily organic reach adds up to the posts' reach so far (the last posts' tail falls after the window).
    assert demo_media.channels["organic_social"].volume.sum() == pytest.approx(posts["reach"].sum(), rel=0.01)


def test_mention_sentiment_is_readable_from_the_text(demo_media: OwnedMedia) -> None:
    mentions = demo_media.tables["social_mentions"].join(
        demo_media.truth["mention_sentiment"], on="mention_id"
    )
    assert mentions.height == demo_media.tables["social_mentions"].height
    # Each text says one sentiment, and the score agrees with its sign.
    assert mentions.group_by("text").agg(pl.col("sentiment").n_unique().alias("n"))["n"].max() == 1
    signs = mentions.group_by("sentiment").agg(pl.col("score").mean()).sort("sentiment")
    means = dict(zip(signs["sentiment"], signs["score"], strict=True))
    assert means["negative"] < -0.3 < means["neutral"] < 0.3 < means["positive"]
    assert set(mentions["language"].unique()) == {"de", "en", "it"}  # bellavista speaks German mostly


def test_influencer_engagement_falls_with_followers(demo_media: OwnedMedia) -> None:
    influencers = demo_media.tables["influencers"]
    rho, _ = spearmanr(influencers["followers"], influencers["engagement_rate"])
    assert rho < -0.3
    assert (influencers["followers"] >= 1000).all() and influencers["handle"].is_unique().all()
