"""`mos`: the command line of Marketing OS."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer

app = typer.Typer(
    help="Marketing OS: marketing analytics and activation on a local warehouse.",
    no_args_is_help=True,
    add_completion=False,
)
sandbox_app = typer.Typer(
    help="The simulated marketing world and its fake platform APIs.", no_args_is_help=True
)
app.add_typer(sandbox_app, name="sandbox")


def _settings(preset: str | None = None, seed: int | None = None):
    import os

    from pipelines.settings import Settings

    if preset is not None:
        os.environ["MOS_PRESET"] = preset
    if seed is not None:
        os.environ["MOS_SEED"] = str(seed)
    return Settings.from_env()


@app.command()
def demo(
    preset: Annotated[str | None, typer.Option(help="sandbox preset (default: MOS_PRESET or demo)")] = None,
    seed: Annotated[int | None, typer.Option(help="sandbox seed (default: MOS_SEED or 7)")] = None,
) -> None:
    """Generate the sandbox world (if absent) and materialize every asset end to end."""
    from pipelines.demo import run_demo

    raise typer.Exit(run_demo(_settings(preset, seed)).exit_code)


@app.command()
def run(
    start: Annotated[
        str | None, typer.Option(help="first day (YYYY-MM-DD); default: today minus the look-back")
    ] = None,
    end: Annotated[str | None, typer.Option(help="last day (YYYY-MM-DD); default: yesterday")] = None,
    lookback_days: Annotated[int, typer.Option(help="days re-pulled for platform restatements")] = 7,
) -> None:
    """Materialize every asset for a window of daily partitions (what the daily schedule runs)."""
    from rich.console import Console

    from pipelines.demo import materialize_range

    last = date.fromisoformat(end) if end else date.today() - timedelta(days=1)
    first = date.fromisoformat(start) if start else last - timedelta(days=lookback_days - 1)
    console = Console()
    result = materialize_range(_settings(), first, last, console=console)
    raise typer.Exit(0 if result.success else 1)


@app.command()
def prepare() -> None:
    """Parse the dbt project if it changed (so Dagster loads a ready manifest)."""
    from pipelines.dbt import prepare_manifest

    typer.echo(prepare_manifest(_settings()))


@sandbox_app.command("generate")
def sandbox_generate(
    preset: Annotated[str, typer.Option(help="tiny | demo | large | xl")] = "demo",
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Generate (or reuse) a sandbox world and print where it is."""
    from connectors.sandbox.generator import ensure_world

    typer.echo(ensure_world(preset, seed, _settings().sandbox_dir))


@sandbox_app.command("serve")
def sandbox_serve(
    preset: Annotated[str | None, typer.Option()] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    host: Annotated[str, typer.Option(help="loopback only")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8765,
    fault_rate: Annotated[
        float, typer.Option(help="share of requests answered with an injected fault")
    ] = 0.0,
    fault_seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Serve the fake Meta, Google Ads and HubSpot APIs on a loopback port."""
    from connectors.sandbox.api import FaultConfig, serve
    from connectors.sandbox.generator import ensure_world
    from connectors.sandbox.state import SandboxState

    settings = _settings(preset, seed)
    state = SandboxState(ensure_world(settings.preset, settings.seed, settings.sandbox_dir))
    faults = FaultConfig(rate=fault_rate, seed=fault_seed) if fault_rate > 0 else None
    typer.echo(f"serving the {settings.preset} world on http://{host}:{port} (/meta, /google-ads, /hubspot)")
    serve(state, host=host, port=port, faults=faults)


if __name__ == "__main__":
    app()
