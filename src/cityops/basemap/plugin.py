"""Default plugin registration of the base map: its routes and ``cityops basemap import``."""

from __future__ import annotations

from pathlib import Path  # typer reads the annotation at run time
from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI

    from cityops.settings import Settings


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.basemap.api import router

    app.include_router(router)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    import typer as typer_

    basemap_cli = typer_.Typer(help="Base map (a PMTiles archive served by cityops).", no_args_is_help=True)

    @basemap_cli.command("import")
    def import_(file: Path = typer_.Argument(..., exists=True, dir_okay=False, readable=True)) -> None:
        """Check FILE.pmtiles (PMTiles v3) and make it the base map of every map (replaces the previous one)."""
        from cityops.basemap.archive import NotPMTiles, import_archive
        from cityops.cli_options import console, settings_from_cli

        try:
            header = import_archive(settings_from_cli(), file)
        except NotPMTiles as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer_.Exit(2) from None
        console.print(
            f"Base map imported: {header.tile_type} tiles, zoom {header.min_zoom}–{header.max_zoom}, "
            f"bounds {', '.join(f'{v:.4f}' for v in header.bounds)}."
        )

    cli.add_typer(basemap_cli, name="basemap")
