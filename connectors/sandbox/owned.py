"""A tenant's owned media in the sandbox world: email campaigns, organic social posts, brand mentions
and influencer profiles (docs/INTERFACES.md §7.1), seeded and vectorised.

`build_owned_media(spec, tenant_num, dates, preset, rng) -> OwnedMedia` gives, for one tenant and the
window `dates` (numpy datetime64[D], the tenant's local days):

- `tables`: `email_campaigns` (Mailchimp reports, lifetime as of the last day), `social_posts` (lifetime
  metrics as of the last day), `social_mentions`, `influencers` (profile snapshot), exactly the columns of
  `OWNED_SCHEMAS`;
- `truth`: `mention_sentiment` (mention_id, sentiment, score): what each mention's text says;
- `channels`: `email` (volume = emails delivered per day) and `organic_social` (volume = organic reach
  per day), each with the clicks that land on the site (utm_source/medium/campaign, landing page, day).

The model, briefly:
- Email: a main newsletter list and a small VIP list that grow (~15-35%/year) with noise; newsletters go
  out twice a week at ~10:00 local (some weeks skipped, promo sends in Black Friday/Cyber week and
  sales), mostly to the main list, sometimes to a segment. Rates per send: bounces 0.2-1%, unique
  opens ~30-45% of delivered (Apple MPP inflates opens), click-to-open 6-14%, unsubscribes ~0.15%,
  abuse reports ~0.01%; promos click more. Engagement arrives over the week after a send, so reports
  of the last days are partial ("lifetime as of the last day") and keep growing, as Mailchimp's do.
  Automations (welcome series, abandoned cart, post-purchase, win-back) send every day from their
  start; their report sums those sends. 85-95% of unique clicks land as site sessions: `clicks`
  (utm_source `newsletter`, utm_medium `email`, utm_campaign = slug of the campaign title).
- Social: one account per platform (instagram, facebook, tiktok, linkedin) with growing followers;
  posts per platform's cadence; reach = followers x a platform/post-type rate x lognormal noise x a
  rare viral multiplier (Pareto tail); impressions >= reach, likes/comments/shares/saves/link clicks
  as binomial shares. Reach and clicks arrive over a few days after a post (partial for the last days).
  Link clicks land with utm_source = platform, utm_medium `social`, utm_campaign `organic`.
- Mentions: Poisson per day, following organic reach, with incident windows where complaints surge;
  texts come from templates per language and sentiment, so the sentiment is readable from the text
  (truth: the template's class and a score around the template's intensity).
- Influencers: followers lognormal; engagement rate falls with followers (~5% at 10k, ~1.3% at 1M).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from connectors.sandbox.media import NonPaidChannel, OwnedMedia, owned_account_ids
from connectors.sandbox.plan import slugify
from connectors.sandbox.presets import Preset, TenantSpec
from connectors.sandbox.schema import TRUTH_SCHEMAS, WORLD_SCHEMAS

S, F, INT = pl.String, pl.Float64, pl.Int64
TS = pl.Datetime("us")  # naive, UTC

# The pinned world schemas (INTERFACES §7.1) live in schema.py; these are the owned-media subset.
OWNED_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    name: WORLD_SCHEMAS[name]
    for name in ("email_campaigns", "social_posts", "social_mentions", "influencers")
}
OWNED_TRUTH_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "mention_sentiment": TRUTH_SCHEMAS["mention_sentiment"]
}

OWNED_SORT_KEYS: dict[str, list[str]] = {
    "email_campaigns": ["tenant_id", "send_time", "email_campaign_id"],
    "social_posts": ["tenant_id", "created_at", "platform", "post_id"],
    "social_mentions": ["tenant_id", "created_at", "mention_id"],
    "influencers": ["tenant_id", "platform", "influencer_id"],
    "mention_sentiment": ["mention_id"],
}
CLICK_SCHEMA: dict[str, pl.DataType] = {
    "day": INT,
    "utm_source": S,
    "utm_medium": S,
    "utm_campaign": S,
    "landing_page": S,
    "clicks": INT,
}
SOCIAL_PLATFORMS: tuple[str, ...] = ("instagram", "facebook", "tiktok", "linkedin")


# The seam with the world generator: `NonPaidChannel` and `OwnedMedia` live in media.py.


def conform_owned(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Exactly the pinned columns and dtypes of an owned-media table, in its saved sort order."""
    schema = OWNED_SCHEMAS.get(name) or OWNED_TRUTH_SCHEMAS[name]
    frame = frame.select([pl.col(c).cast(t) for c, t in schema.items()])
    return frame.sort(OWNED_SORT_KEYS[name], maintain_order=True)


def empty_owned(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema=OWNED_SCHEMAS.get(name) or OWNED_TRUTH_SCHEMAS[name])


def mailchimp_account_id(tenant_id: str, tenant_num: int) -> str:
    """The tenant's Mailchimp account id, as the world's `accounts` table has it (media.py)."""
    return owned_account_ids(tenant_id, tenant_num)["mailchimp"]


def social_account_ids(tenant_id: str, tenant_num: int) -> dict[str, str]:
    """The tenant's account id on each social platform, as every owned-media builder uses them."""
    ids = owned_account_ids(tenant_id, tenant_num)
    return {platform: ids[platform] for platform in SOCIAL_PLATFORMS}


def social_handle(spec: TenantSpec) -> str:
    """The brand's handle: its name without spaces, lower case ("northwindoutfitters")."""
    return "".join(ch for ch in spec.name.lower() if ch.isalnum())


# ---- helpers --------------------------------------------------------------------------------------
def _local_midnights_utc(dates: np.ndarray, timezone: str) -> np.ndarray:
    """UTC instant (datetime64[us], naive) of each local day's midnight in `timezone`."""
    local = pl.Series("d", dates.astype("datetime64[us]"))
    utc = local.dt.replace_time_zone(timezone).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return utc.to_numpy().astype("datetime64[us]")


