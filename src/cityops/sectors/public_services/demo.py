"""The public services sector's demo: markets (chợ Tân An, ...) and the one-stop shops of the pilot wards, from ``data/`` (demo data, approximate positions)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cityops.sectors.demo_places import load_demo_places
from cityops.sectors.public_services.specs import PLACE_TYPES

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

DATA = Path(__file__).parent / "data"


def load(session: Session, console: Console) -> None:
    """Import the demo places of each of the sector's place types (idempotent)."""
    load_demo_places(session, DATA, [spec.code for spec in PLACE_TYPES], console)
