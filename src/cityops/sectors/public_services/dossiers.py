"""The dossier store's write path: rows from the push API or a CSV/JSON file, checked one by one, upserted.

A row names its dossier by ``code`` (``maHoSo``); pushing the same row again changes nothing (its content hash
is unchanged), a changed row replaces what was stored (steps included). A bad row is rejected with every
reason and changes nothing; the good rows of the same batch are stored. Field names are accepted in English
or as the one-stop-shop systems write them (``maHoSo``, ``tenTTHC``, ``trangThaiHoSo``, ``ngayTiepNhan``,
``ngayHenTra``, ``ngayTra``, ...). Times without a zone are Vietnam's (Asia/Ho_Chi_Minh); stored in UTC.
Phone and ID numbers are reduced to a salted keyed hash of their last 4 digits at once (:mod:`.factors`).
A batch that changed anything emits one ``dossiers.changed`` event after commit, naming the due times it
touched (the indicator cells to recompute), nothing else.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.events.outbox import emit
from cityops.identity.models import Agency
from cityops.sectors.public_services import factors
from cityops.sectors.public_services.models import Dossier, DossierStep
from cityops.sectors.public_services.statuses import STATUSES
from cityops.text import nfc

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_ROWS = 1000  # one push or file; above it the whole request is refused (422 too_many_rows)
MAX_STEPS = 50
CODE = re.compile(r"^[A-Z0-9][A-Z0-9./_-]{2,63}$")

ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "mahoso", "ma_ho_so"),
    "procedure_code": ("procedure_code", "matthc", "ma_tthc"),
    "procedure_name": ("procedure_name", "tentthc", "ten_tthc"),
    "agency_code": ("agency_code", "madonvi", "ma_don_vi", "macoquan"),
    "agency_name": ("agency_name", "tendonvi", "ten_don_vi", "tencoquan"),
    "status": ("status", "trangthaihoso", "trang_thai_ho_so", "trangthai"),
    "received_at": ("received_at", "ngaytiepnhan", "ngay_tiep_nhan"),
    "due_at": ("due_at", "ngayhentra", "ngay_hen_tra"),
    "returned_at": ("returned_at", "ngaytra", "ngay_tra"),
    "phone": ("phone", "phone_last4", "sodienthoai", "so_dien_thoai"),
    "id_number": ("id_number", "id_last4", "sogiayto", "so_giay_to", "cccd"),
    "steps": ("steps", "quatrinhxuly", "qua_trinh_xu_ly"),
}
STEP_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "tenbuoc", "ten_buoc", "noidung"),
    "agency_name": ("agency_name", "donvixuly", "don_vi_xu_ly", "tendonvi"),
    "started_at": ("started_at", "ngaybatdau", "ngay_bat_dau"),
    "finished_at": ("finished_at", "ngayketthuc", "ngay_ket_thuc"),
}


@dataclass
class Report:
    """What one push or import did; ``rejected`` lists ``{"row", "code", "reasons"}`` (no personal data)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


@dataclass
class _Clean:
    values: dict[str, Any]
    steps: list[dict[str, Any]]
    phone: str | None
    id_digits: str | None


def _pick(row: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    lowered = {str(k).strip().lower(): v for k, v in row.items()}
    for name in names:
        value = lowered.get(name)
        if value not in (None, ""):
            return value
    return None


def parse_time(value: Any, *, end_of_day: bool = False) -> datetime:
    """An aware UTC time from ISO 8601, ``dd/mm/yyyy[ HH:MM[:SS]]`` or ``yyyyMMddHHmmss`` (local if naive).

    A bare date is the start of that local day, or with ``end_of_day`` the next local midnight (a due date
    on 5 March runs to the end of 5 March)."""
    text = str(value).strip()
    parsed: datetime | None = None
    bare_date: date | None = None
    if re.fullmatch(r"\d{14}", text):
        parsed = datetime.strptime(text, "%Y%m%d%H%M%S")  # noqa: DTZ007 - local, zone set below
    elif re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
        bare_date = datetime.strptime(text, "%d/%m/%Y").date()  # noqa: DTZ007
    elif re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}[ T]\d{1,2}:\d{2}(:\d{2})?", text):
        fmt = "%d/%m/%Y %H:%M:%S" if text.count(":") == 2 else "%d/%m/%Y %H:%M"
        parsed = datetime.strptime(text.replace("T", " "), fmt)  # noqa: DTZ007
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        bare_date = date.fromisoformat(text)
    else:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text[:40]!r} is not a date or time") from None
    if bare_date is not None:
        day = bare_date + timedelta(days=1) if end_of_day else bare_date
        parsed = datetime.combine(day, time(0), tzinfo=VN)
    assert parsed is not None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=VN)
    return parsed.astimezone(UTC)


