"""Submitting a report (native API and Open311 share this): validation, routing, SLA, duplicates,
personal data kept apart, consent, tracking token and ``Idempotency-Key`` replay (through the core
store, :mod:`cityops.idempotency`).
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import h3
from sqlalchemy import Table, bindparam, inspect, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.sql.elements import ClauseElement

from cityops import db
from cityops.audit.service import deferred_flush
from cityops.clock import to_local, utcnow
from cityops.db import Base, WriterBusy, group_commit, is_postgres, write_turn
from cityops.errors import Invalid, ServiceUnavailable, is_busy_conflict
from cityops.idempotency import MAX_KEY, IdempotencyRecord, find_replay, request_fingerprint, stored_row
from cityops.privacy.masking import mask_contacts
from cityops.reports import integrations, sla
from cityops.reports.access import Actor
from cityops.reports.categories import restricted_codes, validate_answers
from cityops.reports.duplicates import nearby_open_cases
from cityops.reports.models import (
    Case,
    CaseEvent,
    CaseMedia,
    CaseReporter,
    CaseSubscription,
    Category,
)
from cityops.reports.references import usable_media
from cityops.reports.routing import route
from cityops.reports.workflow import State
from cityops.settings import Settings
from cityops.text import nfc, search_key

log = logging.getLogger("cityops.reports")

H3_RESOLUTION = 9  # ~175 m edge: neighbourhood and heat-map cells
MAX_DESCRIPTION = 4000


@dataclass
class Submission:
    """A report as intake receives it, already parsed from the native or the Open311 shape."""

    category_code: str
    description: str = ""
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    address: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    consent: bool = False
    consent_purpose: str = "handling this report"
    media_ids: list[int] = field(default_factory=list)  # cityops.media items uploaded beforehand
    media_urls: list[str] = field(default_factory=list)
    location_source: str = "device"
    source: str = "api"
    # who the submitter can prove to be as an uploader (cityops.media.uploads.uploader_keys): media_ids
    # must be theirs
    uploaders: tuple[str, ...] = ()


@dataclass
class SubmitResult:
    case: Case
    token: str  # the raw tracking token (never stored in clear)
    duplicates: list[dict[str, Any]]
    replayed: bool = False
    body: dict[str, Any] | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_tracking_token() -> str:
    """A reporter's tracking token: 192 random bits (only its SHA-256 is stored). Nothing derives it,
    not the secret key nor the case number, so knowing them does not give it (#21 finding 5)."""
    return secrets.token_urlsafe(24)


def rotate_token(session: Session, case_id: int) -> str:
    """Give a case a new tracking token; the old one stops working at once (the caller commits).

    Used when a reporter asks for a new one (a leaked link) and when an ``Idempotency-Key`` retry is
    answered: the raw token is never stored, so the replayed answer carries a fresh one."""
    token = new_tracking_token()
    session.execute(update(Case).where(Case.id == case_id).values(token_hash=token_hash(token)))
    return token


def case_by_token(session: Session, token: str) -> Case | None:
    return session.scalar(select(Case).where(Case.token_hash == token_hash(token)))


def _clean_optional(value: str | None, limit: int, what: str) -> str | None:
    if value is None:
        return None
    text = nfc(value)
    if len(text) > limit:
        raise Invalid(f"{what} must be at most {limit} characters")
    return text or None


def check_media(session: Session, settings: Settings, sub: Submission) -> None:
    """At most ``reports_max_photos`` photos and one video, each uploaded by the submitter
    (:func:`cityops.reports.references.usable_media`); the EXIF position of the submitter's own upload
    fills a missing location."""
    attached = usable_media(session, sub.media_ids, sub.uploaders)
    photos = [(item, proof) for item, proof in attached if item.kind == "photo"]
    videos = [item for item, _ in attached if item.kind == "video"]
    if len(photos) > settings.reports_max_photos or len(videos) > 1:
        raise Invalid(
            f"At most {settings.reports_max_photos} photos and 1 video per report", code="too_many_media"
        )
    if sub.lat is None and sub.lon is None:
        for _, proof in photos:
            if proof.exif_lat is not None and proof.exif_lon is not None:
                sub.lat, sub.lon, sub.location_source = proof.exif_lat, proof.exif_lon, "exif"
                break


@dataclass(frozen=True)
class CategoryInfo:
    """What a submission needs of its category."""

    code: str
    sla_hours: float
    urgent: bool


# Built once, Core only: a submission reads one category row, and loading it as an ORM entity (identity
# map, instance state) cost more than the query.
_CATEGORY = select(
    Category.code, Category.active, Category.questions, Category.sla_hours, Category.urgent
).where(Category.code == bindparam("code"))


def validate(session: Session, settings: Settings, sub: Submission) -> tuple[CategoryInfo, dict[str, Any]]:
    """Check a submission; raise 422 with what is wrong, before anything is written."""
    row = session.connection().execute(_CATEGORY, {"code": sub.category_code}).first()
    if row is None or not row.active:
        raise Invalid(f"Unknown category '{sub.category_code}'", code="unknown_category")
    category = CategoryInfo(row.code, row.sla_hours, row.urgent)
    questions = row.questions
    answers = validate_answers(questions, sub.answers)
    check_media(session, settings, sub)
    if (sub.lat is None) != (sub.lon is None):
        raise Invalid("Give both lat and lon, or neither")
    if sub.lat is not None and sub.lon is not None and not (-90 <= sub.lat <= 90 and -180 <= sub.lon <= 180):
        raise Invalid("lat/lon out of range")
    if sub.lat is None and not (sub.address and sub.address.strip()):
        raise Invalid("A location is required: lat and lon, or an address", code="location_required")
    if sub.accuracy_m is not None and sub.accuracy_m < 0:
        raise Invalid("accuracy_m must not be negative")
    if len(sub.description) > MAX_DESCRIPTION:
        raise Invalid(f"description must be at most {MAX_DESCRIPTION} characters")
    has_personal = any([sub.name, sub.phone, sub.email, sub.device_id, sub.account_id])
    if has_personal and not sub.consent:
        raise Invalid(
            "Consent to process the reporter's contact details for handling this report is required",
            code="consent_required",
        )
    return category, answers


@dataclass
class _Draft:
    """A validated submission with everything read from the database: only writes remain. Plain values
    only (no ORM objects), so another thread's session can write it (group commit)."""

    sub: Submission
    category_code: str
    category_sla_hours: float
    category_urgent: bool
    answers: dict[str, Any]
    area_id: int | None
    agency_id: int | None
    duplicates: list[dict[str, Any]]
    now: datetime
    address: str | None
    name: str | None
    phone: str | None
    email: str | None
    device_id: str | None
    account_id: str | None


def _prepare(session: Session, settings: Settings, sub: Submission, now: datetime) -> _Draft:
    """Every read a submission needs (validation, routing, duplicate suggestions), before any write, so
    the write transaction that follows is short; every 422 is raised here."""
    category, answers = validate(session, settings, sub)
    area_id, agency_id = route(session, sub.lat, sub.lon, category.code, to_local(now).date())
    duplicates = []
    restricted = category.code in restricted_codes()  # never suggest (show) a restricted case to a submitter
    if sub.lat is not None and sub.lon is not None and not restricted:
        for near in nearby_open_cases(
            session, category.code, sub.lat, sub.lon, settings.reports_duplicate_radius_m
        ):
            duplicates.append(
                {
                    "ref": near.ref,
                    "distance_m": round(near.distance_m, 1),
                    "state": near.state,
                    "description": mask_contacts(near.description),
                    "submitted_at": near.submitted_at.isoformat(),
                }
            )
    return _Draft(
        sub,
        category.code,
        category.sla_hours,
        category.urgent,
        answers,
        area_id,
        agency_id,
        duplicates,
        now,
        address=_clean_optional(sub.address, 500, "address"),
        name=_clean_optional(sub.name, 200, "name"),
        phone=_clean_optional(sub.phone, 32, "phone"),
        email=_clean_optional(sub.email, 254, "email"),
        device_id=_clean_optional(sub.device_id, 200, "device_id"),
        account_id=_clean_optional(sub.account_id, 200, "account_id"),
    )


def _next_case_ids(session: Session, n: int = 1) -> list[int]:
    """The ids the next ``n`` cases get, known before their INSERT so the reference, token and every row
    that points at a case go in one flush (no INSERT-then-UPDATE of the case)."""
    conn = session.connection()
    if is_postgres(session):
        rows = conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('cases', 'id')) FROM generate_series(1, {int(n)})"
        )
        return sorted(int(r[0]) for r in rows)
    # SQLite: what it would assign itself (rowid = max + 1 onwards), read under the write lock so no
    # other writer can take the same ids before this transaction commits
    dbapi_conn = conn.connection.dbapi_connection
    if dbapi_conn is not None and not dbapi_conn.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    first = int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) + 1 FROM cases").scalar_one())
    return list(range(first, first + n))