def _instants(midnights: np.ndarray, day: np.ndarray, seconds: np.ndarray) -> pl.Series:
    us = (np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return pl.Series(midnights[day] + us.astype("timedelta64[us]")).cast(TS)


def _hex_ids(rng: np.random.Generator, n: int, tenant_num: int, salt: int) -> list[str]:
    """n distinct 10-hex-char ids; the first char is the tenant, the second the id family."""
    values = rng.choice(16**8, size=n, replace=False) if n else np.array([], dtype=np.int64)
    return [f"{tenant_num:x}{salt:x}{int(v):08x}" for v in values]


def _growing_ids(rng: np.random.Generator, n: int, prefix: str, width: int, start: int) -> pl.Series:
    """n increasing digit-string ids `prefix + zero-padded number` (ids grow with creation time)."""
    numbers = start + np.cumsum(rng.integers(1, 10**4, n, dtype=np.int64))
    return _affix(prefix, pl.Series(numbers).cast(pl.String).str.zfill(width))


def _affix(prefix: str, values: pl.Series, suffix: str = "") -> pl.Series:
    return values.to_frame("v").select(pl.concat_str(pl.lit(prefix), pl.col("v"), pl.lit(suffix)).alias("v"))[
        "v"
    ]


def _pick(values: list[str] | tuple[str, ...], index: np.ndarray) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String).gather(pl.Series(index.astype(np.int64)))


def _fill(templates: list[str], which: np.ndarray, slots: dict[str, pl.Series]) -> pl.Series:
    """Row i gets templates[which[i]] with every `{slot}` replaced by slots[slot][i] (vectorised)."""
    frame = pl.DataFrame({"_t": which.astype(np.int64), **slots})
    branches: pl.Expr = pl.lit(None, dtype=pl.String)
    for k in reversed(range(len(templates))):
        pieces, names = _split_template(templates[k])
        expr = pl.format("{}".join(p.replace("{", "{{").replace("}", "}}") for p in pieces), *names)
        branches = pl.when(pl.col("_t") == k).then(expr).otherwise(branches)
    return frame.select(branches.alias("text"))["text"]


def _split_template(template: str) -> tuple[list[str], list[pl.Expr]]:
    pieces, names, rest = [], [], template
    while "{" in rest:
        head, _, tail = rest.partition("{")
        name, _, rest = tail.partition("}")
        pieces.append(head)
        names.append(pl.col(name))
    pieces.append(rest)
    return pieces, names


def _products(spec: TenantSpec) -> list[str]:
    nouns = {"trail-running": "trail running shoes", "outdoor-furniture": "garden chair", "bedding": "duvet"}
    return [nouns.get(c, c.replace("-", " ").rstrip("s")) for c in spec.categories]


def _arrival(kernel: list[float], n: int, day: np.ndarray) -> np.ndarray:
    """Share of an item's final engagement that has arrived by the window's last day."""
    cum = np.cumsum(np.asarray(kernel) / np.sum(kernel))
    age = (n - 1) - day  # whole days after the item's day
    return np.where(age >= len(cum) - 1, 1.0, cum[np.minimum(age, len(cum) - 1)])


def _spread(values: np.ndarray, day: np.ndarray, kernel: list[float], n: int) -> np.ndarray:
    """Per-day totals of `values` arriving over `kernel` days after each item's day (inside the window)."""
    weights = np.asarray(kernel) / np.sum(kernel)
    out = np.zeros(n)
    for k, w in enumerate(weights):  # a handful of offsets, each vectorised over all items
        target = day + k
        inside = target < n
        np.add.at(out, target[inside], values[inside] * w)
    return out


