"""Applying rules to datastreams: evaluation state, alerts, audit entries and events.

* :func:`process_observations` — new (time, value) points of one datastream, through every enabled rule
  that targets it (by datastream id, or by observed-property code within the rule's areas).
* :func:`sweep_staleness` — the staleness rules at an explicit ``now`` (run periodically).
* :func:`acknowledge` / :func:`close` — the operator's side of the lifecycle.

Each change is audited (``cityops.audit.service.record``) and emits one event through the outbox
(``alerts.opened``, ``alerts.escalated``, ``alerts.deescalated``, ``alerts.acknowledged``,
``alerts.closed``) carrying the alert's severity, areas and Vietnamese/English messages: notification
channels (web push, SMS, email, IOC stream) subscribe to those events and deliver to the subscribers of
the areas concerned. The caller commits.

Which areas a datastream concerns: the rule's ``area_ids`` when set, else the station's — the Thing's
``properties["area_ids"]`` (set by the loader or an operator). The observed property's code is
``ObservedProperty.properties["code"]`` (see :mod:`cityops.sensing.properties`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.alerts.models import Alert, AlertArea, AlertState, Rule, RuleKind, RuleState, Severity
from cityops.alerts.rules import (
    SEVERITY_EN,
    SEVERITY_VI,
    EvalState,
    Evaluation,
    Level,
    Point,
    SeverityName,
    StalenessParams,
    ThresholdParams,
    Transition,
    evaluate,
    evaluate_staleness,
    levels_from_mapping,
    parse_params,
    render_message,
)
from cityops.audit.service import record, snapshot
from cityops.clock import format_datetime, to_local, utcnow
from cityops.errors import Conflict, NotFound
from cityops.events.outbox import emit
from cityops.identity.policy import Principal
from cityops.sensing import properties as props
from cityops.sensing.models import Datastream, Observation, ObservedProperty, Thing

log = logging.getLogger("cityops.alerts")

STATION_LEVEL_SEVERITIES: tuple[SeverityName, ...] = ("watch", "warning", "critical")

DEFAULT_MESSAGE_VI = "{severity_vi}: {property_vi} tại {station} là {value} {unit} lúc {time}{level_text_vi}."
DEFAULT_MESSAGE_EN = "{severity_en}: {property_en} at {station} is {value} {unit} at {time}{level_text_en}."
# A rule on a forecast Datastream (properties.forecast, #16) says it is a forecast and when it was issued.
FORECAST_MESSAGE_VI = (
    "{severity_vi} (DỰ BÁO): {property_vi} tại {station} được dự báo đạt {value} {unit} lúc {time}"
    "{level_text_vi}, trước {lead_hours} giờ; bản dự báo phát hành lúc {issued}. Đây là dự báo, chưa phải số đo."
)
FORECAST_MESSAGE_EN = (
    "{severity_en} (FORECAST): {property_en} at {station} is forecast to reach {value} {unit} at {time}"
    "{level_text_en}, {lead_hours} h ahead; forecast issued at {issued}. This is a forecast, not a measurement."
)
# Station names already say what they are ("Trạm …", "Đếm xe …"): the texts do not add "trạm"/"station".
STALE_MESSAGE_VI = (
    "{severity_vi}: {station} đã ngừng gửi số liệu {property_vi_lower}; "
    "lần gửi cuối lúc {last_seen_time} ngày {last_seen_date}."
)
STALE_MESSAGE_EN = (
    "{severity_en}: {station} has stopped sending {property_en_lower} data; "
    "last reported on {last_seen_date} at {last_seen_time} (Vietnam time)."
)
NEVER_MESSAGE_VI = "{severity_vi}: {station} chưa gửi số liệu {property_vi_lower} lần nào."
NEVER_MESSAGE_EN = "{severity_en}: {station} has never sent {property_en_lower} data."


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What happened to an alert: opened, escalated, deescalated, acknowledged or closed."""

    alert_id: int
    action: str
    severity: Severity
    at: datetime


# ------------------------------------------------------------------------------------------ targeting


def property_code(session: Session, ds: Datastream) -> str | None:
    op = session.get(ObservedProperty, ds.observed_property_id)
    if op is None:
        return None
    code = (op.properties or {}).get("code")
    return str(code) if code else None


