"""Stations, areas and users for the alert tests (built through the ORM, no fixtures of others needed)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cityops.alerts.models import Rule, RuleKind
from cityops.areas.models import Area
from cityops.identity.models import Role, User
from cityops.identity.tokens import create_session
from cityops.sensing.models import Datastream, ObservedProperty, Sensor, Thing
from cityops.sensing.properties import declared
from cityops.text import search_key


def make_area(session: Session, name: str, code: str) -> Area:
    area = Area(code=code, level="commune", kind="Phường", name=name, name_key=search_key(name))
    session.add(area)
    session.flush()
    return area


def make_station(
    session: Session,
    name: str,
    code: str,
    *,
    area_ids: list[int] | None = None,
    extra: dict[str, Any] | None = None,
) -> Datastream:
    """A Thing with one datastream of the property ``code``."""
    spec = declared()[code]
    thing = Thing(name=name, description="", properties={"area_ids": area_ids or [], **(extra or {})})
    sensor = Sensor(name=f"{name} sensor", description="", encoding_type="text/plain", sensor_metadata="")
    op = ObservedProperty(
        name=spec.name_en,
        definition=spec.definition,
        description="",
        ucum=spec.unit_symbol,
        properties={"code": code},
    )
    session.add_all([thing, sensor, op])
    session.flush()
    ds = Datastream(
        name=f"{name} – {spec.name_vi}",
        description="",
        unit_of_measurement=spec.unit_of_measurement,
        observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        thing_id=thing.id,
        sensor_id=sensor.id,
        observed_property_id=op.id,
    )
    session.add(ds)
    session.flush()
    return ds


def salinity_rule(session: Session, **kw: Any) -> Rule:
    params = {
        "direction": "above",
        "levels": [
            {"severity": "watch", "value": 1.0, "clear": 0.8},
            {"severity": "warning", "value": 4.0, "clear": 3.5},
        ],
        "min_duration_s": 1800,
    }
    rule = Rule(
        name_vi="Độ mặn",
        name_en="Salinity",
        kind=RuleKind.THRESHOLD,
        property_code="salinity",
        parameters=params,
        **kw,
    )
    session.add(rule)
    session.flush()
    return rule


def make_user(session: Session, username: str, role: Role) -> tuple[User, str]:
    user = User(username=username, role=role, full_name=username)
    session.add(user)
    session.flush()
    _, token = create_session(session, user, ttl_minutes=60)
    return user, token
