"""The OGC SensorThings data model (OGC 18-088) plus the compact, append-friendly observation store.

Integer ids are the ``@iot.id``. Observations are one narrow row each: a numeric ``result_number``
(indexable, aggregatable) or a ``result_json`` for anything else, quality flags as a bitmask, and a
unique (datastream_id, phenomenon_time) key that makes re-sent rows idempotent. Datastreams carry the
latest value (``last_value``/``last_phenomenon_time``) maintained on ingest; per-minute/hour/day
roll-ups live in ``observation_rollups``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, JSONType, UTCDateTime
from cityops.sensing import (
    partitioning,
    sqlite_functions,  # noqa: F401  (SQL functions the STA filters use)
)

# Observation ids grow past 2^31 at the scale we design for; SQLite needs INTEGER for rowid aliasing.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Thing(Base):
    __tablename__ = "sta_things"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class Location(Base):
    __tablename__ = "sta_locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(64), default="application/geo+json")
    location: Mapped[dict[str, Any]] = mapped_column(JSONType)  # GeoJSON geometry or feature
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    lat: Mapped[float | None] = mapped_column(Float)  # representative point, for queries
    lon: Mapped[float | None] = mapped_column(Float)


thing_locations = Table(
    "sta_thing_locations",
    Base.metadata,
    Column("thing_id", ForeignKey("sta_things.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("sta_locations.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_sta_thing_locations_location_id", "location_id"),
)


class HistoricalLocation(Base):
    __tablename__ = "sta_historical_locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_things.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime)


historical_location_locations = Table(
    "sta_historical_location_locations",
    Base.metadata,
    Column(
        "historical_location_id",
        ForeignKey("sta_historical_locations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("location_id", ForeignKey("sta_locations.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_sta_historical_location_locations_location_id", "location_id"),
)


class Sensor(Base):
    __tablename__ = "sta_sensors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(128), default="application/pdf")
    sensor_metadata: Mapped[Any] = mapped_column("metadata", JSONType)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class ObservedProperty(Base):
    __tablename__ = "sta_observed_properties"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    definition: Mapped[str] = mapped_column(String(512), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    ucum: Mapped[str | None] = mapped_column(String(64))  # canonical UCUM code, e.g. "ug/m3", "g/L"
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class Datastream(Base):
    __tablename__ = "sta_datastreams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    unit_of_measurement: Mapped[dict[str, Any]] = mapped_column(JSONType)  # {name, symbol, definition}
    observation_type: Mapped[str] = mapped_column(String(255))
    observed_area: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    phenomenon_time_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phenomenon_time_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_time_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_time_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_things.id", ondelete="CASCADE"), index=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sta_sensors.id", ondelete="CASCADE"), index=True)
    observed_property_id: Mapped[int] = mapped_column(
        ForeignKey("sta_observed_properties.id", ondelete="CASCADE"), index=True
    )
    # Maintained on ingest: the observation with the greatest phenomenon time.
    last_value: Mapped[float | None] = mapped_column(Float)
    last_result: Mapped[Any] = mapped_column(JSONType, nullable=True)
    last_phenomenon_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_observation_id: Mapped[int | None] = mapped_column(BigId)


class MultiDatastream(Base):
    __tablename__ = "sta_multi_datastreams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    units_of_measurement: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    observation_type: Mapped[str] = mapped_column(
        String(255),
        default="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
    )
    multi_observation_data_types: Mapped[list[str]] = mapped_column(JSONType)
    observed_area: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    phenomenon_time_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phenomenon_time_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_time_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_time_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    thing_id: Mapped[int] = mapped_column(ForeignKey("sta_things.id", ondelete="CASCADE"), index=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sta_sensors.id", ondelete="CASCADE"), index=True)


multi_datastream_observed_properties = Table(
    "sta_multi_datastream_observed_properties",
    Base.metadata,
    Column(
        "multi_datastream_id",
        ForeignKey("sta_multi_datastreams.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "observed_property_id",
        ForeignKey("sta_observed_properties.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("rank", Integer, nullable=False, default=0),
    Index("ix_sta_mds_op_observed_property_id", "observed_property_id"),
)


class FeatureOfInterest(Base):
    __tablename__ = "sta_features_of_interest"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    encoding_type: Mapped[str] = mapped_column(String(64), default="application/geo+json")
    feature: Mapped[dict[str, Any]] = mapped_column(JSONType)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    # Set when the server generated this feature from a Location (OGC 18-088 §8.2.7.1).
    source_location_id: Mapped[int | None] = mapped_column(
        ForeignKey("sta_locations.id", ondelete="SET NULL"), index=True
    )


class Observation(Base):
    """One observation: narrow, append-friendly; no index beyond the dedup key (which serves range scans)."""

    __tablename__ = "sta_observations"
    __table_args__ = (UniqueConstraint("datastream_id", "phenomenon_time"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    datastream_id: Mapped[int | None] = mapped_column(ForeignKey("sta_datastreams.id", ondelete="CASCADE"))
    multi_datastream_id: Mapped[int | None] = mapped_column(
        ForeignKey("sta_multi_datastreams.id", ondelete="CASCADE")
    )
    phenomenon_time: Mapped[datetime] = mapped_column(UTCDateTime)
    phenomenon_time_end: Mapped[datetime | None] = mapped_column(UTCDateTime)  # interval end
    result_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_number: Mapped[float | None] = mapped_column(Float)
    result_json: Mapped[Any] = mapped_column(
        JSONType, nullable=True
    )  # only when the result is not a plain number
    result_quality: Mapped[Any] = mapped_column(JSONType, nullable=True)
    valid_time_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_time_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quality_flags: Mapped[int] = mapped_column(Integer, default=0)  # bitmask, see cityops.sensing.quality
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    feature_of_interest_id: Mapped[int | None] = mapped_column(
        ForeignKey("sta_features_of_interest.id", ondelete="CASCADE")
    )


class ObservationRollup(Base):
    """Per-datastream aggregates per minute/hour/day bucket, upserted incrementally on ingest."""

    __tablename__ = "observation_rollups"

    datastream_id: Mapped[int] = mapped_column(
        ForeignKey("sta_datastreams.id", ondelete="CASCADE"), primary_key=True
    )
    interval: Mapped[str] = mapped_column(String(8), primary_key=True)  # minute | hour | day
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    sum: Mapped[float] = mapped_column(Float, default=0.0)
    min: Mapped[float | None] = mapped_column(Float)
    max: Mapped[float | None] = mapped_column(Float)
    last: Mapped[float | None] = mapped_column(Float)
    last_time: Mapped[datetime | None] = mapped_column(UTCDateTime)


partitioning.install(Observation.__table__)  # type: ignore[arg-type]
