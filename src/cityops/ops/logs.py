"""Structured logging: plain text for people, one JSON object per line for collectors."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from cityops.ops.requests import RequestIdFilter
from cityops.privacy.masking import MASK
from cityops.settings import Settings

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"color_message"}  # uvicorn's ANSI-coloured copy


# What a log line must not carry: e-mail addresses and phone numbers (+84/84/0 then 9–10 digits, maybe
# grouped). Narrower than the public-text masking (any 9-digit run): case refs, ids and sizes stay readable.
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w+*])(?:\+?84|0)[1-9](?:[ .\-]?\d){7,9}(?![\w*])")


def mask_contacts(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers replaced by ``[***]``."""
    if "@" in text:
        text = _EMAIL.sub(MASK, text)
    return _PHONE.sub(MASK, text)


class PersonalDataFilter(logging.Filter):
    """Masks contact details (phone and ID numbers, e-mail addresses) in every record a cityops handler
    writes, exception texts included: the last line behind the rule that code logs no personal data
    (an exception quoting a phone number, a library's message). ``tests/security/logscrub.py`` checks
    the rule itself on the raw records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_contacts(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_contacts(record.exc_text)
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_") and isinstance(value, str):
                setattr(record, key, mask_contacts(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload["request_id"] = getattr(record, "request_id", None)
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = record.exc_text or self.formatException(record.exc_info)
        return orjson.dumps(payload, default=str).decode()


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """Send ``cityops.*`` logs to ``stream`` (stderr by default), as JSON lines when ``log_json``.

    The per-request access line comes from ``cityops.http`` (with the request id and duration), so
    uvicorn's own access log is switched off; with ``log_json`` uvicorn's server messages are written as
    JSON lines too, so a collector sees one format.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PersonalDataFilter())
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
        )
    root = logging.getLogger("cityops")
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    root.propagate = False
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True
    if settings.log_json:
        for name in ("uvicorn", "uvicorn.error"):
            server = logging.getLogger(name)
            server.handlers[:] = [handler]
            server.setLevel(settings.log_level.upper())
            server.propagate = False
