"""``cityops reports …``: sync the sector categories, run the SLA sweep (for cron or a systemd timer)."""

from __future__ import annotations

import typer

reports_cli = typer.Typer(help="Citizen reports (cases).", no_args_is_help=True)


@reports_cli.command("sync-categories")
def sync_categories_cmd() -> None:
    """Write the categories the sector plugins declare into the database."""
    from cityops.cli_options import console, settings_from_cli
    from cityops.db import make_engine, make_sessionmaker, session_scope
    from cityops.reports.categories import sync_categories

    settings = settings_from_cli()
    engine = make_engine(settings.effective_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        count = sync_categories(session)
    engine.dispose()
    console.print(f"{count} case categories are active.")


@reports_cli.command("sweep-sla")
def sweep_sla_cmd() -> None:
    """Warn before SLA breaches, flag overdue cases and escalate them to supervisors (once each)."""
    from cityops.cli_options import console, settings_from_cli
    from cityops.clock import utcnow
    from cityops.db import make_engine, make_sessionmaker, session_scope
    from cityops.reports.sla import sweep_sla

    settings = settings_from_cli()
    engine = make_engine(settings.effective_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        result = sweep_sla(session, utcnow(), settings)
    engine.dispose()
    console.print(
        f"warned {len(result.warned)}, overdue {len(result.overdue)}, escalated {len(result.escalated)}"
    )
