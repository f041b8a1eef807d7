"""Raw table shapes and data contracts.

`RAW_COLUMNS` pins the columns and polars dtypes of every `raw.*` table (docs/INTERFACES.md §4, without
the `_` load-metadata columns that pipelines/ adds). Parsers build frames with `frame_from_rows` or
`frame_from_columns`, so their output always matches. `validate(frame, table)` runs the pandera (polars)
contract for that table and splits the frame into good rows and a quarantine (record JSON, field, reason)
instead of failing the load: bad rows are set aside with their reason, good rows are kept.

pandera is imported lazily (it is slow to import and parsers never need it).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from typing import Any

import polars as pl

MONEY = pl.Decimal(18, 2)
TS = pl.Datetime("us")  # naive, UTC (raw TIMESTAMP columns hold UTC)

RAW_COLUMNS: dict[str, dict[str, pl.DataType]] = {
    "meta_ads_insights": {
        "tenant_id": pl.String(),
        "account_id": pl.String(),
        "date_start": pl.Date(),
        "campaign_id": pl.String(),
        "campaign_name": pl.String(),
        "adset_id": pl.String(),
        "adset_name": pl.String(),
        "ad_id": pl.String(),
        "ad_name": pl.String(),
        "account_currency": pl.String(),
        "spend": MONEY,
        "impressions": pl.Int64(),
        "clicks": pl.Int64(),
        "conversions": pl.Float64(),
        "conversion_value": MONEY,
        "actions": pl.String(),
    },
    "meta_ads_campaigns": {
        "tenant_id": pl.String(),
        "account_id": pl.String(),
        "id": pl.String(),
        "name": pl.String(),
        "status": pl.String(),
        "objective": pl.String(),
    },
    "meta_ads_adsets": {
        "tenant_id": pl.String(),
        "account_id": pl.String(),
        "id": pl.String(),
        "campaign_id": pl.String(),
        "name": pl.String(),
        "status": pl.String(),
        "daily_budget": pl.Int64(),
        "bid_strategy": pl.String(),
        "bid_amount": pl.Int64(),
    },
    "meta_ads_ads": {
        "tenant_id": pl.String(),
        "account_id": pl.String(),
        "id": pl.String(),
        "adset_id": pl.String(),
        "campaign_id": pl.String(),
        "name": pl.String(),
        "status": pl.String(),
        "created_time": TS,
    },
    "google_ads_ad_stats": {
        "tenant_id": pl.String(),
        "customer_id": pl.String(),
        "date": pl.Date(),
        "campaign_id": pl.String(),
        "campaign_name": pl.String(),
        "ad_group_id": pl.String(),
        "ad_group_name": pl.String(),
        "ad_id": pl.String(),
        "currency_code": pl.String(),
        "cost_micros": pl.Int64(),
        "impressions": pl.Int64(),
        "clicks": pl.Int64(),
        "conversions": pl.Float64(),
        "conversions_value": pl.Float64(),
    },
    "google_ads_campaigns": {
        "tenant_id": pl.String(),
        "customer_id": pl.String(),
        "campaign_id": pl.String(),
        "name": pl.String(),
        "status": pl.String(),
        "budget_id": pl.String(),
        "budget_amount_micros": pl.Int64(),
        "target_cpa_micros": pl.Int64(),
    },
    "google_ads_ad_groups": {
        "tenant_id": pl.String(),
        "customer_id": pl.String(),
        "campaign_id": pl.String(),
        "ad_group_id": pl.String(),
        "name": pl.String(),
        "status": pl.String(),
    },
    "google_ads_ads": {
        "tenant_id": pl.String(),
        "customer_id": pl.String(),
        "campaign_id": pl.String(),
        "ad_group_id": pl.String(),
        "ad_id": pl.String(),
        "name": pl.String(),
        "status": pl.String(),
    },
    "hubspot_contacts": {
        "tenant_id": pl.String(),
        "id": pl.String(),
        "email": pl.String(),
        "firstname": pl.String(),
        "lastname": pl.String(),
        "lifecyclestage": pl.String(),
        "anonymous_id": pl.String(),
        "createdate": TS,
        "lastmodifieddate": TS,
        "lead_date": TS,
        "mql_date": TS,
        "sql_date": TS,
        "opportunity_date": TS,
        "customer_date": TS,
        "archived": pl.Boolean(),
        "marketing_opt_in": pl.Boolean(),
        "opt_in_date": TS,
        "opt_out_date": TS,
        "archived_at": TS,
    },
    "hubspot_deals": {
        "tenant_id": pl.String(),
        "id": pl.String(),
        "contact_id": pl.String(),
        "dealname": pl.String(),
        "amount": MONEY,
        "dealstage": pl.String(),
        "pipeline": pl.String(),
        "createdate": TS,
        "closedate": TS,
        "lastmodifieddate": TS,
        "archived": pl.Boolean(),
    },
    "touchpoints": {
        "tenant_id": pl.String(),
        "event_id": pl.String(),
        "anonymous_id": pl.String(),
        "event_ts": TS,
        "event_type": pl.String(),
        "utm_source": pl.String(),
        "utm_medium": pl.String(),
        "utm_campaign": pl.String(),
        "landing_page": pl.String(),
    },
    "fx_rates": {
        "date": pl.Date(),
        "currency": pl.String(),
        "rate_to_usd": pl.Float64(),
    },
}

#: Unique key per raw table (duplicates beyond the first are quarantined).
UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    "meta_ads_insights": ("tenant_id", "account_id", "ad_id", "date_start"),
    "meta_ads_campaigns": ("tenant_id", "id"),
    "meta_ads_adsets": ("tenant_id", "id"),
    "meta_ads_ads": ("tenant_id", "id"),
    "google_ads_ad_stats": ("tenant_id", "customer_id", "ad_group_id", "ad_id", "date"),
    "google_ads_campaigns": ("tenant_id", "customer_id", "campaign_id"),
    "google_ads_ad_groups": ("tenant_id", "customer_id", "ad_group_id"),
    "google_ads_ads": ("tenant_id", "customer_id", "ad_group_id", "ad_id"),
    "hubspot_contacts": ("tenant_id", "id"),
    "hubspot_deals": ("tenant_id", "id"),
    "touchpoints": ("tenant_id", "event_id"),
    "fx_rates": ("date", "currency"),
}

# Columns that must be non-null strings of digits (platform ids).
_DIGIT_IDS: dict[str, tuple[str, ...]] = {
    "meta_ads_insights": ("account_id", "campaign_id", "adset_id", "ad_id"),
    "meta_ads_campaigns": ("account_id", "id"),
    "meta_ads_adsets": ("account_id", "id", "campaign_id"),
    "meta_ads_ads": ("account_id", "id", "adset_id", "campaign_id"),
    "google_ads_ad_stats": ("customer_id", "campaign_id", "ad_group_id", "ad_id"),
    "google_ads_campaigns": ("customer_id", "campaign_id"),
    "google_ads_ad_groups": ("customer_id", "campaign_id", "ad_group_id"),
    "google_ads_ads": ("customer_id", "campaign_id", "ad_group_id", "ad_id"),
    "hubspot_contacts": ("id",),
    "hubspot_deals": ("id",),
}
# Other columns that must be present (non-null).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "meta_ads_insights": ("tenant_id", "date_start", "spend", "impressions", "clicks"),
    "meta_ads_campaigns": ("tenant_id",),
    "meta_ads_adsets": ("tenant_id",),
    "meta_ads_ads": ("tenant_id",),
    "google_ads_ad_stats": ("tenant_id", "date", "cost_micros", "impressions", "clicks"),
    "google_ads_campaigns": ("tenant_id",),
    "google_ads_ad_groups": ("tenant_id",),
    "google_ads_ads": ("tenant_id",),
    "hubspot_contacts": ("tenant_id",),
    "hubspot_deals": ("tenant_id",),
    "touchpoints": ("tenant_id", "event_id", "anonymous_id", "event_ts", "event_type"),
    "fx_rates": ("date", "currency", "rate_to_usd"),
}
_NON_NEGATIVE: dict[str, tuple[str, ...]] = {
    "meta_ads_insights": ("spend", "impressions", "clicks", "conversions", "conversion_value"),
    "meta_ads_adsets": ("daily_budget", "bid_amount"),
    "google_ads_ad_stats": ("cost_micros", "impressions", "clicks", "conversions", "conversions_value"),
    "google_ads_campaigns": ("budget_amount_micros", "target_cpa_micros"),
    "hubspot_deals": ("amount",),
}
# Date/timestamp columns that may not lie after `as_of` (closedate may: open deals close in the future).
_NOT_FUTURE: dict[str, tuple[str, ...]] = {
    "meta_ads_insights": ("date_start",),
    "meta_ads_ads": ("created_time",),
    "google_ads_ad_stats": ("date",),
    "hubspot_contacts": (
        "createdate",
        "lastmodifieddate",
        "lead_date",
        "mql_date",
        "sql_date",
        "opportunity_date",
        "customer_date",
    ),
    "hubspot_deals": ("createdate", "lastmodifieddate"),
    "touchpoints": ("event_ts",),
    "fx_rates": ("date",),
}
_CURRENCY: dict[str, str] = {
    "meta_ads_insights": "account_currency",
    "google_ads_ad_stats": "currency_code",
    "fx_rates": "currency",
}
# ---- linkedin_ads, tiktok_ads (paid social; INTERFACES.md §7.3) ----
RAW_COLUMNS.update(
    {
        "linkedin_ads_creative_stats": {
            "tenant_id": pl.String(),
            "account_id": pl.String(),
            "date": pl.Date(),
            "campaign_group_id": pl.String(),
            "campaign_id": pl.String(),
            "creative_id": pl.String(),
            "currency": pl.String(),
            "cost_in_local_currency": MONEY,
            "impressions": pl.Int64(),
            "clicks": pl.Int64(),
            "external_website_conversions": pl.Float64(),
            "conversion_value_in_local_currency": MONEY,
        },
        "linkedin_ads_campaigns": {
            "tenant_id": pl.String(),
            "account_id": pl.String(),
            "id": pl.String(),
            "campaign_group_id": pl.String(),
            "name": pl.String(),
            "status": pl.String(),
            "daily_budget_amount": MONEY,
            "currency": pl.String(),
        },
        "linkedin_ads_campaign_groups": {
            "tenant_id": pl.String(),
            "account_id": pl.String(),
            "id": pl.String(),
            "name": pl.String(),
            "status": pl.String(),
        },
        "linkedin_ads_creatives": {
            "tenant_id": pl.String(),
            "account_id": pl.String(),
            "id": pl.String(),
            "campaign_id": pl.String(),
            "name": pl.String(),
            "status": pl.String(),
            "created_at": TS,
        },
        "tiktok_ads_ad_stats": {
            "tenant_id": pl.String(),
            "advertiser_id": pl.String(),
            "stat_time_day": pl.Date(),
            "campaign_id": pl.String(),
            "campaign_name": pl.String(),
            "adgroup_id": pl.String(),
            "adgroup_name": pl.String(),
            "ad_id": pl.String(),
            "ad_name": pl.String(),
            "currency": pl.String(),
            "spend": MONEY,
            "impressions": pl.Int64(),
            "clicks": pl.Int64(),
            "conversion": pl.Float64(),
            "total_purchase_value": MONEY,
        },
        "tiktok_ads_campaigns": {
            "tenant_id": pl.String(),
            "advertiser_id": pl.String(),
            "campaign_id": pl.String(),
            "campaign_name": pl.String(),
            "operation_status": pl.String(),
            "objective_type": pl.String(),
        },
        "tiktok_ads_adgroups": {
            "tenant_id": pl.String(),
            "advertiser_id": pl.String(),
            "adgroup_id": pl.String(),
            "campaign_id": pl.String(),
            "adgroup_name": pl.String(),
            "operation_status": pl.String(),
            "budget": MONEY,
            "budget_mode": pl.String(),
        },
        "tiktok_ads_ads": {
            "tenant_id": pl.String(),
            "advertiser_id": pl.String(),
            "ad_id": pl.String(),
            "adgroup_id": pl.String(),
            "campaign_id": pl.String(),
            "ad_name": pl.String(),
            "operation_status": pl.String(),
            "create_time": TS,
        },
    }
)
UNIQUE_KEYS.update(
    {
        "linkedin_ads_creative_stats": ("tenant_id", "account_id", "creative_id", "date"),
        "linkedin_ads_campaigns": ("tenant_id", "account_id", "id"),
        "linkedin_ads_campaign_groups": ("tenant_id", "account_id", "id"),
        "linkedin_ads_creatives": ("tenant_id", "account_id", "id"),
        "tiktok_ads_ad_stats": ("tenant_id", "advertiser_id", "ad_id", "stat_time_day"),
        "tiktok_ads_campaigns": ("tenant_id", "advertiser_id", "campaign_id"),
        "tiktok_ads_adgroups": ("tenant_id", "advertiser_id", "adgroup_id"),
        "tiktok_ads_ads": ("tenant_id", "advertiser_id", "ad_id"),
    }
)
_DIGIT_IDS.update(
    {
        "linkedin_ads_creative_stats": ("account_id", "campaign_group_id", "campaign_id", "creative_id"),
        "linkedin_ads_campaigns": ("account_id", "id", "campaign_group_id"),
        "linkedin_ads_campaign_groups": ("account_id", "id"),
        "linkedin_ads_creatives": ("account_id", "id", "campaign_id"),
        "tiktok_ads_ad_stats": ("advertiser_id", "campaign_id", "adgroup_id", "ad_id"),
        "tiktok_ads_campaigns": ("advertiser_id", "campaign_id"),
        "tiktok_ads_adgroups": ("advertiser_id", "adgroup_id", "campaign_id"),
        "tiktok_ads_ads": ("advertiser_id", "ad_id", "adgroup_id", "campaign_id"),
    }
)
_REQUIRED.update(
    {
        "linkedin_ads_creative_stats": (
            "tenant_id", "date", "currency", "cost_in_local_currency", "impressions", "clicks",
        ),
        "linkedin_ads_campaigns": ("tenant_id", "status"),
        "linkedin_ads_campaign_groups": ("tenant_id", "status"),
        "linkedin_ads_creatives": ("tenant_id", "status"),
        "tiktok_ads_ad_stats": ("tenant_id", "stat_time_day", "currency", "spend", "impressions", "clicks"),
        "tiktok_ads_campaigns": ("tenant_id", "operation_status"),
        "tiktok_ads_adgroups": ("tenant_id", "operation_status"),
        "tiktok_ads_ads": ("tenant_id", "operation_status"),
    }
)  # fmt: skip
_NON_NEGATIVE.update(
    {
        "linkedin_ads_creative_stats": (
            "cost_in_local_currency", "impressions", "clicks", "external_website_conversions",
            "conversion_value_in_local_currency",
        ),
        "linkedin_ads_campaigns": ("daily_budget_amount",),
        "tiktok_ads_ad_stats": ("spend", "impressions", "clicks", "conversion", "total_purchase_value"),
        "tiktok_ads_adgroups": ("budget",),
    }
)  # fmt: skip
_NOT_FUTURE.update(
    {
        "linkedin_ads_creative_stats": ("date",),
        "linkedin_ads_creatives": ("created_at",),
        "tiktok_ads_ad_stats": ("stat_time_day",),
    }
)
_CURRENCY.update(
    {
        "linkedin_ads_creative_stats": "currency",
        "linkedin_ads_campaigns": "currency",
        "tiktok_ads_ad_stats": "currency",
    }
)
# ---- end linkedin_ads, tiktok_ads ----

EVENT_TYPES: tuple[str, ...] = ("session", "lead")
EARLIEST_DATE = date(2000, 1, 1)
# Columns that must match a pattern / take one of a few values (table -> column -> rule).
_MATCHES: dict[str, dict[str, tuple[str, str]]] = {}
_ALLOWED: dict[str, dict[str, tuple[str, ...]]] = {}

# ---- files ----
# File imports (issue 3): offline conversions, erasure requests, mapped ad-report exports (§7.3).
# Emails arrive hashed (SHA-256 of the trimmed, lower-cased address): raw emails are never stored.
SHA256_HEX = r"^[0-9a-f]{64}$"
OFFLINE_LOCATIONS: tuple[str, ...] = ("store", "phone")
RAW_COLUMNS.update(
    {
        "offline_conversions": {
            "tenant_id": pl.String(),
            "order_id": pl.String(),
            "email_sha256": pl.String(),
            "contact_id": pl.String(),
            "conversion_ts": TS,
            "value": MONEY,
            "currency": pl.String(),
            "location": pl.String(),
        },
        "erasure_requests": {
            "tenant_id": pl.String(),
            "request_id": pl.String(),
            "email_sha256": pl.String(),
            "contact_id": pl.String(),
            "requested_at": TS,
        },
        "imported_ad_reports": {
            "tenant_id": pl.String(),
            "platform": pl.String(),
            "account_id": pl.String(),
            "date": pl.Date(),
            "campaign_id": pl.String(),
            "campaign_name": pl.String(),
            "ad_group_id": pl.String(),
            "ad_group_name": pl.String(),
            "ad_id": pl.String(),
            "ad_name": pl.String(),
            "currency": pl.String(),
            "spend": MONEY,
            "impressions": pl.Int64(),
            "clicks": pl.Int64(),
            "conversions": pl.Float64(),
            "conversion_value": MONEY,
            "mapping": pl.String(),
        },
    }
)
UNIQUE_KEYS.update(
    {
        "offline_conversions": ("tenant_id", "order_id"),
        "erasure_requests": ("tenant_id", "request_id"),
        "imported_ad_reports": (
            "tenant_id",
            "platform",
            "account_id",
            "date",
            "campaign_id",
            "ad_group_id",
            "ad_id",
        ),
    }
)
_DIGIT_IDS.update({"offline_conversions": (), "erasure_requests": (), "imported_ad_reports": ()})
_REQUIRED.update(
    {
        "offline_conversions": ("tenant_id", "order_id", "conversion_ts", "value", "currency"),
        "erasure_requests": ("tenant_id", "request_id", "requested_at"),
        "imported_ad_reports": (
            "tenant_id",
            "platform",
            "account_id",
            "date",
            "campaign_id",
            "currency",
            "spend",
            "impressions",
            "clicks",
            "mapping",
        ),
    }
)
_NON_NEGATIVE.update(
    {
        "offline_conversions": ("value",),
        "imported_ad_reports": ("spend", "impressions", "clicks", "conversions", "conversion_value"),
    }
)
_NOT_FUTURE.update(
    {
        "offline_conversions": ("conversion_ts",),
        "erasure_requests": ("requested_at",),
        "imported_ad_reports": ("date",),
    }
)
_CURRENCY.update({"offline_conversions": "currency", "imported_ad_reports": "currency"})
_MATCHES.update(
    {
        "offline_conversions": {
            "email_sha256": (SHA256_HEX, "must be a SHA-256 hex digest"),
            "contact_id": (r"^\d+$", "must be a string of digits"),
        },
        "erasure_requests": {
            "email_sha256": (SHA256_HEX, "must be a SHA-256 hex digest"),
            "contact_id": (r"^\d+$", "must be a string of digits"),
        },
    }
)
_ALLOWED.update({"offline_conversions": {"location": OFFLINE_LOCATIONS}})
# ---- end files ----
# ---- lift tests (issue 4): the measurement vendor's experiment read-outs (connectors/imports/lift_tests.py)
LIFT_TEST_KPIS: tuple[str, ...] = ("revenue", "conversions")
LIFT_TEST_METHODS: tuple[str, ...] = ("geo", "holdout", "scale")
RAW_COLUMNS["lift_tests"] = {
    "tenant_id": pl.String(),
    "test_id": pl.String(),
    "channel": pl.String(),
    "method": pl.String(),
    "kpi": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "incremental": pl.Float64(),  # KPI units: currency units (revenue) or a count (conversions)
    "standard_error": pl.Float64(),
    # KPI(treatment_spend_scale x BAU spend) - KPI(control_spend_scale x it); holdout/geo: 1.0 / 0.0
    "treatment_spend_scale": pl.Float64(),
    "control_spend_scale": pl.Float64(),
}
UNIQUE_KEYS["lift_tests"] = ("tenant_id", "test_id", "kpi")
_DIGIT_IDS["lift_tests"] = ()
_REQUIRED["lift_tests"] = (
    "tenant_id", "test_id", "channel", "kpi", "start_date", "end_date", "incremental", "standard_error",
    "treatment_spend_scale", "control_spend_scale",
)  # fmt: skip
_NON_NEGATIVE["lift_tests"] = ("standard_error", "treatment_spend_scale", "control_spend_scale")
_NOT_FUTURE["lift_tests"] = ("start_date", "end_date")
_ALLOWED["lift_tests"] = {"kpi": LIFT_TEST_KPIS, "method": LIFT_TEST_METHODS}
# ---- end lift tests ----

# ---- owned media (mailchimp, social) ---------------------------------------------------------------
_OWNED_COUNTS = ("emails_sent", "hard_bounces", "soft_bounces", "unsubscribed", "abuse_reports",
                 "opens_total", "unique_opens", "clicks_total", "unique_clicks")  # fmt: skip
_POST_COUNTS = ("reach", "impressions", "likes", "comments", "shares", "saves", "link_clicks")
SOCIAL_PLATFORMS: tuple[str, ...] = ("instagram", "facebook", "tiktok", "linkedin")
MAILCHIMP_TYPES: tuple[str, ...] = ("regular", "plaintext", "absplit", "rss", "variate", "automation")
RAW_COLUMNS.update(
    {
        "mailchimp_email_reports": {
            "tenant_id": pl.String(),
            "account_id": pl.String(),
            "campaign_id": pl.String(),
            "campaign_title": pl.String(),
            "type": pl.String(),
            "list_id": pl.String(),
            "send_time": TS,
            **{c: pl.Int64() for c in _OWNED_COUNTS},
        },
        "social_posts": {
            "tenant_id": pl.String(),
            "platform": pl.String(),
            "account_id": pl.String(),
            "post_id": pl.String(),
            "created_at": TS,
            "post_type": pl.String(),
            "message": pl.String(),
            "permalink": pl.String(),
            **{c: pl.Int64() for c in _POST_COUNTS},
        },
        "social_mentions": {
            "tenant_id": pl.String(),
            "platform": pl.String(),
            "mention_id": pl.String(),
            "created_at": TS,
            "author_handle": pl.String(),
            "author_followers": pl.Int64(),
            "text": pl.String(),
            "url": pl.String(),
            "likes": pl.Int64(),
            "reposts": pl.Int64(),
            "language": pl.String(),
        },
        "social_influencers": {
            "tenant_id": pl.String(),
            "platform": pl.String(),
            "influencer_id": pl.String(),
            "handle": pl.String(),
            "display_name": pl.String(),
            "followers": pl.Int64(),
            "engagement_rate": pl.Float64(),
            "avg_reach": pl.Int64(),
            "category": pl.String(),
            "country": pl.String(),
        },
    }
)
UNIQUE_KEYS.update(
    {
        "mailchimp_email_reports": ("tenant_id", "campaign_id"),
        "social_posts": ("tenant_id", "platform", "post_id"),
        "social_mentions": ("tenant_id", "platform", "mention_id"),
        "social_influencers": ("tenant_id", "platform", "influencer_id"),
    }
)
_DIGIT_IDS.update({"social_mentions": ("mention_id",), "social_influencers": ("influencer_id",)})
_REQUIRED.update(
    {
        "mailchimp_email_reports": (
            "tenant_id",
            "account_id",
            "campaign_id",
            "type",
            "send_time",
            "emails_sent",
        ),
        "social_posts": ("tenant_id", "platform", "account_id", "post_id", "created_at"),
        "social_mentions": ("tenant_id", "platform", "created_at"),
        "social_influencers": ("tenant_id", "platform", "followers"),
    }
)
_NON_NEGATIVE.update(
    {
        "mailchimp_email_reports": _OWNED_COUNTS,
        "social_posts": _POST_COUNTS,
        "social_mentions": ("author_followers", "likes", "reposts"),
        "social_influencers": ("followers", "engagement_rate", "avg_reach"),
    }
)
_NOT_FUTURE.update(
    {
        "mailchimp_email_reports": ("send_time",),
        "social_posts": ("created_at",),
        "social_mentions": ("created_at",),
    }
)
_ALLOWED.update(
    {
        "mailchimp_email_reports": {"type": MAILCHIMP_TYPES},
        "social_posts": {"platform": SOCIAL_PLATFORMS, "post_type": ("image", "video", "carousel", "text")},
        "social_mentions": {"platform": SOCIAL_PLATFORMS},
        "social_influencers": {"platform": SOCIAL_PLATFORMS},
    }
)
# ---- end owned media -------------------------------------------------------------------------------

# ---- budget history (issue 4): Meta activity log budget events; amounts in minor units ------------
META_BUDGET_EVENT_TYPES: tuple[str, ...] = (
    "create_campaign_group",
    "update_campaign_budget",
    "create_ad_set",
    "update_ad_set_budget",
)
RAW_COLUMNS["meta_ads_budget_changes"] = {
    "tenant_id": pl.String(),
    "account_id": pl.String(),
    "event_time": TS,  # UTC
    "event_date": pl.Date(),  # the account-local day the budget took effect
    "event_type": pl.String(),
    "object_type": pl.String(),  # CAMPAIGN | ADSET
    "object_id": pl.String(),
    "old_budget": pl.Int64(),  # minor units (2000 = 20.00); null on creation
    "new_budget": pl.Int64(),
    "currency": pl.String(),
}
UNIQUE_KEYS["meta_ads_budget_changes"] = ("tenant_id", "account_id", "object_id", "event_time", "event_type")
_DIGIT_IDS["meta_ads_budget_changes"] = ("account_id", "object_id")
_REQUIRED["meta_ads_budget_changes"] = ("tenant_id", "event_time", "event_date", "event_type", "new_budget")
_NON_NEGATIVE["meta_ads_budget_changes"] = ("old_budget", "new_budget")
_NOT_FUTURE["meta_ads_budget_changes"] = ("event_time",)
_ALLOWED["meta_ads_budget_changes"] = {
    "event_type": META_BUDGET_EVENT_TYPES,
    "object_type": ("CAMPAIGN", "ADSET"),
}
RAW_COLUMNS["google_ads_budget_changes"] = {
    "tenant_id": pl.String(),
    "customer_id": pl.String(),
    "resource_name": pl.String(),
    "change_date_time": TS,  # the account's time zone, as sent
    "change_date": pl.Date(),
    "campaign_id": pl.String(),
    "budget_id": pl.String(),
    "operation": pl.String(),  # CREATE | UPDATE | REMOVE
    "old_amount_micros": pl.Int64(),
    "new_amount_micros": pl.Int64(),
}
UNIQUE_KEYS["google_ads_budget_changes"] = ("tenant_id", "customer_id", "resource_name")
_DIGIT_IDS["google_ads_budget_changes"] = ("customer_id", "campaign_id", "budget_id")
_REQUIRED["google_ads_budget_changes"] = ("tenant_id", "resource_name", "change_date_time", "change_date")
_NON_NEGATIVE["google_ads_budget_changes"] = ("old_amount_micros", "new_amount_micros")
_NOT_FUTURE["google_ads_budget_changes"] = ("change_date",)
_ALLOWED["google_ads_budget_changes"] = {"operation": ("CREATE", "UPDATE", "REMOVE")}
# ---- end budget history ----


# ---------------------------------------------------------------------------------------------------
# Building raw frames
# ---------------------------------------------------------------------------------------------------
def table_name(name: str) -> str:
    short = name.split(".", 1)[1] if name.startswith("raw.") else name
    if short not in RAW_COLUMNS:
        raise KeyError(f"unknown raw table {name!r}; known: {', '.join(sorted(RAW_COLUMNS))}")
    return short


def empty_frame(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=RAW_COLUMNS[table_name(table)])


def frame_from_rows(
    table: str, rows: Sequence[Mapping[str, Any]], *, timestamp_strings: Iterable[str] = ()
) -> pl.DataFrame:
    """A frame with exactly the raw table's columns and dtypes from python rows (already converted:
    Decimal for money, date/datetime for dates, int for counts). Columns named in `timestamp_strings`
    hold ISO-8601 strings and are parsed vectorised (`parse_timestamps`)."""
    schema = RAW_COLUMNS[table_name(table)]
    if not rows:
        return pl.DataFrame(schema=schema)
    data = {col: [row.get(col) for row in rows] for col in schema}
    return frame_from_columns(table, data, timestamp_strings=timestamp_strings)


def frame_from_columns(
    table: str,
    columns: Mapping[str, Sequence[Any] | pl.Series],
    *,
    timestamp_strings: Iterable[str] = (),
) -> pl.DataFrame:
    """`frame_from_rows` for parsers that build columns: python lists (converted as in `frame_from_rows`)
    or Series already of the column's raw dtype (e.g. from `decimal_column` / `int_column`). A raw column
    not given is all null; all columns have the same length."""
    schema = RAW_COLUMNS[table_name(table)]
    height = next((len(v) for v in columns.values()), 0)
    if height == 0:
        return pl.DataFrame(schema=schema)
    ts_cols = set(timestamp_strings)
    series: list[pl.Series] = []
    for col, dtype in schema.items():
        values = columns.get(col)
        if values is None:
            series.append(pl.Series(col, [None] * height, dtype=dtype))
        elif col in ts_cols:
            text = (
                values if isinstance(values, pl.Series) else [None if v is None else str(v) for v in values]
            )
            series.append(pl.Series(col, text, dtype=pl.String(), strict=False))
        elif isinstance(values, pl.Series):
            series.append(values.alias(col) if values.dtype == dtype else values.cast(dtype).alias(col))
        else:
            series.append(pl.Series(col, values, dtype=dtype, strict=False))
    frame = pl.DataFrame(series)
    return parse_timestamp_columns(frame, [c for c in schema if c in ts_cols])


# A plain decimal / integer string that casts to the raw dtype exactly, without rounding or overflow:
# anything else goes through `to_decimal` / `to_int` one value at a time.
_PLAIN_MONEY = r"^-?[0-9]{1,16}(?:\.[0-9]{1,2})?$"
_PLAIN_INT = r"^-?[0-9]{1,18}$"


def decimal_column(name: str, values: Sequence[Any], scale: int = 2) -> pl.Series:
    """`[to_decimal(v, scale) for v in values]` as a Decimal(18, scale) Series, vectorised when every
    value is a plain decimal string with at most `scale` places (the platforms' money strings); exact."""
    dtype = pl.Decimal(18, scale)
    if scale == 2 and all(v is None or type(v) is str for v in values):
        text = pl.Series(name, values, dtype=pl.String())
        plain = text.str.contains(_PLAIN_MONEY)
        if plain.null_count() == text.null_count() and plain.all():
            return text.cast(dtype)
    return pl.Series(name, [to_decimal(v, scale) for v in values], dtype=dtype, strict=False)


def int_column(name: str, values: Sequence[Any]) -> pl.Series:
    """`[to_int(v) for v in values]` as an Int64 Series, vectorised for plain integer strings; exact."""
    if all(v is None or type(v) is str for v in values):
        text = pl.Series(name, values, dtype=pl.String())
        plain = text.str.contains(_PLAIN_INT)
        if plain.null_count() == text.null_count() and plain.all():
            return text.cast(pl.Int64())
    return pl.Series(
        name, [v if type(v) is int else to_int(v) for v in values], dtype=pl.Int64(), strict=False
    )


def to_decimal(value: Any, scale: int = 2) -> Decimal | None:
    """Exact decimal from a platform string ("53.39" -> Decimal('53.39')); None when absent/invalid."""
    if value is None or value == "":
        return None
    try:
        dec = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not dec.is_finite():
        return None
    return dec.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_EVEN)