def submit(
    session: Session,
    settings: Settings,
    actor: Actor,
    sub: Submission,
    *,
    now: datetime | None = None,
) -> SubmitResult:
    """Create a case from ``sub`` (flushes; the caller commits), routed, with deadlines and duplicates.

    The same rows as a group commit (:func:`_add_case`), written in the caller's transaction; the case
    comes back loaded in ``session`` for the caller to go on with."""
    now = now or utcnow()
    draft = _prepare(session, settings, sub, now)
    session.flush()  # the caller's own pending objects stay theirs (_insert_new detaches what it writes)
    rows = _new_rows()
    case_id = _next_case_ids(session)[0]
    with deferred_flush(session):
        _, token = _add_case(session, settings, actor, draft, case_id, rows)
    _insert_new(session, rows)
    case = session.get(Case, case_id)
    assert case is not None
    return SubmitResult(case=case, token=token, duplicates=draft.duplicates)


# A submission that meets a busy database is run again (nothing was stored) for at most this long,
# then refused with 503 and Retry-After; SQLite's own busy wait counts towards it.
BUSY_RETRY_SECONDS = 5.0


def submit_idempotent(
    session: Session,
    settings: Settings,
    actor: Actor,
    sub: Submission,
    *,
    key: str | None,
    fingerprint_payload: Any,
    render: Any,
    now: datetime | None = None,
) -> tuple[int, dict[str, Any], bool]:
    """Submit and commit; with an ``Idempotency-Key``, a retry gets the first answer and no second case.

    ``render(result) -> dict`` builds the response body stored for replay. Returns (status, body, replayed).
    Contention is absorbed: a transaction the database refused as busy or locked (so nothing of it was
    stored) is run again until :data:`BUSY_RETRY_SECONDS` have passed, then :class:`ServiceUnavailable`
    (503, ``Retry-After``) is raised. Nothing is answered 201 before its commit returned.
    """
    fingerprint = None
    if key is not None:
        key = key.strip()
        if not 16 <= len(key) <= MAX_KEY:
            # long enough to be unguessable: anonymous senders share one key space
            raise Invalid("Idempotency-Key must be 16–200 characters (a UUID is a good choice)")
        fingerprint = request_fingerprint(fingerprint_payload)
    deadline = time.monotonic() + BUSY_RETRY_SECONDS
    pause = 0.005
    while True:
        try:
            return _submit_once(session, settings, actor, sub, key, fingerprint, render, now)
        except (OperationalError, WriterBusy) as exc:
            session.rollback()
            if isinstance(exc, OperationalError) and not is_busy_conflict(exc):
                raise
            if time.monotonic() + pause >= deadline:
                log.warning("report submission refused, database busy: %s", exc)
                raise ServiceUnavailable() from exc
        time.sleep(pause * random.uniform(0.5, 1.5))  # jitter: retries of many requests do not align
        pause = min(pause * 2, 0.2)


