"""A world with LinkedIn and TikTok rows, for as long as the generator does not make them itself.

`with_paid_social(world)` copies every Meta account, campaign, ad group, ad and delivery row to the
platforms `linkedin` and `tiktok` with new ids of the shape those platforms use (INTERFACES.md §7.1:
LinkedIn account 9 digits, campaign groups / campaigns 9 and creatives 10 digits; TikTok 19 digits
everywhere). A world that already has rows for a platform is left as it is for that platform, so the
same helper works before and after the generator learns them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from connectors.sandbox.world import World

PAID_SOCIAL = ("linkedin", "tiktok")
_ID_COLUMNS = ("account_id", "campaign_id", "ad_group_id", "ad_id")
_NAMES = {"linkedin": "LinkedIn", "tiktok": "TikTok"}


def _new_id(platform: str, column: str, rank: pl.Expr) -> pl.Expr:
    """Ids by rank of the Meta id: deterministic, the right number of digits, no clash between kinds."""
    if platform == "linkedin":
        base = {"account_id": 510_000_000, "campaign_id": 610_000_000, "ad_group_id": 710_000_000}
        start = base.get(column, 1_810_000_000)  # creatives: 10 digits
        return (pl.lit(start, dtype=pl.Int64) + rank).cast(pl.String)
    kind = _ID_COLUMNS.index(column) + 1
    return (pl.lit(7_000_000_000_000_000_000 + kind * 10**15, dtype=pl.UInt64) + rank).cast(pl.String)


def _id_maps(world: World, platform: str) -> dict[str, pl.DataFrame]:
    maps = {}
    for column, table in zip(_ID_COLUMNS, ("accounts", "campaigns", "ad_groups", "ads"), strict=True):
        ids = world.table(table).filter(pl.col("platform") == "meta").select(column).unique().sort(column)
        maps[column] = ids.with_columns(
            _new_id(platform, column, pl.int_range(1, pl.len() + 1, dtype=pl.Int64)).alias(f"new_{column}")
        )
    return maps


def _relabel(frame: pl.DataFrame, platform: str, maps: dict[str, pl.DataFrame]) -> pl.DataFrame:
    rows = frame.filter(pl.col("platform") == "meta").with_columns(pl.lit(platform).alias("platform"))
    for column in _ID_COLUMNS:
        if column in rows.columns:
            rows = (
                rows.join(maps[column], on=column, how="left", maintain_order="left")
                .with_columns(pl.col(f"new_{column}").alias(column))
                .drop(f"new_{column}")
            )
    if "name" in rows.columns:  # accounts
        rows = rows.with_columns(pl.col("name").str.replace(r"Meta$", _NAMES[platform]))
    return rows.select(frame.columns)


def with_paid_social(world: World) -> World:
    """`world` plus LinkedIn and TikTok copies of its Meta rows (platforms it already has are kept)."""
    tables = {name: world.table(name) for name in ("accounts", "campaigns", "ad_groups", "ads", "delivery")}
    present = set(world.accounts["platform"].unique().to_list())
    for platform in PAID_SOCIAL:
        if platform in present:
            continue
        maps = _id_maps(world, platform)
        for name, frame in list(tables.items()):
            tables[name] = pl.concat([frame, _relabel(world.table(name), platform, maps)])
    return replace(world, **tables)


def save_paid_social_world(source_dir: Path, target_dir: Path) -> Path:
    """Load the world at `source_dir`, add LinkedIn and TikTok, save it at `target_dir`."""
    return with_paid_social(World.load(Path(source_dir))).save(Path(target_dir))


def paid_social_state(tiny_world_root: Path, scratch: Path):
    """A fresh `SandboxState` on the tiny world with LinkedIn and TikTok (its own copy: writes persist)."""
    from connectors.sandbox.state import SandboxState
    from connectors.sandbox.world import world_dir

    target = Path(scratch) / "paid-world"
    if not target.exists():
        save_paid_social_world(world_dir(tiny_world_root, "tiny", 7), target)
    return SandboxState(target)


def add_paid_social_to_home(home: Path, preset: str = "tiny", seed: int = 7) -> Path:
    """Rewrite the world under `<home>/sandbox` with LinkedIn and TikTok rows (a no-op once it has them)."""
    from connectors.sandbox.world import world_dir

    target = world_dir(Path(home) / "sandbox", preset, seed)
    world = World.load(target)
    if not set(PAID_SOCIAL) <= set(world.accounts["platform"].unique().to_list()):
        with_paid_social(world).save(target)
    return target