def to_int(value: Any) -> int | None:
    """Exact int from "1234500" / 1234500 / "12.0"; None when absent or not integral."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        dec = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not dec.is_finite() or dec != dec.to_integral_value():
        return None
    return int(dec)


def to_float(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def to_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


_TS_UTC = pl.Datetime("us", "UTC")


def _timestamp_text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).str.strip_chars().str.replace(r"Z$", "+00:00")


def _iso_with_offset(text: pl.Expr) -> pl.Expr:
    # The first (and by far most common) form `parse_timestamps` tries: '2026-01-31T12:34:56.789+00:00'.
    return text.str.strptime(_TS_UTC, "%Y-%m-%dT%H:%M:%S%.f%z", strict=False)


def to_dates(values: Iterable[Any]) -> list[date | None]:
    """`[to_date(v) for v in values]`, converting each distinct date string once (a page of daily rows
    repeats a handful of dates)."""
    seen: dict[str, date | None] = {}
    out: list[date | None] = []
    for v in values:
        if type(v) is str:
            if v not in seen:
                seen[v] = to_date(v)
            out.append(seen[v])
        else:
            out.append(to_date(v))
    return out


def parse_timestamps(col: pl.Expr | str) -> pl.Expr:
    """Vectorised ISO-8601 (or epoch-millis) strings -> naive UTC Datetime(us); unparseable -> null.
    Handles '...Z', '+0000', '+02:00', fractional seconds, bare dates and HubSpot epoch millis."""
    expr = pl.col(col) if isinstance(col, str) else col
    s = _timestamp_text(expr)
    utc = _TS_UTC
    parsed = pl.coalesce(
        _iso_with_offset(s),
        s.str.strptime(utc, "%Y-%m-%d %H:%M:%S%.f%z", strict=False),
        s.str.strptime(TS, "%Y-%m-%dT%H:%M:%S%.f", strict=False).dt.replace_time_zone("UTC"),
        s.str.strptime(TS, "%Y-%m-%d %H:%M:%S%.f", strict=False).dt.replace_time_zone("UTC"),
        s.str.strptime(pl.Date, "%Y-%m-%d", strict=False).cast(TS).dt.replace_time_zone("UTC"),
        pl.when(s.str.contains(r"^\d{12,13}$"))
        .then(s.cast(pl.Int64, strict=False))
        .otherwise(None)
        .cast(pl.Datetime("ms"))
        .dt.cast_time_unit("us")
        .dt.replace_time_zone("UTC"),
    )
    return parsed.dt.replace_time_zone(None)


def parse_timestamp_columns(frame: pl.DataFrame, columns: Iterable[str]) -> pl.DataFrame:
    """`frame.with_columns(parse_timestamps(c).alias(c) for c in columns)`, same result, faster on the
    usual input: each column is first parsed with the common ISO-with-offset form alone, and only a column
    where that leaves some value unparsed is parsed again with every form `parse_timestamps` knows."""
    columns = list(columns)
    if not columns:
        return frame
    first = frame.select(
        _iso_with_offset(_timestamp_text(pl.col(c))).dt.replace_time_zone(None).alias(c) for c in columns
    )
    done: list[pl.Series] = []
    redo: list[str] = []
    for c in columns:
        parsed = first[c]
        if parsed.null_count() == frame[c].null_count():
            done.append(parsed)  # every value parsed with the first form: what the coalesce gives
        else:
            redo.append(c)
    if redo:
        done += frame.select(parse_timestamps(c).alias(c) for c in redo).get_columns()
    return frame.with_columns(done)


# ---------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------
class ContractError(ValueError):
    """The frame's shape is wrong (missing column, wrong dtype): a bug upstream, not a bad row."""