@dataclass
class _Pending:
    """One submission waiting for its group commit: everything the writing thread needs."""

    actor: Actor
    draft: _Draft
    key: str | None
    fingerprint: str | None
    render: Any


class _Busy:
    """Outcome of an item the database refused as busy (nothing of it stored): its caller retries."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


_Outcome = tuple[int, dict[str, Any], bool] | _Busy


def _submit_once(
    session: Session,
    settings: Settings,
    actor: Actor,
    sub: Submission,
    key: str | None,
    fingerprint: str | None,
    render: Any,
    now: datetime | None,
) -> tuple[int, dict[str, Any], bool]:
    if key is not None and fingerprint is not None:
        found = find_replay(session, actor.label, key, fingerprint)
        if found is not None:
            return found.status, _with_token(session, found), True
    at = now or utcnow()
    draft = _prepare(session, settings, sub, at)
    # End the read transaction: the connection goes back to the pool while this request waits for its
    # group commit (another thread may write it), and the writer's snapshot is its own.
    session.rollback()
    group = group_commit(session.get_bind().engine, "reports.submit")
    try:
        outcome: _Outcome = group.run(
            _Pending(actor, draft, key, fingerprint, render),
            lambda items: _write_group(session, settings, items),
            timeout=db.BUSY_TIMEOUT_SECONDS,
        )
    except IntegrityError:
        # a concurrent retry with the same key won the race: answer as it did
        if key is None or fingerprint is None:
            raise
        session.rollback()
        found = find_replay(session, actor.label, key, fingerprint)
        if found is None:
            raise
        return found.status, _with_token(session, found), True
    if isinstance(outcome, _Busy):
        raise WriterBusy(outcome.reason)
    return outcome


def _case_rows(
    settings: Settings, actor: Actor, draft: _Draft, case_id: int, rows: dict[Table, list[dict[str, Any]]]
) -> tuple[dict[str, Any], str]:
    """Append one submission's rows (case, reporter, follower, media, timeline entry) to ``rows`` as plain
    column dicts; the case row and the raw token.

    Plain dicts for a group: the ORM objects (instrumented attribute sets, identity bookkeeping, expunge)
    were most of a group's row building. The deadlines are computed here once, from the one calendar.
    """
    sub, now = draft.sub, draft.now
    description = nfc(sub.description)
    located = sub.lat is not None and sub.lon is not None
    sla_hours = sla.handling_hours(settings, draft.category_sla_hours, draft.category_urgent)
    cal = sla.calendar(settings)
    token = new_tracking_token()
    case: dict[str, Any] = {
        "id": case_id,
        "ref": f"{settings.reports_reference_prefix}-{to_local(now).year}-{case_id:06d}",
        "token_hash": token_hash(token),
        "category_code": draft.category_code,
        "description": description,
        "description_key": search_key(description),
        "public_key": search_key(mask_contacts(description) or ""),  # what the public may search
        "answers": draft.answers,
        "lat": sub.lat,
        "lon": sub.lon,
        "accuracy_m": sub.accuracy_m,
        "location_source": sub.location_source if sub.lat is not None else "address",
        "address": draft.address,
        "h3_cell": h3.latlng_to_cell(sub.lat, sub.lon, H3_RESOLUTION) if located else None,
        "area_id": draft.area_id,
        "agency_id": draft.agency_id,
        "state": State.SUBMITTED.value,
        "urgent": draft.category_urgent,
        "source": sub.source,
        "consent": sub.consent,
        "consent_purpose": nfc(sub.consent_purpose)[:200],
        "submitted_at": now,
        "updated_at": now,
        "sla_hours": sla_hours,
        "extended_hours": 0.0,
        # as sla.set_deadlines: acknowledgement and resolution from the submission, nothing overdue yet
        "ack_due_at": cal.add_working_hours(now, settings.reports_ack_hours),
        "resolve_due_at": cal.add_working_hours(now, sla_hours),
        "overdue": False,
        "warned_at": None,
        "escalated_at": None,
        "hidden": draft.category_code in restricted_codes(),  # a restricted category is never public
        "version": 1,  # the optimistic-lock counter starts where the ORM starts it
    }
    rows[_CASES].append(case)
    citizen = actor.user_id if actor.is_citizen else None
    rows[_REPORTERS].append(
        {
            "case_id": case_id,
            "user_id": citizen,
            "name": draft.name,
            "phone": draft.phone,
            "email": draft.email,
            "device_id": draft.device_id,
            "account_id": draft.account_id,
            "created_at": now,
        }
    )
    if citizen is not None:
        rows[_SUBSCRIPTIONS].append(
            {"case_id": case_id, "user_id": citizen, "channel": "push", "created_at": now, "verified_at": now}
        )
    for media_id in sub.media_ids:
        rows[_MEDIA].append({"case_id": case_id, "media_id": media_id, "url": None, "created_at": now})
    for url in sub.media_urls:
        rows[_MEDIA].append({"case_id": case_id, "media_id": None, "url": url[:500], "created_at": now})
    rows[_EVENTS].append(
        {
            "case_id": case_id,
            "at": now,
            "actor_id": actor.user_id,
            "actor_role": actor.role,
            "kind": "submitted",
            "action": "submit",
            "from_state": None,
            "to_state": State.SUBMITTED.value,
            "public": True,
            "comment": None,
            "data": {
                "routed_to": draft.agency_id,
                "area_id": draft.area_id,
                "source": sub.source,
                "consent": sub.consent,
            },
        }
    )
    return case, token


_CASES: Table = Case.__table__  # type: ignore[assignment]
_REPORTERS: Table = CaseReporter.__table__  # type: ignore[assignment]
_SUBSCRIPTIONS: Table = CaseSubscription.__table__  # type: ignore[assignment]
_MEDIA: Table = CaseMedia.__table__  # type: ignore[assignment]
_EVENTS: Table = CaseEvent.__table__  # type: ignore[assignment]
_IDEMPOTENCY: Table = IdempotencyRecord.__table__  # type: ignore[assignment]


def _detached_case(row: dict[str, Any]) -> Case:
    """A transient :class:`Case` holding ``row``'s values (for ``render``), made as the ORM makes a loaded
    row's object: no attribute events, never added to a session."""
    case: Case = Case.__mapper__.class_manager.new_instance()
    case.__dict__.update(row)
    return case


