"""``cityops events …``: look at the outbox, publish what is pending, prune old rows."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from cityops.cli_options import DataDirOpt, settings_from_cli
from cityops.clock import format_datetime
from cityops.db import make_engine, make_sessionmaker
from cityops.events.bus import make_bus
from cityops.events.models import OutboxEvent
from cityops.events.outbox import OutboxRelay
from cityops.settings import Settings

events_cli = typer.Typer(help="Event bus and transactional outbox.", no_args_is_help=True)


def _relay(settings: Settings) -> OutboxRelay:
    engine = make_engine(settings.effective_database_url, pool_size=2)
    return OutboxRelay(
        make_sessionmaker(engine),
        make_bus(settings),
        retention=timedelta(hours=settings.outbox_retention_hours),
    )


@events_cli.command("status")
def status_cmd(data_dir: DataDirOpt = None) -> None:
    """Pending and published outbox events, the oldest pending one and its last error."""
    settings = settings_from_cli(data_dir)
    relay = _relay(settings)
    with relay.sessions() as session:
        pending = session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        )
        published = session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_not(None))
        )
        oldest = session.scalars(
            select(OutboxEvent).where(OutboxEvent.published_at.is_(None)).order_by(OutboxEvent.id).limit(1)
        ).first()
    table = Table("what", "value", title="Outbox")
    table.add_row("bus", settings.bus.value)
    table.add_row("pending", str(pending or 0))
    table.add_row("published (kept)", str(published or 0))
    if oldest is not None:
        table.add_row("oldest pending", f"{oldest.subject} at {format_datetime(oldest.occurred_at)}")
        table.add_row("its attempts", str(oldest.attempts))
        table.add_row("its last error", oldest.last_error or "-")
    Console(highlight=False).print(table)


@events_cli.command("relay")
def relay_cmd(data_dir: DataDirOpt = None) -> None:
    """Publish every pending outbox event now (what a running server does by itself)."""
    settings = settings_from_cli(data_dir)
    relay = _relay(settings)

    async def run() -> int:
        await relay.bus.start()
        try:
            return await relay.relay_pending()
        finally:
            await relay.bus.close()

    console = Console(stderr=True, highlight=False)
    try:
        published = asyncio.run(run())
    except RuntimeError as exc:  # the bus cannot be reached: nothing was lost, say why
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    left = relay.pending_count()
    console.print(f"Published {published} event(s); {left} still pending.")
    if left:
        raise typer.Exit(1)


@events_cli.command("prune")
def prune_cmd(data_dir: DataDirOpt = None) -> None:
    """Delete published outbox rows older than CITYOPS_OUTBOX_RETENTION_HOURS (pending rows are kept)."""
    settings = settings_from_cli(data_dir)
    removed = _relay(settings).prune()
    Console(stderr=True, highlight=False).print(f"Pruned {removed} published event(s).")


@events_cli.command("consume")
def consume_cmd(data_dir: DataDirOpt = None) -> None:
    """Run the declared event consumers and background tasks in this process until SIGTERM or Ctrl-C (the
    API workers then run with CITYOPS_RUN_CONSUMERS=false). Needs a shared bus (CITYOPS_BUS=nats)."""
    import signal

    from cityops.events.runner import Runner, declared_consumers, declared_tasks
    from cityops.settings import Environment

    settings = settings_from_cli(data_dir)
    engine = make_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    bus = make_bus(settings)
    tasks = declared_tasks(settings) if settings.env is not Environment.TEST else []
    runner = Runner(bus, make_sessionmaker(engine), settings, declared_consumers(settings), tasks)
    console = Console(stderr=True, highlight=False)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await bus.start()
        try:
            await runner.start()
            console.print(f"consuming: {len(runner.consumers)} consumer(s), {len(runner.tasks)} task(s)")
            await stop.wait()
        finally:
            await runner.stop()
            await bus.close()

    try:
        asyncio.run(run())
    except RuntimeError as exc:  # the bus cannot be reached
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
