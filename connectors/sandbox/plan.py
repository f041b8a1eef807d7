"""The marketing plan of one tenant: accounts, campaigns -> ad groups -> ads, flighting and budgets.

Everything here is decided before a single impression is served: which campaigns run when (always-on,
launched mid-way, stopped, seasonal bursts), which creative is live on which day (rotation: a new ad
every few weeks, each ad lives for two launch gaps), and each budget owner's daily budget (Meta: ad set,
Google: campaign) as a step function driven by a shared marketing calendar (Q4 and Black Friday pushes,
a January dip, a common random factor) so spend is correlated across channels, as in real accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from connectors.sandbox.presets import PLATFORMS, Preset, TenantSpec
from connectors.sandbox.simulate import AdInputs, ids_to_str, month_day

META, GOOGLE = 0, 1


@dataclass(frozen=True)
class Kind:
    cpm: float  # cost per mille, account currency
    ctr: float  # click-through rate
    formats: tuple[str, ...]  # creative formats (ad names)
    themes: tuple[str, ...]  # ad group names; "{cat}" is a product category


_META_AUDIENCES = (
    "Broad 25-54",
    "Advantage+ Audience",
    "Interest - {cat}",
    "LAL 1% Purchasers",
    "LAL 3% Add-to-cart",
    "Women 25-44 - {cat}",
    "Men 25-44 - {cat}",
)
_META_FORMATS = ("Single Image", "Carousel", "Video 15s", "Video 6s", "Collection", "Reel")

KINDS: dict[str, Kind] = {
    "meta_prospecting": Kind(14.0, 0.0105, _META_FORMATS, _META_AUDIENCES),
    "meta_retargeting": Kind(
        19.0, 0.0150, _META_FORMATS, ("Site Visitors 30d", "Add-to-cart 14d", "Engagers 60d")
    ),
    "meta_leads": Kind(11.0, 0.0090, ("Lead Form", "Single Image", "Video 15s"), _META_AUDIENCES),
    "meta_traffic": Kind(8.0, 0.0140, ("Single Image", "Carousel"), ("Interest - {cat}", "Broad 18-65")),
    "meta_seasonal": Kind(16.0, 0.0130, ("Offer Image", "Offer Video", "Carousel"), _META_AUDIENCES),
    "google_brand": Kind(45.0, 0.0900, ("RSA",), ("Brand - Exact", "Brand - Phrase", "Brand + {cat}")),
    "google_generic": Kind(95.0, 0.0420, ("RSA",), ("{cat} - Exact", "{cat} - Phrase", "{cat} - Broad")),
    "google_competitor": Kind(110.0, 0.0300, ("RSA",), ("Competitors - Exact", "Competitors - Phrase")),
    "google_pmax": Kind(12.0, 0.0090, ("Asset Group Ad",), ("Asset Group - {cat}",)),
    "google_display": Kind(3.5, 0.0040, ("Responsive Display",), ("Remarketing 30d", "Remarketing 90d")),
    "google_video": Kind(
        9.0, 0.0030, ("In-stream 15s", "Bumper 6s"), ("Affinity - {cat}", "In-market - {cat}")
    ),
    "google_seasonal": Kind(100.0, 0.0450, ("RSA",), ("{cat} - Deals", "Sale - Phrase")),
}


@dataclass(frozen=True)
class Template:
    platform: int
    label: str  # campaign name after the tenant prefix; "{year}" for seasonal ones
    kind: str
    objective: str
    flight: (
        tuple  # ("always",) | ("launch", f) | ("until", f) | ("window", f0, f1) | ("seasonal", m, d, days)
    )
    weight: float  # relative daily budget
    landing: str  # "{cat}" and "{year}" are filled in
    core: bool = False


TEMPLATES: tuple[Template, ...] = (
    Template(
        META,
        "Prospecting - Broad",
        "meta_prospecting",
        "OUTCOME_SALES",
        ("always",),
        3.0,
        "/collections/{cat}",
        True,
    ),
    Template(
        META,
        "Retargeting - Site Visitors",
        "meta_retargeting",
        "OUTCOME_SALES",
        ("always",),
        1.4,
        "/collections/{cat}",
        True,
    ),
    Template(
        META,
        "Lookalike - Purchasers",
        "meta_prospecting",
        "OUTCOME_SALES",
        ("launch", 0.3),
        2.0,
        "/collections/{cat}",
    ),
    Template(META, "Lead Gen - Newsletter", "meta_leads", "OUTCOME_LEADS", ("always",), 0.8, "/newsletter"),
    Template(
        META,
        "Advantage+ Shopping",
        "meta_prospecting",
        "OUTCOME_SALES",
        ("launch", 0.55),
        2.4,
        "/collections/{cat}",
    ),
    Template(
        META,
        "Traffic - Blog Content",
        "meta_traffic",
        "OUTCOME_TRAFFIC",
        ("until", 0.6),
        0.6,
        "/blog/{cat}-guide",
    ),
    Template(
        META,
        "Black Friday {year}",
        "meta_seasonal",
        "OUTCOME_SALES",
        ("seasonal", 11, 18, 16),
        5.0,
        "/lp/black-friday-{year}",
    ),
    Template(
        META,
        "Holiday Gifting {year}",
        "meta_seasonal",
        "OUTCOME_SALES",
        ("seasonal", 12, 4, 19),
        3.0,
        "/lp/gift-guide-{year}",
    ),
    Template(
        META,
        "Spring Sale {year}",
        "meta_seasonal",
        "OUTCOME_SALES",
        ("seasonal", 3, 14, 21),
        2.5,
        "/lp/spring-sale-{year}",
    ),
    Template(
        META,
        "Summer Sale {year}",
        "meta_seasonal",
        "OUTCOME_SALES",
        ("seasonal", 7, 1, 21),
        2.5,
        "/lp/summer-sale-{year}",
    ),
    Template(GOOGLE, "Brand Search", "google_brand", "SEARCH", ("always",), 1.1, "/", True),
    Template(
        GOOGLE,
        "Generic Search - Products",
        "google_generic",
        "SEARCH",
        ("always",),
        2.6,
        "/collections/{cat}",
        True,
    ),
    Template(GOOGLE, "Competitor Search", "google_competitor", "SEARCH", ("until", 0.7), 0.9, "/compare"),
    Template(
        GOOGLE,
        "Performance Max - All Products",
        "google_pmax",
        "PERFORMANCE_MAX",
        ("launch", 0.2),
        2.5,
        "/collections/{cat}",
    ),
    Template(
        GOOGLE, "Display Remarketing", "google_display", "DISPLAY", ("always",), 0.7, "/collections/{cat}"
    ),
    Template(GOOGLE, "YouTube Awareness", "google_video", "VIDEO", ("window", 0.4, 0.8), 1.2, "/"),
    Template(
        GOOGLE,
        "Search - Black Friday {year}",
        "google_seasonal",
        "SEARCH",
        ("seasonal", 11, 15, 19),
        4.0,
        "/lp/black-friday-{year}",
    ),
    Template(
        GOOGLE,
        "PMax - Holiday {year}",
        "google_pmax",
        "PERFORMANCE_MAX",
        ("seasonal", 12, 1, 22),
        2.5,
        "/lp/gift-guide-{year}",
    ),
)

# Average delivered share of a budget (pacing), used to plan budgets that deliver the target spend.
PACING_MEAN = (0.97, 0.93)


@dataclass
class TenantPlan:
    campaigns: pl.DataFrame
    ad_groups: pl.DataFrame
    ads: pl.DataFrame
    inputs: AdInputs
    budgets: np.ndarray  # [n_owner, n_days] daily budget, account currency (0 = not running)
    owner_platform: np.ndarray


def marketing_calendar(dates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Common spend factor: Q4 push, Black Friday/Cyber week, January dip, late-summer lull, AR noise."""
    md = month_day(dates)
    factor = np.ones(len(dates))
    factor += np.where((md >= 1015) & (md <= 1220), 0.3, 0.0)
    factor += np.where((md >= 1120) & (md <= 1202), 0.6, 0.0)
    factor -= np.where((md >= 102) & (md <= 131), 0.2, 0.0)
    factor -= np.where((md >= 801) & (md <= 825), 0.1, 0.0)
    noise = np.empty(len(dates))
    eps = rng.normal(0.0, 0.03, len(dates))
    level = rng.normal(0.0, 0.1)
    for i in range(len(dates)):  # one step per day: a slow, shared random factor
        level = 0.97 * level + eps[i]
        noise[i] = level
    return factor * np.exp(noise)