@dataclass
class ValidationResult:
    good: pl.DataFrame
    quarantine: pl.DataFrame  # record (JSON), field, reason
    warnings: list[str] = field(default_factory=list)

    @property
    def n_good(self) -> int:
        return self.good.height

    @property
    def n_quarantined(self) -> int:
        return self.quarantine.height

    def reasons(self) -> dict[str, int]:
        """Quarantine counts by reason (for the load log)."""
        if self.quarantine.is_empty():
            return {}
        counts = self.quarantine.group_by("reason").len().sort("reason")
        return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))


QUARANTINE_SCHEMA = {"record": pl.String(), "field": pl.String(), "reason": pl.String()}


def _as_of_bounds(as_of: date | datetime | None) -> tuple[date, datetime] | None:
    if as_of is None:
        return None
    if isinstance(as_of, datetime):
        ts = as_of.replace(tzinfo=None) if as_of.tzinfo is None else _to_naive_utc(as_of)
        return ts.date(), ts
    # a date: anything on that day is fine
    return as_of, datetime.combine(as_of + timedelta(days=1), datetime.min.time()) - timedelta(microseconds=1)


def _to_naive_utc(ts: datetime) -> datetime:
    from datetime import UTC

    return ts.astimezone(UTC).replace(tzinfo=None)


