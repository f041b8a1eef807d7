"""The seam between owned media (email, organic social) and the simulated world.

A builder of owned media returns, per tenant, the owned-media tables (as the APIs serve them), their
truth, and per non-paid channel what the simulation needs:

    build(spec: TenantSpec, tenant_num: int, dates: np.ndarray, preset: Preset,
          rng: np.random.Generator) -> OwnedMedia

- `dates`: the window's local dates (numpy datetime64[D], consecutive); "day" below is an index into it.
- `OwnedMedia.channels` maps `"email"` and `"organic_social"` to a `NonPaidChannel`:
  - `volume`: float array [len(dates)], what the channel's true response runs on (adstock + Hill):
    emails delivered per day for email, organic reach per day for organic social. A channel that is
    missing (or all zero) causes nothing.
  - `clicks`: one row per (day, utm) with click-through sessions that land on the site; columns
    `day` (Int64, window index), `utm_source`, `utm_medium`, `utm_campaign` (nullable), `landing_page`
    (String) and `clicks` (Int64 > 0). Email: utm_source `newsletter`, utm_medium `email`,
    utm_campaign = `slugify(campaign_title)`; social: utm_source = platform, utm_medium `social`.
    Landing pages must not be `/products/...` pages: product page views before a lead are a feature
    of the true lead propensity, which the world places itself.
  The simulation turns these clicks into touchpoints (converters caused by the channel get one of
  them; the rest become anonymous sessions), so touchpoints reconcile with the click totals.
- `OwnedMedia.tables`: world tables keyed by name (`email_campaigns`, `social_posts`, and - from a
  richer builder - `social_mentions`, `influencers`), columns as in docs/INTERFACES.md §7.1.
- `OwnedMedia.truth`: truth tables keyed by name (e.g. `mention_sentiment`), saved under `truth/`.

`owned_account_ids(spec, tenant_num)` gives the Mailchimp account and list and the social account ids
every builder must use, so `accounts` (generated separately) agrees with the owned tables.

The generator uses `connectors.sandbox.owned.build_owned_media` when that module exists, else
`build_default_owned_media` below (newsletters and one post a day), with its own random stream, so the
choice of builder never changes the paid side of the world.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

CLICK_COLUMNS: dict[str, pl.DataType] = {
    "day": pl.Int64,
    "utm_source": pl.String,
    "utm_medium": pl.String,
    "utm_campaign": pl.String,
    "landing_page": pl.String,
    "clicks": pl.Int64,
}


@dataclass
class NonPaidChannel:
    volume: np.ndarray  # [n_days] emails delivered / organic reach
    clicks: pl.DataFrame  # CLICK_COLUMNS


@dataclass
class OwnedMedia:
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    truth: dict[str, pl.DataFrame] = field(default_factory=dict)
    channels: dict[str, NonPaidChannel] = field(default_factory=dict)


OwnedMediaBuilder = Callable[..., OwnedMedia]


def empty_clicks() -> pl.DataFrame:
    return pl.DataFrame(schema=CLICK_COLUMNS)


def conform_clicks(frame: pl.DataFrame, n_days: int, channel: str) -> pl.DataFrame:
    """The click table in CLICK_COLUMNS order; a clear error on a broken one (builders are pluggable)."""
    missing = set(CLICK_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"owned media: {channel} clicks lack columns {sorted(missing)}")
    frame = frame.select([pl.col(c).cast(t) for c, t in CLICK_COLUMNS.items()]).filter(pl.col("clicks") > 0)
    bad = frame.filter((pl.col("day") < 0) | (pl.col("day") >= n_days))
    if bad.height:
        raise ValueError(
            f"owned media: {channel} clicks on day {bad['day'][0]} outside the window 0..{n_days - 1}"
        )
    if frame["landing_page"].str.starts_with("/products/").any():
        raise ValueError(f"owned media: {channel} clicks land on /products/ pages (reserved, see media.py)")
    return frame


def _digits(key: str, n: int, first: str = "1") -> str:
    h = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    return first + str(h)[: n - len(first)]


def _hex(key: str, n: int) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:n]


def owned_account_ids(tenant_id: str, tenant_num: int) -> dict[str, str]:
    """Deterministic owned-media account ids of a tenant (shared by every builder and `accounts`)."""
    key = f"{tenant_num}:{tenant_id}"
    return {
        "mailchimp": _hex(f"mailchimp-account:{key}", 25),
        "mailchimp_list": _hex(f"mailchimp-list:{key}", 10),
        "instagram": _digits(f"instagram:{key}", 17, "17841"),
        "facebook": _digits(f"facebook:{key}", 15),
        "tiktok": _digits(f"tiktok-organic:{key}", 19, "7"),
        "linkedin": _digits(f"linkedin-org:{key}", 8),
    }


def slugify(names: pl.Series) -> pl.Series:
    """utm_campaign as teams write it: lower case, non-alphanumerics -> '-'."""
    return (
        names.str.to_lowercase()
        .str.replace_all(r"[^a-z0-9]+", "-")
        .str.strip_chars("-")
        .alias("utm_campaign")
    )


def local_to_utc(local_us: np.ndarray, tz: str) -> pl.Series:
    """Naive local wall-clock microseconds -> naive UTC datetimes (daytime events: no DST gaps)."""
    naive = pl.Series(np.asarray(local_us, dtype=np.int64)).cast(pl.Datetime("us"))
    aware = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return aware.dt.convert_time_zone("UTC").dt.replace_time_zone(None)


# ------------------------------------------------------------------------------ default builder
_EMAIL_THEMES = (
    "New In: {cat}",
    "Weekly Picks - {cat}",
    "The {cat} Guide",
    "Members Sale - {cat}",
    "Back in Stock: {cat}",
    "Last Chance - {cat}",
)
# organic social: share of posts, followers per expected daily conversion, reach rate (median, log-sd),
# link-click rate per reach, post types
_SOCIAL = {
    "instagram": (0.4, 2600.0, 0.12, 0.5, 0.003, ("image", "carousel", "video")),
    "facebook": (0.25, 1800.0, 0.05, 0.5, 0.004, ("image", "video", "text")),
    "tiktok": (0.25, 1500.0, 0.25, 1.0, 0.002, ("video",)),
    "linkedin": (0.1, 400.0, 0.1, 0.5, 0.006, ("text", "image", "carousel")),
}
_SPREAD = np.array([0.7, 0.18, 0.06, 0.03, 0.02, 0.01])  # share of an email's clicks on send day + d


def _spread(day: np.ndarray, amount: np.ndarray, profile: np.ndarray, n_days: int, rng) -> np.ndarray:
    """[len(day), len(profile)] integer counts of `amount` spread over the following days (multinomial)."""
    out = rng.multinomial(np.asarray(amount, dtype=np.int64), profile).reshape(len(amount), len(profile))
    days = day[:, None] + np.arange(len(profile))[None, :]
    return np.where(days < n_days, out, 0).astype(np.int64)


def _clicks_frame(day, counts, source, medium, campaign, landing) -> pl.DataFrame:
    """Click rows (day + offset, counts) of items with their utm values; zero rows dropped."""
    n, k = counts.shape
    frame = pl.DataFrame(
        {
            "day": (np.asarray(day)[:, None] + np.arange(k)[None, :]).ravel().astype(np.int64),
            "utm_source": np.repeat(np.asarray(source, dtype=object), k),
            "utm_medium": [medium] * (n * k),
            "utm_campaign": pl.Series(np.repeat(np.asarray(campaign, dtype=object), k), dtype=pl.String),
            "landing_page": np.repeat(np.asarray(landing, dtype=object), k),
            "clicks": counts.ravel(),
        },
        schema=CLICK_COLUMNS,
    )
    return frame.filter(pl.col("clicks") > 0)


def build_default_owned_media(
    spec, tenant_num: int, dates: np.ndarray, preset, rng: np.random.Generator
) -> OwnedMedia:
    """A plain owned-media program: two newsletters a week plus a welcome automation, about one organic
    post a day. Produces `email_campaigns`, `social_posts` and both channels' volume and clicks."""
    n_days = len(dates)
    ids = owned_account_ids(spec.tenant_id, tenant_num)
    day_us = dates.astype("datetime64[D]").astype(np.int64) * 86_400_000_000
    years = np.arange(n_days) / 365.0
    cats = spec.categories

    # ---- email: the list grows; newsletters go out on two fixed weekdays, now and then skipped
    list_size = (
        preset.conversions_per_day * 500.0 * rng.lognormal(0.0, 0.1) * (1 + rng.uniform(0.15, 0.35) * years)
    )
    dow = (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7
    weekdays = rng.choice([1, 2, 3, 4], 2, replace=False)
    send = np.nonzero(np.isin(dow, weekdays) & (rng.random(n_days) > 0.08))[0]
    n_send = len(send)
    sent = np.round(list_size[send] * rng.uniform(0.97, 1.0, n_send)).astype(np.int64)
    auto_sent = rng.poisson(list_size * 0.004)  # welcome series, every day
    hard = rng.binomial(sent, 0.002)
    soft = rng.binomial(sent, 0.006)
    delivered = sent - hard - soft
    unique_opens = rng.binomial(delivered, rng.uniform(0.32, 0.46, n_send))
    unique_clicks = rng.binomial(delivered, rng.uniform(0.018, 0.035, n_send))
    auto_clicks = rng.binomial(auto_sent, 0.06)
    themes = rng.integers(0, len(_EMAIL_THEMES), n_send)
    cat_idx = rng.integers(0, len(cats), n_send)
    send_dates = dates[send].astype("datetime64[D]").astype(str)
    titles = [
        f"{_EMAIL_THEMES[t].format(cat=cats[c].replace('-', ' ').title())} ({d})"
        for t, c, d in zip(themes, cat_idx, send_dates, strict=True)
    ]
    landing = [
        f"/collections/{cats[c]}" if t != 2 else f"/blog/{cats[c]}-guide"
        for t, c in zip(themes, cat_idx, strict=True)
    ]
    auto_title = "Welcome Series"
    all_titles = pl.Series([*titles, auto_title], dtype=pl.String)
    slugs = slugify(all_titles)
    campaign_ids = [
        _hex(f"email:{tenant_num}:{spec.tenant_id}:{d}:{i}", 10) for i, d in enumerate([*send_dates, "auto"])
    ]
    send_local = day_us[send] + rng.integers(8 * 3600, 11 * 3600, n_send) * 1_000_000
    auto_first = day_us[0] + 6 * 3_600_000_000
    auto_delivered = auto_sent - rng.binomial(auto_sent, 0.004)
    email_campaigns = pl.DataFrame(
        {
            "tenant_id": spec.tenant_id,
            "account_id": ids["mailchimp"],
            "email_campaign_id": campaign_ids,
            "list_id": ids["mailchimp_list"],
            "campaign_title": all_titles,
            "type": ["regular"] * n_send + ["automation"],
            "send_time": local_to_utc(np.append(send_local, auto_first), spec.timezone),
            "emails_sent": np.append(sent, auto_sent.sum()),
            "hard_bounces": np.append(hard, auto_sent.sum() - auto_delivered.sum()),
            "soft_bounces": np.append(soft, 0),
            "unsubscribed": np.append(
                rng.binomial(delivered, 0.0015), rng.binomial(auto_delivered.sum(), 0.004)
            ),
            "abuse_reports": np.append(rng.binomial(delivered, 0.0001), 0),
            "opens_total": np.append(
                unique_opens + rng.poisson(0.6 * unique_opens), int(auto_delivered.sum() * 0.7)
            ),
            "unique_opens": np.append(unique_opens, int(auto_delivered.sum() * 0.5)),
            "clicks_total": np.append(
                unique_clicks + rng.poisson(0.45 * unique_clicks), int(auto_clicks.sum() * 1.3)
            ),
            "unique_clicks": np.append(unique_clicks, auto_clicks.sum()),
        }
    )
    email_volume = auto_delivered.astype(np.float64)
    np.add.at(email_volume, send, delivered)
    landed = rng.binomial(unique_clicks, 0.9)
    email_clicks = pl.concat(
        [
            _clicks_frame(
                send,
                _spread(send, landed, _SPREAD, n_days, rng),
                ["newsletter"] * n_send,
                "email",
                slugs.head(n_send),
                landing,
            ),
            _clicks_frame(
                np.arange(n_days),
                rng.binomial(auto_clicks, 0.9)[:, None],
                ["newsletter"] * n_days,
                "email",
                [slugs[-1]] * n_days,
                ["/"] * n_days,
            ),
        ]
    )

    # ---- organic social: about one post a day over four platforms
    platforms = list(_SOCIAL)
    n_post_day = rng.poisson(1.0, n_days)
    p_day = np.repeat(np.arange(n_days), n_post_day)
    n_posts = len(p_day)
    p_plat = rng.choice(len(platforms), n_posts, p=[v[0] for v in _SOCIAL.values()])
    followers = np.array([v[1] for v in _SOCIAL.values()]) * preset.conversions_per_day
    rate = np.array([v[2] for v in _SOCIAL.values()])[p_plat]
    sd = np.array([v[3] for v in _SOCIAL.values()])[p_plat]
    reach = np.round(
        followers[p_plat] * (1 + 0.3 * years[p_day]) * rate * rng.lognormal(-(sd**2) / 2, sd)
    ).astype(np.int64)
    link_clicks = rng.binomial(reach, np.array([v[4] for v in _SOCIAL.values()])[p_plat])
    p_cat = rng.integers(0, len(cats), n_posts)
    types = [_SOCIAL[platforms[p]][5][i % len(_SOCIAL[platforms[p]][5])] for i, p in enumerate(p_plat)]
    post_ids, permalinks = [], []
    for i, p in enumerate(p_plat):  # ~1 per day: a few hundred strings
        name = platforms[p]
        num = _digits(f"post:{tenant_num}:{spec.tenant_id}:{i}", 19, "7")
        if name == "instagram":
            post_ids.append("179" + num[3:18])
            permalinks.append(f"https://www.instagram.com/p/{_hex(num, 11)}/")
        elif name == "facebook":
            post_ids.append(f"{ids['facebook']}_{num[:16]}")
            permalinks.append(f"https://www.facebook.com/{ids['facebook']}/posts/{num[:16]}")
        elif name == "tiktok":
            post_ids.append(num)
            permalinks.append(f"https://www.tiktok.com/@{spec.short.lower()}official/video/{num}")
        else:
            post_ids.append(num)
            permalinks.append(f"https://www.linkedin.com/feed/update/urn:li:activity:{num}/")
    post_local = day_us[p_day] + rng.integers(7 * 3600, 21 * 3600, n_posts) * 1_000_000
    messages = [
        f"{['New drop', 'Behind the scenes', 'Customer story', 'How to choose'][i % 4]}: "
        f"{cats[c].replace('-', ' ')} #{spec.short.lower()}"
        for i, c in enumerate(p_cat)
    ]
    social_posts = pl.DataFrame(
        {
            "tenant_id": spec.tenant_id,
            "platform": [platforms[p] for p in p_plat],
            "account_id": [ids[platforms[p]] for p in p_plat],
            "post_id": post_ids,
            "created_at": local_to_utc(post_local, spec.timezone),
            "post_type": types,
            "message": messages,
            "permalink": permalinks,
            "reach": reach,
            "impressions": np.round(reach * rng.uniform(1.1, 1.6, n_posts)).astype(np.int64),
            "likes": rng.binomial(reach, 0.035),
            "comments": rng.binomial(reach, 0.003),
            "shares": rng.binomial(reach, 0.002),
            "saves": rng.binomial(reach, 0.004),
            "link_clicks": link_clicks,
        },
        schema_overrides={"post_id": pl.String},
    )
    reach_profile = np.array([0.7, 0.25, 0.05])
    social_volume = np.zeros(n_days)
    spread_reach = reach[:, None] * reach_profile[None, :]
    for k in range(3):
        ok = p_day + k < n_days
        np.add.at(social_volume, p_day[ok] + k, spread_reach[ok, k])
    social_clicks = _clicks_frame(
        p_day,
        _spread(p_day, rng.binomial(link_clicks, 0.9), reach_profile, n_days, rng),
        [platforms[p] for p in p_plat],
        "social",
        [None] * n_posts,
        [f"/collections/{cats[c]}" if i % 2 else f"/blog/{cats[c]}-guide" for i, c in enumerate(p_cat)],
    )
    return OwnedMedia(
        tables={"email_campaigns": email_campaigns, "social_posts": social_posts},
        truth={},
        channels={
            "email": NonPaidChannel(email_volume, email_clicks),
            "organic_social": NonPaidChannel(social_volume, social_clicks),
        },
    )
