"""``cityops backup`` and ``cityops restore``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cityops.backup.archive import BackupError, create_backup, restore_backup
from cityops.cli_options import DataDirOpt, settings_from_cli


def backup(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory to write the backup in (default <data_dir>/backups)."),
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Back up the database (SQLite online backup or pg_dump) and the media files, with checksums."""
    console = Console(stderr=True, highlight=False)
    settings = settings_from_cli(data_dir)
    try:
        path = create_backup(settings, out)
    except BackupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    typer.echo(str(path))


def restore(
    source: Annotated[Path, typer.Argument(help="A backup directory made by `cityops backup`.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Restore a backup into a fresh data directory / empty database (never over existing data)."""
    console = Console(stderr=True, highlight=False)
    settings = settings_from_cli(data_dir)
    try:
        result = restore_backup(source, settings)
    except BackupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(
        f"[green]Restored the {result.backend} backup of {result.created_at} "
        f"with {result.media_files} media files.[/green]"
    )