@cache
def _pandera():  # pragma: no cover - trivial
    import pandera.polars as pa

    return pa


def schema_for(table: str, as_of: date | datetime | None = None):
    """The pandera DataFrameSchema of one raw table (optionally with the not-in-the-future checks)."""
    pa = _pandera()
    name = table_name(table)
    dtypes = RAW_COLUMNS[name]
    digit_ids = set(_DIGIT_IDS.get(name, ()))
    required = set(_REQUIRED.get(name, ())) | digit_ids
    non_negative = set(_NON_NEGATIVE.get(name, ()))
    bounds = _as_of_bounds(as_of)
    columns = {}
    for col, dtype in dtypes.items():
        checks = []
        if col in digit_ids:
            checks.append(pa.Check.str_matches(r"^\d+$", error="must be a string of digits"))
        elif col in required and dtype == pl.String():
            checks.append(pa.Check.str_length(min_value=1, error="must not be empty"))
        if col in non_negative:
            checks.append(pa.Check.ge(0, error="must be >= 0"))
        if col == "event_type" and name == "touchpoints":
            checks.append(pa.Check.isin(EVENT_TYPES, error=f"must be one of {list(EVENT_TYPES)}"))
        if col in _MATCHES.get(name, {}):
            pattern, message = _MATCHES[name][col]
            checks.append(pa.Check.str_matches(pattern, error=message))
        if col in _ALLOWED.get(name, {}):
            allowed = _ALLOWED[name][col]
            checks.append(pa.Check.isin(allowed, error=f"must be one of {list(allowed)}"))
        if col == _CURRENCY.get(name):
            checks.append(pa.Check.str_matches(r"^[A-Z]{3}$", error="must be an ISO 4217 code"))
        if col == "rate_to_usd":
            checks.append(pa.Check.gt(0, error="must be > 0"))
        if dtype == pl.Date():
            checks.append(pa.Check.ge(EARLIEST_DATE, error=f"must be on or after {EARLIEST_DATE}"))
            if bounds and col in _NOT_FUTURE.get(name, ()):
                checks.append(pa.Check.le(bounds[0], error=f"must not be after as_of {bounds[0]}"))
        if dtype == TS:
            checks.append(
                pa.Check.ge(
                    datetime.combine(EARLIEST_DATE, datetime.min.time()),
                    error=f"must be on or after {EARLIEST_DATE}",
                )
            )
            if bounds and col in _NOT_FUTURE.get(name, ()):
                checks.append(pa.Check.le(bounds[1], error=f"must not be after as_of {bounds[1]}"))
        columns[col] = pa.Column(dtype, checks=checks, nullable=col not in required)

    frame_checks = []
    if {"clicks", "impressions"} <= set(dtypes):
        frame_checks.append(
            pa.Check(
                lambda d: d.lazyframe.select(
                    (pl.col("clicks") <= pl.col("impressions")).fill_null(True).alias("check")
                ),
                raise_warning=True,
                name="clicks_le_impressions",
                error="clicks > impressions",
            )
        )
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=False, coerce=False, name=name)