def _new_rows() -> dict[Table, list[dict[str, Any]]]:
    return {t: [] for t in (_CASES, _REPORTERS, _SUBSCRIPTIONS, _MEDIA, _EVENTS, _IDEMPOTENCY)}


def _add_case(
    session: Session,
    settings: Settings,
    actor: Actor,
    draft: _Draft,
    case_id: int,
    rows: dict[Table, list[dict[str, Any]]],
) -> tuple[dict[str, Any], str]:
    """One submission's writes: its rows appended to ``rows`` (:func:`_case_rows`), the outbox event and
    the audit entry added to ``session`` through their modules (:func:`cityops.reports.integrations.emit`,
    :func:`~cityops.reports.integrations.audit`); the case row and the raw token."""
    case, token = _case_rows(settings, actor, draft, case_id, rows)
    integrations.emit(
        session,
        "cases.created",
        {
            "id": case_id,
            "ref": case["ref"],
            "category": draft.category_code,
            "area_id": draft.area_id,
            "agency_id": draft.agency_id,
        },
    )
    # timeline.record's audit twin, its snapshot taken from the row (no case object)
    integrations.audit(
        session,
        actor,
        "case.submit",
        case_id,
        before=None,
        after={
            "state": case["state"],
            "agency_id": case["agency_id"],
            "assignee_id": None,
            "reject_reason": None,
            "master_id": None,
            "resolve_due_at": case["resolve_due_at"].isoformat(),
        },
    )
    return case, token


