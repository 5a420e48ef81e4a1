"""Native API: alerts (list, acknowledge, close) and alert rules (admin CRUD).

* ``GET /api/v1/alerts?state=&severity=&area=&limit=&offset=`` — public: alerts carry no personal data
  and citizens receive area alerts anyway.
* ``POST /api/v1/alerts/{id}/acknowledge`` and ``POST /api/v1/alerts/{id}/close`` — ``alert.manage``.
* ``GET/POST /api/v1/alert-rules``, ``GET/PATCH/DELETE /api/v1/alert-rules/{id}`` — reading needs
  ``alert.manage``; writing needs ``alert.rule.manage`` (admins).
* ``GET/POST /api/v1/alert-subscriptions``, ``DELETE /api/v1/alert-subscriptions/{id}`` — signed-in users
  follow the alerts of an area (``alert.subscribe``); operators may add a bare phone/e-mail and list all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from cityops.alerts import service
from cityops.alerts.models import Alert, AlertState, AlertSubscription, Rule, RuleKind, Severity
from cityops.alerts.rules import parse_params
from cityops.audit.service import record, snapshot
from cityops.clock import utcnow
from cityops.deps import SessionDep
from cityops.errors import Conflict, Invalid, NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, authorize, can
from cityops.paging import Page, page_params
from cityops.text import nfc

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class AlertOut(BaseModel):
    id: int
    rule_id: int | None
    datastream_id: int | None
    state: AlertState
    severity: Severity
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    closed_at: datetime | None
    closed_by: int | None
    close_reason: str | None
    last_value: float | None
    peak_value: float | None
    last_time: datetime | None
    area_ids: list[int]
    message_vi: str
    message_en: str

    @classmethod
    def of(cls, a: Alert) -> AlertOut:
        return cls(
            id=a.id,
            rule_id=a.rule_id,
            datastream_id=a.datastream_id,
            state=a.state,
            severity=a.severity,
            opened_at=a.opened_at,
            acknowledged_at=a.acknowledged_at,
            acknowledged_by=a.acknowledged_by,
            closed_at=a.closed_at,
            closed_by=a.closed_by,
            close_reason=a.close_reason,
            last_value=a.last_value,
            peak_value=a.peak_value,
            last_time=a.last_time,
            area_ids=list(a.area_ids or []),
            message_vi=a.message_vi,
            message_en=a.message_en,
        )


class CloseIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    note: str | None = Field(None, max_length=2000)


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(
    session: SessionDep,
    page: Annotated[Page, Depends(page_params(100))],
    state: AlertState | None = None,
    severity: Severity | None = None,
    area: Annotated[int | None, Query(description="Area id the alert concerns")] = None,
) -> list[AlertOut]:
    rows = service.list_alerts(
        session, state=state, severity=severity, area_id=area, limit=page.limit, offset=page.offset
    )
    return [AlertOut.of(a) for a in rows]


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(alert_id: int, session: SessionDep) -> AlertOut:
    return AlertOut.of(service.get_alert(session, alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(alert_id: int, session: SessionDep, principal: CurrentPrincipal) -> AlertOut:
    authorize(principal, Action.ALERT_MANAGE)
    alert = service.acknowledge(session, alert_id, principal)
    session.commit()
    return AlertOut.of(alert)


@router.post("/alerts/{alert_id}/close", response_model=AlertOut)
def close(
    alert_id: int, session: SessionDep, principal: CurrentPrincipal, body: CloseIn | None = None
) -> AlertOut:
    authorize(principal, Action.ALERT_MANAGE)
    note = nfc(body.note) if body and body.note else None
    alert = service.close(session, alert_id, principal, note=note)
    session.commit()
    return AlertOut.of(alert)


# ----------------------------------------------------------------------------------------------- rules


class RuleIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    code: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name_vi: str = Field(min_length=1, max_length=255)
    name_en: str = Field("", max_length=255)
    kind: Literal["threshold", "rate_of_change", "staleness"]
    datastream_id: int | None = None
    property_code: str | None = Field(None, min_length=1, max_length=64)
    area_ids: list[int] = Field(default_factory=list)
    parameters: dict[str, Any]
    message_vi: str = Field("", max_length=2000)
    message_en: str = Field("", max_length=2000)
    enabled: bool = True


class RulePatch(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name_vi: str | None = Field(None, min_length=1, max_length=255)
    name_en: str | None = Field(None, max_length=255)
    area_ids: list[int] | None = None
    parameters: dict[str, Any] | None = None
    message_vi: str | None = Field(None, max_length=2000)
    message_en: str | None = Field(None, max_length=2000)
    enabled: bool | None = None


class RuleOut(BaseModel):
    id: int
    code: str | None
    name_vi: str
    name_en: str
    kind: RuleKind
    datastream_id: int | None
    property_code: str | None
    area_ids: list[int]
    parameters: dict[str, Any]
    message_vi: str
    message_en: str
    enabled: bool

    @classmethod
    def of(cls, r: Rule) -> RuleOut:
        return cls(
            id=r.id,
            code=r.code,
            name_vi=r.name_vi,
            name_en=r.name_en,
            kind=r.kind,
            datastream_id=r.datastream_id,
            property_code=r.property_code,
            area_ids=list(r.area_ids or []),
            parameters=dict(r.parameters or {}),
            message_vi=r.message_vi,
            message_en=r.message_en,
            enabled=r.enabled,
        )


def _check_params(kind: RuleKind, parameters: dict[str, Any]) -> dict[str, Any]:
    try:
        return parse_params(kind, parameters).model_dump(exclude_none=True)
    except ValidationError as exc:
        details = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()]
        raise Invalid("The rule parameters are not valid", details=details) from None


def _get_rule(session: SessionDep, rule_id: int) -> Rule:
    rule = session.get(Rule, rule_id)
    if rule is None:
        raise NotFound(f"Rule {rule_id} does not exist")
    return rule


@router.get("/alert-rules", response_model=list[RuleOut])
def list_rules(session: SessionDep, principal: CurrentPrincipal) -> list[RuleOut]:
    authorize(principal, Action.ALERT_MANAGE)
    return [RuleOut.of(r) for r in session.scalars(select(Rule).order_by(Rule.id)).all()]


@router.get("/alert-rules/{rule_id}", response_model=RuleOut)
def get_rule(rule_id: int, session: SessionDep, principal: CurrentPrincipal) -> RuleOut:
    authorize(principal, Action.ALERT_MANAGE)
    return RuleOut.of(_get_rule(session, rule_id))


@router.post("/alert-rules", response_model=RuleOut, status_code=201)
def create_rule(
    body: RuleIn, session: SessionDep, principal: CurrentPrincipal, request: Request, response: Response
) -> RuleOut:
    authorize(principal, Action.ALERT_RULE_MANAGE)
    kind = RuleKind(body.kind)
    if (body.datastream_id is None) == (body.property_code is None):
        raise Invalid("Give exactly one target: datastream_id or property_code")
    if body.code and session.scalars(select(Rule.id).where(Rule.code == body.code)).first():
        raise Conflict(f"A rule with code {body.code!r} exists")
    if body.datastream_id is not None:
        from cityops.sensing.models import Datastream

        if session.get(Datastream, body.datastream_id) is None:
            raise Invalid(f"Datastream {body.datastream_id} does not exist")
    now = utcnow()
    rule = Rule(
        code=body.code,
        name_vi=nfc(body.name_vi),
        name_en=nfc(body.name_en),
        kind=kind,
        datastream_id=body.datastream_id,
        property_code=body.property_code,
        area_ids=sorted(set(body.area_ids)),
        parameters=_check_params(kind, body.parameters),
        message_vi=nfc(body.message_vi),
        message_en=nfc(body.message_en),
        enabled=body.enabled,
        created_at=now,
        updated_at=now,
    )
    session.add(rule)
    session.flush()
    record(session, principal, "alert_rule.create", "alert_rule", rule.id, None, snapshot(rule), request)
    session.commit()
    response.headers["Location"] = f"/api/v1/alert-rules/{rule.id}"
    return RuleOut.of(rule)


@router.patch("/alert-rules/{rule_id}", response_model=RuleOut)
def update_rule(
    rule_id: int, body: RulePatch, session: SessionDep, principal: CurrentPrincipal, request: Request
) -> RuleOut:
    authorize(principal, Action.ALERT_RULE_MANAGE)
    rule = _get_rule(session, rule_id)
    before = snapshot(rule)
    changes = body.model_dump(exclude_unset=True)
    if "parameters" in changes:
        if body.parameters is None:
            raise Invalid("parameters cannot be null")
        rule.parameters = _check_params(rule.kind, body.parameters)
    for key in ("name_vi", "name_en", "message_vi", "message_en"):
        value = changes.get(key)
        if value is not None:
            setattr(rule, key, nfc(value))
    if body.area_ids is not None:
        rule.area_ids = sorted(set(body.area_ids))
    if body.enabled is not None:
        rule.enabled = body.enabled
    rule.updated_at = utcnow()
    session.flush()
    record(session, principal, "alert_rule.update", "alert_rule", rule.id, before, snapshot(rule), request)
    session.commit()
    return RuleOut.of(rule)


@router.delete("/alert-rules/{rule_id}", status_code=204)
def delete_rule(rule_id: int, session: SessionDep, principal: CurrentPrincipal, request: Request) -> Response:
    authorize(principal, Action.ALERT_RULE_MANAGE)
    rule = _get_rule(session, rule_id)
    before = snapshot(rule)
    session.delete(rule)
    session.flush()
    record(session, principal, "alert_rule.delete", "alert_rule", rule_id, before, None, request)
    session.commit()
    return Response(status_code=204)


# ------------------------------------------------------------------------------------- subscriptions


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    area_id: int
    min_severity: Literal["info", "watch", "warning", "critical"] = "watch"
    locale: Literal["vi", "en"] = "vi"
    phone: str | None = Field(None, min_length=8, max_length=20, description="Operators only: a bare phone.")
    email: str | None = Field(
        None, min_length=3, max_length=254, description="Operators only: a bare e-mail."
    )


class SubscriptionOut(BaseModel):
    id: int
    area_id: int
    user_id: int | None
    phone: str | None
    email: str | None
    min_severity: Severity
    locale: str
    active: bool

    @classmethod
    def of(cls, s: AlertSubscription) -> SubscriptionOut:
        return cls(
            id=s.id,
            area_id=s.area_id,
            user_id=s.user_id,
            phone=s.phone,
            email=s.email,
            min_severity=s.min_severity,
            locale=s.locale,
            active=s.active,
        )


@router.get("/alert-subscriptions", response_model=list[SubscriptionOut])
def list_subscriptions(
    session: SessionDep,
    principal: CurrentPrincipal,
    show_all: Annotated[bool, Query(alias="all")] = False,
) -> list[SubscriptionOut]:
    """The caller's subscriptions (``?all=true``: every subscription, for operators)."""
    authorize(principal, Action.ALERT_SUBSCRIBE)
    stmt = select(AlertSubscription).order_by(AlertSubscription.id)
    if show_all:
        authorize(principal, Action.ALERT_MANAGE)
    else:
        stmt = stmt.where(AlertSubscription.user_id == principal.user_id)
    return [SubscriptionOut.of(s) for s in session.scalars(stmt).all()]


