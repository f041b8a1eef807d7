"""`mos demo`: the sandbox world end to end, with progress while it runs and a summary at the end."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from rich.console import Console
from rich.table import Table

from pipelines.settings import Settings
from pipelines.warehouse import connect


@dataclass
class StageTimer:
    """Wall time per stage, in the order they ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


class _ProgressHandler(logging.Handler):
    """Turns Dagster's step events into one line per finished step (and notes retries/failures)."""

    def __init__(self, console: Console, step_seconds: dict[str, float]):
        super().__init__(level=logging.DEBUG)
        self.console = console
        self.step_seconds = step_seconds
        self._started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key")
        if event is None:
            # An asset's own warning or error (a rejected file, a failed decision) is worth a line.
            if record.levelno >= logging.WARNING:
                colour = "red" if record.levelno >= logging.ERROR else "yellow"
                self.console.print(
                    f"    [{colour}]{meta.get('orig_message', record.getMessage())}[/{colour}]",
                    highlight=False,
                )
            return
        if step is None:
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self._started[step] = time.perf_counter()
            self.console.print(f"  [dim]…[/dim] {step}", highlight=False)
        elif kind == "STEP_SUCCESS":
            took = time.perf_counter() - self._started.get(step, time.perf_counter())
            self.step_seconds[step] = took
            self.console.print(f"  [green]✓[/green] {step} [dim]{took:6.1f} s[/dim]", highlight=False)
        elif kind in {"STEP_FAILURE", "STEP_UP_FOR_RETRY"}:
            self.console.print(f"  [red]✗[/red] {step}: {kind.lower()}", highlight=False)


def _progress_logger(console: Console, step_seconds: dict[str, float]) -> dg.LoggerDefinition:
    @dg.logger(description="one line per step, for the demo")
    def progress(_init_context: dg.InitLoggerContext) -> logging.Logger:
        log = logging.getLogger("mos.demo.progress")
        log.setLevel(logging.DEBUG)
        log.handlers = [_ProgressHandler(console, step_seconds)]
        log.propagate = False
        return log

    return progress


