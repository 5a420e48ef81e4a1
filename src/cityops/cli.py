"""The ``cityops`` command. Capabilities add their own sub-commands through the ``register_cli`` hook."""

from __future__ import annotations

from typing import Annotated

import typer

# Re-exported for the callers that still import them from here; capabilities import cityops.cli_options.
from cityops.cli_options import DataDirOpt as DataDirOpt
from cityops.cli_options import console as console
from cityops.cli_options import settings_from_cli as settings_from_cli

cli = typer.Typer(help="cityops — smart-city services platform.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    data_dir: DataDirOpt = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: CITYOPS_WORKERS, else 1).")
    ] = None,
) -> None:
    """Serve the API and web front ends."""
    import os

    import uvicorn

    settings = settings_from_cli(data_dir, host=host, port=port, workers=workers)
    workers = settings.workers
    if data_dir is not None:
        os.environ["CITYOPS_DATA_DIR"] = str(data_dir)
    if workers > 1 and settings.bus.value == "memory":
        console.print(
            "[yellow]Several workers with the in-process bus: each worker's consumers see only its own "
            "events. Use CITYOPS_BUS=nats with more than one worker (docs/deployment.md).[/yellow]"
        )
    console.print(f"cityops serving on http://{settings.host}:{settings.port} ({settings.env.value})")
    uvicorn.run(
        "cityops.app:served_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,  # in-flight work drains; live streams are cut after this
        # cityops.urls.ForwardedHeadersMiddleware reads X-Forwarded-* from CITYOPS_TRUSTED_PROXIES (the
        # host too, which uvicorn's own handling ignores); uvicorn rewriting first would hide the proxy.
        proxy_headers=False,
    )


@db_cli.command("upgrade")
def db_upgrade(data_dir: DataDirOpt = None, revision: str = "head") -> None:
    """Apply database migrations, then write every plugin's declarations (categories, rule templates,
    observed properties, place types, indicators) into their tables."""
    from cityops.db import make_engine, make_sessionmaker
    from cityops.migrate import upgrade
    from cityops.plugins import sync_declarations

    settings = settings_from_cli(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with console.status("Migrating the database…"):
        upgrade(settings.effective_database_url, revision)
    if revision == "head":  # an older schema may lack the tables the declarations go to
        engine = make_engine(settings.effective_database_url)
        try:
            sync_declarations(make_sessionmaker(engine))
        finally:
            engine.dispose()
    console.print("[green]Database is up to date.[/green]")


@cli.command()
def demo(data_dir: DataDirOpt = None) -> None:
    """Load the pilot demo data (Tây Ninh / former Long An). Safe to run again."""
    from cityops.demo.loader import load_demo

    settings = settings_from_cli(data_dir)
    load_demo(settings, console)


def main() -> None:
    from cityops.plugins import plugin_manager

    plugin_manager().hook.register_cli(cli=cli)
    cli()