def _write_items(session: Session, settings: Settings, items: Sequence[_Pending]) -> list[_Outcome]:
    """Write every item's rows (inside the write turn, :func:`_add_case` each) with one INSERT batch per
    table for the whole group."""
    ids = _next_case_ids(session, len(items))
    rows = _new_rows()
    outcomes: list[_Outcome] = []
    with deferred_flush(session):
        for item, case_id in zip(items, ids, strict=True):
            draft = item.draft
            case, token = _add_case(session, settings, item.actor, draft, case_id, rows)
            result = SubmitResult(case=_detached_case(case), token=token, duplicates=draft.duplicates)
            body: dict[str, Any] = item.render(result)
            if item.key is not None and item.fingerprint is not None:
                kept = {k: v for k, v in body.items() if k != "token"}  # a replay gets a fresh token
                rows[_IDEMPOTENCY].append(
                    stored_row(
                        item.actor.label, item.key, item.fingerprint, 201, kept, case_id=case_id, at=draft.now
                    )
                )
            outcomes.append((201, body, False))
    _insert_new(session, rows)
    return outcomes


_Columns = tuple[tuple[str, str], ...]
_columns_of: dict[Mapper[Any], _Columns] = {}


def _insert_new(session: Session, rows: dict[Table, list[dict[str, Any]]] | None = None) -> None:
    """Write ``rows`` and the session's new objects with one INSERT per table and column set instead of a
    flush, and detach the objects.

    A group's rows are plain inserts (no relationships, no ids read back), and the unit of work's
    per-object bookkeeping was a fifth of a submission's CPU. Rows go in the metadata's dependency
    order (cases before the rows that point at them); Python-side column defaults apply as in a flush
    (Core applies them), and the optimistic-lock version starts at 1 as the ORM would set it. A value
    that is a SQL expression (a module may store one) is inlined: those rows go as one multi-row VALUES.
    """
    new = list(session.new)
    if any(inspect(obj).mapper.inherits is not None for obj in new):
        session.flush()  # not a plain one-table insert: let the unit of work do it
        new = []
    by_table: dict[Table, dict[tuple[str, ...], list[dict[str, Any]]]] = {}
    for table, table_rows in (rows or {}).items():
        for row in table_rows:
            by_table.setdefault(table, {}).setdefault(tuple(row), []).append(row)
    for obj in new:
        mapper = inspect(obj).mapper
        columns = _columns_of.get(mapper)
        if columns is None:
            columns = _columns_of[mapper] = tuple(
                (attr.key, attr.columns[0].key) for attr in mapper.column_attrs
            )
        values = obj.__dict__
        row = {column: values[key] for key, column in columns if key in values}
        version = mapper.version_id_col
        if version is not None and row.get(version.key) is None:
            row[version.key] = 1
        # executemany needs one column set per statement
        by_table.setdefault(mapper.local_table, {}).setdefault(tuple(row), []).append(row)
    for obj in new:
        session.expunge(obj)
    conn = session.connection()
    for table in Base.metadata.sorted_tables:
        for same_columns in by_table.get(table, {}).values():
            if any(isinstance(v, ClauseElement) for row in same_columns for v in row.values()):
                conn.execute(table.insert().values(same_columns))
            else:
                conn.execute(table.insert(), same_columns)