def materialize_range(
    settings: Settings,
    start: date | None,
    end: date | None,
    *,
    console: Console | None = None,
    step_seconds: dict[str, float] | None = None,
    selection: str | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize every asset (or the job `selection`) for the daily partitions [start, end] in ONE
    in-process run; `start` and `end` None: a job of unpartitioned assets (`weekly_refit`).

    Ingest assets have single-run backfill policies, so the whole range is one step per source; the
    warehouse has one writer, so the run is in-process and sequential.
    """
    from pipelines.definitions import build_definitions

    console = console or Console(quiet=True)
    logger = _progress_logger(console, step_seconds if step_seconds is not None else {})
    defs = build_definitions(settings, loggers={"progress": logger})
    job = defs.resolve_job_def("materialize_all" if selection is None else selection)
    if (start is None) != (end is None):
        raise ValueError(f"materialize_range: give both start and end or neither (got {start}, {end})")
    tags = (
        {}
        if start is None or end is None
        else {
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        }
    )
    return job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags=tags,
        raise_on_error=False,
        run_config={"loggers": {"progress": {}}},
    )


@dataclass
class DemoReport:
    exit_code: int
    seconds: dict[str, float]
    step_seconds: dict[str, float]


def run_demo(settings: Settings, *, console: Console | None = None) -> DemoReport:
    from connectors.sandbox.generator import ensure_world
    from connectors.sandbox.world import WorldMeta
    from pipelines.dbt import prepare_manifest

    # dbt's own output is kept in the run log; the terminal shows one line per step.
    console = console or Console(file=sys.stdout)
    timer = StageTimer()
    step_seconds: dict[str, float] = {}
    wall = time.perf_counter()
    console.rule("[bold]Marketing OS demo")
    console.print(
        f"sandbox preset [bold]{settings.preset}[/bold] (seed {settings.seed}), "
        f"dry run {'on' if settings.dry_run else 'OFF'}"
    )

    world_dir = timer.run(
        "sandbox world", lambda: ensure_world(settings.preset, settings.seed, settings.sandbox_dir)
    )
    meta = WorldMeta.from_json((Path(world_dir) / "meta.json").read_text())
    console.print(
        f"[green]✓[/green] sandbox world {world_dir} ({meta.start_date} → {meta.end_date}) "
        f"[dim]{timer.seconds['sandbox world']:.1f} s[/dim]"
    )
    timer.run("dbt parse", lambda: prepare_manifest(settings))
    console.print(f"[green]✓[/green] dbt manifest ready [dim]{timer.seconds['dbt parse']:.1f} s[/dim]")
    log_path = settings.home / "logs" / "demo-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"materializing every asset (one in-process Dagster run; dbt's log: {log_path}):")
    with log_path.open("w") as log_file, contextlib.redirect_stdout(log_file):
        result = timer.run(
            "dagster run",
            lambda: materialize_range(
                settings, meta.start_date, meta.end_date, console=console, step_seconds=step_seconds
            ),
        )
    if not result.success:
        console.print(f"[red]the run failed[/red] (full log: {log_path}); failing steps:")
        for event in result.all_events:
            if event.event_type_value == "STEP_FAILURE":
                console.print(f"  {event.step_key}: {event.event_specific_data.error.message.strip()[:2000]}")
        return DemoReport(1, timer.seconds, step_seconds)
    timer.seconds["total"] = time.perf_counter() - wall
    print_summary(settings, timer, step_seconds, console)
    return DemoReport(0, timer.seconds, step_seconds)


def print_summary(
    settings: Settings, timer: StageTimer, step_seconds: dict[str, float], console: Console
) -> None:
    with connect(settings.warehouse, read_only=True) as con:
        layers = con.execute(
            """
            select schema_name, count(*) as tables, sum(estimated_size) as rows
            from duckdb_tables() where database_name = current_database()
            group by 1 order by 1
            """
        ).fetchall()
        channels = con.execute(
            """
            select tenant_id, currency, channel, sum(spend)::double, sum(attributed_revenue)::double,
                   sum(attributed_conversions)::double
            from marts.fct_channel_daily group by all order by tenant_id, sum(spend) desc, channel
            """
        ).fetchall()
        decisions = con.execute(
            "select status, count(*) from activation.decisions group by 1 order by 1"
        ).fetchall()
        quarantined = con.execute("select count(*) from ops.quarantine").fetchone()[0]

    table = Table(title="rows per layer", show_edge=False)
    for col in ("schema", "tables", "rows"):
        table.add_column(col, justify="right" if col != "schema" else "left")
    for schema, n_tables, rows in layers:
        table.add_row(schema, str(n_tables), f"{int(rows or 0):,}")
    console.print(table)

    table = Table(title="spend, revenue and ROAS by channel (warehouse, last touch)", show_edge=False)
    for col in ("tenant", "channel", "cur", "spend", "revenue", "conv.", "ROAS"):
        table.add_column(
            col, justify="left" if col in {"tenant", "channel", "cur"} else "right", no_wrap=True
        )
    for tenant, currency, channel, spend, revenue, conversions in channels:
        roas = f"{revenue / spend:.2f}" if spend else "—"
        table.add_row(
            tenant, channel, currency, f"{spend:,.0f}", f"{revenue:,.0f}", f"{conversions:,.0f}", roas
        )
    console.print(table)

    summary = ", ".join(f"{n} {status}" for status, n in decisions) or "none"
    console.print(
        f"decisions: {summary} (dry run {'on' if settings.dry_run else 'off'}); "
        f"quarantined rows: {quarantined}"
    )
    console.print(f"warehouse: {settings.warehouse}")
    console.print(f"serving snapshot: {settings.serving}")
    console.print("dashboard:  make dashboard  →  http://127.0.0.1:8501")
    console.print("Dagster UI: make dev        →  http://127.0.0.1:3000")

    table = Table(title="wall time", show_edge=False)
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for name, secs in timer.seconds.items():
        if name != "total":
            table.add_row(name, f"{secs:.1f}")
    for step, secs in sorted(step_seconds.items(), key=lambda kv: -kv[1]):
        table.add_row(f"  {step}", f"{secs:.1f}")
    table.add_row("total", f"{timer.seconds.get('total', 0):.1f}")
    console.print(table)
