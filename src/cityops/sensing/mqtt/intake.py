"""What an incoming MQTT message becomes: an STA Observation (``v1.1/...`` topics, created as an STA POST
would, under the broker's principal) or device telemetry (``cityops/v1/devices/<api key>/telemetry``, matched
to the Thing's Datastreams by name or property code). A message that can never be stored raises
:class:`BadMessage` (counted, logged, parked at once in the dead letters, acknowledged) — the same checks as
HTTP (:mod:`cityops.sensing.sta_results`), and a number no column holds is such a message, not a failure
retried until parked (#21). The callers commit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

import orjson
from sqlalchemy import select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import ApiError

if TYPE_CHECKING:
    from cityops.identity.policy import Principal


STA_ROOT = "v1.1/"


DEVICE_TOPIC = "cityops/v1/devices/+/telemetry"


MAX_DEVICE_ITEMS = 1000


DEVICE_RE = re.compile(r"^cityops/v1/devices/([^/]+)/telemetry$")


_STA_PATH_RE = re.compile(r"^(?:[A-Za-z]+\(\d+\)/)?Observations$")


SIMPLE_STA_RE = re.compile(r"^Datastreams\((\d+)\)/Observations$")


DEEP_KEYS = {"FeatureOfInterest", "Datastream", "MultiDatastream"}


MAX_ID = 2**63 - 1  # the largest id a BIGINT holds: a larger one in a topic names nothing


def topic_id(text: str) -> int:
    """An entity id from a topic; one no column can hold is refused at once (#21: it failed in the database
    and the message was retried four times before being parked, where HTTP answers 422)."""
    value = int(text)
    if value > MAX_ID:
        raise BadMessage("invalid", f"the id {text[:30]} is out of range")
    return value


_IDS_RE = re.compile(r"\((\d+)\)")


OUT_OF_RANGE = "a number in the message is out of range for its field"


class BadMessage(Exception):
    """A message that can never be stored (it is counted, logged and acknowledged)."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def broker_principal() -> Principal:
    """Who writes what arrives on the STA topics: the broker's ACL vouched for the publisher, so an
    ingest principal that may add Observations to any Thing (and nothing else: see :func:`handle_sta`)."""
    from cityops.identity.models import ApiScope
    from cityops.identity.policy import Principal, PrincipalKind

    return Principal(kind=PrincipalKind.API_KEY, scopes=frozenset({ApiScope.INGEST}), label="mqtt:broker")