def _text(row: Mapping[str, Any], key: str, limit: int, reasons: list[str], required: bool) -> str | None:
    value = _pick(row, ALIASES[key])
    if value is None:
        if required:
            reasons.append(f"{key}: required")
        return None
    text = nfc(str(value)).strip()
    if len(text) > limit:
        reasons.append(f"{key}: longer than {limit} characters")
        return None
    return text


def _time(row: Mapping[str, Any], names: tuple[str, ...], key: str, reasons: list[str], **kw: bool) -> Any:
    value = _pick(row, names)
    if value is None:
        return None
    try:
        return parse_time(value, **kw)
    except ValueError as exc:
        reasons.append(f"{key}: {exc}")
        return None


def _digits(row: Mapping[str, Any], key: str, reasons: list[str]) -> str | None:
    value = _pick(row, ALIASES[key])
    if value is None:
        return None
    digits = factors.last_digits(str(value))
    if digits is None:
        reasons.append(f"{key}: needs at least {factors.DIGITS} digits")
    return digits


def _steps(raw: Any, reasons: list[str]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            reasons.append("steps: not a JSON list")
            return []
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        reasons.append("steps: not a list of objects")
        return []
    if len(raw) > MAX_STEPS:
        reasons.append(f"steps: more than {MAX_STEPS}")
        return []
    out = []
    for i, step in enumerate(raw, 1):
        name = _pick(step, STEP_ALIASES["name"])
        agency = _pick(step, STEP_ALIASES["agency_name"])
        if name is None or agency is None:
            reasons.append(f"steps[{i}]: name and agency_name are required")
            continue
        out.append(
            {
                "position": i,
                "name": nfc(str(name)).strip()[:300],
                "agency_name": nfc(str(agency)).strip()[:255],
                "started_at": _time(step, STEP_ALIASES["started_at"], f"steps[{i}].started_at", reasons),
                "finished_at": _time(step, STEP_ALIASES["finished_at"], f"steps[{i}].finished_at", reasons),
            }
        )
    return out


def clean(row: Any) -> tuple[_Clean | None, str | None, list[str]]:
    """``(clean row, code, reasons)``; a row with reasons is rejected."""
    if not isinstance(row, Mapping):
        return None, None, ["not an object"]
    reasons: list[str] = []
    code = _text(row, "code", 64, reasons, True)
    if code is not None:
        code = code.upper()
        if not CODE.match(code):
            reasons.append("code: 3–64 letters, digits and . / _ - only")
    status = _text(row, "status", 4, reasons, True)
    if status is not None and status not in STATUSES:
        reasons.append(f"status: {status!r} is not a national status code ({', '.join(STATUSES)})")
    values: dict[str, Any] = {
        "code": code,
        "procedure_code": _text(row, "procedure_code", 64, reasons, False),
        "procedure_name": _text(row, "procedure_name", 500, reasons, True),
        "agency_code": _text(row, "agency_code", 64, reasons, True),
        "agency_name": _text(row, "agency_name", 255, reasons, True),
        "status": status,
        "received_at": _time(row, ALIASES["received_at"], "received_at", reasons),
        "due_at": _time(row, ALIASES["due_at"], "due_at", reasons, end_of_day=True),
        "returned_at": _time(row, ALIASES["returned_at"], "returned_at", reasons),
    }
    if values["received_at"] is None and not any(r.startswith("received_at") for r in reasons):
        reasons.append("received_at: required")
    received, due, returned = values["received_at"], values["due_at"], values["returned_at"]
    if received and due and due < received:
        reasons.append("due_at: before received_at")
    if received and returned and returned < received:
        reasons.append("returned_at: before received_at")
    if received and received > utcnow() + timedelta(minutes=5):
        reasons.append("received_at: in the future")
    phone = _digits(row, "phone", reasons)
    id_digits = _digits(row, "id_number", reasons)
    if phone is None and id_digits is None and not any(r.startswith(("phone", "id_number")) for r in reasons):
        reasons.append("phone or id_number: a second factor for the citizen's lookup is required")
    steps = _steps(_pick(row, ALIASES["steps"]), reasons)
    if reasons:
        return None, code, reasons
    return _Clean(values, steps, phone, id_digits), code, []


def _content_hash(secret: str, item: _Clean) -> str:
    material = {
        **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in item.values.items()},
        "steps": [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in s.items()} for s in item.steps
        ],
        # a keyed hash, so the content hash tells nothing about the digits
        "factors": factors.log_key(secret, "content", f"{item.phone}|{item.id_digits}"),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def upsert(session: Session, rows: Iterable[Any], *, secret: str, source: str, demo: bool = False) -> Report:
    """Check and store ``rows`` (the caller commits). Rows repeating a code in one batch: the last wins."""
    report = Report()
    checked: dict[str, tuple[int, _Clean]] = {}
    for number, row in enumerate(rows, 1):
        item, code, reasons = clean(row)
        if item is None:
            report.rejected.append({"row": number, "code": code, "reasons": reasons})
            continue
        checked[item.values["code"]] = (number, item)
    if not checked:
        return report
    existing = {
        d.code: d for d in session.scalars(select(Dossier).where(Dossier.code.in_(list(checked)))).all()
    }
    agency_codes = {item.values["agency_code"] for _n, item in checked.values()}
    agencies: dict[str, int] = {
        code: agency_id
        for code, agency_id in session.execute(
            select(Agency.code, Agency.id).where(Agency.code.in_(list(agency_codes)))
        )
    }
    now = utcnow()
    due: set[str] = set()
    for code, (_number, item) in checked.items():
        digest = _content_hash(secret, item)
        row = existing.get(code)
        if row is not None and row.content_hash == digest:
            report.unchanged += 1
            continue
        for moment in (row.due_at if row is not None else None, item.values["due_at"]):
            if moment is not None:  # the cells the old and the new due time count in
                due.add(moment.isoformat())
        if row is None:
            row = Dossier(created_at=now, demo=demo)
            session.add(row)
            report.created += 1
        else:
            report.updated += 1
            row.steps.clear()
        for key, value in item.values.items():
            setattr(row, key, value)
        row.agency_id = agencies.get(item.values["agency_code"])
        salt = factors.new_salt()
        row.factor_salt = salt
        row.phone_hash = factors.factor_hash(secret, salt, "phone", item.phone) if item.phone else None
        row.id_hash = factors.factor_hash(secret, salt, "id", item.id_digits) if item.id_digits else None
        row.content_hash, row.source, row.updated_at = digest, source[:64], now
        row.steps.extend(DossierStep(**step) for step in item.steps)
    session.flush()
    if due:
        emit(session, "dossiers.changed", {"due": sorted(due)})
    return report


def read_file(data: bytes, filename: str = "") -> list[Any]:
    """The rows of a JSON (an array, or ``{"dossiers": [...]}``) or CSV file (UTF-8, BOM allowed, ``,`` or
    ``;``); raises ``ValueError`` when the file itself cannot be read."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8") from None
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith(("[", "{")):
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        if isinstance(parsed, dict):
            parsed = parsed.get("dossiers")
        if not isinstance(parsed, list):
            raise ValueError('JSON must be an array of dossiers or {"dossiers": [...]}')
        return parsed
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))
