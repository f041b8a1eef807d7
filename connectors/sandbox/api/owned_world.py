"""How the Mailchimp and social fake APIs read the owned-media tables of the world they serve.

The world generator builds `email_campaigns`, `social_posts`, `social_mentions` and `influencers`
(connectors/sandbox/owned.py through media.py; docs/INTERFACES.md §7.1). A state whose world lacks one
(a hand-made fixture) serves it empty rather than failing.
"""

from __future__ import annotations

import polars as pl

from connectors.sandbox.api.access import WorldAccess
from connectors.sandbox.owned import OWNED_SCHEMAS, empty_owned


def owned_table(access: WorldAccess, name: str) -> pl.DataFrame:
    if name not in OWNED_SCHEMAS:
        raise KeyError(f"not an owned-media table: {name!r}")
    frame = getattr(access.world, name, None)
    return frame if isinstance(frame, pl.DataFrame) else empty_owned(name)
