"""MQTT messages the bridge gave up on: stored here, then acknowledged, so the broker stops redelivering them.

A message lands here when storing it failed ``settings.mqtt_max_attempts`` times for a reason of cityops'
own, or at once (``attempts`` 0, never retried) when it was refused for its content — what HTTP answers
with a 4xx: bad JSON, an id out of range, a result that does not fit the Datastream, a conflicting value.
Parking is a database write like storing, so while the
database is down nothing can be parked and every message stays unacknowledged with the broker: an outage
never diverts traffic here, only a message that fails while the database works does. Operators read the
rows (topic, payload, error) and replay or delete them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from cityops.clock import utcnow
from cityops.db import Base, UTCDateTime


class MqttDeadLetter(Base):
    """One MQTT message that could not be stored after ``attempts`` tries."""

    __tablename__ = "mqtt_dead_letters"
    __table_args__ = (Index("ix_mqtt_dead_letters_parked_at", "parked_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    parked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)


def park(session: Session, client_id: str, messages: list[tuple[str, bytes, int, str]]) -> None:
    """Add (topic, payload, attempts, error) rows; the caller commits."""
    session.add_all(
        MqttDeadLetter(
            client_id=client_id, topic=topic, payload=payload, attempts=attempts, error=error[:2000]
        )
        for topic, payload, attempts, error in messages
    )