@router.post("/alert-subscriptions", response_model=SubscriptionOut, status_code=201)
def subscribe(
    body: SubscriptionIn, session: SessionDep, principal: CurrentPrincipal, request: Request
) -> SubscriptionOut:
    """Follow the alerts of an area: for yourself, or (operators) for a bare phone number or e-mail."""
    authorize(principal, Action.ALERT_SUBSCRIBE)
    from cityops.areas.models import Area

    if session.get(Area, body.area_id) is None:
        raise Invalid(f"Area {body.area_id} does not exist")
    bare = body.phone is not None or body.email is not None
    if bare:
        authorize(principal, Action.ALERT_MANAGE)
    sub = AlertSubscription(
        area_id=body.area_id,
        user_id=None if bare else principal.user_id,
        phone=nfc(body.phone) if body.phone else None,
        email=nfc(body.email).lower() if body.email else None,
        min_severity=Severity(body.min_severity),
        locale=body.locale,
        active=True,
        created_at=utcnow(),
    )
    session.add(sub)
    session.flush()
    record(
        session,
        principal,
        "alert_subscription.create",
        "alert_subscription",
        sub.id,
        None,
        snapshot(sub),
        request,
    )
    session.commit()
    return SubscriptionOut.of(sub)


@router.delete("/alert-subscriptions/{sub_id}", status_code=204)
def unsubscribe(sub_id: int, session: SessionDep, principal: CurrentPrincipal, request: Request) -> Response:
    authorize(principal, Action.ALERT_SUBSCRIBE)
    sub = session.get(AlertSubscription, sub_id)
    if sub is None or (sub.user_id != principal.user_id and not can(principal, Action.ALERT_MANAGE)):
        raise NotFound(f"Subscription {sub_id} does not exist")
    before = snapshot(sub)
    session.delete(sub)
    session.flush()
    record(
        session, principal, "alert_subscription.delete", "alert_subscription", sub_id, before, None, request
    )
    session.commit()
    return Response(status_code=204)
