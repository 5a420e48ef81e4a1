"""Notifications: every new Observation (whatever the intake) published, rendered as in STA (with
``@iot.id``), to ``v1.1/Datastreams(<id>)/Observations`` and ``v1.1/Observations``, driven by the
``observations.created`` bus event (durable consumer ``mqtt-publish``), not by intake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import orjson
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.sensing.mqtt.intake import STA_ROOT
from cityops.sensing.mqtt.transport import Connection
from cityops.sensing.observation_events import read_created

if TYPE_CHECKING:
    from cityops.events.bus import Event


def render_observations(session: Session, base: str, ids: Sequence[int]) -> list[tuple[int, bytes]]:
    """(datastream id, STA JSON) of the Observations ``ids``, in id order; ids gone meanwhile are skipped."""
    from cityops.sensing.models import Observation
    from cityops.sensing.odata import QueryOptions
    from cityops.sensing.sta_entities import ENTITIES
    from cityops.sensing.sta_query import Context, QueryBudget
    from cityops.sensing.sta_render import render

    et = ENTITIES["Observation"]
    ctx = Context(session, base, QueryBudget.unbounded())
    opts = QueryOptions()
    table = Observation.__table__
    out: list[tuple[int, bytes]] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), 1000):
        chunk = ordered[start : start + 1000]
        # The ids of one batch are usually consecutive: a range is cheaper to look up than a long IN list.
        where = (
            table.c.id.between(chunk[0], chunk[-1])
            if chunk[-1] - chunk[0] + 1 == len(set(chunk))
            else table.c.id.in_(chunk)
        )
        # Plain rows, not ORM objects: the renderer reads the same attributes, without the identity map.
        rows = session.execute(select(table).where(where).order_by(table.c.id))
        for row in rows:
            if row.datastream_id is not None:
                out.append((row.datastream_id, orjson.dumps(render(ctx, et, row, opts))))
    return out


class Publisher:
    """Publishes the Observations of each ``observations.created`` event through the bridge's connection."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        sta_base: str,
        prefix: str,
        published: Counter,
        connection: Callable[[float], Awaitable[Connection]],
    ) -> None:
        self.sessions = sessions
        self.sta_base = sta_base
        self.prefix = prefix
        self.published = published
        self.connection = connection  # waits (at most the given seconds) for the broker connection

    async def on_created(self, event: Event) -> None:
        """The bus handler; raising (not connected) leaves the event for redelivery."""
        ids = [int(i) for i in read_created(event.payload, flagged=True).ids if i is not None]
        if not ids:
            return
        messages = await asyncio.to_thread(self._render, ids)
        client = await self.connection(5.0)
        await client.publish_many(
            [
                (topic, body)
                for ds_id, body in messages
                for topic in (
                    f"{self.prefix}{STA_ROOT}Datastreams({ds_id})/Observations",
                    f"{self.prefix}{STA_ROOT}Observations",
                )
            ]
        )
        self.published.inc(len(messages))

    def _render(self, ids: list[int]) -> list[tuple[int, bytes]]:
        with self.sessions() as session:
            return render_observations(session, self.sta_base, ids)
