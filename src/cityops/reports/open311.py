"""Open311 GeoReport v2 at ``/open311/v2/``: services, service definitions, requests, tokens; XML and JSON.

Requests are one view of cases (the native intake, routing and SLA apply). Differences from the native API,
as the standard wants: ``POST requests`` is form-urlencoded with ``api_key`` (an API key with the
``open311`` scope), attributes come as ``attribute[code]`` / ``attribute[code][]``, errors are an array of
``{code, description}`` with 400/403/404, and ``status`` is ``open`` or ``closed``. Extensions: ``page`` and
``page_size`` on ``GET requests``; ``token`` is returned together with ``service_request_id``.

Decisions: ``jurisdiction_id`` is accepted and ignored (one jurisdiction per deployment); personal data
sent by an integrator (name, phone, e-mail) is taken as consented by the integrator's own terms, and that
purpose is recorded on the case; ``address_id`` is kept as the address when no address string is given.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from cityops.clock import utcnow
from cityops.deps import SessionDep, SettingsDep
from cityops.errors import ApiError, register_formatter
from cityops.identity.deps import principal_for_api_key
from cityops.identity.policy import Action, can
from cityops.privacy.masking import mask_contacts
from cityops.reports import intake, public
from cityops.reports.access import Actor
from cityops.reports.categories import Datatype
from cityops.reports.models import Case, Category
from cityops.reports.workflow import OPEN_STATES
from cityops.settings import Settings
from cityops.urls import public_base

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"])
FORMATS = ("json", "xml")
MAX_RANGE = timedelta(days=90)
DEFAULT_PAGE_SIZE = 1000
_ATTR = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
_DATATYPES = {Datatype.DATE.value: "datetime"}


class Open311Error(ApiError):
    """An error in Open311's shape; ``status`` is 400, 403 or 404."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(status, description)


# --- rendering ------------------------------------------------------------------------------------


def _xml_value(parent: ET.Element, tag: str, value: Any) -> None:
    el = ET.SubElement(parent, tag)
    if value is None:
        return
    if isinstance(value, bool):
        el.text = "true" if value else "false"
    elif isinstance(value, list):
        child_tag = {"attributes": "attribute", "values": "value", "keywords": "keyword"}.get(tag, "item")
        for item in value:
            if isinstance(item, dict):
                sub = ET.SubElement(el, child_tag)
                for k, v in item.items():
                    _xml_value(sub, k, v)
            else:
                _xml_value(el, child_tag, item)
    elif isinstance(value, dict):
        for k, v in value.items():
            _xml_value(el, k, v)
    else:
        el.text = str(value)


def to_xml(root: str, item: str | None, data: Any) -> bytes:
    top = ET.Element(root)
    if item is None:
        for k, v in data.items():
            _xml_value(top, k, v)
    else:
        for row in data:
            el = ET.SubElement(top, item)
            for k, v in row.items():
                _xml_value(el, k, v)
    body: bytes = ET.tostring(top, encoding="utf-8", xml_declaration=True)
    return body


def render(fmt: str, data: Any, root: str, item: str | None, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(
            to_xml(root, item, data), status_code=status, media_type="application/xml; charset=utf-8"
        )
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def error_response(request: Request, err: ApiError) -> Response:
    """Open311 errors: ``[{code, description}]``; validation → 400, authentication → 403."""
    status = {401: 403, 405: 400, 409: 400, 413: 400, 415: 400, 422: 400}.get(err.status, err.status)
    description = err.message
    if err.details and isinstance(err.details, dict):
        description += ": " + "; ".join(f"{k} {v}" for k, v in err.details.items())
    body = [{"code": status, "description": description}]
    fmt = "xml" if request.url.path.endswith(".xml") else "json"
    return render(fmt, body, "errors", "error", status)


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"Unknown format '{fmt}'; use json or xml")
    return fmt


def w3c(value: datetime | None) -> str | None:
    return public.iso(value)


