"""Places: place types, places, status history; every station Thing becomes a station place (#12)

Stations were SensorThings Things whose kind sat in their JSON properties. Each Thing with a station kind
(water, air, traffic) and a location gets a place of type ``station`` linked by ``thing_id`` (source ``sta``,
external id its ``station_code``), with the properties the station type knows as attributes. A minimal
``station`` type row is inserted when absent; the start-up sync of the ``place_types`` hook completes it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 01:05:00
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import cityops.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = cityops.db.JSONType
STATION_KINDS = ("water", "air", "traffic")
# Thing property → station attribute (the attributes the environment sector's station type declares)
ATTRIBUTES = {
    "kind": "kind",
    "river": "river",
    "road": "road",
    "datum": "datum",
    "alarm_levels": "alarm_levels",
    "distance_to_sea_km": "river_km",
}


def _tables() -> None:
    op.create_table(
        "place_types",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_vi", sa.String(length=255), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=False),
        sa.Column("sector", sa.String(length=64), nullable=False),
        sa.Column("icon", sa.String(length=64), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("statuses", JSON, nullable=False),
        sa.Column("default_status", sa.String(length=32), nullable=False),
        sa.Column("geometry_kinds", JSON, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("plugin", sa.String(length=128), nullable=False),
        sa.Column("declared", sa.Boolean(), nullable=False),
        sa.Column("synced_at", cityops.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_place_types")),
    )
    op.create_table(
        "places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.Column("geometry", JSON, nullable=False),
        sa.Column("geometry_kind", sa.String(length=24), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("status_at", cityops.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("thing_id", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_places_area_id_areas"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"], ["sta_things.id"], name=op.f("fk_places_thing_id_sta_things"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["type_code"],
            ["place_types.code"],
            name=op.f("fk_places_type_code_place_types"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("thing_id", name=op.f("uq_places_thing_id")),
        sa.UniqueConstraint(
            "type_code", "source", "external_id", name=op.f("uq_places_type_code_source_external_id")
        ),
    )
    op.create_index(op.f("ix_places_area_id"), "places", ["area_id"], unique=False)
    op.create_index("ix_places_bbox", "places", ["min_lon", "max_lon", "min_lat", "max_lat"], unique=False)
    op.create_index(op.f("ix_places_status"), "places", ["status"], unique=False)
    op.create_index("ix_places_type_code_name_key", "places", ["type_code", "name_key"], unique=False)
    op.create_table(
        "place_status_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("previous", sa.String(length=32), nullable=True),
        sa.Column("at", cityops.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["place_id"],
            ["places.id"],
            name=op.f("fk_place_status_history_place_id_places"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_place_status_history")),
    )
    op.create_index(
        "ix_place_status_history_place_id_at", "place_status_history", ["place_id", "at"], unique=False
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _search_key(text: str) -> str:
    from cityops.text import search_key

    return search_key(text)


def _stations(conn: sa.Connection) -> list[dict[str, Any]]:
    """One places row per station Thing with a location (its first, by id)."""
    rows = conn.execute(
        sa.text(
            "SELECT t.id, t.name, t.properties, l.lat, l.lon FROM sta_things t "
            "JOIN (SELECT thing_id, MIN(location_id) AS location_id FROM sta_thing_locations "
            "GROUP BY thing_id) tl ON tl.thing_id = t.id "
            "JOIN sta_locations l ON l.id = tl.location_id ORDER BY t.id"
        )
    ).all()
    areas = {r[0] for r in conn.execute(sa.text("SELECT id FROM areas"))}
    now = datetime.now(UTC)
    out = []
    for thing_id, name, properties, lat, lon in rows:
        props = _json(properties) or {}
        if props.get("kind") not in STATION_KINDS or lat is None or lon is None:
            continue
        area_ids = [a for a in props.get("area_ids") or [] if a in areas]
        name = str(name)[:255]
        out.append(
            {
                "type_code": "station",
                "name": name,
                "name_key": _search_key(name),
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "geometry_kind": "Point",
                "lat": lat,
                "lon": lon,
                "min_lon": lon,
                "min_lat": lat,
                "max_lon": lon,
                "max_lat": lat,
                "area_id": area_ids[0] if area_ids else None,
                "attributes": {
                    new: props[old] for old, new in ATTRIBUTES.items() if props.get(old) is not None
                },
                "status": None,
                "source": "sta",
                "external_id": str(props.get("station_code") or f"thing-{thing_id}")[:128],
                "thing_id": thing_id,
                "demo": bool(props.get("approximate", False)),
                "created_at": now,
                "updated_at": now,
            }
        )
    return out


def _link_stations() -> None:
    conn = op.get_bind()
    places = _stations(conn)
    if not places:
        return
    if conn.execute(sa.text("SELECT 1 FROM place_types WHERE code = 'station'")).first() is None:
        types = sa.table(
            "place_types",
            *(sa.column(c) for c in ("code", "name_vi", "name_en", "sector", "icon", "visibility")),
            sa.column("attributes", JSON),
            sa.column("statuses", JSON),
            sa.column("geometry_kinds", JSON),
            *(sa.column(c) for c in ("default_status", "description", "plugin", "declared")),
        )
        op.bulk_insert(
            types,
            [
                {
                    "code": "station",
                    "name_vi": "Trạm quan trắc",
                    "name_en": "Monitoring station",
                    "sector": "environment",
                    "icon": "station",
                    "visibility": "public",
                    "attributes": [],
                    "statuses": [],
                    "geometry_kinds": ["Point"],
                    "default_status": "",
                    "description": "",
                    "plugin": "",
                    "declared": False,
                }
            ],
        )
    table = sa.table(
        "places",
        *(sa.column(c) for c in places[0] if c not in ("geometry", "attributes", "created_at", "updated_at")),
        sa.column("geometry", JSON),
        sa.column("attributes", JSON),
        sa.column("created_at", cityops.db.UTCDateTime()),
        sa.column("updated_at", cityops.db.UTCDateTime()),
    )
    op.bulk_insert(table, places)


def upgrade() -> None:
    _tables()
    _link_stations()


def downgrade() -> None:
    op.drop_index("ix_place_status_history_place_id_at", table_name="place_status_history")
    op.drop_table("place_status_history")
    op.drop_index("ix_places_type_code_name_key", table_name="places")
    op.drop_index(op.f("ix_places_status"), table_name="places")
    op.drop_index("ix_places_bbox", table_name="places")
    op.drop_index(op.f("ix_places_area_id"), table_name="places")
    op.drop_table("places")
    op.drop_table("place_types")
