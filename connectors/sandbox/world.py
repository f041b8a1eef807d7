"""The sandbox world as data: a set of polars tables plus its ground truth, saved as Parquet.

`World` is the container every other sandbox piece shares: the generator fills it, the fake APIs
serve it, the state layer extends it after writes. Table schemas are pinned in docs/INTERFACES.md §1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path

import polars as pl

from connectors.sandbox.schema import WORLD_SCHEMAS

WORLD_TABLES: tuple[str, ...] = (
    "tenants",
    "accounts",
    "campaigns",
    "ad_groups",
    "ads",
    "delivery",
    "fx_rates",
    "contacts",
    "deals",
    "touchpoints",
    "email_campaigns",
    "social_posts",
    "social_mentions",
    "influencers",
    "erasure_requests",
    "offline_conversions",
)
TRUTH_TABLES: tuple[str, ...] = ("channel_params", "channel_daily", "baseline_daily", "roi")
# Tables added by issue 3: optional in `World(...)` (empty with their schema when not given).
OPTIONAL_TABLES: tuple[str, ...] = WORLD_TABLES[10:]


def _empty(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema=WORLD_SCHEMAS[name])


@dataclass
class WorldMeta:
    preset: str
    seed: int
    start_date: date
    end_date: date
    generator_version: str = "1"

    def to_json(self) -> str:
        return json.dumps(
            {
                "preset": self.preset,
                "seed": self.seed,
                "start_date": self.start_date.isoformat(),
                "end_date": self.end_date.isoformat(),
                "generator_version": self.generator_version,
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> WorldMeta:
        raw = json.loads(text)
        return cls(
            preset=raw["preset"],
            seed=int(raw["seed"]),
            start_date=date.fromisoformat(raw["start_date"]),
            end_date=date.fromisoformat(raw["end_date"]),
            generator_version=raw.get("generator_version", "1"),
        )


@dataclass
class World:
    meta: WorldMeta
    tenants: pl.DataFrame
    accounts: pl.DataFrame
    campaigns: pl.DataFrame
    ad_groups: pl.DataFrame
    ads: pl.DataFrame
    delivery: pl.DataFrame
    fx_rates: pl.DataFrame
    contacts: pl.DataFrame
    deals: pl.DataFrame
    touchpoints: pl.DataFrame
    truth: dict[str, pl.DataFrame] = field(default_factory=dict)
    email_campaigns: pl.DataFrame = field(default_factory=lambda: _empty("email_campaigns"))
    social_posts: pl.DataFrame = field(default_factory=lambda: _empty("social_posts"))
    social_mentions: pl.DataFrame = field(default_factory=lambda: _empty("social_mentions"))
    influencers: pl.DataFrame = field(default_factory=lambda: _empty("influencers"))
    erasure_requests: pl.DataFrame = field(default_factory=lambda: _empty("erasure_requests"))
    offline_conversions: pl.DataFrame = field(default_factory=lambda: _empty("offline_conversions"))

    def table(self, name: str) -> pl.DataFrame:
        if name not in WORLD_TABLES:
            raise KeyError(f"unknown world table {name!r}; expected one of {WORLD_TABLES}")
        return getattr(self, name)

    def save(self, directory: Path) -> Path:
        """Write the world byte-for-byte reproducibly (no timestamps, fixed compression, sorted keys)."""
        directory = Path(directory)
        (directory / "world").mkdir(parents=True, exist_ok=True)
        (directory / "truth").mkdir(parents=True, exist_ok=True)
        (directory / "meta.json").write_text(self.meta.to_json() + "\n")
        for name in WORLD_TABLES:
            _write_parquet(self.table(name), directory / "world" / f"{name}.parquet")
        for name, frame in sorted(self.truth.items()):
            _write_parquet(frame, directory / "truth" / f"{name}.parquet")
        return directory

    @classmethod
    def load(cls, directory: Path) -> World:
        directory = Path(directory)
        meta_path = directory / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"no sandbox world at {directory} (missing meta.json)")
        tables = {
            name: pl.read_parquet(directory / "world" / f"{name}.parquet")
            for name in WORLD_TABLES
            if name not in OPTIONAL_TABLES or (directory / "world" / f"{name}.parquet").exists()
        }
        truth = {p.stem: pl.read_parquet(p) for p in sorted((directory / "truth").glob("*.parquet"))}
        return cls(meta=WorldMeta.from_json(meta_path.read_text()), truth=truth, **tables)

    def field_names(self) -> list[str]:
        return [f.name for f in fields(self)]


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    # Statistics off and fixed compression so the same data always gives the same bytes.
    frame.write_parquet(path, compression="zstd", compression_level=3, statistics=False)


def world_dir(root: Path, preset: str, seed: int) -> Path:
    return Path(root) / f"{preset}-s{seed}"