def parse_json(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadMessage("invalid", f"not valid JSON: {exc}") from None


def handle_sta(session: Session, path: str, data: Any) -> int:
    """Create the Observation ``data`` (parsed JSON) of a message on ``v1.1/<path>``; returns its id. The
    caller commits."""
    from cityops.sensing.sta_api import create_at_path, writer_for

    if not _STA_PATH_RE.match(path):
        raise BadMessage("rejected", f"MQTT may only create Observations, not publish to {path!r}")
    if not isinstance(data, dict):
        raise BadMessage("invalid", "an Observation must be a JSON object")
    for ident in _IDS_RE.findall(path):
        topic_id(ident)
    try:
        et, row = create_at_path(session, path, data, writer_for(session, broker_principal()))
    except ApiError as exc:
        if exc.status >= 500:
            raise
        raise BadMessage("rejected", exc.message) from None
    except (DataError, OverflowError):  # a number no column holds: HTTP answers 422
        raise BadMessage("invalid", OUT_OF_RANGE) from None
    if et.name != "Observation":  # pragma: no cover - the path pattern only allows Observations
        raise BadMessage("rejected", "MQTT may only create Observations")
    return int(row.id)


def parse_ts(value: Any, now: datetime | None = None) -> datetime:
    """``ts`` of device telemetry: epoch milliseconds (as ThingsBoard) or ISO 8601 with an offset; missing:
    ``now`` (default the current time)."""
    if value is None:
        return now or utcnow()
    if isinstance(value, bool):
        raise BadMessage("invalid", "ts must be epoch milliseconds or an ISO 8601 time")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise BadMessage("invalid", f"ts {value!r} is out of range") from None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadMessage("invalid", f"ts {value!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise BadMessage("invalid", "ts needs a time zone offset (or Z)")
        return moment.astimezone(UTC)
    raise BadMessage("invalid", "ts must be epoch milliseconds or an ISO 8601 time")


def device_streams(session: Session, thing_id: int) -> dict[str, int]:
    """Name → Datastream id for a Thing: datastream names first, then observed-property codes."""
    from cityops.sensing.models import Datastream, ObservedProperty

    rows = session.execute(
        select(Datastream.id, Datastream.name, ObservedProperty.properties)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(Datastream.thing_id == thing_id)
        .order_by(Datastream.id)
    ).all()
    by_code: dict[str, list[int]] = {}
    for ds_id, _name, props in rows:
        code = (props or {}).get("code")
        if isinstance(code, str):
            by_code.setdefault(code, []).append(ds_id)
    out = {code: ids[0] for code, ids in by_code.items() if len(ids) == 1}  # an ambiguous code maps nothing
    out.update({name: ds_id for ds_id, name, _props in rows})
    return out


def handle_device(
    session: Session, key: str, payload: bytes, now: datetime | None = None
) -> tuple[int, list[str]]:
    """Store device telemetry; returns (rows stored or already there, unknown names). Readings without
    ``ts`` get ``now`` (default the current time). The caller commits."""
    from cityops.identity.deps import principal_for_api_key
    from cityops.identity.models import ApiScope
    from cityops.sensing.ingest import IngestError, ObservationIn, ingest_observations
    from cityops.sensing.models import Datastream
    from cityops.sensing.sta_api import writer_for
    from cityops.sensing.sta_results import conflict_error, conflicts, result_error

    principal = principal_for_api_key(session, unquote(key))
    if principal is None or ApiScope.INGEST not in principal.scopes:
        raise BadMessage("rejected", "the device key is unknown, revoked, expired or not an ingest key")
    if principal.thing_id is None:
        raise BadMessage("rejected", "the device key is not bound to a Thing")
    data = parse_json(payload)
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_DEVICE_ITEMS:
        raise BadMessage("invalid", f"send 1 to {MAX_DEVICE_ITEMS} readings per message")
    streams = device_streams(session, principal.thing_id)
    types = dict(
        session.execute(
            select(Datastream.id, Datastream.observation_type).where(
                Datastream.thing_id == principal.thing_id
            )
        ).all()
    )
    rows: list[ObservationIn] = []
    unknown: list[str] = []
    for item in items:
        if not isinstance(item, dict) or set(item) - {"ts", "values"}:
            raise BadMessage("invalid", 'each reading is {"ts": ..., "values": {...}}')
        values = item.get("values")
        if not isinstance(values, dict) or not values:
            raise BadMessage("invalid", "values must be a non-empty object of name: value")
        moment = parse_ts(item.get("ts"), now)
        for name, value in values.items():
            if isinstance(value, dict | list):
                raise BadMessage("invalid", f"the value of {name!r} must be a number, string or boolean")
            ds_id = streams.get(name)
            if ds_id is None:
                unknown.append(name)
                continue
            error = result_error(types.get(ds_id), value)
            if error is not None:
                raise BadMessage("invalid", f"{name}: {error}")
            rows.append(ObservationIn(datastream_id=ds_id, phenomenon_time=moment, result=value))
    if rows:
        writer_for(session, principal).check(principal.thing_id)
        try:
            done = ingest_observations(session, rows)
        except IngestError as exc:
            raise BadMessage("rejected", exc.message) from None
        except (DataError, OverflowError):
            raise BadMessage("invalid", OUT_OF_RANGE) from None
        if conflicts(session, [r.result for r in rows], done.ids, done.duplicate_indexes):
            raise BadMessage("rejected", conflict_error().message)  # nothing of it stored, as HTTP's 409
    return len(rows), unknown


class RememberedGets:
    """A session whose ``get`` answers a repeated lookup from what it returned before."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._got: dict[tuple[type[Any], Any], Any] = {}

    def get(self, entity: type[Any], ident: Any) -> Any:
        key = (entity, ident)
        if key not in self._got:
            self._got[key] = self._session.get(entity, ident)
        return self._got[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def safe_topic(topic: str) -> str:
    """The topic for logs, with a device key cut to its public prefix."""
    return _KEY_IN_TOPIC.sub(r"\1\2…", topic)


_KEY_IN_TOPIC = re.compile(r"(cityops/v1/devices/)([^/]{0,12})[^/]*")


def store_sta_batch(session: Session, fast: list[tuple[int, int, dict[str, Any]]]) -> dict[int, BadMessage]:
    """Validate plain Observations ``(message index, datastream id, data)`` one by one and store the valid
    ones in one batch; returns the refused, by message index. The caller commits."""
    from cityops.sensing.ingest import ingest_observations
    from cityops.sensing.models import Datastream
    from cityops.sensing.sta_api import writer_for
    from cityops.sensing.sta_results import conflict_error, conflicts

    refused: dict[int, BadMessage] = {}
    writer = writer_for(session, broker_principal())
    # The policy decision depends only on the Thing: taken once per Thing of the batch.
    allowed: set[int | None] = set()
    check = writer.check

    def check_once(thing_id: int | None) -> None:
        if thing_id not in allowed:
            check(thing_id)
            allowed.add(thing_id)

    writer.check = check_once
    # Each message looks its Datastream up again; answered from a dict instead of the session's
    # identity map (whose get() was 14% of the bridge's CPU), as nothing changes them meanwhile.
    writer.session = cast(Session, RememberedGets(session))
    # Holding the Datastreams keeps them in the session's (weak) identity map, so the
    # validation of each message finds its Datastream there instead of querying it again.
    loaded: dict[int, Datastream | None] = {}
    rows = []
    stored_from: list[int] = []  # the message index of each row
    for i, ds_id, data in fast:
        if ds_id not in loaded:
            loaded[ds_id] = session.get(Datastream, ds_id)
        if loaded[ds_id] is None:
            refused[i] = BadMessage("rejected", f"no Datastream with id {ds_id}")
            continue
        try:
            row, _values = writer.observation_in(data, {"datastream_id": ds_id})
        except ApiError as exc:
            if exc.status >= 500:
                raise
            refused[i] = BadMessage("rejected", exc.message)
            continue
        if row is not None:
            rows.append(row)
            stored_from.append(i)
    if rows:
        done = ingest_observations(session, rows)
        for k in conflicts(session, [r.result for r in rows], done.ids, done.duplicate_indexes):
            refused[stored_from[k]] = BadMessage("rejected", conflict_error().message)
    return refused