def _busy_outcome(exc: BaseException) -> _Busy | None:
    """A :class:`_Busy` outcome if ``exc`` means the database was too busy (a retry may succeed)."""
    if isinstance(exc, WriterBusy) or (isinstance(exc, OperationalError) and is_busy_conflict(exc)):
        return _Busy(str(exc))
    return None


def _write_group(
    session: Session, settings: Settings, items: Sequence[_Pending]
) -> list[_Outcome | BaseException]:
    """Write a group of submissions in one transaction and commit; the outcome of each.

    Busy: every item is told so (nothing was stored; each caller retries). Any other failure (a
    reused Idempotency-Key, a media item deleted meanwhile): the group is rolled back and each item is
    written in its own transaction, so one bad row costs the others nothing and gets its own error.
    """
    try:
        with write_turn(session):
            outcomes: list[_Outcome | BaseException] = list(_write_items(session, settings, items))
            session.commit()  # inside the turn: the next writer starts once this one has committed
        return outcomes
    except Exception as exc:
        session.rollback()
        busy = _busy_outcome(exc)
        if busy is not None:
            return [busy] * len(items)
        if len(items) == 1:
            return [exc]
        log.info("group of %d submissions failed (%s); writing them one by one", len(items), exc)
    outcomes = []
    for item in items:
        try:
            with write_turn(session):
                outcomes.extend(_write_items(session, settings, [item]))
                session.commit()
        except Exception as exc:
            session.rollback()
            outcomes.append(_busy_outcome(exc) or exc)
    return outcomes


def _with_token(session: Session, record: IdempotencyRecord) -> dict[str, Any]:
    """The stored answer of a replayed submission with a fresh tracking token (the first is not kept);
    commits the rotation."""
    body = dict(record.body)
    if record.case_id is not None:
        body["token"] = rotate_token(session, record.case_id)
        session.commit()
    return body