def parse_w3c(name: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C datetime, e.g. 2026-03-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise Open311Error(400, f"{name} must carry a time zone (Z or +07:00)")
    return parsed


# --- services --------------------------------------------------------------------------------------


def service_row(c: Category) -> dict[str, Any]:
    return {
        "service_code": c.code,
        "service_name": c.name_vi,
        "description": f"{c.name_en}. {c.description}".strip(),
        "metadata": bool(c.questions),
        "type": "realtime",
        "keywords": c.name_en,
        "group": c.group or c.sector,
    }


@router.get("/services.{fmt}")
def services(fmt: str, session: SessionDep) -> Response:
    fmt = _fmt(fmt)
    rows = session.scalars(
        select(Category).where(Category.active.is_(True)).order_by(Category.order, Category.code)
    )
    return render(fmt, [service_row(c) for c in rows], "services", "service")


@router.get("/services/{code}.{fmt}")
def service_definition(code: str, fmt: str, session: SessionDep) -> Response:
    fmt = _fmt(fmt)
    category = session.get(Category, code)
    if category is None or not category.active:
        raise Open311Error(404, f"service_code {code} not found")
    attributes = []
    for order, q in enumerate(category.questions, start=1):
        attributes.append(
            {
                "variable": True,
                "code": q["code"],
                "datatype": _DATATYPES.get(q["datatype"], q["datatype"]),
                "required": bool(q.get("required")),
                "datatype_description": "yyyy-mm-dd" if q["datatype"] == "date" else None,
                "order": order,
                "description": q["label"],
                "values": [{"key": k, "name": n} for k, n in q.get("values", [])],
            }
        )
    body = {"service_code": category.code, "attributes": attributes}
    return render(fmt, body, "service_definition", None)


# --- requests --------------------------------------------------------------------------------------


def request_row(case: Case, ctx: public.PublicContext, base: str) -> dict[str, Any]:
    category = ctx.categories.get(case.category_code)
    media = ctx.media.get(case.id, [])
    return {
        "service_request_id": case.ref,
        "status": public.open311_status_of(case),
        "status_notes": mask_contacts(case.public_note),
        "service_name": category.name_vi if category else case.category_code,
        "service_code": case.category_code,
        "description": mask_contacts(case.description),
        "agency_responsible": ctx.agencies.get(case.agency_id) if case.agency_id is not None else None,
        "service_notice": None,
        "requested_datetime": w3c(case.submitted_at),
        "updated_datetime": w3c(case.updated_at),
        "expected_datetime": w3c(case.resolve_due_at),
        "address": mask_contacts(case.address),
        "address_id": None,
        "zipcode": None,
        "lat": round(case.lat, public.COORD_DECIMALS) if case.lat is not None else None,
        "long": round(case.lon, public.COORD_DECIMALS) if case.lon is not None else None,
        "media_url": media[0]["url"] if media else None,
    }


def _rows(session: Session, request: Request, cases: list[Case]) -> list[dict[str, Any]]:
    base = public_base(request)
    ctx = public.PublicContext(session, cases, base)
    return [request_row(c, ctx, base) for c in cases]


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise Open311Error(400, f"{name} must be between {low} and {high}")
    return value


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@router.get("/requests.{fmt}")
def list_requests(fmt: str, request: Request, session: SessionDep) -> Response:
    fmt = _fmt(fmt)
    params = request.query_params
    query = select(Case).where(Case.hidden.is_(False))
    ids = _csv(params.get("service_request_id"))
    page = _int_param(request, "page", 1, 1, 1_000_000)
    page_size = _int_param(request, "page_size", DEFAULT_PAGE_SIZE, 1, DEFAULT_PAGE_SIZE)
    if ids:  # overrides every other filter, as the spec says
        query = query.where(Case.ref.in_(ids))
    else:
        codes = _csv(params.get("service_code"))
        if codes:
            query = query.where(Case.category_code.in_(codes))
        statuses = _csv(params.get("status"))
        bad = [s for s in statuses if s not in ("open", "closed")]
        if bad:
            raise Open311Error(400, f"status must be open or closed, not {', '.join(bad)}")
        open_values = [s.value for s in OPEN_STATES]
        if statuses == ["open"]:
            query = query.where(Case.state.in_(open_values))
        elif statuses == ["closed"]:
            query = query.where(Case.state.not_in(open_values))
        start = parse_w3c("start_date", params["start_date"]) if params.get("start_date") else None
        end = parse_w3c("end_date", params["end_date"]) if params.get("end_date") else None
        if start is None and end is None:
            end = utcnow()
            start = end - MAX_RANGE
        elif start is None:
            assert end is not None
            start = end - MAX_RANGE
        elif end is None:
            end = start + MAX_RANGE
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > MAX_RANGE:
            raise Open311Error(400, "start_date and end_date may not be more than 90 days apart")
        query = query.where(Case.submitted_at >= start, Case.submitted_at <= end)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    cases = list(
        session.scalars(
            query.order_by(Case.submitted_at.desc(), Case.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        )
    )
    response = render(fmt, _rows(session, request, cases), "service_requests", "request")
    response.headers["X-Total-Count"] = str(total)
    return response


@router.get("/requests/{ref}.{fmt}")
def get_request(ref: str, fmt: str, request: Request, session: SessionDep) -> Response:
    fmt = _fmt(fmt)
    case = session.scalar(select(Case).where(Case.ref == ref, Case.hidden.is_(False)))
    if case is None:
        raise Open311Error(404, f"service_request_id {ref} not found")
    return render(fmt, _rows(session, request, [case]), "service_requests", "request")


@router.get("/tokens/{token}.{fmt}")
def get_token(token: str, fmt: str, session: SessionDep) -> Response:
    fmt = _fmt(fmt)
    case = intake.case_by_token(session, token)
    if case is None:
        raise Open311Error(404, "token not found")
    return render(fmt, [{"service_request_id": case.ref, "token": token}], "service_requests", "request")


def parse_attributes(form: list[tuple[str, str]]) -> dict[str, Any]:
    """``attribute[code]=v`` → ``{code: v}``; ``attribute[code][]=a&attribute[code][]=b`` → ``{code: [a, b]}``."""
    answers: dict[str, Any] = {}
    for key, value in form:
        match = _ATTR.match(key)
        if not match:
            continue
        code, many = match.group(1), match.group(2)
        if many:
            answers.setdefault(code, [])
            if not isinstance(answers[code], list):
                raise Open311Error(400, f"attribute[{code}] given both as one value and as a list")
            answers[code].append(value)
        else:
            if code in answers:
                raise Open311Error(400, f"attribute[{code}] given twice")
            answers[code] = value
    return answers


def _float(form: dict[str, str], name: str) -> float | None:
    raw = form.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number") from None


def create_request(
    session: Session, settings: Settings, items: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    form = dict(items)
    api_key = form.get("api_key", "").strip()
    principal = principal_for_api_key(session, api_key) if api_key else None
    if principal is None or not can(principal, Action.OPEN311_SUBMIT):
        raise Open311Error(403, "api_key was not provided, is invalid or may not submit requests")
    code = form.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    if session.get(Category, code) is None:
        raise Open311Error(400, f"service_code {code} not found")
    lat, lon = _float(form, "lat"), _float(form, "long")
    address = form.get("address_string") or (
        f"address_id:{form['address_id']}" if form.get("address_id") else None
    )
    if (lat is None or lon is None) and not address:
        raise Open311Error(400, "lat and long, address_string or address_id is required")
    name = (
        " ".join(p for p in (form.get("first_name", "").strip(), form.get("last_name", "").strip()) if p)
        or None
    )
    description = form.get("description", "")
    if len(description) > intake.MAX_DESCRIPTION:
        raise Open311Error(400, "description must be at most 4000 characters")
    media_url = form.get("media_url", "").strip()
    if media_url and not media_url.startswith(("http://", "https://")):
        raise Open311Error(400, "media_url must be an http(s) URL")
    has_personal = any(
        form.get(k) for k in ("email", "phone", "first_name", "last_name", "device_id", "account_id")
    )
    sub = intake.Submission(
        category_code=code,
        description=description,
        lat=lat,
        lon=lon,
        address=address,
        answers=parse_attributes(items),
        name=name,
        phone=form.get("phone") or None,
        email=form.get("email") or None,
        device_id=form.get("device_id") or None,
        account_id=form.get("account_id") or None,
        consent=has_personal,
        consent_purpose=f"handling this report; collected by the Open311 client {principal.label}"[:200],
        media_urls=[media_url] if media_url else [],
        source="open311",
    )
    result = intake.submit(session, settings, Actor(principal), sub)
    session.commit()
    notice = "Đã tiếp nhận phản ánh / Report received"
    return [
        {
            "service_request_id": result.case.ref,
            "token": result.token,
            "service_notice": notice,
            "account_id": None,
        }
    ]


@router.post("/requests.{fmt}")
async def post_request(fmt: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    fmt = _fmt(fmt)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise Open311Error(400, "POST requests must be form-urlencoded")
    form = await request.form()
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    rows = await run_in_threadpool(create_request, session, settings, items)
    return render(fmt, rows, "service_requests", "request", status=201)


def install(app: FastAPI) -> None:
    """Mount the routes and the Open311 error shape."""
    global _formatter_registered
    if not _formatter_registered:
        register_formatter(PREFIX, error_response)
        _formatter_registered = True
    app.include_router(router)


_formatter_registered = False
