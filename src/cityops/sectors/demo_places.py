"""Loads a sector's demo places: each ``data/demo_<type>.geojson`` through the places importer.

Every sector with places ships its pilot-area demo as GeoJSON (features marked ``demo: true``) and loads it the
same way, so this one function serves them all; the importer is idempotent on the external id, so loading the
demo twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

#: The places' external source: demo rows are told apart from imported registers by it (and by ``demo``).
DEMO_SOURCE = "cityops-demo"


def demo_file(data_dir: Path, type_code: str) -> Path:
    """Where a sector keeps the demo places of one type."""
    return data_dir / f"demo_{type_code}.geojson"


def load_demo_places(session: Session, data_dir: Path, type_codes: Iterable[str], console: Console) -> None:
    """Import the demo GeoJSON of each type (in order) and print what the importer did, rejected rows included."""
    from cityops.places.importer import import_features

    for type_code in type_codes:
        report = import_features(
            session, demo_file(data_dir, type_code), type_code, source_name=DEMO_SOURCE, demo=True
        )
        console.print(f"Demo places: {report.summary()}.")
        for label, reason in report.rejected:  # a shipped demo row the type refuses: say which and why
            console.print(f"[yellow]  {label}: {reason}[/yellow]")
