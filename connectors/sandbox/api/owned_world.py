"""How the Mailchimp and social fake APIs find the owned-media tables of the world they serve.

The world generator saves `email_campaigns`, `social_posts`, `social_mentions` and `influencers` with the
world (docs/INTERFACES.md §7.1). A world saved without them (an older one, or a hand-made fixture of
another preset) still gets them: `build_owned_media` for its preset, seed and planned window, on the
builder's own random stream, cached per world. A world of an unknown preset serves none.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from connectors.sandbox.api.access import WorldAccess
from connectors.sandbox.owned import OWNED_SCHEMAS, empty_owned, owned_tables_for


def owned_table(access: WorldAccess, name: str) -> pl.DataFrame:
    if name not in OWNED_SCHEMAS:
        raise KeyError(f"not an owned-media table: {name!r}")
    world = access.world
    frame = getattr(world, name, None)
    if frame is None:
        tables = getattr(world, "tables", None)
        frame = tables.get(name) if isinstance(tables, dict) else None
    if isinstance(frame, pl.DataFrame):
        return frame
    built = access.cache.get(("owned_fallback",), [world], lambda: _fallback(world))
    return built.get(name, empty_owned(name))


def _fallback(world: Any) -> dict[str, pl.DataFrame]:
    from connectors.sandbox.presets import PRESETS

    meta = world.meta
    preset = PRESETS.get(meta.preset)
    if preset is None:
        return {}
    media = owned_tables_for(meta.preset, meta.seed, preset.start_date, preset.end_date)
    return media.tables if media is not None else {}