def _split_counts(
    rng: np.random.Generator, counts: np.ndarray, day: np.ndarray, kernel: list[float], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split each item's count over the days after it (multinomial on `kernel`); keep the days inside
    the window. Returns (item index, day, count) of the non-zero cells."""
    weights = np.asarray(kernel) / np.sum(kernel)
    cells = rng.multinomial(counts.astype(np.int64), weights) if counts.size else np.zeros((0, len(weights)))
    items, offsets = np.nonzero(cells)
    days = day[items] + offsets
    inside = days < n
    return items[inside], days[inside], cells[items, offsets][inside].astype(np.int64)


def _landed(clicks: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """The clicks that become site sessions (85-95%: blockers, consent banners, early bounces)."""
    landed = rng.binomial(clicks["clicks"].to_numpy(), rng.uniform(0.85, 0.95))
    return clicks.with_columns(clicks=pl.Series(landed, dtype=pl.Int64)).filter(pl.col("clicks") > 0)


def _black_fridays(first: date, last: date) -> list[date]:
    out = []
    for year in range(first.year, last.year + 1):
        nov1 = date(year, 11, 1)
        thanksgiving = nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 21)
        out.append(thanksgiving + timedelta(days=1))
    return out


# ---- email --------------------------------------------------------------------------------------
EMAIL_KERNEL = [0.6, 0.2, 0.08, 0.05, 0.03, 0.02, 0.02]  # share of opens/clicks on day 0, 1, ... after a send
_NEWSLETTER_THEMES = (
    ("New arrivals: {cat}", "/collections/{cat}", 1.0),
    ("The {cat} guide", "/blog/{cat}-guide", 0.8),
    ("Staff picks: {cat}", "/collections/{cat}", 1.0),
    ("Weekend read: caring for your {cat}", "/blog/{cat}-guide", 0.7),
    ("Back in stock: {cat}", "/collections/{cat}", 1.2),
)
_PROMO_THEMES = (
    ("Black Friday: up to 40% off", "/sale", 2.2),
    ("Cyber Monday ends tonight", "/sale", 2.0),
    ("Seasonal sale: {cat}", "/sale", 1.6),
    ("Free shipping this weekend", "/sale", 1.4),
)
_AUTOMATIONS = (
    # title, landing page, start (share of window), sends/day per 10k subscribers, open x, click-to-open x
    ("Welcome series - Email 1", "/", 0.0, 9.0, 1.5, 1.4),
    ("Welcome series - Email 2", "/collections/{cat}", 0.0, 7.0, 1.3, 1.2),
    ("Abandoned cart reminder", "/collections/{cat}", 0.0, 14.0, 1.2, 2.2),
    ("Post-purchase thank you", "/blog/{cat}-guide", 0.2, 6.0, 1.4, 0.8),
    ("Win-back - We miss you", "/sale", 0.5, 5.0, 0.7, 0.9),
)


def _email(
    spec: TenantSpec,
    tenant_num: int,
    dates: np.ndarray,
    preset: Preset,
    rng: np.random.Generator,
    midnights: np.ndarray,
) -> tuple[pl.DataFrame, NonPaidChannel]:
    n = len(dates)
    t_years = np.arange(n) / 365.0
    base = 700.0 * preset.conversions_per_day * rng.lognormal(0.0, 0.1)
    growth = rng.uniform(0.15, 0.35)
    wobble = np.cumsum(rng.normal(0.0, 0.002, n))
    main_size = base * np.exp(growth * t_years + wobble)
    vip_size = main_size * rng.uniform(0.06, 0.1)
    ids = owned_account_ids(spec.tenant_id, tenant_num)
    vip_list = f"{int(ids['mailchimp_list'], 16) ^ 0xFFFFF:010x}"  # a second list of the same account
    list_ids = [ids["mailchimp_list"], vip_list]
    account_id = ids["mailchimp"]

    # Newsletters: two weekdays a week (tenant-specific), some skipped, promos on sale days.
    days = pl.Series(dates).cast(pl.Date)
    weekday = (days.dt.weekday() - 1).to_numpy()  # Monday 0
    send_days = (1, 3) if tenant_num % 2 else (2, 5)
    regular = np.isin(weekday, send_days) & (rng.random(n) > 0.08)
    first, last = days[0], days[-1]
    bf = {d for d in _black_fridays(first, last) if first <= d <= last}
    promo_day = np.array([d in bf or (d - timedelta(days=3)) in bf for d in days.to_list()])
    promo_day |= rng.random(n) < 0.015
    day_idx = np.concatenate([np.flatnonzero(regular), np.flatnonzero(promo_day)])
    is_promo = np.concatenate([np.zeros(regular.sum(), bool), np.ones(promo_day.sum(), bool)])
    order = np.lexsort((is_promo, day_idx))
    day_idx, is_promo = day_idx[order], is_promo[order]
    m = len(day_idx)

    cat = rng.integers(0, len(spec.categories), m)
    theme = np.where(
        is_promo, rng.integers(0, len(_PROMO_THEMES), m), rng.integers(0, len(_NEWSLETTER_THEMES), m)
    )
    day_dates = days.gather(pl.Series(day_idx)).to_list()
    titles, pages, lift = [], [], np.ones(m)
    for i in range(m):  # a few hundred campaigns: the title depends on the theme
        if is_promo[i]:
            text, page, k = _PROMO_THEMES[theme[i]]
            if day_dates[i] in bf:
                text, page, k = _PROMO_THEMES[0]
            elif day_dates[i] - timedelta(days=3) in bf:
                text, page, k = _PROMO_THEMES[1]
        else:
            text, page, k = _NEWSLETTER_THEMES[theme[i]]
        category = spec.categories[cat[i]]
        label = text.replace("{cat}", category.replace("-", " "))
        titles.append(
            f"{spec.short} {'Promo' if is_promo[i] else 'Newsletter'} {day_dates[i]:%Y-%m-%d} - {label}"
        )
        pages.append(page.replace("{cat}", category))
        lift[i] = k

    to_vip = (~is_promo) & (rng.random(m) < 0.12)
    size = np.where(to_vip, vip_size[day_idx], main_size[day_idx])
    segment = np.where(rng.random(m) < 0.2, rng.uniform(0.3, 0.7, m), rng.uniform(0.95, 1.0, m))
    sent = np.round(size * segment).astype(np.int64)
    hard = rng.binomial(sent, rng.uniform(0.001, 0.004, m))
    soft = rng.binomial(sent - hard, rng.uniform(0.003, 0.01, m))
    delivered = sent - hard - soft
    p_open = np.clip(
        rng.uniform(0.3, 0.42) * rng.lognormal(0.0, 0.12, m) * np.where(to_vip, 1.25, 1.0), 0.05, 0.8
    )
    p_cto = np.clip(rng.uniform(0.06, 0.12) * rng.lognormal(0.0, 0.2, m) * lift, 0.01, 0.5)
    arrived = _arrival(EMAIL_KERNEL, n, day_idx)
    unique_opens_final = rng.binomial(delivered, p_open)
    unique_clicks_final = rng.binomial(unique_opens_final, p_cto)
    # Clicks arrive over the week after the send: the report counts those inside the window.
    items, click_day, click_n = _split_counts(rng, unique_clicks_final, day_idx, EMAIL_KERNEL, n)
    unique_clicks = np.bincount(items, weights=click_n, minlength=m).astype(np.int64)
    unique_opens = np.maximum(rng.binomial(unique_opens_final, arrived), unique_clicks)
    opens_total = unique_opens + rng.poisson(unique_opens * rng.uniform(0.4, 0.9))
    clicks_total = unique_clicks + rng.poisson(unique_clicks * rng.uniform(0.3, 0.7))
    unsub = rng.binomial(
        delivered, np.clip(0.0015 * rng.lognormal(0, 0.3, m) * np.where(is_promo, 1.5, 1.0), 0, 0.05)
    )
    unsub = rng.binomial(unsub, arrived)
    abuse = rng.binomial(rng.binomial(delivered, 0.0001), arrived)
    send_seconds = (9.5 + rng.uniform(0, 1.5, m)) * 3600 + np.where(is_promo, rng.uniform(-2, 6, m) * 3600, 0)
    newsletters = pl.DataFrame(
        {
            "email_campaign_id": _hex_ids(rng, m, tenant_num, 1),
            "list_id": [list_ids[1] if v else list_ids[0] for v in to_vip],
            "campaign_title": titles,
            "type": "regular",
            "send_time": _instants(midnights, day_idx, send_seconds),
            "emails_sent": sent,
            "hard_bounces": hard,
            "soft_bounces": soft,
            "unsubscribed": unsub,
            "abuse_reports": abuse,
            "opens_total": opens_total,
            "unique_opens": unique_opens,
            "clicks_total": clicks_total,
            "unique_clicks": unique_clicks,
        }
    )
    volume = np.bincount(day_idx, weights=delivered, minlength=n)
    clicks = [
        pl.DataFrame(
            {
                "day": click_day,
                "utm_campaign": slugify(pl.Series(titles)).gather(pl.Series(items)),
                "landing_page": pl.Series(pages).gather(pl.Series(items)),
                "clicks": click_n,
            }
        )
    ]

    # Automations: every day from their start, volume following the list.
    a = len(_AUTOMATIONS)
    autos = []
    main_open = rng.uniform(0.3, 0.42)
    for k, (title, page, start_share, per_10k, open_x, cto_x) in enumerate(_AUTOMATIONS):
        start = int(start_share * n)
        span = np.arange(start, n)
        daily_sent = rng.poisson(per_10k * main_size[span] / 10_000)
        daily_hard = rng.binomial(daily_sent, 0.002)
        daily_soft = rng.binomial(daily_sent - daily_hard, 0.005)
        daily_delivered = daily_sent - daily_hard - daily_soft
        daily_opens = rng.binomial(daily_delivered, min(0.9, main_open * open_x))
        daily_clicks = rng.binomial(daily_opens, min(0.6, 0.08 * cto_x))
        volume[span] += daily_delivered
        category = spec.categories[k % len(spec.categories)]
        full_title = f"{spec.short} Automation - {title}"
        inside = daily_clicks > 0
        clicks.append(
            pl.DataFrame(
                {
                    "day": span[inside],
                    "utm_campaign": slugify(pl.Series([full_title])).item(),
                    "landing_page": page.replace("{cat}", category),
                    "clicks": daily_clicks[inside].astype(np.int64),
                }
            )
        )
        u_opens = int(daily_opens.sum())
        u_clicks = int(daily_clicks.sum())
        delivered_total = int(daily_delivered.sum())
        autos.append(
            {
                "campaign_title": full_title,
                "start": start,
                "emails_sent": int(daily_sent.sum()),
                "hard_bounces": int(daily_hard.sum()),
                "soft_bounces": int(daily_soft.sum()),
                "unsubscribed": int(rng.binomial(delivered_total, 0.001)),
                "abuse_reports": int(rng.binomial(delivered_total, 0.00005)),
                "opens_total": u_opens + int(rng.poisson(u_opens * 0.5)),
                "unique_opens": u_opens,
                "clicks_total": u_clicks + int(rng.poisson(u_clicks * 0.4)),
                "unique_clicks": u_clicks,
            }
        )
    auto_frame = pl.DataFrame(autos).with_columns(
        email_campaign_id=pl.Series(_hex_ids(rng, a, tenant_num, 2)),
        list_id=pl.lit(list_ids[0]),
        type=pl.lit("automation"),
        send_time=_instants(midnights, np.array([x["start"] for x in autos]), np.full(a, 8 * 3600.0)),
    )
    campaigns = pl.concat([newsletters, auto_frame.drop("start")], how="diagonal_relaxed").with_columns(
        tenant_id=pl.lit(spec.tenant_id), account_id=pl.lit(account_id)
    )
    click_frame = pl.concat(clicks).with_columns(utm_source=pl.lit("newsletter"), utm_medium=pl.lit("email"))
    click_frame = _landed(click_frame.select([pl.col(c).cast(t) for c, t in CLICK_SCHEMA.items()]), rng)
    click_frame = click_frame.group_by(
        ["day", "utm_source", "utm_medium", "utm_campaign", "landing_page"]
    ).agg(pl.col("clicks").sum())
    click_frame = click_frame.sort(["day", "utm_campaign", "landing_page"])
    return conform_owned("email_campaigns", campaigns), NonPaidChannel(volume=volume, clicks=click_frame)


# ---- social posts -------------------------------------------------------------------------------
SOCIAL_KERNEL = [0.55, 0.25, 0.1, 0.05, 0.03, 0.02]  # share of a post's reach/clicks on day 0, 1, ...
_POSTS_PER_WEEK = {"instagram": 5.0, "facebook": 3.0, "tiktok": 4.0, "linkedin": 1.5}
_FOLLOWERS = {"instagram": 40_000, "facebook": 25_000, "tiktok": 15_000, "linkedin": 3_000}
_FOLLOWER_GROWTH = {"instagram": 0.25, "facebook": 0.05, "tiktok": 0.6, "linkedin": 0.2}  # per year
_POST_TYPES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "instagram": (("image", "carousel", "video"), (0.35, 0.3, 0.35)),
    "facebook": (("image", "video", "carousel", "text"), (0.45, 0.25, 0.2, 0.1)),
    "tiktok": (("video",), (1.0,)),
    "linkedin": (("text", "image", "video", "carousel"), (0.3, 0.45, 0.1, 0.15)),
}
# Reach per follower by (platform, post type); TikTok's feed reaches beyond the followers.
_REACH_RATE = {
    ("instagram", "image"): 0.12,
    ("instagram", "carousel"): 0.16,
    ("instagram", "video"): 0.3,
    ("facebook", "image"): 0.05,
    ("facebook", "video"): 0.08,
    ("facebook", "carousel"): 0.06,
    ("facebook", "text"): 0.03,
    ("tiktok", "video"): 0.9,
    ("linkedin", "text"): 0.08,
    ("linkedin", "image"): 0.1,
    ("linkedin", "video"): 0.12,
    ("linkedin", "carousel"): 0.14,
}
# Per reached user: likes, comments per like, shares, saves, link clicks.
_ENGAGEMENT = {
    "instagram": (0.045, 0.04, 0.001, 0.006, 0.0008),
    "facebook": (0.012, 0.06, 0.002, 0.0, 0.006),
    "tiktok": (0.06, 0.02, 0.004, 0.003, 0.0005),
    "linkedin": (0.02, 0.05, 0.001, 0.0, 0.01),
}
_POST_TEMPLATES = [
    "New in: our {cat} collection just landed. Which one is your favourite? #{tag} #{cattag}",
    "Behind the scenes: how we test every {product} before it ships. #{tag}",
    "3 things to know before you buy a {product}. Save this for later! #{cattag}",
    "Customer story: {first} has used the same {product} for five years. #{tag}",
    "Weekend plans? Our {cat} picks are 20% off until Sunday. Link in bio. #{tag} #sale",
    "How to care for your {product} so it lasts. Full guide on the blog. #{cattag}",
    "We are hiring! Join the {brand} team. #{tag} #careers",
    "Thank you for 10 years of {brand}. Here is to the next ten. #{tag}",
]
_FIRST_NAMES = ("Anna", "Ben", "Clara", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas",
                "Kate", "Leo", "Mia", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tara")  # fmt: skip
_LAST_NAMES = ("Adler", "Brooks", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hansen", "Ito",
               "Jensen", "Klein", "Lopez", "Meyer", "Novak", "Olsen", "Park", "Rossi", "Silva")  # fmt: skip


def _permalinks(
    platform: str, account: str, handle: str, ids: pl.Series, rng: np.random.Generator
) -> pl.Series:
    if platform == "instagram":
        alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"))
        codes = ["".join(row) for row in alphabet[rng.integers(0, len(alphabet), (len(ids), 11))]]
        return _affix("https://www.instagram.com/p/", pl.Series(codes), "/")
    if platform == "facebook":
        return _affix(f"https://www.facebook.com/{account}/posts/", ids.str.split("_").list.last())
    if platform == "tiktok":
        return _affix(f"https://www.tiktok.com/@{handle}/video/", ids)
    return _affix("https://www.linkedin.com/feed/update/urn:li:activity:", ids, "/")


def _social(
    spec: TenantSpec,
    tenant_num: int,
    dates: np.ndarray,
    preset: Preset,
    rng: np.random.Generator,
    midnights: np.ndarray,
) -> tuple[pl.DataFrame, NonPaidChannel]:
    n = len(dates)
    scale = (preset.conversions_per_day / 19.0) ** 0.7 * rng.lognormal(0.0, 0.15)
    accounts = social_account_ids(spec.tenant_id, tenant_num)
    handle = social_handle(spec)
    tag = handle
    products = _products(spec)
    frames, volume, clicks = [], np.zeros(n), []
    for p_num, platform in enumerate(SOCIAL_PLATFORMS):
        followers = (
            _FOLLOWERS[platform]
            * scale
            * np.exp(_FOLLOWER_GROWTH[platform] * np.arange(n) / 365.0 + np.cumsum(rng.normal(0, 0.003, n)))
        )
        per_day = rng.poisson(_POSTS_PER_WEEK[platform] / 7.0, n)
        day = np.repeat(np.arange(n), per_day)
        m = len(day)
        if m == 0:
            continue
        types, probs = _POST_TYPES[platform]
        type_idx = rng.choice(len(types), size=m, p=probs)
        rate = np.array([_REACH_RATE[(platform, t)] for t in types])[type_idx]
        sigma = 1.0 if platform == "tiktok" else 0.6
        viral = np.where(rng.random(m) < 0.03, 1.0 + 5.0 * rng.pareto(1.5, m), 1.0)
        reach_final = np.round(
            followers[day] * rate * rng.lognormal(-(sigma**2) / 2, sigma, m) * viral
        ).astype(np.int64)
        like_r, comment_r, share_r, save_r, click_r = _ENGAGEMENT[platform]
        noise = rng.lognormal(0.0, 0.3, m)
        save_boost = np.where(np.array(types)[type_idx] == "carousel", 2.0, 1.0)
        impressions_final = reach_final + rng.poisson(reach_final * rng.uniform(0.1, 0.6, m))
        likes_final = rng.binomial(reach_final, np.clip(like_r * noise, 0, 0.5))
        comments_final = rng.binomial(likes_final, comment_r)
        shares_final = rng.binomial(reach_final, share_r * noise)
        saves_final = rng.binomial(reach_final, np.clip(save_r * noise * save_boost, 0, 0.2))
        link_final = rng.binomial(reach_final, click_r * rng.lognormal(0.0, 0.4, m))
        items, click_day, click_n = _split_counts(rng, link_final, day, SOCIAL_KERNEL, n)
        link_clicks = np.bincount(items, weights=click_n, minlength=m).astype(np.int64)
        arrived = _arrival(SOCIAL_KERNEL, n, day)

        def so_far(x: np.ndarray, arrived: np.ndarray = arrived) -> np.ndarray:
            return np.floor(x * arrived).astype(np.int64)  # keeps impressions >= reach >= likes ...

        volume += _spread(reach_final.astype(float), day, SOCIAL_KERNEL, n)
        cat = rng.integers(0, len(spec.categories), m)
        slots = {
            "cat": _pick([c.replace("-", " ") for c in spec.categories], cat),
            "cattag": _pick([c.replace("-", "") for c in spec.categories], cat),
            "product": _pick(products, cat),
            "tag": pl.Series([tag] * m),
            "brand": pl.Series([spec.name] * m),
            "first": _pick(_FIRST_NAMES, rng.integers(0, len(_FIRST_NAMES), m)),
        }
        message = _fill(_POST_TEMPLATES, rng.integers(0, len(_POST_TEMPLATES), m), slots)
        if platform == "facebook":
            ids = _growing_ids(rng, m, f"{accounts['facebook']}_", 0, 10**15 + tenant_num * 10**13)
        elif platform == "instagram":
            ids = _growing_ids(rng, m, f"179{tenant_num}", 14, 10**13)
        else:
            ids = _growing_ids(rng, m, f"7{p_num}{tenant_num}", 16, 10**15)
        landing = np.where(rng.random(m) < 0.6, 0, 1)
        pages = [f"/collections/{spec.categories[c]}" if k == 0 else f"/blog/{spec.categories[c]}-guide"
                 for c, k in zip(cat, landing, strict=True)]  # fmt: skip
        post_seconds = rng.uniform(8, 20.5, m) * 3600
        frames.append(
            pl.DataFrame(
                {
                    "platform": platform,
                    "account_id": accounts[platform],
                    "post_id": ids,
                    "created_at": _instants(midnights, day, post_seconds),
                    "post_type": np.array(types)[type_idx],
                    "message": message,
                    "permalink": _permalinks(platform, accounts[platform], handle, ids, rng),
                    "reach": so_far(reach_final),
                    "impressions": so_far(impressions_final),
                    "likes": so_far(likes_final),
                    "comments": so_far(comments_final),
                    "shares": so_far(shares_final),
                    "saves": so_far(saves_final),
                    "link_clicks": link_clicks,
                }
            )
        )
        clicks.append(
            pl.DataFrame(
                {
                    "day": click_day,
                    "utm_source": platform,
                    "utm_medium": "social",
                    "utm_campaign": "organic",
                    "landing_page": pl.Series(pages).gather(pl.Series(items)),
                    "clicks": click_n,
                }
            )
        )
    posts = pl.concat(frames).with_columns(tenant_id=pl.lit(spec.tenant_id))
    click_frame = _landed(pl.concat(clicks).select([pl.col(c).cast(t) for c, t in CLICK_SCHEMA.items()]), rng)
    click_frame = (
        click_frame.group_by(["day", "utm_source", "utm_medium", "utm_campaign", "landing_page"])
        .agg(pl.col("clicks").sum())
        .sort(["day", "utm_source", "landing_page"])
    )
    return conform_owned("social_posts", posts), NonPaidChannel(volume=volume, clicks=click_frame)


# ---- mentions -----------------------------------------------------------------------------------
# (template, score): the sentiment class is the key, the score the template's intensity.
_MENTIONS: dict[str, dict[str, list[tuple[str, float]]]] = {
    "en": {
        "positive": [
            ("Absolutely love my new {product} from {brand}! Best purchase this year", 0.9),
            ("Shoutout to @{handle} for the fast delivery, the {product} is great", 0.7),
            ("Pretty happy with the {product} I got from {brand}", 0.45),
            ("{brand} customer service sorted my order in minutes. Impressed!", 0.75),
            ("Third {product} from {brand} and still amazing quality", 0.8),
        ],
        "neutral": [
            ("Does anyone know if {brand} ships to Canada?", 0.0),
            ("Looking at the {product} from {brand}, any reviews?", 0.05),
            ("{brand} just posted their new {cat} collection", 0.0),
            ("Is the {brand} sale still on this weekend?", -0.05),
        ],
        "negative": [
            ("Still waiting on my {brand} order after three weeks. Not impressed", -0.6),
            ("The {product} from @{handle} broke after two days. Really disappointed", -0.8),
            ("Worst customer service ever, {brand}. Nobody answers my emails", -0.95),
            ("{brand} charged me twice for one {product}, still no refund", -0.75),
            ("Meh, the {product} from {brand} is overpriced for what it is", -0.35),
        ],
    },
    "de": {
        "positive": [
            ("Ich liebe meinen neuen {product} von {brand}! Super Qualitaet", 0.85),
            ("Danke @{handle} fuer die schnelle Lieferung, alles perfekt", 0.7),
            ("Bin ganz zufrieden mit dem {product} von {brand}", 0.45),
            ("{brand} hat einen tollen Kundenservice, sehr empfehlenswert", 0.75),
        ],
        "neutral": [
            ("Hat jemand Erfahrung mit dem {product} von {brand}?", 0.0),
            ("{brand} hat eine neue {cat} Kollektion veroeffentlicht", 0.0),
            ("Liefert {brand} auch nach Oesterreich?", 0.0),
        ],
        "negative": [
            ("Warte seit drei Wochen auf meine Bestellung bei {brand}. Enttaeuschend", -0.65),
            ("Der {product} von @{handle} ist nach zwei Tagen kaputt gegangen. Aergerlich", -0.8),
            ("Schlechtester Kundenservice ueberhaupt, {brand}. Keine Antwort", -0.95),
            ("Der {product} von {brand} ist leider zu teuer fuer die Qualitaet", -0.35),
        ],
    },
    "it": {
        "positive": [
            ("Adoro il mio nuovo {product} di {brand}! Qualita fantastica", 0.85),
            ("Grazie @{handle}, consegna velocissima e tutto perfetto", 0.7),
            ("Abbastanza contento del {product} di {brand}", 0.45),
        ],
        "neutral": [
            ("Qualcuno ha provato il {product} di {brand}?", 0.0),
            ("{brand} ha lanciato la nuova collezione {cat}", 0.0),
        ],
        "negative": [
            ("Aspetto il mio ordine {brand} da tre settimane. Deludente", -0.65),
            ("Il {product} di @{handle} si e rotto dopo due giorni", -0.8),
            ("Servizio clienti pessimo, {brand}. Nessuna risposta", -0.95),
        ],
    },
}
_LANGUAGES = {"USD": (("en",), (1.0,)), "EUR": (("de", "en", "it"), (0.55, 0.3, 0.15))}
_MENTION_PLATFORMS = (("instagram", "tiktok", "facebook", "linkedin"), (0.38, 0.27, 0.25, 0.1))
SENTIMENTS = ("positive", "neutral", "negative")


def _mentions(
    spec: TenantSpec,
    tenant_num: int,
    dates: np.ndarray,
    preset: Preset,
    rng: np.random.Generator,
    midnights: np.ndarray,
    organic_reach: np.ndarray,
    influencers: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    n = len(dates)
    reach_factor = (organic_reach + 1.0) / (organic_reach.mean() + 1.0)
    weekly = np.where((np.arange(n) % 7) >= 5, 1.15, 1.0)
    rate = 0.8 * preset.conversions_per_day * reach_factor**0.3 * weekly
    # Incidents: a few windows where complaints surge (a late shipment, a faulty batch).
    incident = np.zeros(n)
    for _ in range(max(1, n // 180)):
        start = int(rng.integers(0, max(1, n - 10)))
        incident[start : start + int(rng.integers(3, 10))] = rng.uniform(0.5, 1.5)
    rate = rate * (1.0 + incident)
    per_day = rng.poisson(rate)
    day = np.repeat(np.arange(n), per_day)
    m = len(day)
    p_neg = np.clip(0.15 + 0.45 * np.minimum(incident[day], 1.0), 0, 0.8)
    p_pos = (1.0 - p_neg) * 0.62
    u = rng.random(m)
    sentiment_idx = np.where(u < p_pos, 0, np.where(u < 1.0 - p_neg, 1, 2))

    languages, lang_p = _LANGUAGES.get(spec.currency, _LANGUAGES["USD"])
    lang_idx = rng.choice(len(languages), size=m, p=lang_p)
    # Flatten the templates of every (language, sentiment) so one vectorised fill renders them all.
    templates, scores, group_of = [], [], []
    for li, lang in enumerate(languages):
        for si, sentiment in enumerate(SENTIMENTS):
            for text, score in _MENTIONS[lang][sentiment]:
                templates.append(text)
                scores.append(score)
                group_of.append((li, si))
    which = np.empty(m, dtype=np.int64)
    for g, (li, si) in enumerate(sorted(set(group_of))):
        members = np.array([k for k, key in enumerate(group_of) if key == (li, si)])
        mask = (lang_idx == li) & (sentiment_idx == si)
        which[mask] = members[rng.integers(0, len(members), int(mask.sum()))]
        del g
    cat = rng.integers(0, len(spec.categories), m)
    products = _products(spec)
    text = _fill(
        templates,
        which,
        {
            "product": _pick(products, cat),
            "cat": _pick([c.replace("-", " ") for c in spec.categories], cat),
            "brand": pl.Series([spec.name] * m),
            "handle": pl.Series([social_handle(spec)] * m),
        },
    )
    score = np.clip(np.array(scores)[which] + rng.normal(0, 0.08, m), -1, 1).round(3)

    platforms, platform_p = _MENTION_PLATFORMS
    platform_idx = rng.choice(len(platforms), size=m, p=platform_p)
    followers = np.maximum(1, np.round(rng.lognormal(6.0, 1.6, m))).astype(np.int64)
    first = _pick([f.lower() for f in _FIRST_NAMES], rng.integers(0, len(_FIRST_NAMES), m))
    last = _pick([s.lower() for s in _LAST_NAMES], rng.integers(0, len(_LAST_NAMES), m))
    handles = (
        pl.DataFrame({"f": first, "l": last, "n": rng.integers(1, 999, m)}).select(
            pl.format("{}.{}{}", "f", "l", "n")
        )["f"]
        if m
        else pl.Series([], dtype=pl.String)
    )
    # Some mentions come from the tenant's influencers (their handles and audiences).
    by_influencer = rng.random(m) < 0.04
    if influencers.height and by_influencer.any():
        pick = rng.integers(0, influencers.height, int(by_influencer.sum()))
        idx = np.flatnonzero(by_influencer)
        handles = handles.scatter(idx, influencers["handle"].gather(pl.Series(pick)))
        followers[idx] = influencers["followers"].to_numpy()[pick]
        platform_idx[idx] = [
            platforms.index(p) for p in influencers["platform"].gather(pl.Series(pick)).to_list()
        ]
    engagement = np.clip(0.05 * (followers / 1e4) ** -0.3, 0.003, 0.3)
    likes = rng.poisson(followers * engagement * np.where(sentiment_idx == 2, 1.3, 1.0))
    reposts = rng.binomial(likes, 0.06)
    seconds = np.clip(rng.normal(14.5, 4.5, m), 0.1, 23.5) * 3600
    ids = _growing_ids(rng, m, f"18{tenant_num}", 16, 10**15)
    platform_col = _pick(platforms, platform_idx)
    url = pl.DataFrame({"p": platform_col, "h": handles, "i": ids}).select(
        pl.when(pl.col("p") == "instagram")
        .then(pl.format("https://www.instagram.com/p/{}/", "i"))
        .when(pl.col("p") == "tiktok")
        .then(pl.format("https://www.tiktok.com/@{}/video/{}", "h", "i"))
        .when(pl.col("p") == "facebook")
        .then(pl.format("https://www.facebook.com/{}/posts/{}", "h", "i"))
        .otherwise(pl.format("https://www.linkedin.com/feed/update/urn:li:activity:{}/", "i"))
        .alias("url")
    )["url"]
    mentions = pl.DataFrame(
        {
            "tenant_id": spec.tenant_id,
            "platform": platform_col,
            "mention_id": ids,
            "created_at": _instants(midnights, day, seconds),
            "author_handle": handles,
            "author_followers": followers,
            "text": text,
            "url": url,
            "likes": likes.astype(np.int64),
            "reposts": reposts.astype(np.int64),
            "language": _pick(languages, lang_idx),
        }
    )
    truth = pl.DataFrame({"mention_id": ids, "sentiment": _pick(SENTIMENTS, sentiment_idx), "score": score})
    return conform_owned("social_mentions", mentions), conform_owned("mention_sentiment", truth)


# ---- influencers --------------------------------------------------------------------------------
_CATEGORIES = {
    "USD": (("outdoor", "hiking", "camping", "trail running", "travel", "fitness"), ("US", "CA", "GB"), (0.7, 0.2, 0.1)),
    "EUR": (("interior design", "home decor", "cooking", "lifestyle", "diy", "gardening"), ("DE", "AT", "CH", "IT"), (0.6, 0.15, 0.1, 0.15)),
}  # fmt: skip
_INFLUENCER_PLATFORMS = (("instagram", "tiktok", "facebook", "linkedin"), (0.5, 0.35, 0.1, 0.05))


def engagement_rate_curve(followers: np.ndarray) -> np.ndarray:
    """Typical engagement rate for an audience size: ~5% at 10k followers, ~1.3% at 1M."""
    return 0.05 * (np.asarray(followers, dtype=float) / 1e4) ** -0.3


def _influencers(spec: TenantSpec, tenant_num: int, preset: Preset, rng: np.random.Generator) -> pl.DataFrame:
    m = 16 if preset.n_days <= 180 else 60
    platforms, platform_p = _INFLUENCER_PLATFORMS
    platform_idx = rng.choice(len(platforms), size=m, p=platform_p)
    followers = np.maximum(1_000, np.round(rng.lognormal(np.log(25_000), 1.4, m))).astype(np.int64)
    tiktok = np.array(platforms)[platform_idx] == "tiktok"
    rate = np.clip(
        engagement_rate_curve(followers) * rng.lognormal(0, 0.35, m) * np.where(tiktok, 1.5, 1.0), 0.002, 0.3
    )
    avg_reach = np.round(followers * rng.uniform(0.08, 0.35, m) * np.where(tiktok, 2.0, 1.0)).astype(np.int64)
    categories, countries, country_p = _CATEGORIES.get(spec.currency, _CATEGORIES["USD"])
    first_idx = rng.integers(0, len(_FIRST_NAMES), m)
    last_idx = rng.integers(0, len(_LAST_NAMES), m)
    cat_idx = rng.integers(0, len(categories), m)
    suffix = rng.choice(["", ".outdoors", ".home", "_daily", ".life", "creates"], size=m)
    first = _pick(_FIRST_NAMES, first_idx)
    last = _pick(_LAST_NAMES, last_idx)
    frame = pl.DataFrame(
        {
            "tenant_id": spec.tenant_id,
            "platform": _pick(platforms, platform_idx),
            "influencer_id": _growing_ids(rng, m, f"5{tenant_num}", 12, 10**11).cast(pl.String),
            "first": first,
            "last": last,
            "suffix": suffix,
            "n": np.arange(m),
            "followers": followers,
            "engagement_rate": rate.round(5),
            "avg_reach": avg_reach,
            "category": _pick(categories, cat_idx),
            "country": _pick(countries, rng.choice(len(countries), size=m, p=country_p)),
        }
    ).with_columns(
        handle=pl.format(
            "{}{}{}{}", pl.col("first").str.to_lowercase(), pl.col("last").str.to_lowercase(), "suffix", "n"
        ),
        display_name=pl.format("{} {}", "first", "last"),
    )
    return conform_owned("influencers", frame)


# ---- the builder --------------------------------------------------------------------------------
def build_owned_media(
    spec: TenantSpec, tenant_num: int, dates: np.ndarray, preset: Preset, rng: np.random.Generator
) -> OwnedMedia:
    """One tenant's email, organic social, mentions and influencers over `dates` (see the module doc)."""
    dates = np.asarray(dates).astype("datetime64[D]")
    midnights = _local_midnights_utc(dates, spec.timezone)
    email, email_channel = _email(spec, tenant_num, dates, preset, rng, midnights)
    posts, social_channel = _social(spec, tenant_num, dates, preset, rng, midnights)
    influencers = _influencers(spec, tenant_num, preset, rng)
    mentions, sentiment = _mentions(
        spec, tenant_num, dates, preset, rng, midnights, social_channel.volume, influencers
    )
    return OwnedMedia(
        tables={
            "email_campaigns": email,
            "social_posts": posts,
            "social_mentions": mentions,
            "influencers": influencers,
        },
        truth={"mention_sentiment": sentiment},
        channels={"email": email_channel, "organic_social": social_channel},
    )


__all__ = [
    "OWNED_SCHEMAS",
    "OWNED_TRUTH_SCHEMAS",
    "NonPaidChannel",
    "OwnedMedia",
    "build_owned_media",
    "mailchimp_account_id",
    "social_account_ids",
]