def _records_json(frame: pl.DataFrame) -> list[str]:
    return [json.dumps(row, default=str, sort_keys=True) for row in frame.to_dicts()]


def validate(frame: pl.DataFrame, table: str, *, as_of: date | datetime | None = None) -> ValidationResult:
    """Check `frame` against the contract of raw `table`.

    Row-level failures (null/non-digit ids, negative money or counts, dates before 2000 or after
    `as_of`, unknown event types, bad currency codes) and duplicate keys (all but the first occurrence)
    go to `quarantine` with field and reason; every other row is kept in `good`. clicks > impressions
    is only a warning. A wrong shape (missing column, wrong dtype) raises ContractError.
    """
    pa = _pandera()
    name = table_name(table)
    expected = RAW_COLUMNS[name]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise ContractError(f"{name}: missing columns {missing}")
    wrong = {c: str(frame.schema[c]) for c, t in expected.items() if frame.schema[c] != t}
    if wrong:
        raise ContractError(f"{name}: wrong dtypes {wrong}; expected {[str(expected[c]) for c in wrong]}")

    indexed = frame.with_row_index("__row")
    schema = schema_for(name, as_of)
    failures: dict[int, list[tuple[str, str]]] = {}
    found_warnings: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
            structural = cases.filter(pl.col("index").is_null())
            if structural.height:
                raise ContractError(f"{name}: {structural.select('column', 'check').to_dicts()}") from None
            for row in cases.iter_rows(named=True):
                column = row["column"] or "*"
                check = row["check"]
                reason = _reason(check, row["failure_case"])
                failures.setdefault(int(row["index"]), []).append((column, reason))
    for w in caught:
        if "clicks_le_impressions" in str(w.message) or "clicks > impressions" in str(w.message):
            n = frame.filter(pl.col("clicks") > pl.col("impressions")).height
            found_warnings.append(f"{name}: {n} row(s) with clicks > impressions")

    bad_idx = sorted(failures)
    quarantine_parts: list[pl.DataFrame] = []
    if bad_idx:
        bad = frame[bad_idx]
        fields_col = [", ".join(dict.fromkeys(f for f, _ in failures[i])) for i in bad_idx]
        reasons_col = ["; ".join(dict.fromkeys(f"{f}: {r}" for f, r in failures[i])) for i in bad_idx]
        quarantine_parts.append(
            pl.DataFrame(
                {"record": _records_json(bad), "field": fields_col, "reason": reasons_col},
                schema=QUARANTINE_SCHEMA,
            )
        )
    good = indexed.filter(~pl.col("__row").is_in(bad_idx)) if bad_idx else indexed

    key = UNIQUE_KEYS[name]
    dup_mask = good.select(pl.struct(list(key)).is_first_distinct().not_().alias("dup"))["dup"]
    if dup_mask.any():
        dups = good.filter(dup_mask).drop("__row")
        quarantine_parts.append(
            pl.DataFrame(
                {
                    "record": _records_json(dups),
                    "field": [", ".join(key)] * dups.height,
                    "reason": [f"duplicate key ({', '.join(key)}): kept the first occurrence"] * dups.height,
                },
                schema=QUARANTINE_SCHEMA,
            )
        )
        good = good.filter(~dup_mask)

    quarantine = pl.concat(quarantine_parts) if quarantine_parts else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return ValidationResult(good=good.drop("__row"), quarantine=quarantine, warnings=found_warnings)


def _reason(check: str | None, failure_case: Any) -> str:
    """A stable, aggregatable reason (the offending value is in `record`)."""
    text = str(check or "failed check")
    return "must not be null" if text == "not_nullable" else text


def validate_many(
    frames: Iterable[tuple[str, pl.DataFrame]], *, as_of: date | datetime | None = None
) -> dict[str, ValidationResult]:
    return {t: validate(f, t, as_of=as_of) for t, f in frames}
