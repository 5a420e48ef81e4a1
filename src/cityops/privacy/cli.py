"""``cityops privacy …``: the retention sweep."""

from __future__ import annotations

import typer
from rich.console import Console

from cityops.cli_options import DataDirOpt, settings_from_cli

privacy_cli = typer.Typer(help="Personal data: retention.", no_args_is_help=True)


@privacy_cli.command("sweep")
def sweep(data_dir: DataDirOpt = None) -> None:
    """Remove personal data older than `privacy_retention_days` (every capability's, `personal_data` hook)."""
    from cityops.db import make_engine, make_sessionmaker, session_scope
    from cityops.privacy.service import retention_sweep

    settings = settings_from_cli(data_dir)
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            stats = retention_sweep(session, settings)
    finally:
        engine.dispose()
    cleared = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in stats.counts.items()) or "nothing"
    Console(stderr=True, highlight=False).print(
        f"Retention sweep: {cleared} cleared (personal data over {settings.privacy_retention_days} days old)."
    )