def _id_block(rng: np.random.Generator, n: int, start: int, max_gap: int) -> np.ndarray:
    """n increasing unique ids from `start`, with random gaps (ids are handed out over time)."""
    return start + np.cumsum(rng.integers(1, max_gap + 1, n, dtype=np.int64))


def _fill(template: str, cat: str, year: int) -> str:
    return template.replace("{cat}", cat).replace("{year}", str(year))


def build_accounts(tenant_idx: int, spec: TenantSpec, rng: np.random.Generator) -> pl.DataFrame:
    meta = int(rng.integers(10**14, 10**15 - 1))
    google = int(rng.integers(10**9, 10**10 - 1))
    hubspot = int(rng.integers(10**7, 10**8 - 1))
    return pl.DataFrame(
        {
            "tenant_id": [spec.tenant_id] * 3,
            "platform": ["meta", "google_ads", "hubspot"],
            "account_id": [str(meta), str(google), str(hubspot)],
            "name": [f"{spec.name} - Meta", f"{spec.name} - Google Ads", f"{spec.name} - HubSpot"],
            "currency": [spec.currency] * 3,
            "timezone": [spec.timezone] * 3,
        }
    )


def build_tenant_plan(
    spec: TenantSpec,
    preset: Preset,
    accounts: pl.DataFrame,
    daily_spend: float,
    rng: np.random.Generator,
) -> TenantPlan:
    """The tenant's account structure and day-by-day budgets over the preset's window."""
    start, end = preset.start_date, preset.end_date
    n_days = preset.n_days
    dates = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    s0 = start.toordinal()

    # ---- campaigns: (template, market, year) with flights as window day indexes (may fall outside)
    rows: list[dict] = []
    for tpl in TEMPLATES:
        if preset.core_only and not tpl.core:
            continue
        kind = tpl.flight[0]
        for market in range(preset.markets):
            occurrences: list[tuple[int, int | None, int]] = []  # (start idx, end idx or None, year)
            if kind == "always":
                occurrences.append((-int(rng.integers(60, 500)), None, start.year))
            elif kind == "launch":
                occurrences.append(
                    (round(tpl.flight[1] * n_days) + int(rng.integers(-10, 11)), None, start.year)
                )
            elif kind == "until":
                stop = round(tpl.flight[1] * n_days) + int(rng.integers(-10, 11))
                occurrences.append((-int(rng.integers(60, 300)), stop, start.year))
            elif kind == "window":
                occurrences.append((round(tpl.flight[1] * n_days), round(tpl.flight[2] * n_days), start.year))
            else:  # seasonal
                _, month, day_of_month, days = tpl.flight
                for year in range(start.year, end.year + 1):
                    first = date(year, month, day_of_month).toordinal() - s0 + int(rng.integers(-3, 4))
                    last = first + days - 1
                    if last >= 0 and first <= n_days - 1:
                        occurrences.append((first, last, year))
            for first, last, year in occurrences:
                label = _fill(tpl.label, "", year)
                if preset.markets > 1:
                    label = f"{label} | R{market + 1:02d}"
                rows.append(
                    {
                        "platform": tpl.platform,
                        "name": f"{spec.short} | {label}",
                        "kind": tpl.kind,
                        "objective": tpl.objective,
                        "first": first,
                        "last": last,
                        "year": year,
                        "weight": tpl.weight * float(rng.lognormal(0.0, 0.2)),
                        "landing": tpl.landing,
                    }
                )
    rows.sort(key=lambda r: (r["first"], r["platform"], r["name"]))
    n_camp = len(rows)
    c_platform = np.array([r["platform"] for r in rows], dtype=np.int8)
    c_first = np.array([r["first"] for r in rows], dtype=np.int64)
    c_last = np.array([n_days - 1 if r["last"] is None else r["last"] for r in rows], dtype=np.int64)
    c_open = np.array([r["last"] is None for r in rows])
    c_weight = np.array([r["weight"] for r in rows])
    c_cpm = np.array([KINDS[r["kind"]].cpm for r in rows]) * rng.lognormal(0.0, 0.12, n_camp)
    c_ctr = np.array([KINDS[r["kind"]].ctr for r in rows]) * rng.lognormal(0.0, 0.15, n_camp)

    meta_ids = _id_block(rng, n_camp, 120_210_000_000_000_000 + int(rng.integers(0, 10**14)), 10**7)
    google_ids = _id_block(rng, n_camp, 20_000_000_000 + int(rng.integers(0, 10**9)), 10**5)
    budget_ids = _id_block(rng, n_camp, 10_000_000_000 + int(rng.integers(0, 10**9)), 10**5)
    camp_id = np.where(c_platform == META, meta_ids, google_ids)

    # ---- ad groups
    lo, hi = preset.ad_groups_per_campaign
    g_count = rng.integers(lo, hi + 1, n_camp)
    g_camp = np.repeat(np.arange(n_camp), g_count)
    n_grp = len(g_camp)
    g_pos = np.arange(n_grp) - np.repeat(np.cumsum(g_count) - g_count, g_count)
    g_first = c_first[g_camp]
    g_last = c_last[g_camp].copy()
    eff_first = np.maximum(g_first, 0)
    span = g_last - eff_first + 1
    pause = (rng.random(n_grp) < preset.early_pause_share) & (span > 120) & (g_pos > 0)
    g_last = np.where(pause, eff_first + (span * rng.uniform(0.3, 0.9, n_grp)).astype(np.int64), g_last)
    g_weight = c_weight[g_camp] / g_count[g_camp] * rng.lognormal(0.0, 0.35, n_grp)
    g_cat = rng.integers(0, len(spec.categories), n_grp)
    g_names, g_landing = [], []
    for i in range(n_grp):  # per ad group (hundreds): names and landing pages
        row = rows[g_camp[i]]
        themes = KINDS[row["kind"]].themes
        cat = spec.categories[g_cat[i]]
        theme = _fill(themes[(g_pos[i] + i) % len(themes)], cat.replace("-", " ").title(), row["year"])
        g_names.append(theme if g_pos[i] < len(themes) else f"{theme} #{g_pos[i] + 1}")
        g_landing.append(_fill(row["landing"], cat, row["year"]))
    meta_g = _id_block(rng, n_grp, 120_230_000_000_000_000 + int(rng.integers(0, 10**14)), 10**7)
    google_g = _id_block(rng, n_grp, 150_000_000_000 + int(rng.integers(0, 10**10)), 10**6)
    grp_id = np.where(c_platform[g_camp] == META, meta_g, google_g)

    # ---- ads: creative rotation. Two ads at launch, then a new one every ~gap days; ad i runs until
    # ad i+2 launches, so two creatives share each ad group at any time.
    gap = preset.creative_gap_days
    eff_last = np.minimum(g_last, n_days - 1)
    max_launch = int(np.ceil((eff_last - g_first).max() / gap * 1.5)) + 4
    gaps = rng.gamma(4.0, gap / 4.0, (n_grp, max_launch)).round().astype(np.int64) + 1
    gaps[:, 0] = 0
    gaps[:, 1] = 0
    launch = g_first[:, None] + np.cumsum(gaps, axis=1)
    exists = launch <= eff_last[:, None]
    retire = np.concatenate([launch[:, 2:], np.full((n_grp, 2), 10**9)], axis=1) - 1
    nxt_exists = np.concatenate([exists[:, 2:], np.zeros((n_grp, 2), bool)], axis=1)
    ad_last = np.where(nxt_exists, retire, g_last[:, None])
    served = exists & (ad_last >= 0)  # ads retired before the world starts never appear
    a_grp, a_slot = np.nonzero(served)
    a_launch = launch[a_grp, a_slot]
    a_last = ad_last[a_grp, a_slot]
    n_ads = len(a_grp)
    a_camp = g_camp[a_grp]
    a_plat = c_platform[a_camp]
    meta_a = _id_block(rng, n_ads, 120_250_000_000_000_000 + int(rng.integers(0, 10**14)), 10**7)
    google_a = _id_block(rng, n_ads, 680_000_000_000 + int(rng.integers(0, 10**10)), 10**6)
    order = np.lexsort((a_slot, a_grp, a_launch))  # ids increase with launch date
    a_id = np.empty(n_ads, dtype=np.int64)
    a_id[order] = np.where(a_plat[order] == META, meta_a, google_a)
    formats = [KINDS[rows[c]["kind"]].formats for c in a_camp]
    fmt_pick = rng.integers(0, 64, n_ads)
    a_names = [
        f"{formats[i][fmt_pick[i] % len(formats[i])]} - {g_names[a_grp[i]]} - v{a_slot[i] + 1}"
        for i in range(n_ads)
    ]
    is_meta = a_plat == META
    a_halflife = np.where(is_meta, rng.uniform(20, 70, n_ads), rng.uniform(80, 220, n_ads))
    a_floor = np.where(is_meta, rng.uniform(0.45, 0.75, n_ads), rng.uniform(0.75, 0.9, n_ads))
    a_ctr = c_ctr[a_camp] * rng.lognormal(0.0, 0.25, n_ads)
    a_weight = g_weight[a_grp] * rng.lognormal(0.0, 0.3, n_ads)  # ad group share x creative

    # ---- budget owners: Meta ad sets, Google campaigns
    owner_is_group = c_platform[g_camp] == META
    owner_groups = np.nonzero(owner_is_group)[0]
    owner_camps = np.nonzero(c_platform == GOOGLE)[0]
    n_owner = len(owner_groups) + len(owner_camps)
    o_platform = np.concatenate([np.full(len(owner_groups), META), np.full(len(owner_camps), GOOGLE)]).astype(
        np.int8
    )
    o_first = np.concatenate([g_first[owner_groups], c_first[owner_camps]])
    o_last = np.concatenate([g_last[owner_groups], c_last[owner_camps]])
    o_weight = np.concatenate([g_weight[owner_groups], c_weight[owner_camps]])
    group_owner = np.full(n_grp, -1)
    group_owner[owner_groups] = np.arange(len(owner_groups))
    camp_owner = np.full(n_camp, -1)
    camp_owner[owner_camps] = len(owner_groups) + np.arange(len(owner_camps))
    a_owner = np.where(is_meta, group_owner[a_grp], camp_owner[a_camp])

    calendar = marketing_calendar(dates, rng)
    day_idx = np.arange(n_days)
    fixed = np.isin(month_day(dates), [1015, 1120, 1203, 1224, 102, 301, 601, 901])
    change = (
        (rng.random((n_owner, n_days)) < 1 / 18) | fixed[None, :] | (day_idx[None, :] == o_first[:, None])
    )
    change[:, 0] = True
    last_change = np.maximum.accumulate(np.where(change, day_idx[None, :], 0), axis=1)
    step = rng.normal(0.0, 0.2, (n_owner, n_days))[np.arange(n_owner)[:, None], last_change]
    gamma = np.where(o_platform == META, 1.0, 0.7)[:, None]
    trend = rng.normal(0.0, 0.15, n_owner)[:, None] * (last_change / 365.0)
    running = (day_idx[None, :] >= o_first[:, None]) & (day_idx[None, :] <= o_last[:, None])
    raw = o_weight[:, None] * calendar[last_change] ** gamma * np.exp(step + trend) * running
    budgets = np.zeros_like(raw)
    for p, share in ((META, spec.meta_spend_share), (GOOGLE, 1.0 - spec.meta_spend_share)):
        sel = o_platform == p
        total = raw[sel].sum()
        if total > 0:
            target = daily_spend * share * n_days / PACING_MEAN[p]
            budgets[sel] = raw[sel] * (target / total)
    budgets = np.where(running, np.maximum(np.round(budgets), 1.0), 0.0)

    # ---- statuses and current budgets as of the last day
    camp_active = c_last >= n_days - 1
    grp_active = camp_active[g_camp] & (g_last >= n_days - 1)
    ad_active = grp_active[a_grp] & (a_last >= n_days - 1)
    last_day = np.clip(o_last, 0, n_days - 1)
    current = budgets[np.arange(n_owner), last_day]

    acct = dict(zip(accounts["platform"].to_list(), accounts["account_id"].to_list(), strict=True))
    plat_names = np.array(PLATFORMS)
    c_account = np.where(c_platform == META, acct["meta"], acct["google_ads"])
    c_budget = np.full(n_camp, np.nan)
    c_budget[owner_camps] = current[camp_owner[owner_camps]]
    g_budget = np.full(n_grp, np.nan)
    g_budget[owner_groups] = current[group_owner[owner_groups]]
    ordinal = np.datetime64(start, "D")
    status = np.array(["PAUSED", "ACTIVE"])
    campaigns = pl.DataFrame(
        {
            "tenant_id": [spec.tenant_id] * n_camp,
            "platform": plat_names[c_platform],
            "account_id": c_account,
            "campaign_id": ids_to_str(camp_id),
            "campaign_name": [r["name"] for r in rows],
            "objective": [r["objective"] for r in rows],
            "status": status[camp_active.astype(int)],
            "start_date": ordinal + c_first,
            "end_date": ordinal + c_last,
            "target_cpa": np.round(spec.aov * rng.uniform(0.35, 0.6, n_camp), 2),
            "budget_id": ids_to_str(budget_ids).scatter(np.nonzero(c_platform == META)[0], None),
            "daily_budget": pl.Series(c_budget).fill_nan(None),
        }
    ).with_columns(
        pl.when(pl.lit(pl.Series(c_open))).then(None).otherwise(pl.col("end_date")).alias("end_date")
    )
    ad_groups = pl.DataFrame(
        {
            "tenant_id": [spec.tenant_id] * n_grp,
            "platform": plat_names[c_platform[g_camp]],
            "account_id": c_account[g_camp],
            "campaign_id": campaigns["campaign_id"].gather(g_camp),
            "ad_group_id": ids_to_str(grp_id),
            "ad_group_name": g_names,
            "status": status[grp_active.astype(int)],
            "daily_budget": pl.Series(g_budget).fill_nan(None),
        }
    )
    ads = pl.DataFrame(
        {
            "tenant_id": [spec.tenant_id] * n_ads,
            "platform": plat_names[a_plat],
            "account_id": c_account[a_camp],
            "campaign_id": campaigns["campaign_id"].gather(a_camp),
            "ad_group_id": ad_groups["ad_group_id"].gather(a_grp),
            "ad_id": ids_to_str(a_id),
            "ad_name": a_names,
            "status": status[ad_active.astype(int)],
            "launch_date": ordinal + a_launch,
        }
    )
    inputs = AdInputs(
        frame=ads.select("tenant_id", "platform", "account_id", "campaign_id", "ad_group_id", "ad_id"),
        platform=a_plat,
        owner=a_owner,
        active_from=np.maximum(a_launch, np.maximum(g_first[a_grp], 0)),
        active_to=np.minimum(a_last, n_days - 1),
        launch_day=a_launch,
        weight=a_weight,
        ctr_base=a_ctr,
        cpm_base=c_cpm[a_camp],
        fatigue_halflife=a_halflife,
        fatigue_floor=a_floor,
        campaign_slug=slugify(campaigns["campaign_name"]).gather(a_camp),
        landing_page=pl.Series(g_landing, dtype=pl.String).gather(a_grp),
    )
    return TenantPlan(campaigns, ad_groups, ads, inputs, budgets, o_platform)


def slugify(names: pl.Series) -> pl.Series:
    """utm_campaign as teams write it: lower case, non-alphanumerics -> '-'."""
    return (
        names.str.to_lowercase()
        .str.replace_all(r"[^a-z0-9]+", "-")
        .str.strip_chars("-")
        .alias("utm_campaign")
    )
