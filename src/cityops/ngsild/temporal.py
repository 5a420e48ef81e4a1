"""``/ngsi-ld/v1/temporal/entities``: a station attribute's history from its datastream's observations
(``lastN`` newest, answered in ascending time as the spec says; ``timerel`` before/after/between), and
aggregation (``aggrMethods`` totalCount, sum, avg, min, max) per ``aggrPeriodDuration`` (PT1M, PT1H, P1D)
read from the observation roll-ups, never by scanning raw observations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.ngsild import entities as store
from cityops.ngsild import model_map
from cityops.ngsild.api import PREFIX, _int, _list, answer, is_staff, principal, sessions
from cityops.ngsild.context import request_context
from cityops.ngsild.entities import Filter
from cityops.ngsild.errors import BadRequestData
from cityops.places.models import Place
from cityops.sensing.models import Observation, ObservationRollup

router = APIRouter(include_in_schema=False)
PERIODS = {"PT1M": "minute", "PT60S": "minute", "PT1H": "hour", "PT60M": "hour", "P1D": "day", "PT24H": "day"}
STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
METHODS = ("totalCount", "sum", "avg", "min", "max")
MAX_INSTANCES = 1000


def _time(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequestData(f"{name} is not an ISO 8601 date-time: {raw!r}") from exc
    if at.tzinfo is None:
        raise BadRequestData(f"{name} needs a time zone (for example Z)")
    return at


class TemporalQuery:
    def __init__(self, request: Request) -> None:
        qp = request.query_params
        self.timerel = qp.get("timerel")
        self.time_at = _time(qp.get("timeAt"), "timeAt")
        self.end_at = _time(qp.get("endTimeAt"), "endTimeAt")
        if self.timerel is not None:
            if self.timerel not in ("before", "after", "between"):
                raise BadRequestData("timerel is before, after or between")
            if self.time_at is None:
                raise BadRequestData("timerel needs timeAt")
            if self.timerel == "between" and (self.end_at is None or self.end_at <= self.time_at):
                raise BadRequestData("timerel=between needs an endTimeAt after timeAt")
        last_n = qp.get("lastN")
        if last_n is not None and (not last_n.isdigit() or not 0 < int(last_n) <= MAX_INSTANCES):
            raise BadRequestData(f"lastN is an integer from 1 to {MAX_INSTANCES}")
        self.last_n = int(last_n) if last_n else None
        methods = _list(request, "aggrMethods")
        self.period: str | None = None
        if methods:
            bad = [m for m in methods if m not in METHODS]
            if bad:
                raise BadRequestData(
                    f"aggrMethods: {', '.join(bad)} not supported (use {', '.join(METHODS)})"
                )
            duration = qp.get("aggrPeriodDuration", "P1D")
            if duration not in PERIODS:
                raise BadRequestData(f"aggrPeriodDuration {duration!r}: use PT1M, PT1H or P1D (the roll-ups)")
            self.period = PERIODS[duration]
        self.methods = methods or []
        self.values_only = (
            "temporalValues" in (qp.get("options") or "") or qp.get("format") == "temporalValues"
        )

    def window(self, column: Any) -> list[Any]:
        if self.timerel == "before":
            return [column < self.time_at]
        if self.timerel == "after":
            return [column >= self.time_at]
        if self.timerel == "between":
            return [column >= self.time_at, column < self.end_at]
        return []


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _series(session: Session, ds_id: int, unit: str, tq: TemporalQuery) -> Any:
    if tq.period is not None:
        rows = session.scalars(
            select(ObservationRollup)
            .where(
                ObservationRollup.datastream_id == ds_id,
                ObservationRollup.interval == tq.period,
                *tq.window(ObservationRollup.bucket_start),
            )
            .order_by(ObservationRollup.bucket_start.desc() if tq.last_n else ObservationRollup.bucket_start)
            .limit(tq.last_n or MAX_INSTANCES)
        ).all()
        rows = sorted(rows, key=lambda r: r.bucket_start)
        out: dict[str, Any] = {"type": "Property"}
        for m in tq.methods:
            vals = []
            for r in rows:
                start, end = _iso(r.bucket_start), _iso(r.bucket_start + STEP[tq.period])
                value = {
                    "totalCount": r.count,
                    "sum": r.sum,
                    "avg": r.sum / r.count if r.count else None,
                    "min": r.min,
                    "max": r.max,
                }[m]
                vals.append([value, start, end])
            out[m] = vals
        return out
    obs = session.execute(
        select(Observation.result_number, Observation.result_json, Observation.phenomenon_time)
        .where(Observation.datastream_id == ds_id, *tq.window(Observation.phenomenon_time))
        .order_by(Observation.phenomenon_time.desc() if tq.last_n else Observation.phenomenon_time)
        .limit(tq.last_n or MAX_INSTANCES)
    ).all()
    ordered = sorted(obs, key=lambda r: r[2])  # lastN: the newest N, answered oldest first
    if tq.values_only:
        return {"type": "Property", "values": [[n if n is not None else j, _iso(t)] for n, j, t in ordered]}
    return [
        {
            "type": "Property",
            "value": n if n is not None else j,
            "observedAt": _iso(t),
            **({"unitCode": unit} if unit else {}),
        }
        for n, j, t in ordered
    ]


def temporal_entity(
    session: Session, entity: dict[str, Any], tq: TemporalQuery, attrs: list[str] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": entity["id"], "type": entity["type"]}
    pid = model_map.place_id_of(entity["id"])
    thing_id = session.scalar(select(Place.thing_id).where(Place.id == pid)) if pid is not None else None
    if thing_id is None:  # no history kept: the current value is the one instance
        for k, v in entity.items():
            if k not in ("id", "type", "createdAt", "modifiedAt") and (attrs is None or k in attrs):
                out[k] = v if isinstance(v, list) else [v]
        return out
    for r in model_map.readings(session, [thing_id]).get(thing_id, []):
        if attrs is None or r.name in attrs:
            out[r.name] = _series(session, r.datastream_id, r.unit, tq)
    return out


@router.get(PREFIX + "/temporal/entities/{eid:path}")
def temporal_one(eid: str, request: Request) -> Response:
    tq = TemporalQuery(request)
    context = request_context(request)
    with sessions(request) as session:
        who = principal(request, session)
        entity = store.get(session, store.check_id(eid), staff=is_staff(who))
        body = temporal_entity(session, entity, tq, _list(request, "attrs"))
    return answer(request, body, context=context)


@router.get(PREFIX + "/temporal/entities")
def temporal_query(request: Request) -> Response:
    tq = TemporalQuery(request)
    types, ids = _list(request, "type"), _list(request, "id")
    if not (types or ids):
        raise BadRequestData("give type or id")
    if tq.timerel is None and tq.last_n is None:
        raise BadRequestData("a temporal query needs timerel or lastN")
    limit, offset = _int(request, "limit", 20, 100), _int(request, "offset", 0, 10**9)
    context = request_context(request)
    attrs = _list(request, "attrs")
    with sessions(request) as session:
        who = principal(request, session)
        found = store.query(
            session, Filter(types=types, ids=ids), staff=is_staff(who), limit=limit, offset=offset
        )
        body = [temporal_entity(session, e, tq, attrs) for e in found.entities]
    count = request.query_params.get("count") == "true"
    return answer(
        request, body, headers={"NGSILD-Results-Count": str(found.total)} if count else None, context=context
    )
