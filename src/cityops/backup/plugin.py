"""Default plugin registration for backups: the ``cityops backup`` and ``cityops restore`` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    import typer


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.backup.cli import backup, restore

    cli.command("backup")(backup)
    cli.command("restore")(restore)
