"""The pure rule evaluator: hysteresis, minimum duration, escalation, rate of change, staleness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from cityops.alerts.models import RuleKind, Severity
from cityops.alerts.rules import (
    EvalState,
    RateParams,
    StalenessParams,
    ThresholdParams,
    evaluate,
    evaluate_staleness,
    levels_from_mapping,
    parse_params,
    render_message,
)

T0 = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
STEP = timedelta(minutes=10)

SALINITY = ThresholdParams.model_validate(
    {
        "direction": "above",
        "levels": [
            {"severity": "watch", "value": 1.0, "clear": 0.8},
            {"severity": "warning", "value": 4.0, "clear": 3.5},
        ],
        "min_duration_s": 1800,
    }
)


def series(*values: float, start: datetime = T0) -> list[tuple[datetime, float]]:
    return [(start + STEP * i, v) for i, v in enumerate(values)]


def actions(ev: object) -> list[tuple[str, str | None]]:
    return [(t.action, t.severity.value if t.severity else None) for t in ev.transitions]  # type: ignore[attr-defined]


def test_opens_after_minimum_duration_and_clears_with_hysteresis() -> None:
    # 1.2 from 00:10; 30 min later (00:40) the watch opens; 0.9 is above the clear level 0.8: held;
    # 0.7 clears.
    pts = series(0.5, 1.2, 1.3, 1.1, 1.2, 0.9, 0.85, 0.7)
    ev = evaluate(RuleKind.THRESHOLD, SALINITY, EvalState(), pts)
    assert actions(ev) == [("open", "watch"), ("clear", None)]
    assert ev.transitions[0].at == T0 + 4 * STEP
    assert ev.transitions[1].at == T0 + 7 * STEP
    assert not ev.state.active


def test_minimum_duration_not_met_means_no_alert() -> None:
    # Above 1 g/L for 20 min only (00:10–00:30), then below.
    ev = evaluate(RuleKind.THRESHOLD, SALINITY, EvalState(), series(0.5, 1.5, 1.6, 1.4, 0.9, 1.2))
    assert ev.transitions == []
    assert not ev.state.active
    # A dip below the level restarts the clock even when it stays above the clear level.
    ev = evaluate(RuleKind.THRESHOLD, SALINITY, EvalState(), series(1.2, 1.2, 0.95, 1.2, 1.2, 1.2))
    assert ev.transitions == []


def test_escalates_and_deescalates() -> None:
    pts = series(1.5, 1.5, 1.5, 1.5, 4.5, 4.6, 4.7, 4.8, 3.6, 3.0, 0.5)
    ev = evaluate(RuleKind.THRESHOLD, SALINITY, EvalState(), pts)
    assert actions(ev) == [
        ("open", "watch"),
        ("escalate", "warning"),
        ("deescalate", "watch"),
        ("clear", None),
    ]
    # 4.5 from 00:40, escalation 30 min later at 01:10; 3.6 holds warning (clear 3.5); 3.0 drops to watch
    assert [t.at for t in ev.transitions] == [T0 + 3 * STEP, T0 + 7 * STEP, T0 + 9 * STEP, T0 + 10 * STEP]


def test_state_survives_a_round_trip_and_old_points_are_ignored() -> None:
    first = evaluate(RuleKind.THRESHOLD, SALINITY, EvalState(), series(1.5, 1.5, 1.5, 1.5))
    assert actions(first) == [("open", "watch")]
    state = EvalState.from_json(first.state.to_json())
    assert state.level == 0
    # A late point (before last_time) changes nothing; a later low value clears.
    late = evaluate(RuleKind.THRESHOLD, SALINITY, state, [(T0 + STEP, 0.1)])
    assert late.transitions == []
    ev = evaluate(RuleKind.THRESHOLD, SALINITY, state, [(T0 + 10 * STEP, 0.5)])
    assert actions(ev) == [("clear", None)]


def test_below_direction_and_zero_duration() -> None:
    params = ThresholdParams.model_validate(
        {"direction": "below", "levels": [{"severity": "warning", "value": 3.0, "clear": 4.0}]}
    )
    ev = evaluate(RuleKind.THRESHOLD, params, EvalState(), series(5.0, 2.5, 3.5, 4.5))
    assert actions(ev) == [("open", "warning"), ("clear", None)]
    assert ev.peak is None
    assert ev.last_value == 4.5


def test_station_levels_from_thing_properties() -> None:
    params = parse_params(RuleKind.THRESHOLD, {"levels_from_thing": "alarm_levels", "min_duration_s": 0})
    assert isinstance(params, ThresholdParams)
    levels = levels_from_mapping(
        {"I": 1.2, "II": 1.4, "III": {"value": 1.6, "clear": 1.5}}, ["watch", "warning", "critical"]
    )
    ev = evaluate(RuleKind.THRESHOLD, params, EvalState(), series(1.0, 1.3, 1.65, 1.45, 1.1), levels=levels)
    assert [(t.action, t.label) for t in ev.transitions] == [
        ("open", "I"),
        ("escalate", "III"),
        ("deescalate", "II"),
        ("clear", None),
    ]


def test_rate_of_change() -> None:
    params = RateParams(window_s=3600, delta=1.0, direction="rising", clear_delta=0.5, severity="watch")
    # +0.5 per 10 min: the change over the trailing hour reaches 1.0 at 00:20.
    pts = series(0.0, 0.5, 1.0, 1.2, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3)
    ev = evaluate(RuleKind.RATE_OF_CHANGE, params, EvalState(), pts)
    assert actions(ev)[0] == ("open", "watch")
    assert ev.transitions[0].at == T0 + 2 * STEP
    # At 01:20 the window (00:20–01:20) starts at 1.0 → change 0.3 < 0.5 → clear.
    assert ev.transitions[1].action == "clear"
    assert ev.transitions[1].at == T0 + 8 * STEP
    # A fall is not a rise.
    falling = evaluate(RuleKind.RATE_OF_CHANGE, params, EvalState(), series(3.0, 2.0, 1.0))
    assert falling.transitions == []


def test_staleness_sweep_and_recovery() -> None:
    params = StalenessParams(expected_interval_s=600, intervals=3)
    last = T0
    assert evaluate_staleness(params, EvalState(), last, T0 + timedelta(minutes=30)).transitions == []
    ev = evaluate_staleness(params, EvalState(), last, T0 + timedelta(minutes=31))
    assert actions(ev) == [("open", "warning")]
    # A second sweep does not open again.
    assert evaluate_staleness(params, ev.state, last, T0 + timedelta(hours=2)).transitions == []
    back = evaluate(RuleKind.STALENESS, params, ev.state, [(T0 + timedelta(hours=3), 1.0)])
    assert actions(back) == [("clear", None)]
    # Never reported at all: stale.
    assert actions(evaluate_staleness(params, EvalState(), None, T0)) == [("open", "warning")]


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (RuleKind.THRESHOLD, {"levels": []}),
        (RuleKind.THRESHOLD, {"levels": [{"severity": "watch", "value": 1, "clear": 2}]}),
        (
            RuleKind.THRESHOLD,
            {"levels": [{"severity": "warning", "value": 4}, {"severity": "watch", "value": 1}]},
        ),
        (RuleKind.THRESHOLD, {"levels": [{"severity": "loud", "value": 1}]}),
        (RuleKind.THRESHOLD, {"levels": [{"severity": "watch", "value": 1}], "min_duration_s": -1}),
        (RuleKind.THRESHOLD, {"levels": [{"severity": "watch", "value": "1"}]}),
        (RuleKind.RATE_OF_CHANGE, {"window_s": 0, "delta": 1}),
        (RuleKind.RATE_OF_CHANGE, {"window_s": 60, "delta": 1, "clear_delta": 2}),
        (RuleKind.STALENESS, {"expected_interval_s": 60, "bogus": 1}),
    ],
)
def test_bad_parameters_are_refused(kind: RuleKind, data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_params(kind, data)


def test_messages() -> None:
    text = render_message("Độ mặn {value} g/L tại {station} ({missing})", {"value": 4.2, "station": "Tân An"})
    assert text == "Độ mặn 4.2 g/L tại Tân An ({missing})"
    assert render_message("bad {", {}) == "bad {"
    assert Severity.CRITICAL.rank > Severity.WATCH.rank
