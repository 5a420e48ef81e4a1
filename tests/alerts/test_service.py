"""Rules applied to stored datastreams: alerts persisted, audited and emitted (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.alerts.models import Alert, AlertArea, AlertState, Rule, RuleKind, RuleState, Severity
from cityops.alerts.plugin import handle_observations, points_by_datastream
from cityops.alerts.service import list_alerts, process_observations, sweep_staleness
from cityops.audit.models import AuditEntry
from cityops.events.models import OutboxEvent
from tests.alerts.support import make_area, make_station, salinity_rule

T0 = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
STEP = timedelta(minutes=10)


def series(*values: float, start: datetime = T0) -> list[tuple[datetime, float]]:
    return [(start + STEP * i, v) for i, v in enumerate(values)]


def subjects(session: Session) -> list[str]:
    return list(session.scalars(select(OutboxEvent.subject).order_by(OutboxEvent.id)).all())


def test_fire_escalate_and_clear_with_hysteresis(session: Session) -> None:
    area = make_area(session, "Phường Long An", "27694")
    ds = make_station(session, "Trạm Tân An", "salinity", area_ids=[area.id])
    rule = salinity_rule(session)
    changes = process_observations(session, ds.id, series(0.5, 1.2, 1.3, 1.1, 1.2))
    assert [(c.action, c.severity) for c in changes] == [("opened", Severity.WATCH)]
    alert = session.get(Alert, changes[0].alert_id)
    assert alert is not None
    assert alert.state is AlertState.OPEN
    assert alert.opened_at == T0 + 4 * STEP
    assert alert.area_ids == [area.id]
    assert "Trạm Tân An" in alert.message_vi
    assert "Độ mặn" in alert.message_vi
    assert session.scalars(select(AlertArea.area_id).where(AlertArea.alert_id == alert.id)).all() == [area.id]

    # Escalation to warning after 30 min at ≥ 4 g/L, then 3.6 holds (clear 3.5), 0.9 holds watch (clear 0.8).
    later = T0 + 5 * STEP
    changes = process_observations(session, ds.id, series(4.2, 4.4, 4.5, 4.6, 3.6, 0.9, start=later))
    assert [(c.action, c.severity) for c in changes] == [
        ("escalated", Severity.WARNING),
        ("deescalated", Severity.WATCH),
    ]
    assert alert.peak_value == 4.6
    # 0.7 < 0.8 clears and closes the same alert.
    changes = process_observations(session, ds.id, [(T0 + 12 * STEP, 0.7)])
    assert [c.action for c in changes] == ["closed"]
    closed = session.get(Alert, alert.id)  # a fresh name: mypy would keep the OPEN narrowing of `alert`
    assert closed is not None
    assert closed.state is AlertState.CLOSED
    assert closed.close_reason == "cleared"
    assert alert.last_value == 0.7
    session.commit()
    assert subjects(session) == ["alerts.opened", "alerts.escalated", "alerts.deescalated", "alerts.closed"]
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.target_id == str(alert.id)).order_by(AuditEntry.id)
    ).all()
    assert actions == ["alert.open", "alert.escalate", "alert.deescalate", "alert.clear"]
    state = session.get(RuleState, (rule.id, ds.id))
    assert state is not None
    assert state.alert_id is None


def test_minimum_duration_not_met_raises_nothing(session: Session) -> None:
    ds = make_station(session, "Trạm Bến Lức", "salinity")
    salinity_rule(session)
    assert process_observations(session, ds.id, series(0.5, 1.5, 1.6, 1.4, 0.9)) == []
    session.commit()
    assert session.scalars(select(Alert)).all() == []
    assert subjects(session) == []


def test_redelivered_points_change_nothing(session: Session) -> None:
    ds = make_station(session, "Trạm Cần Đước", "salinity")
    salinity_rule(session)
    pts = series(1.5, 1.5, 1.5, 1.5)
    assert len(process_observations(session, ds.id, pts)) == 1
    assert process_observations(session, ds.id, pts) == []
    assert len(session.scalars(select(Alert)).all()) == 1


def test_area_scope_and_disabled_rules(session: Session) -> None:
    inside = make_area(session, "Xã Cần Giuộc", "27841")
    other = make_area(session, "Xã Đức Hòa", "27700")
    ds_in = make_station(session, "Trạm Cần Giuộc", "salinity", area_ids=[inside.id])
    ds_out = make_station(session, "Trạm Đức Hòa", "salinity", area_ids=[other.id])
    salinity_rule(session, area_ids=[inside.id])
    salinity_rule(session, area_ids=[], enabled=False)
    high = series(2.0, 2.0, 2.0, 2.0)
    assert len(process_observations(session, ds_in.id, high)) == 1
    assert process_observations(session, ds_out.id, high) == []
    assert [a.datastream_id for a in list_alerts(session, area_id=inside.id)] == [ds_in.id]
    assert list_alerts(session, area_id=other.id) == []


def test_station_alarm_levels_from_thing(session: Session) -> None:
    ds = make_station(
        session,
        "Trạm Tân An (Vàm Cỏ Tây)",
        "water_level",
        extra={"alarm_levels": {"I": 1.2, "II": 1.4, "III": 1.6}},
    )
    no_levels = make_station(session, "Trạm không khai báo", "water_level")
    session.add(
        Rule(
            name_vi="Báo động mực nước",
            kind=RuleKind.THRESHOLD,
            property_code="water_level",
            parameters={"direction": "above", "levels_from_thing": "alarm_levels", "min_duration_s": 0},
        )
    )
    session.flush()
    changes = process_observations(session, ds.id, series(1.0, 1.25, 1.45, 1.65))
    assert [(c.action, c.severity) for c in changes] == [
        ("opened", Severity.WATCH),
        ("escalated", Severity.WARNING),
        ("escalated", Severity.CRITICAL),
    ]
    alert = session.get(Alert, changes[0].alert_id)
    assert alert is not None
    assert "mức III" in alert.message_vi
    # A station without declared levels is skipped, not alerted.
    assert process_observations(session, no_levels.id, series(5.0, 5.0)) == []


def test_rate_of_change_rule(session: Session) -> None:
    ds = make_station(session, "Trạm mực nước Bến Lức", "water_level")
    session.add(
        Rule(
            name_vi="Nước lên nhanh",
            kind=RuleKind.RATE_OF_CHANGE,
            datastream_id=ds.id,
            parameters={"window_s": 3600, "delta": 0.5, "direction": "rising"},
        )
    )
    session.flush()
    changes = process_observations(session, ds.id, series(0.0, 0.2, 0.4, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6))
    assert [c.action for c in changes] == ["opened", "closed"]
    assert changes[0].severity is Severity.WARNING


def test_staleness_sweep_then_recovery(session: Session) -> None:
    ds = make_station(session, "Trạm PM2.5 Tân An", "pm25")
    ds.last_phenomenon_time = T0
    make_station(session, "Trạm mặn im lặng", "salinity")  # silent too, but not targeted by the rule
    session.add(
        Rule(
            name_vi="Trạm mất tín hiệu",
            kind=RuleKind.STALENESS,
            property_code="pm25",
            parameters={"expected_interval_s": 300, "intervals": 3},
        )
    )
    session.flush()
    assert sweep_staleness(session, T0 + timedelta(minutes=15)) == []
    changes = sweep_staleness(session, T0 + timedelta(minutes=16))
    assert [c.action for c in changes] == ["opened"]
    alert = session.get(Alert, changes[0].alert_id)
    assert alert is not None
    assert "đã ngừng gửi số liệu bụi PM2.5" in alert.message_vi
    assert sweep_staleness(session, T0 + timedelta(hours=1)) == []
    changes = process_observations(session, ds.id, [(T0 + timedelta(hours=2), 30.0)])
    assert [c.action for c in changes] == ["closed"]
    assert alert.state is AlertState.CLOSED


def _silent_rule(session: Session, code: str) -> None:
    session.add(
        Rule(
            name_vi="Trạm mất tín hiệu",
            kind=RuleKind.STALENESS,
            property_code=code,
            parameters={"expected_interval_s": 300, "intervals": 3, "severity": "watch"},
        )
    )
    session.flush()


def test_staleness_text_names_the_station_once_and_when_it_last_reported(session: Session) -> None:
    ds = make_station(session, "Trạm Tân An – sông Vàm Cỏ Tây", "salinity")
    ds.last_phenomenon_time = datetime(2026, 3, 10, 7, 35, tzinfo=UTC)  # 14:35 in Vietnam
    _silent_rule(session, "salinity")
    [change] = sweep_staleness(session, datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    alert = session.get(Alert, change.alert_id)
    assert alert is not None
    assert alert.message_vi == (
        "Theo dõi: Trạm Tân An – sông Vàm Cỏ Tây đã ngừng gửi số liệu độ mặn; "
        "lần gửi cuối lúc 14:35 ngày 10/03/2026."
    )
    assert alert.message_en == (
        "Watch: Trạm Tân An – sông Vàm Cỏ Tây has stopped sending salinity data; "
        "last reported on 10/03/2026 at 14:35 (Vietnam time)."
    )


def test_staleness_text_of_a_station_that_never_reported(session: Session) -> None:
    make_station(session, "Trạm không khí Đức Hòa", "pm25")
    _silent_rule(session, "pm25")
    [change] = sweep_staleness(session, T0)
    alert = session.get(Alert, change.alert_id)
    assert alert is not None
    assert alert.message_vi == "Theo dõi: Trạm không khí Đức Hòa chưa gửi số liệu bụi PM2.5 lần nào."
    assert alert.message_en == "Watch: Trạm không khí Đức Hòa has never sent PM2.5 data."
    assert "—" not in alert.message_vi + alert.message_en


def test_observation_events_feed_the_rules(session: Session, sessions: object) -> None:
    ds = make_station(session, "Trạm Tân Trụ", "salinity")
    salinity_rule(session)
    session.commit()
    payload = {
        "count": 5,
        "observations": [
            {
                "id": i,
                "datastream_id": ds.id,
                "phenomenon_time": t.isoformat(),
                "result": v,
                "quality_flags": 0,
            }
            for i, (t, v) in enumerate(series(1.5, 1.5, 1.5, 1.5))
        ]
        + [{"id": 9, "datastream_id": ds.id, "phenomenon_time": T0.isoformat(), "result": "text"}],
    }
    assert len(points_by_datastream(payload)[ds.id]) == 4
    assert handle_observations(sessions, payload) == 1  # type: ignore[arg-type]
    assert handle_observations(sessions, payload) == 0  # type: ignore[arg-type]
    session.expire_all()
    assert len(session.scalars(select(Alert)).all()) == 1


def test_columnar_observation_events_feed_the_rules_and_skip_datastreams_without_rules(
    session: Session, sessions: object
) -> None:
    from cityops.sensing.observation_events import CreatedObservations, created_payload

    ds = make_station(session, "Trạm Cần Giuộc", "salinity")
    quiet = make_station(session, "Trạm Cần Đước", "rainfall")
    salinity_rule(session)
    session.commit()
    points = series(1.5, 1.5, 1.5, 1.5)
    payload = created_payload(
        CreatedObservations(
            ids=[1, 2, 3, 4, 5, 6, 7],
            datastreams=[ds.id] * 5 + [quiet.id] * 2,
            # The datastream without rules has unparsable times: they are never parsed.
            phenomenon_times=[t.isoformat() for t, _ in points] + [T0.isoformat(), "not a time", "nor this"],
            results=[v for _, v in points] + ["text", 1.0, 2.0],
            quality_flags=[0] * 7,
        )
    )
    assert payload["v"] == 2
    assert points_by_datastream(payload, lambda ds_id: ds_id == ds.id) == {ds.id: points}
    with pytest.raises(ValueError, match="isoformat"):
        points_by_datastream(payload)  # without the filter every datastream's times are parsed
    assert handle_observations(sessions, payload) == 1  # type: ignore[arg-type]
    assert handle_observations(sessions, payload) == 0  # type: ignore[arg-type]
    session.expire_all()
    assert len(session.scalars(select(Alert)).all()) == 1


def test_a_broken_rule_or_a_deleted_datastream_does_not_block_the_others(
    session: Session, sessions: object
) -> None:
    ds = make_station(session, "Trạm Tân An 2", "salinity")
    session.add(
        Rule(name_vi="Hỏng", kind=RuleKind.THRESHOLD, property_code="salinity", parameters={"levels": "x"})
    )
    salinity_rule(session)
    session.commit()
    assert len(process_observations(session, ds.id, series(2.0, 2.0, 2.0, 2.0))) == 1
    payload = {"observations": [{"datastream_id": 987654, "phenomenon_time": T0.isoformat(), "result": 1.0}]}
    assert handle_observations(sessions, payload) == 0  # type: ignore[arg-type]


def test_acknowledged_alerts_clear_and_manually_closed_ones_stay_quiet_until_escalation(
    session: Session,
) -> None:
    from cityops.alerts.service import acknowledge, close
    from cityops.identity.models import Role
    from cityops.identity.policy import Principal
    from tests.alerts.support import make_user

    user, _ = make_user(session, "vanhanh2", Role.OPERATOR)
    operator = Principal.for_user(user)
    ds = make_station(session, "Trạm Bến Lức 2", "salinity")
    salinity_rule(session)
    first = process_observations(session, ds.id, series(1.5, 1.5, 1.5, 1.5))[0].alert_id
    acknowledge(session, first, operator)
    # An acknowledged alert still closes itself when the condition clears.
    assert [c.action for c in process_observations(session, ds.id, [(T0 + 5 * STEP, 0.5)])] == ["closed"]
    alert = session.get(Alert, first)
    assert alert is not None
    assert (alert.state, alert.close_reason) == (AlertState.CLOSED, "cleared")
    # Raised again, then closed by hand while salinity stays high: no new alert at the same level ...
    later = T0 + 6 * STEP
    second = process_observations(session, ds.id, series(1.5, 1.5, 1.5, 1.5, start=later))[0].alert_id
    assert second != first
    close(session, second, operator, note="Đã biết")
    assert process_observations(session, ds.id, series(1.6, 1.7, start=later + 4 * STEP)) == []
    # ... but an escalation to warning opens a new one.
    changes = process_observations(session, ds.id, series(4.5, 4.5, 4.5, 4.5, start=later + 6 * STEP))
    assert [(c.action, c.severity) for c in changes] == [("opened", Severity.WARNING)]
    assert changes[0].alert_id not in {first, second}
