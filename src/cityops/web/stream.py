"""Live updates for the IOC and officer screens over Server-Sent Events, fed from the event bus.

The :class:`LiveStream` listens to every event this process publishes (``bus.add_publish_listener``) and
fans the ones whose subject matches :data:`LIVE_SUBJECTS` out to connected browsers. Only subjects and
small public payload fields travel: screens re-read the API for details, so nothing personal leaks here.

``GET /api/v1/live`` — ``text/event-stream``; each message is ``event: <subject>`` with
``data: {"id", "subject", "occurred_at", "payload"}``; a comment line every 15 s keeps proxies open.

A stream ends by itself after :data:`STREAM_SECONDS` and the browser's ``EventSource`` reconnects a moment
later with ``Last-Event-ID``: the events it missed meanwhile are replayed from a short backlog, so nothing is
lost, and a server shutting down never waits long for open streams (uvicorn waits for running responses).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from cityops.events.bus import Event, subject_matches

log = logging.getLogger("cityops.web")

LIVE_SUBJECTS: tuple[str, ...] = ("cases.>", "alerts.>", "observations.>", "sensing.>", "stations.>")
# Payload keys that may be forwarded (public facts only: ids, states, codes, coordinates, values).
PUBLIC_KEYS = frozenset(
    {
        "id",
        "case_id",
        "ref",
        "state",
        "from_state",
        "to_state",
        "action",
        "category_code",
        "category",
        "area_id",
        "agency_id",
        "lat",
        "lon",
        "alert_id",
        "rule_id",
        "severity",
        "status",
        "title",
        "datastream_id",
        "thing_id",
        "station_id",
        "property",
        "value",
        "result",
        "phenomenon_time",
        "level",
        "band",
        "message_vi",
        "message_en",
        "opened_at",
        "rule_code",
        "last_value",
        "area_ids",
        "urgent",
        "overdue",
    }
)
QUEUE_SIZE = 200
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 10.0
BACKLOG = 500
RETRY_MS = 500


def public_payload(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k in PUBLIC_KEYS}


def format_sse(event: Event) -> bytes:
    """One SSE message for ``event`` (subject as the event name, public payload only)."""
    body = orjson.dumps(
        {
            "id": event.id,
            "subject": event.subject,
            "occurred_at": event.occurred_at,
            "payload": public_payload(event.payload),
        },
        option=orjson.OPT_UTC_Z,
    )
    return b"id: " + event.id.encode() + b"\nevent: " + event.subject.encode() + b"\ndata: " + body + b"\n\n"


class LiveStream:
    """Fan-out of bus events to browser connections (one bounded queue per connection)."""

    def __init__(
        self, subjects: tuple[str, ...] = LIVE_SUBJECTS, *, stream_seconds: float = STREAM_SECONDS
    ) -> None:
        self.subjects = subjects
        self.stream_seconds = stream_seconds
        self._queues: set[asyncio.Queue[bytes]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._backlog: deque[tuple[str, bytes]] = deque(maxlen=BACKLOG)

    @property
    def clients(self) -> int:
        return len(self._queues)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def wants(self, subject: str) -> bool:
        return any(subject_matches(f, subject) for f in self.subjects)

    def on_publish(self, event: Event) -> None:
        """Bus publish listener: may be called from any thread."""
        if not self.wants(event.subject):
            return
        message = format_sse(event)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fan_out(event.id, message)
        else:
            loop.call_soon_threadsafe(self._fan_out, event.id, message)

    def _fan_out(self, event_id: str, message: bytes) -> None:
        self._backlog.append((event_id, message))
        for queue in list(self._queues):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("live stream client too slow; dropping an event")

    def missed(self, last_event_id: str | None) -> list[bytes]:
        """Backlog messages after ``last_event_id`` (none when it is unknown or too old)."""
        if not last_event_id:
            return []
        ids = [event_id for event_id, _ in self._backlog]
        if last_event_id not in ids:
            return []
        return [message for _, message in list(self._backlog)[ids.index(last_event_id) + 1 :]]

    async def messages(self, request: Request, last_event_id: str | None = None) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._queues.add(queue)
        deadline = time.monotonic() + self.stream_seconds
        try:
            yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
            for message in self.missed(last_event_id):
                yield message
            while (left := deadline - time.monotonic()) > 0:
                if await request.is_disconnected():
                    break
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=min(KEEPALIVE_SECONDS, left))
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield message
        finally:
            self._queues.discard(queue)


router = APIRouter(tags=["web"])


@router.get(
    "/api/v1/live",
    summary="Live event stream (Server-Sent Events) for the IOC and officer screens",
    response_class=StreamingResponse,
)
async def live(request: Request) -> StreamingResponse:
    stream: LiveStream = request.app.state.live
    return StreamingResponse(
        stream.messages(request, request.headers.get("last-event-id")),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
