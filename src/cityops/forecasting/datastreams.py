"""Forecast Datastreams: one per forecast target and lead time, on a forecast Thing beside the station's.

A forecast Datastream has its own observed property (``<code>_forecast``), so the rules, indicators and
latest-value panels of the observed property never read forecasts as observations, and
``properties.forecast = {"of": <observed Datastream id>, "model": ..., "horizon_hours": ...}`` says what it
forecasts (sensing's ingest lets it hold future phenomenon times).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.sensing.models import Datastream, ObservedProperty, Sensor, Thing
from cityops.sensing.stations import OM_MEASUREMENT

SENSOR_NAME = "cityops forecasting"
BASELINE_VI = {"persistence": "giữ nguyên (đường cơ sở)", "seasonal_naive": "lặp chu kỳ (đường cơ sở)"}


def forecast_info(ds: Datastream) -> dict[str, Any] | None:
    info = (ds.properties or {}).get("forecast")
    return info if isinstance(info, dict) else None


def _sensor(session: Session) -> Sensor:
    found = session.scalars(select(Sensor).where(Sensor.name == SENSOR_NAME).order_by(Sensor.id)).first()
    if found is not None:
        return found
    sensor = Sensor(
        name=SENSOR_NAME,
        description="Mô hình dự báo của cityops (Forecast models of cityops, issue #16)",
        encoding_type="text/html",
        sensor_metadata="docs/forecasting.md",
    )
    session.add(sensor)
    session.flush()
    return sensor


def forecast_property(session: Session, source: Datastream) -> ObservedProperty:
    """The ``<code>_forecast`` observed property of the source's property (created on first use)."""
    op = session.get(ObservedProperty, source.observed_property_id)
    code = str(((op.properties if op else None) or {}).get("code") or f"ds{source.id}")
    wanted = f"{code}_forecast"
    for row in session.scalars(select(ObservedProperty)).all():
        if (row.properties or {}).get("code") == wanted:
            return row
    row = ObservedProperty(
        name=f"{op.name if op else code} (forecast)",
        definition=op.definition if op else "",
        description=f"{op.description if op else code} (dự báo)",
        ucum=op.ucum if op else None,
        properties={"code": wanted, "forecast_of": code},
    )
    session.add(row)
    session.flush()
    return row


def forecast_thing(session: Session, thing_id: int, *, create: bool = True) -> Thing | None:
    """The Thing holding the forecasts of station ``thing_id``: its name and areas (for area-scoped rules),
    but no ``station_code`` and no Location — so station listings, the IOC map, health and the station's
    charts never show forecasts as a station (the forecasts API and the IOC's forecast band do)."""
    for thing in session.scalars(select(Thing).order_by(Thing.id)).all():
        if (thing.properties or {}).get("forecast_of_thing") == thing_id:
            return thing
    station = session.get(Thing, thing_id)
    if station is None or not create:
        return None
    props = station.properties or {}
    thing = Thing(
        name=station.name,
        description=f"Dự báo của {station.name} (forecasts of Thing {thing_id})",
        properties={
            "forecast_of_thing": thing_id,
            "kind": "forecast",
            "area_ids": list(props.get("area_ids") or []),
            "area_name": props.get("area_name"),
            **{k: props[k] for k in ("approximate", "synthetic") if k in props},
        },
    )
    session.add(thing)
    session.flush()
    return thing


def forecast_streams_of(session: Session, source: Datastream) -> list[Datastream]:
    """The forecast Datastreams of ``source`` (two statements)."""
    thing = forecast_thing(session, source.thing_id, create=False)
    if thing is None:
        return []
    rows = session.scalars(select(Datastream).where(Datastream.thing_id == thing.id).order_by(Datastream.id))
    return [ds for ds in rows if (forecast_info(ds) or {}).get("of") == source.id]


def ensure_forecast_datastreams(
    session: Session, source: Datastream, target_code: str, leads: tuple[int, ...]
) -> dict[int, Datastream]:
    """Lead hours → the forecast Datastream of ``source`` at that lead (created when missing)."""
    found: dict[int, Datastream] = {}
    holder = forecast_thing(session, source.thing_id)
    assert holder is not None  # the source's Thing exists: the source points at it
    for ds in session.scalars(select(Datastream).where(Datastream.thing_id == holder.id)).all():
        info = forecast_info(ds)
        if info and info.get("of") == source.id and info.get("target") == target_code:
            found[int(info.get("horizon_hours", 0))] = ds
    missing = [lead for lead in leads if lead not in found]
    if not missing:
        return found
    sensor = _sensor(session)
    op = forecast_property(session, source)
    for lead in missing:
        ds = Datastream(
            name=f"{source.name} – dự báo trước {lead} giờ",
            description=f"Forecast {lead} h ahead of Datastream {source.id} ({target_code})",
            unit_of_measurement=dict(source.unit_of_measurement),
            observation_type=OM_MEASUREMENT,
            properties={
                "property_code": str((op.properties or {}).get("code")),
                "expected_interval_s": 3600,
                "forecast": {
                    "of": source.id,
                    "model": "persistence",
                    "horizon_hours": lead,
                    "target": target_code,
                    "baseline": True,
                },
            },
            thing_id=holder.id,
            sensor_id=sensor.id,
            observed_property_id=op.id,
        )
        session.add(ds)
        found[lead] = ds
    session.flush()
    return found


def label(model: str, published: str) -> dict[str, Any]:
    """What ``properties.forecast`` says about what is published: the model, or a baseline named as one."""
    baseline = published != model
    return {
        "model": published,
        "baseline": baseline,
        "label_vi": BASELINE_VI[published] if baseline else f"mô hình {model}",
        "label_en": f"{published} (baseline)" if baseline else f"{model} model",
    }
