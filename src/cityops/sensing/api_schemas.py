"""Shapes of the native sensing answers, for the OpenAPI document.

The two hot reads (``/sensing/latest``, ``/sensing/datastreams/{id}/aggregate``) encode their bodies as
bytes (orjson, cached per process), so FastAPI never sees these models at run time: they only tell
generated clients what the bytes hold, and ``tests/security/test_fuzz.py`` checks answers against them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class LatestItem(BaseModel):
    datastream_id: int
    name: str
    thing_id: int
    thing_name: str
    observed_property_id: int
    observed_property: str
    unit: dict[str, Any] | None = Field(description="The Datastream's unitOfMeasurement")
    result: Any = Field(description="The latest result (a number, or the stored JSON value)")
    phenomenon_time: str | None = Field(description="ISO 8601, UTC")
    observation_id: int | None
    lat: float | None
    lon: float | None


class LatestPage(BaseModel):
    """The latest observation of every datastream (filtered by bbox, area or property)."""

    items: list[LatestItem]
    count: int


class Bucket(BaseModel):
    """One roll-up bucket; only the requested functions are present."""

    start: str = Field(description="Bucket start, ISO 8601 UTC")
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    count: int | None = None
    sum: float | None = None
    last: float | None = None
    last_time: str | None = None


class AggregateOut(BaseModel):
    datastream_id: int
    interval: str
    from_: str = Field(alias="from")
    to: str
    unit: dict[str, Any] | None
    buckets: list[Bucket]
