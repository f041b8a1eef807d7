"""The marketing plan of one tenant: accounts, campaigns -> ad groups -> ads, flighting and budgets.

Everything here is decided before a single impression is served: which campaigns run when (always-on,
launched mid-way, stopped, seasonal bursts), which creative is live on which day (rotation: a new ad
every few weeks, each ad lives for two launch gaps; about half the creatives wear out after an onset),
and each budget owner's daily budget (Meta ad set, LinkedIn campaign = world ad group, TikTok ad group,
Google campaign) as a step function driven by a shared marketing calendar (Q4 and Black Friday pushes,
a January dip, a common random factor) so spend is correlated across channels, as in real accounts.
Also the incidents injected into delivery (`plan_anomalies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from connectors.sandbox.channels import GOOGLE, LINKEDIN, META, PLATFORM_MODELS, PLATFORMS, TIKTOK
from connectors.sandbox.media import slugify
from connectors.sandbox.presets import Preset, TenantSpec
from connectors.sandbox.simulate import AdInputs, Anomalies, ids_to_str, month_day

__all__ = [
    "KINDS",
    "TEMPLATES",
    "TenantPlan",
    "build_accounts",
    "build_tenant_plan",
    "plan_anomalies",
    "slugify",
]


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

_LINKEDIN_AUDIENCES = (
    "Job Function - Procurement",
    "Company Size 200-5000",
    "Job Title - Office Manager",
    "Industry - Hospitality",
    "Seniority - Director+",
    "Interest - {cat}",
)
_TIKTOK_AUDIENCES = (
    "Broad 18-44",
    "Interest - {cat}",
    "Lookalike - Purchasers",
    "Behaviour - {cat} Video Viewers",
    "Broad 25-54",
)
_TIKTOK_FORMATS = ("UGC Video 15s", "UGC Video 30s", "Spark Ad - Creator", "Carousel", "Collection Ad")

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
    "linkedin_sponsored": Kind(
        38.0, 0.0048, ("Single Image Ad", "Carousel Ad", "Thought Leader Ad"), _LINKEDIN_AUDIENCES
    ),
    "linkedin_document": Kind(46.0, 0.0062, ("Document Ad",), _LINKEDIN_AUDIENCES),
    "linkedin_video": Kind(31.0, 0.0035, ("Video Ad 30s", "Video Ad 15s"), _LINKEDIN_AUDIENCES),
    "linkedin_retargeting": Kind(
        55.0, 0.0080, ("Single Image Ad", "Conversation Ad"), ("Matched - Website Visitors 90d",)
    ),
    "tiktok_spark": Kind(6.5, 0.0080, ("Spark Ad - Creator", "Spark Ad - Brand Post"), _TIKTOK_AUDIENCES),
    "tiktok_prospecting": Kind(5.2, 0.0062, _TIKTOK_FORMATS, _TIKTOK_AUDIENCES),
    "tiktok_retargeting": Kind(
        8.5, 0.0100, _TIKTOK_FORMATS, ("Custom Audience - Video Viewers 15d", "Custom Audience - Site 30d")
    ),
    "tiktok_seasonal": Kind(
        7.8, 0.0105, ("UGC Video 15s - Offer", "Spark Ad - Creator Offer"), _TIKTOK_AUDIENCES
    ),
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
    # LinkedIn: world campaign = campaign group, ad group = LinkedIn campaign (owns the budget).
    Template(
        LINKEDIN,
        "Sponsored Content - Business Gifting",
        "linkedin_sponsored",
        "WEBSITE_CONVERSIONS",
        ("always",),
        1.2,
        "/business/gifting",
        True,
    ),
    Template(
        LINKEDIN,
        "Document Ads - Buying Guide",
        "linkedin_document",
        "LEAD_GENERATION",
        ("always",),
        0.8,
        "/guides/{cat}-buying-guide",
        True,
    ),
    Template(
        LINKEDIN,
        "Thought Leadership - Video",
        "linkedin_video",
        "BRAND_AWARENESS",
        ("window", 0.3, 0.7),
        0.6,
        "/about",
    ),
    Template(
        LINKEDIN,
        "Retargeting - Website Visitors",
        "linkedin_retargeting",
        "WEBSITE_CONVERSIONS",
        ("launch", 0.35),
        0.5,
        "/business/gifting",
    ),
    Template(
        LINKEDIN,
        "Corporate Gifts Q4 {year}",
        "linkedin_sponsored",
        "WEBSITE_CONVERSIONS",
        ("seasonal", 10, 20, 45),
        1.5,
        "/business/holiday-gifts-{year}",
    ),
    # TikTok: campaign -> ad group (owns status and budget) -> ad.
    Template(
        TIKTOK,
        "Spark Ads - Creator UGC",
        "tiktok_spark",
        "WEB_CONVERSIONS",
        ("always",),
        2.0,
        "/collections/{cat}",
        True,
    ),
    Template(
        TIKTOK,
        "Prospecting - Broad",
        "tiktok_prospecting",
        "WEB_CONVERSIONS",
        ("always",),
        1.6,
        "/collections/{cat}",
        True,
    ),
    Template(
        TIKTOK,
        "Retargeting - Engagers",
        "tiktok_retargeting",
        "WEB_CONVERSIONS",
        ("launch", 0.25),
        0.8,
        "/collections/{cat}",
    ),
    Template(
        TIKTOK,
        "Smart+ Catalog Sales",
        "tiktok_prospecting",
        "PRODUCT_SALES",
        ("launch", 0.6),
        1.8,
        "/collections/{cat}",
    ),
    Template(
        TIKTOK,
        "Black Friday {year}",
        "tiktok_seasonal",
        "WEB_CONVERSIONS",
        ("seasonal", 11, 17, 17),
        4.0,
        "/lp/black-friday-{year}",
    ),
    Template(
        TIKTOK,
        "Summer Drop {year}",
        "tiktok_seasonal",
        "WEB_CONVERSIONS",
        ("seasonal", 6, 12, 28),
        2.5,
        "/lp/summer-sale-{year}",
    ),
    Template(
        TIKTOK,
        "New Year Reset {year}",
        "tiktok_seasonal",
        "WEB_CONVERSIONS",
        ("seasonal", 1, 2, 21),
        2.0,
        "/lp/new-year-{year}",
    ),
)

# Id formats per platform: (first id, largest random offset, largest gap) of campaigns, ad groups, ads.
# Ids grow with creation time and never repeat inside a platform (the blocks do not overlap).
ID_BLOCKS: dict[int, tuple[tuple[int, int, int], ...]] = {
    META: (
        (120_210_000_000_000_000, 10**14, 10**7),
        (120_230_000_000_000_000, 10**14, 10**7),
        (120_250_000_000_000_000, 10**14, 10**7),
    ),
    GOOGLE: (
        (20_000_000_000, 10**9, 10**5),
        (150_000_000_000, 10**10, 10**6),
        (680_000_000_000, 10**10, 10**6),
    ),
    # LinkedIn: campaign groups and campaigns 9 digits, creatives 10 digits.
    LINKEDIN: ((610_000_000, 10**7, 10**4), (280_000_000, 10**7, 10**4), (1_200_000_000, 10**8, 10**5)),
    # TikTok: 19-digit ids (campaign, ad group, ad).
    TIKTOK: (
        (1_780_000_000_000_000_000, 10**15, 10**9),
        (1_781_000_000_000_000_000, 10**15, 10**9),
        (1_782_000_000_000_000_000, 10**15, 10**9),
    ),
}


@dataclass
class TenantPlan:
    campaigns: pl.DataFrame
    ad_groups: pl.DataFrame
    ads: pl.DataFrame
    inputs: AdInputs
    budgets: np.ndarray  # [n_owner, n_days] daily budget, account currency (0 = not running)
    owner_platform: np.ndarray
    owner_campaign: np.ndarray  # campaign row of each budget owner


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


ACCOUNT_DIGITS = {"meta": 15, "google_ads": 10, "linkedin": 9, "tiktok": 19, "hubspot": 8}
ACCOUNT_NAMES = {
    "meta": "Meta",
    "google_ads": "Google Ads",
    "linkedin": "LinkedIn Ads",
    "tiktok": "TikTok Ads",
    "hubspot": "HubSpot",
    "mailchimp": "Mailchimp",
}


def build_accounts(
    tenant_idx: int, spec: TenantSpec, rng: np.random.Generator, extra: dict[str, str] | None = None
) -> pl.DataFrame:
    """One account per platform (ad platforms, HubSpot) plus `extra` platform -> id (e.g. Mailchimp)."""
    ids = {}
    for platform, digits in ACCOUNT_DIGITS.items():
        lo = 7 * 10 ** (digits - 1) if platform == "tiktok" else 10 ** (digits - 1)
        ids[platform] = str(int(rng.integers(lo, min(10**digits - 1, 2**63 - 1))))
    ids.update(extra or {})
    n = len(ids)
    return pl.DataFrame(
        {
            "tenant_id": [spec.tenant_id] * n,
            "platform": list(ids),
            "account_id": list(ids.values()),
            "name": [f"{spec.name} - {ACCOUNT_NAMES.get(p, p)}" for p in ids],
            "currency": [spec.currency] * n,
            "timezone": [spec.timezone] * n,
        }
    )


def _flight_occurrences(
    tpl: Template, preset: Preset, rng: np.random.Generator
) -> list[tuple[int, int | None, int]]:
    """(first window day, last window day or None = open, year) of each flight of a template."""
    start, end, n_days = preset.start_date, preset.end_date, preset.n_days
    kind = tpl.flight[0]
    if kind == "always":
        return [(-int(rng.integers(60, 500)), None, start.year)]
    if kind == "launch":
        return [(round(tpl.flight[1] * n_days) + int(rng.integers(-10, 11)), None, start.year)]
    if kind == "until":
        stop = round(tpl.flight[1] * n_days) + int(rng.integers(-10, 11))
        return [(-int(rng.integers(60, 300)), stop, start.year)]
    if kind == "window":
        return [(round(tpl.flight[1] * n_days), round(tpl.flight[2] * n_days), start.year)]
    _, month, day_of_month, days = tpl.flight  # seasonal
    out = []
    for year in range(start.year, end.year + 1):
        first = date(year, month, day_of_month).toordinal() - start.toordinal() + int(rng.integers(-3, 4))
        last = first + days - 1
        if last >= 0 and first <= n_days - 1:
            out.append((first, last, year))
    return out


def _ids(rng: np.random.Generator, platform: np.ndarray, level: int) -> np.ndarray:
    """Ids of one level (0 campaign, 1 ad group, 2 ad) for rows in creation order, per platform."""
    out = np.zeros(len(platform), dtype=np.int64)
    for p, blocks in ID_BLOCKS.items():
        first, offset, gap = blocks[level]
        sel = np.nonzero(platform == p)[0]
        out[sel] = _id_block(rng, len(sel), first + int(rng.integers(0, offset)), gap)
    return out


def build_tenant_plan(
    spec: TenantSpec,
    preset: Preset,
    accounts: pl.DataFrame,
    daily_spend: float,
    rng: np.random.Generator,
) -> TenantPlan:
    """The tenant's account structure and day-by-day budgets over the preset's window."""
    start = preset.start_date
    n_days = preset.n_days
    dates = np.arange(np.datetime64(start, "D"), np.datetime64(preset.end_date, "D") + 1)

    # ---- campaigns: (template, market, year) with flights as window day indexes (may fall outside)
    rows: list[dict] = []
    for tpl in TEMPLATES:
        if preset.core_only and not tpl.core:
            continue
        for market in range(preset.markets):
            for first, last, year in _flight_occurrences(tpl, preset, rng):
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
    camp_id = _ids(rng, c_platform, 0)
    budget_ids = _id_block(rng, n_camp, 10_000_000_000 + int(rng.integers(0, 10**9)), 10**5)

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
    g_plat = c_platform[g_camp]
    grp_id = _ids(rng, g_plat, 1)

    # ---- ads: creative rotation. Two ads at launch, then a new one every ~gap days (shorter on
    # TikTok); ad i runs until ad i+2 launches, so two creatives share each ad group at any time.
    gap = preset.creative_gap_days * np.array([m.creative_gap_factor for m in PLATFORM_MODELS])[g_plat]
    eff_last = np.minimum(g_last, n_days - 1)
    max_launch = int(np.ceil(((eff_last - g_first) / gap).max() * 1.5)) + 4
    gaps = rng.gamma(4.0, 1.0, (n_grp, max_launch)) * (gap / 4.0)[:, None]
    gaps = gaps.round().astype(np.int64) + 1
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
    order = np.lexsort((a_slot, a_grp, a_launch))  # ids increase with launch date
    a_id = np.empty(n_ads, dtype=np.int64)
    a_id[order] = _ids(rng, a_plat[order], 2)
    formats = [KINDS[rows[c]["kind"]].formats for c in a_camp]
    fmt_pick = rng.integers(0, 64, n_ads)
    a_names = [
        f"{formats[i][fmt_pick[i] % len(formats[i])]} - {g_names[a_grp[i]]} - v{a_slot[i] + 1}"
        for i in range(n_ads)
    ]
    # Creative fatigue: about half the creatives wear out, from an onset some days after launch.
    a_halflife, a_floor, a_onset = np.zeros(n_ads), np.zeros(n_ads), np.zeros(n_ads)
    for p, model in enumerate(PLATFORM_MODELS):
        sel = a_plat == p
        a_halflife[sel] = rng.uniform(*model.fatigue_halflife, sel.sum())
        a_floor[sel] = rng.uniform(*model.fatigue_floor, sel.sum())
        a_onset[sel] = np.round(rng.uniform(*model.fatigue_onset, sel.sum()))
    a_fatigues = rng.random(n_ads) < 0.5
    a_onset = np.where(a_fatigues, a_onset, np.nan)
    a_ctr = c_ctr[a_camp] * rng.lognormal(0.0, 0.25, n_ads)
    a_weight = g_weight[a_grp] * rng.lognormal(0.0, 0.3, n_ads)  # ad group share x creative

    # ---- budget owners: ad groups (Meta ad sets, LinkedIn campaigns, TikTok ad groups), Google campaigns
    camp_owns = np.array([PLATFORM_MODELS[p].budget_level == "campaign" for p in c_platform], dtype=bool)
    owner_groups = np.nonzero(~camp_owns[g_camp])[0]
    owner_camps = np.nonzero(camp_owns)[0]
    n_owner = len(owner_groups) + len(owner_camps)
    o_platform = np.concatenate([g_plat[owner_groups], c_platform[owner_camps]]).astype(np.int8)
    o_camp = np.concatenate([g_camp[owner_groups], owner_camps])
    o_first = np.concatenate([g_first[owner_groups], c_first[owner_camps]])
    o_last = np.concatenate([g_last[owner_groups], c_last[owner_camps]])
    o_weight = np.concatenate([g_weight[owner_groups], c_weight[owner_camps]])
    group_owner = np.full(n_grp, -1)
    group_owner[owner_groups] = np.arange(len(owner_groups))
    camp_owner = np.full(n_camp, -1)
    camp_owner[owner_camps] = len(owner_groups) + np.arange(len(owner_camps))
    a_owner = np.where(camp_owns[a_camp], camp_owner[a_camp], group_owner[a_grp])

    # Budgets: level = weight x calendar^gamma (shared) x a random step of the owner's own (changes
    # on random days and fixed calendar dates) x a slow trend; each owner steps on its own days, so
    # the channels' spend is correlated but not collinear.
    calendar = marketing_calendar(dates, rng)
    day_idx = np.arange(n_days)
    fixed = np.isin(month_day(dates), [1015, 1120, 1203, 1224, 102, 301, 601, 901])
    change = (
        (rng.random((n_owner, n_days)) < 1 / 18) | fixed[None, :] | (day_idx[None, :] == o_first[:, None])
    )
    change[:, 0] = True
    last_change = np.maximum.accumulate(np.where(change, day_idx[None, :], 0), axis=1)
    step = rng.normal(0.0, 0.2, (n_owner, n_days))[np.arange(n_owner)[:, None], last_change]
    gamma = np.array([m.calendar_gamma for m in PLATFORM_MODELS])[o_platform][:, None]
    trend = rng.normal(0.0, 0.15, n_owner)[:, None] * (last_change / 365.0)
    running = (day_idx[None, :] >= o_first[:, None]) & (day_idx[None, :] <= o_last[:, None])
    raw = o_weight[:, None] * calendar[last_change] ** gamma * np.exp(step + trend) * running
    budgets = np.zeros_like(raw)
    for p, model in enumerate(PLATFORM_MODELS):
        sel = o_platform == p
        total = raw[sel].sum()
        if total > 0:
            target = daily_spend * spec.spend_shares[model.name] * n_days / model.pacing_mean
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
    c_account = np.array([acct[p] for p in PLATFORMS])[c_platform]
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
            "budget_id": ids_to_str(budget_ids).scatter(np.nonzero(~camp_owns)[0], None),
            "daily_budget": pl.Series(c_budget).fill_nan(None),
        }
    ).with_columns(
        pl.when(pl.lit(pl.Series(c_open))).then(None).otherwise(pl.col("end_date")).alias("end_date")
    )
    ad_groups = pl.DataFrame(
        {
            "tenant_id": [spec.tenant_id] * n_grp,
            "platform": plat_names[g_plat],
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
        campaign=a_camp,
        owner=a_owner,
        active_from=np.maximum(a_launch, np.maximum(g_first[a_grp], 0)),
        active_to=np.minimum(a_last, n_days - 1),
        launch_day=a_launch,
        weight=a_weight,
        ctr_base=a_ctr,
        cpm_base=c_cpm[a_camp],
        fatigue_halflife=a_halflife,
        fatigue_floor=a_floor,
        fatigue_onset=a_onset,
        campaign_slug=slugify(campaigns["campaign_name"]).gather(a_camp),
        landing_page=pl.Series(g_landing, dtype=pl.String).gather(a_grp),
    )
    return TenantPlan(campaigns, ad_groups, ads, inputs, budgets, o_platform, o_camp)


# ---------------------------------------------------------------------------- injected anomalies
# kind: (duration range in days, spend x, ctr x, platform conversions x, metrics it moves: (metric, dir)).
# The first metric is the incident's own; the others are consequences, listed in the truth only when
# they really moved (see generator.anomaly_truth). Magnitudes are those of real incidents:
# budget_runaway: a pacing/bid bug or a mistyped budget spends 2.5-5x the plan for 1-3 days;
# tracking_outage: the pixel/tag is gone after a site release, conversions ~0 for 2-7 days;
# broken_creative: an asset fails to render or is disapproved, CTR (and so results) -70..-90 % for
# 2-6 days; broken_landing_page: clicks arrive, the page/checkout fails, conversions -75..-95 % for 2-7 days.
ANOMALY_KINDS: dict[
    str, tuple[tuple[int, int], tuple[float, float], tuple[float, float], tuple[float, float], tuple]
] = {
    "budget_runaway": (
        (1, 3),
        (2.5, 5.0),
        (1.0, 1.0),
        (1.0, 1.0),
        (("spend", "up"), ("cpa", "up"), ("roas", "down")),
    ),
    "tracking_outage": (
        (2, 7),
        (1.0, 1.0),
        (1.0, 1.0),
        (0.0, 0.05),
        (("conversions", "down"), ("cpa", "up"), ("roas", "down")),
    ),
    "broken_creative": (
        (2, 6),
        (1.0, 1.0),
        (0.1, 0.3),
        (1.0, 1.0),  # results follow the clicks: conversions x the CTR factor (set when planned)
        (("ctr", "down"), ("conversions", "down"), ("cpa", "up"), ("roas", "down")),
    ),
    "broken_landing_page": (
        (2, 7),
        (1.0, 1.0),
        (1.0, 1.0),
        (0.05, 0.25),
        (("conversions", "down"), ("cpa", "up"), ("roas", "down")),
    ),
}
ANOMALY_LOOKBACK = 14  # days of normal delivery before an anomaly (the truth's reference)
ANOMALY_HISTORY = 42  # days a campaign runs before an incident (a baseline of same weekdays exists)
# Incidents hit campaigns where they are observable: planned spend and clicks a day, and for incidents
# about conversions planned conversions a day (budget / target CPA) and over the incident.
ANOMALY_MIN_SPEND = 20.0
ANOMALY_MIN_CLICKS = 30.0
ANOMALY_MIN_CONVERSIONS = 2.0
ANOMALY_MIN_LOST_CONVERSIONS = 10.0


def plan_anomalies(plan: TenantPlan, n_days: int, rng: np.random.Generator) -> tuple[Anomalies, list[dict]]:
    """A handful of incidents a year on campaigns with volume (picked by planned spend): spend runaways,
    tracking outages, broken creatives, broken landing pages. Each needs ANOMALY_HISTORY normal days
    before it (a third of the window in short worlds) free of other incidents, and incidents
    about conversions hit campaigns planned to get >= ANOMALY_MIN_CONVERSIONS a day (a conversion
    outage on a campaign with one sale a week is not observable)."""
    n_camp = plan.campaigns.height
    camp_budget = np.zeros((n_camp, n_days))
    np.add.at(camp_budget, plan.owner_campaign, plan.budgets)
    running = camp_budget > 0
    total = camp_budget.sum(axis=1)
    big = total >= np.quantile(total[total > 0], 0.3) if (total > 0).any() else total > 0
    target_cpa = plan.campaigns["target_cpa"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    mean_budget = total / np.maximum(running.sum(axis=1), 1)
    planned_conv = np.where(np.isfinite(target_cpa) & (target_cpa > 0), mean_budget / target_cpa, 0.0)
    ads = plan.inputs
    per_unit = np.bincount(ads.campaign, 1000.0 * ads.ctr_base / ads.cpm_base, minlength=n_camp)
    per_unit /= np.maximum(np.bincount(ads.campaign, minlength=n_camp), 1)
    planned_clicks = mean_budget * per_unit  # clicks/day of a fresh creative at the planned budget
    big &= mean_budget >= ANOMALY_MIN_SPEND
    observable = {  # by the incident's own metric
        "spend": big,
        "ctr": big & (planned_clicks >= ANOMALY_MIN_CLICKS),
        "conversions": big & (planned_conv >= ANOMALY_MIN_CONVERSIONS),
    }
    history = max(ANOMALY_LOOKBACK, min(ANOMALY_HISTORY, n_days // 3))
    n = max(2, round(rng.uniform(3.0, 6.0) * n_days / 365.0))
    kinds = list(ANOMALY_KINDS)
    busy = np.zeros((n_camp, n_days), dtype=bool)  # incidents and their baselines
    hit = np.zeros((n_camp, n_days), dtype=bool)  # incidents and the week after
    chosen: list[dict] = []
    for _ in range(n * 100):  # rejection sampling; tries per incident
        if len(chosen) == n:
            break
        kind = kinds[int(rng.integers(0, len(kinds)))]
        (d_lo, d_hi), spend_r, ctr_r, conv_r, moves = ANOMALY_KINDS[kind]
        eligible = observable[moves[0][0]]
        weights = np.where(eligible, total, 0.0)
        if weights.sum() <= 0:
            continue
        camp = int(rng.choice(n_camp, p=weights / weights.sum()))
        days = int(rng.integers(d_lo, d_hi + 1))
        first = int(rng.integers(history, max(n_days - days, history + 1)))
        last = first + days - 1
        span = slice(first - history, last + 1)
        # the new incident's baseline holds no incident (or its 7 days after) and the new incident
        # lies in no other incident's baseline
        own = slice(first, last + 1)
        if last >= n_days or not running[camp, span].all() or hit[camp, span].any() or busy[camp, own].any():
            continue
        if moves[0][0] == "conversions" and days * planned_conv[camp] < ANOMALY_MIN_LOST_CONVERSIONS:
            continue
        busy[camp, span] = True
        hit[camp, first : last + 8] = True
        ctr_x = float(rng.uniform(*ctr_r))
        conv_x = float(rng.uniform(*conv_r))
        chosen.append(
            {
                "kind": kind,
                "campaign": camp,
                "first": first,
                "last": last,
                "spend": float(rng.uniform(*spend_r)),
                "ctr": ctr_x,
                "conversions": ctr_x * conv_x if kind == "broken_creative" else conv_x,
            }
        )
    chosen.sort(key=lambda a: (a["first"], a["campaign"]))
    anomalies = Anomalies(
        campaign=np.array([a["campaign"] for a in chosen], dtype=np.int64),
        first=np.array([a["first"] for a in chosen], dtype=np.int64),
        last=np.array([a["last"] for a in chosen], dtype=np.int64),
        spend=np.array([a["spend"] for a in chosen]),
        ctr=np.array([a["ctr"] for a in chosen]),
        conversions=np.array([a["conversions"] for a in chosen]),
        rng=np.random.default_rng(rng.integers(0, 2**63)),
    )
    return anomalies, chosen
