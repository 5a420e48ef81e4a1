"""Structured logging: plain text for people, one JSON object per line for collectors."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from cityops.ops.requests import RequestIdFilter
from cityops.settings import Settings

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"color_message"}  # uvicorn's ANSI-coloured copy


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
            payload["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(payload, default=str).decode()


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """Send ``cityops.*`` logs to ``stream`` (stderr by default), as JSON lines when ``log_json``.

    The per-request access line comes from ``cityops.http`` (with the request id and duration), so
    uvicorn's own access log is switched off; with ``log_json`` uvicorn's server messages are written as
    JSON lines too, so a collector sees one format.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
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
