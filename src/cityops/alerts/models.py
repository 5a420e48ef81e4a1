"""Alert rules on datastreams, their per-datastream evaluation state, and the alerts they raise.

A :class:`Rule` targets one datastream, or every datastream of an observed property (by the property's
``code``, see :mod:`cityops.sensing.properties`) optionally within some areas. Its parameters are JSON
validated by :mod:`cityops.alerts.rules`. :class:`RuleState` keeps the evaluator's memory per
(rule, datastream) so evaluation resumes across processes. An :class:`Alert` has a lifecycle
open → acknowledged → closed and the areas it concerns (``alert_areas``, for filtering and delivery).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.orm import Mapped, mapped_column

from cityops.clock import utcnow
from cityops.db import Base, JSONType, UTCDateTime


class RuleKind(StrEnum):
    THRESHOLD = "threshold"
    RATE_OF_CHANGE = "rate_of_change"
    STALENESS = "staleness"


class Severity(StrEnum):
    INFO = "info"
    WATCH = "watch"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WATCH: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


def _enum(cls: type[StrEnum], length: int) -> SqlEnum:
    return SqlEnum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Rule(Base):
    __tablename__ = "alert_rules"
    __table_args__ = (Index("ix_alert_rules_property_code", "property_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(64), unique=True)  # template code, e.g. salinity-rice
    name_vi: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[RuleKind] = mapped_column(_enum(RuleKind, 16))
    datastream_id: Mapped[int | None] = mapped_column(
        ForeignKey("sta_datastreams.id", ondelete="CASCADE"), index=True
    )
    property_code: Mapped[str | None] = mapped_column(String(64))
    area_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)  # empty = everywhere
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    message_vi: Mapped[str] = mapped_column(Text, default="")
    message_en: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RuleState(Base):
    """The evaluator's memory for one rule on one datastream (JSON, see ``rules.EvalState``)."""

    __tablename__ = "alert_rule_states"

    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True)
    datastream_id: Mapped[int] = mapped_column(
        ForeignKey("sta_datastreams.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_state_severity", "state", "severity"),
        Index("ix_alerts_rule_datastream", "rule_id", "datastream_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="SET NULL"))
    datastream_id: Mapped[int | None] = mapped_column(ForeignKey("sta_datastreams.id", ondelete="SET NULL"))
    state: Mapped[AlertState] = mapped_column(_enum(AlertState, 16), default=AlertState.OPEN)
    severity: Mapped[Severity] = mapped_column(_enum(Severity, 16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    close_reason: Mapped[str | None] = mapped_column(String(32))  # cleared | manual
    last_value: Mapped[float | None] = mapped_column(Float)
    peak_value: Mapped[float | None] = mapped_column(Float)
    last_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    area_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    message_vi: Mapped[str] = mapped_column(Text, default="")
    message_en: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class AlertArea(Base):
    """An area an alert concerns (indexed, for ``?area=`` filters and subscriber delivery)."""

    __tablename__ = "alert_areas"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    area_id: Mapped[int] = mapped_column(
        ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AlertSubscription(Base):
    """Someone who wants the alerts of an area (a user, a browser by Web Push, or a bare phone/e-mail)."""

    __tablename__ = "alert_subscriptions"
    __table_args__ = (Index("ix_alert_subscriptions_area_active", "area_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    # a browser's Web Push subscription (an anonymous device, or one of the user's browsers)
    push_subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("push_subscriptions.id", ondelete="CASCADE"), index=True
    )
    min_severity: Mapped[Severity] = mapped_column(_enum(Severity, 16), default=Severity.WATCH)
    locale: Mapped[str] = mapped_column(String(8), default="vi")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