def station_area_ids(thing: Thing | None) -> list[int]:
    raw = ((thing.properties or {}) if thing else {}).get("area_ids") or []
    return [int(a) for a in raw if isinstance(a, int | str) and str(a).isdigit()]


def rules_for(session: Session, ds: Datastream, *, kinds: Iterable[RuleKind] | None = None) -> list[Rule]:
    """Enabled rules targeting ``ds`` directly, or its property within the rule's area scope."""
    code = property_code(session, ds)
    stmt = select(Rule).where(Rule.enabled.is_(True))
    if kinds is not None:
        stmt = stmt.where(Rule.kind.in_(list(kinds)))
    candidates = session.scalars(stmt.order_by(Rule.id)).all()
    thing = session.get(Thing, ds.thing_id)
    areas = set(station_area_ids(thing))
    out = []
    for rule in candidates:
        if rule.datastream_id is not None:
            if rule.datastream_id == ds.id:
                out.append(rule)
        elif (
            rule.property_code
            and rule.property_code == code
            and (not rule.area_ids or areas & set(rule.area_ids))
        ):
            out.append(rule)
    return out


def datastreams_with_rules(session: Session, ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` some enabled rule targets (as :func:`rules_for` decides), in two statements for
    the whole batch: the enabled rules, then the batch's datastreams with their property and station."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    rules = session.scalars(select(Rule).where(Rule.enabled.is_(True))).all()
    found = {r.datastream_id for r in rules if r.datastream_id is not None and r.datastream_id in wanted}
    by_code = [r for r in rules if r.datastream_id is None and r.property_code]
    if not by_code:
        return found
    rows = session.execute(
        select(Datastream.id, ObservedProperty.properties, Thing.properties)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .outerjoin(Thing, Thing.id == Datastream.thing_id)
        .where(Datastream.id.in_(wanted))
    )
    for ds_id, op_props, thing_props in rows:
        raw_code = (op_props or {}).get("code")
        code = str(raw_code) if raw_code else None
        raw_areas = (thing_props or {}).get("area_ids") or []
        areas = {int(a) for a in raw_areas if isinstance(a, int | str) and str(a).isdigit()}
        for rule in by_code:
            if rule.property_code == code and (not rule.area_ids or areas & set(rule.area_ids)):
                found.add(int(ds_id))
                break
    return found


def _levels(rule: Rule, params: ThresholdParams, thing: Thing | None) -> list[Level] | None:
    if not params.levels_from_thing:
        return list(params.levels)
    mapping = ((thing.properties or {}) if thing else {}).get(params.levels_from_thing)
    if not isinstance(mapping, dict) or not mapping:
        return None
    try:
        return levels_from_mapping(mapping, params.level_severities or STATION_LEVEL_SEVERITIES)
    except (ValidationError, KeyError, TypeError, ValueError):
        log.warning("rule %s: station levels %r are not valid", rule.id, mapping)
        return None


def _state_row(session: Session, rule: Rule, ds: Datastream) -> RuleState:
    stmt = select(RuleState).where(RuleState.rule_id == rule.id, RuleState.datastream_id == ds.id)
    row = session.scalars(stmt.with_for_update()).first()
    if row is None:
        row = RuleState(rule_id=rule.id, datastream_id=ds.id, state={})
        session.add(row)
    return row


# --------------------------------------------------------------------------------------- evaluation


def process_observations(
    session: Session, datastream_id: int, points: Sequence[Point], *, now: datetime | None = None
) -> list[AlertChange]:
    """Evaluate new observations of one datastream against its rules; persist and emit what changes."""
    ds = session.get(Datastream, datastream_id)
    if ds is None:
        raise NotFound(f"Datastream {datastream_id} does not exist")
    clean = [(t, float(v)) for t, v in points if v is not None]
    if not clean:
        return []
    thing = session.get(Thing, ds.thing_id)
    changes: list[AlertChange] = []
    for rule in rules_for(session, ds):
        try:
            params = parse_params(rule.kind, rule.parameters)
        except ValidationError:
            log.warning("rule %s has invalid parameters; skipped", rule.id)
            continue
        levels = None
        if isinstance(params, ThresholdParams):
            levels = _levels(rule, params, thing)
            if not levels:
                continue
        row = _state_row(session, rule, ds)
        ev = evaluate(rule.kind, params, EvalState.from_json(row.state), clean, levels=levels)
        changes += _apply(session, rule, ds, thing, row, ev, now=now)
    return changes


def sweep_staleness(session: Session, now: datetime) -> list[AlertChange]:
    """Open staleness alerts for datastreams silent too long at ``now``."""
    changes: list[AlertChange] = []
    rules = session.scalars(
        select(Rule).where(Rule.enabled.is_(True), Rule.kind == RuleKind.STALENESS).order_by(Rule.id)
    ).all()
    for rule in rules:
        try:
            params = parse_params(rule.kind, rule.parameters)
        except ValidationError:
            log.warning("rule %s has invalid parameters; skipped", rule.id)
            continue
        assert isinstance(params, StalenessParams)
        for ds in _datastreams_of(session, rule):
            row = _state_row(session, rule, ds)
            state = EvalState.from_json(row.state)
            ev = evaluate_staleness(params, state, ds.last_phenomenon_time, now)
            if ev.transitions:
                thing = session.get(Thing, ds.thing_id)
                changes += _apply(session, rule, ds, thing, row, ev, now=now)
    return changes


def _datastreams_of(session: Session, rule: Rule) -> list[Datastream]:
    if rule.datastream_id is not None:
        ds = session.get(Datastream, rule.datastream_id)
        return [ds] if ds is not None else []
    if not rule.property_code:
        return []
    # Observed properties are few: find the ones with this code in Python (no JSON query per backend).
    op_ids = [
        op.id
        for op in session.scalars(select(ObservedProperty)).all()
        if (op.properties or {}).get("code") == rule.property_code
    ]
    if not op_ids:
        return []
    stmt = select(Datastream).where(Datastream.observed_property_id.in_(op_ids)).order_by(Datastream.id)
    out = []
    for ds in session.scalars(stmt).all():
        if rule.area_ids and not set(rule.area_ids) & set(station_area_ids(session.get(Thing, ds.thing_id))):
            continue
        out.append(ds)
    return out


def _context(
    session: Session, rule: Rule, ds: Datastream, thing: Thing | None, tr: Transition
) -> dict[str, Any]:
    code = property_code(session, ds)
    forecast = _forecast_of(session, ds, tr.at)
    measured = (forecast or {}).get("code") or code  # a forecast speaks of the property it forecasts
    spec = props.get(measured) if measured else None
    unit = (ds.unit_of_measurement or {}).get("symbol") or (spec.unit_symbol if spec else "")
    severity = tr.severity or Severity.INFO
    seen = to_local(ds.last_phenomenon_time) if ds.last_phenomenon_time else None
    property_vi = spec.name_vi if spec else ds.name
    property_en = spec.name_en if spec else ds.name
    return {
        "station": thing.name if thing else ds.name,
        "datastream": ds.name,
        "property_vi": property_vi,
        "property_en": property_en,
        "property_vi_lower": inline(property_vi),
        "property_en_lower": inline(property_en),
        "value": "" if tr.value is None else f"{tr.value:g}",
        # Vietnamese writes a decimal comma ("2,219 g/L"; "2.219" reads as two thousand two hundred)
        "value_vi": "" if tr.value is None else f"{tr.value:g}".replace(".", ","),
        "unit": display_unit(unit),
        "time": format_datetime(tr.at),
        "severity_vi": SEVERITY_VI[severity],
        "severity_en": SEVERITY_EN[severity],
        "level": tr.label or "",
        "level_text_vi": f" (mức {tr.label})" if tr.label else "",
        "level_text_en": f" (level {tr.label})" if tr.label else "",
        "last_seen": format_datetime(seen) if seen else "—",
        "last_seen_date": seen.strftime("%d/%m/%Y") if seen else "—",
        "last_seen_time": seen.strftime("%H:%M") if seen else "—",
        "never_reported": seen is None,
        "rule": rule.name_vi,
        "forecast": forecast is not None,
        "lead_hours": (forecast or {}).get("lead_hours", ""),
        "issued": (forecast or {}).get("issued", ""),
    }


def _forecast_of(session: Session, ds: Datastream, at: datetime) -> dict[str, Any] | None:
    """For a forecast Datastream: the forecast property's code, the lead and the issue time (local) of the
    forecast for ``at`` (its Observation's resultTime); None for a measured Datastream."""
    info = (ds.properties or {}).get("forecast")
    if not isinstance(info, dict):
        return None
    issued = session.scalar(
        select(Observation.result_time).where(
            Observation.datastream_id == ds.id, Observation.phenomenon_time == at
        )
    )
    op = session.get(ObservedProperty, ds.observed_property_id)
    return {
        "code": str(((op.properties if op else None) or {}).get("forecast_of") or ""),
        "lead_hours": info.get("horizon_hours", ""),
        "issued": format_datetime(to_local(issued)) if issued else "—",
    }


def display_unit(ucum: str) -> str:
    """A UCUM code as a sentence shows it, never raw: "Cel" → "°C", "ug/m3" → "µg/m³", "{AQI}" and "[pH]" →
    nothing (the property names them), "{vehicles}/h" → "vehicles/h", "dB{A}" → "dB(A)"."""
    text = {"Cel": "°C", "[pH]": "", "{AQI}": "", "dB{A}": "dB(A)"}.get(ucum)
    if text is not None:
        return text
    text = ucum.replace("ug/", "µg/").replace("m3", "m³").replace("[", "").replace("]", "")
    return text.replace("{", "").replace("}", "") if "/" in text else re.sub(r"\{[^}]*\}", "", text)


def inline(name: str) -> str:
    """A property name as it reads inside a sentence: "Độ mặn" → "độ mặn"; acronyms ("PM2.5") stay."""
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def _messages(ctx: dict[str, Any], rule: Rule) -> tuple[str, str]:
    if rule.kind is RuleKind.STALENESS:
        never = bool(ctx["never_reported"])
        vi, en = (NEVER_MESSAGE_VI, NEVER_MESSAGE_EN) if never else (STALE_MESSAGE_VI, STALE_MESSAGE_EN)
    elif ctx.get("forecast"):
        vi, en = FORECAST_MESSAGE_VI, FORECAST_MESSAGE_EN
    else:
        vi, en = DEFAULT_MESSAGE_VI, DEFAULT_MESSAGE_EN
    in_vi = {**ctx, "value": ctx["value_vi"]}
    return render_message(rule.message_vi or vi, in_vi), render_message(rule.message_en or en, ctx)


def _event(alert: Alert, rule: Rule | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "alert_id": alert.id,
        "rule_id": alert.rule_id,
        "rule_code": rule.code if rule else None,
        "datastream_id": alert.datastream_id,
        "state": alert.state.value,
        "severity": alert.severity.value,
        "area_ids": list(alert.area_ids or []),
        "message_vi": alert.message_vi,
        "message_en": alert.message_en,
        "opened_at": alert.opened_at,
        "closed_at": alert.closed_at,
        "last_value": alert.last_value,
        "peak_value": alert.peak_value,
    }
    if extra:
        payload.update(extra)
    return payload


def _apply(
    session: Session,
    rule: Rule,
    ds: Datastream,
    thing: Thing | None,
    row: RuleState,
    ev: Evaluation,
    *,
    now: datetime | None,
) -> list[AlertChange]:
    alert = session.get(Alert, row.alert_id) if row.alert_id else None
    if alert is not None and alert.state is AlertState.CLOSED:
        alert = None
    changes: list[AlertChange] = []
    for tr in ev.transitions:
        if tr.action == "clear":
            if alert is not None:
                before = snapshot(alert)
                alert.state = AlertState.CLOSED
                alert.closed_at = tr.at
                alert.close_reason = "cleared"
                if tr.value is not None:
                    alert.last_value = tr.value
                session.flush()
                record(
                    session, None, "alert.clear", "alert", alert.id, before, snapshot(alert), label="alerts"
                )
                emit(session, "alerts.closed", _event(alert, rule, {"reason": "cleared"}))
                changes.append(AlertChange(alert.id, "closed", alert.severity, tr.at))
                alert = None
            continue
        assert tr.severity is not None
        ctx = _context(session, rule, ds, thing, tr)
        vi, en = _messages(ctx, rule)
        if alert is None:
            alert = _open(session, rule, ds, thing, tr, vi, en)
            changes.append(AlertChange(alert.id, "opened", alert.severity, tr.at))
            continue
        before = snapshot(alert)
        alert.severity = tr.severity
        alert.message_vi, alert.message_en = vi, en
        alert.details = {**(alert.details or {}), "level": tr.level, "label": tr.label}
        if tr.value is not None:
            alert.last_value = tr.value
            alert.peak_value = _more_extreme(rule, alert.peak_value, tr.value)
        session.flush()
        action = "escalated" if tr.action == "escalate" else "deescalated"
        record(
            session, None, f"alert.{tr.action}", "alert", alert.id, before, snapshot(alert), label="alerts"
        )
        emit(session, f"alerts.{action}", _event(alert, rule))
        changes.append(AlertChange(alert.id, action, alert.severity, tr.at))
    if alert is not None and ev.last_value is not None:
        alert.last_value = ev.last_value
        alert.last_time = ev.state.last_time
        alert.peak_value = _more_extreme(rule, alert.peak_value, ev.last_value)
    row.state = ev.state.to_json()
    row.alert_id = alert.id if alert is not None else None
    row.updated_at = now or utcnow()
    session.flush()
    return changes


def _more_extreme(rule: Rule, peak: float | None, value: float) -> float:
    if peak is None:
        return value
    below = rule.kind is RuleKind.THRESHOLD and rule.parameters.get("direction") == "below"
    return min(peak, value) if below else max(peak, value)


def _open(
    session: Session, rule: Rule, ds: Datastream, thing: Thing | None, tr: Transition, vi: str, en: str
) -> Alert:
    assert tr.severity is not None
    area_ids = sorted(set(rule.area_ids or []) or set(station_area_ids(thing)))
    alert = Alert(
        rule_id=rule.id,
        datastream_id=ds.id,
        state=AlertState.OPEN,
        severity=tr.severity,
        opened_at=tr.at,
        last_value=tr.value,
        peak_value=tr.value,
        last_time=tr.at,
        area_ids=area_ids,
        message_vi=vi,
        message_en=en,
        details={"level": tr.level, "label": tr.label, "kind": rule.kind.value},
    )
    session.add(alert)
    session.flush()
    for area_id in area_ids:
        session.add(AlertArea(alert_id=alert.id, area_id=area_id))
    session.flush()
    record(session, None, "alert.open", "alert", alert.id, None, snapshot(alert), label="alerts")
    emit(session, "alerts.opened", _event(alert, rule))
    return alert


# ---------------------------------------------------------------------------------------- lifecycle


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"Alert {alert_id} does not exist")
    return alert


def acknowledge(
    session: Session, alert_id: int, principal: Principal, *, now: datetime | None = None
) -> Alert:
    """open → acknowledged (409 from any other state)."""
    alert = get_alert(session, alert_id)
    if alert.state is not AlertState.OPEN:
        raise Conflict(f"Alert {alert_id} is {alert.state.value}, only an open alert can be acknowledged")
    before = snapshot(alert)
    alert.state = AlertState.ACKNOWLEDGED
    alert.acknowledged_at = now or utcnow()
    alert.acknowledged_by = principal.user_id
    session.flush()
    record(session, principal, "alert.acknowledge", "alert", alert.id, before, snapshot(alert))
    emit(session, "alerts.acknowledged", _event(alert, _rule(session, alert)))
    return alert


def close(
    session: Session,
    alert_id: int,
    principal: Principal,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> Alert:
    """open|acknowledged → closed by an operator. The rule stays quiet until its condition clears."""
    alert = get_alert(session, alert_id)
    if alert.state is AlertState.CLOSED:
        raise Conflict(f"Alert {alert_id} is already closed")
    before = snapshot(alert)
    alert.state = AlertState.CLOSED
    alert.closed_at = now or utcnow()
    alert.closed_by = principal.user_id
    alert.close_reason = "manual"
    if note:
        alert.details = {**(alert.details or {}), "close_note": note}
    session.flush()
    record(session, principal, "alert.close", "alert", alert.id, before, snapshot(alert))
    emit(session, "alerts.closed", _event(alert, _rule(session, alert), {"reason": "manual"}))
    return alert


def _rule(session: Session, alert: Alert) -> Rule | None:
    return session.get(Rule, alert.rule_id) if alert.rule_id else None


def list_alerts(
    session: Session,
    *,
    state: AlertState | None = None,
    severity: Severity | None = None,
    area_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Alert]:
    stmt = select(Alert)
    if state is not None:
        stmt = stmt.where(Alert.state == state)
    if severity is not None:
        stmt = stmt.where(Alert.severity == severity)
    if area_id is not None:
        stmt = stmt.where(Alert.id.in_(select(AlertArea.alert_id).where(AlertArea.area_id == area_id)))
    stmt = stmt.order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt).all())
