"""Run-time settings, read once from the environment (docs/INTERFACES.md §0).

Secrets are not settings: platform tokens are read where a client is built (see `tenants.py`), so a
`Settings` object can be printed or logged without leaking anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


# Days each daily run re-pulls, per source: platforms restate recent days (Meta up to 28).
DEFAULT_LOOKBACK_DAYS: dict[str, int] = {"meta_ads": 28, "google_ads": 7, "default": 7}


def _lookback(raw: str | None) -> dict[str, int]:
    """MOS_LOOKBACK_DAYS="meta_ads=28,google_ads=7" over the defaults."""
    days = dict(DEFAULT_LOOKBACK_DAYS)
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not value.strip().isdigit():
            raise ValueError(f"MOS_LOOKBACK_DAYS: expected source=days, got {part!r}")
        days[name.strip()] = int(value)
    return days


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse: Path
    landing: Path
    inbox: Path
    serving: Path
    sandbox_dir: Path
    mode: str
    preset: str
    seed: int
    dry_run: bool
    fault_rate: float
    fault_timeout_mode: str = "before"
    fault_kinds: str = ""  # comma-separated sandbox fault kinds; empty = the transient ones
    lookback_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LOOKBACK_DAYS))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        home = Path(env.get("MOS_HOME", "data")).expanduser()
        if not home.is_absolute():
            home = (Path.cwd() / home).resolve()

        def path(name: str, default: Path) -> Path:
            raw = env.get(name)
            return Path(raw).expanduser().resolve() if raw else default

        mode = env.get("MOS_MODE", "sandbox").strip().lower()
        if mode not in {"sandbox", "live"}:
            raise ValueError(f"MOS_MODE must be 'sandbox' or 'live', got {mode!r}")
        return cls(
            home=home,
            warehouse=path("MOS_WAREHOUSE", home / "warehouse.duckdb"),
            landing=path("MOS_LANDING", home / "landing"),
            inbox=path("MOS_INBOX", home / "inbox"),
            serving=path("MOS_SERVING", home / "serving" / "snapshot.duckdb"),
            sandbox_dir=path("MOS_SANDBOX_DIR", home / "sandbox"),
            mode=mode,
            preset=env.get("MOS_PRESET", "demo"),
            seed=int(env.get("MOS_SEED", "7")),
            dry_run=_flag(env.get("MOS_DRY_RUN"), default=True),
            fault_rate=float(env.get("MOS_FAULT_RATE", "0") or 0),
            fault_timeout_mode=env.get("MOS_FAULT_TIMEOUT_MODE", "before"),
            fault_kinds=env.get("MOS_FAULT_KINDS", ""),
            lookback_days=_lookback(env.get("MOS_LOOKBACK_DAYS")),
        )

    def as_env(self) -> dict[str, str]:
        """The same settings as environment variables (for dbt, which reads MOS_WAREHOUSE)."""
        return {
            "MOS_HOME": str(self.home),
            "MOS_WAREHOUSE": str(self.warehouse),
            "MOS_LANDING": str(self.landing),
            "MOS_INBOX": str(self.inbox),
            "MOS_SERVING": str(self.serving),
            "MOS_SANDBOX_DIR": str(self.sandbox_dir),
            "MOS_MODE": self.mode,
            "MOS_PRESET": self.preset,
            "MOS_SEED": str(self.seed),
            "MOS_DRY_RUN": "1" if self.dry_run else "0",
            "MOS_FAULT_RATE": str(self.fault_rate),
            "MOS_FAULT_TIMEOUT_MODE": self.fault_timeout_mode,
            "MOS_FAULT_KINDS": self.fault_kinds,
            "MOS_LOOKBACK_DAYS": ",".join(f"{k}={v}" for k, v in sorted(self.lookback_days.items())),
        }
