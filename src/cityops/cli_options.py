"""What every capability's CLI shares: the ``--data-dir`` option, settings loaded with a readable error, and
the stderr console for messages.

It lives apart from :mod:`cityops.cli` (the composition root that builds the ``cityops`` command from every
plugin's ``register_cli``), so a capability's commands import this kernel-level module, never the root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cityops.settings import Settings, SettingsError, load_settings

console = Console(stderr=True)

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (overrides CITYOPS_DATA_DIR).")
]


def settings_from_cli(data_dir: Path | None = None, **overrides: object) -> Settings:
    """Load settings, exiting with a readable message (not a traceback) when they are wrong."""
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
