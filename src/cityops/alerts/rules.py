"""The pure rule evaluator: rule parameters + evaluation state + new observations → transitions.

No database and no clock: :mod:`cityops.alerts.service` loads the state, calls these functions and
persists what they return. Each kind:

* **threshold** — ordered levels (e.g. salinity watch 1 g/L, warning 4 g/L). A level *opens* (or the alert
  *escalates* to it) when the value has been at or beyond the level's value continuously for at least
  ``min_duration_s`` (measured between observation times); an open level is *held* while the value stays
  at or beyond its ``clear`` level (hysteresis), so the alert *de-escalates* to the highest level still held
  and *clears* when none is.
* **rate_of_change** — the change over the trailing ``window_s`` (latest value minus the oldest value in
  the window) reaches ``delta`` in the given direction; clears when it falls below ``clear_delta``.
* **staleness** — no observation for ``intervals × expected_interval_s``; evaluated by a sweep with an
  explicit ``now`` (:func:`evaluate_staleness`); the next observation clears it.

Observations at or before the last evaluated time are ignored (late data does not rewrite alert history).
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cityops.alerts.models import RuleKind, Severity

SeverityName = Literal["info", "watch", "warning", "critical"]
Point = tuple[datetime, float]

SEVERITY_VI = {
    Severity.INFO: "Thông tin",
    Severity.WATCH: "Theo dõi",
    Severity.WARNING: "Cảnh báo",
    Severity.CRITICAL: "Khẩn cấp",
}
SEVERITY_EN = {
    Severity.INFO: "Information",
    Severity.WATCH: "Watch",
    Severity.WARNING: "Warning",
    Severity.CRITICAL: "Critical",
}


class _Params(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Level(_Params):
    severity: SeverityName
    value: float
    clear: float | None = Field(
        None, description="Hysteresis: the level is held until the value passes this."
    )
    label: str | None = Field(None, description="Name of the level, e.g. 'I', 'II', 'III' for water levels.")

    def clear_level(self) -> float:
        return self.value if self.clear is None else self.clear


class ThresholdParams(_Params):
    direction: Literal["above", "below"] = "above"
    levels: list[Level] = Field(default_factory=list)
    min_duration_s: float = Field(0, ge=0)
    levels_from_thing: str | None = Field(
        None,
        description="Read the levels from this key of the Thing's properties: a mapping of a level's label "
        "to its value (or to {'value', 'clear'}), declared per station by an operator or a sector.",
    )
    level_severities: dict[str, SeverityName] | None = Field(
        None,
        description="With levels_from_thing: the severity each label opens (a sector's reading of its levels); "
        "labels not named are ignored. Without it the levels take watch, warning, critical in the mapping's order.",
    )

    @model_validator(mode="after")
    def _check_levels(self) -> ThresholdParams:
        if not self.levels and not self.levels_from_thing:
            raise ValueError("a threshold rule needs levels or levels_from_thing")
        check_levels(self.levels, self.direction)
        return self


def check_levels(levels: Sequence[Level], direction: str) -> None:
    above = direction == "above"
    for prev, cur in itertools.pairwise(levels):
        if (cur.value <= prev.value) if above else (cur.value >= prev.value):
            raise ValueError("levels must grow more severe in the rule's direction")
        if Severity(cur.severity).rank < Severity(prev.severity).rank:
            raise ValueError("level severities must not decrease")
    for lvl in levels:
        clear = lvl.clear_level()
        if (clear > lvl.value) if above else (clear < lvl.value):
            raise ValueError("a clear level must lie on the safe side of its level value")


class RateParams(_Params):
    window_s: float = Field(gt=0)
    delta: float = Field(gt=0)
    direction: Literal["rising", "falling", "either"] = "rising"
    clear_delta: float | None = Field(None, gt=0)
    severity: SeverityName = "warning"

    @model_validator(mode="after")
    def _check(self) -> RateParams:
        if self.clear_delta is not None and self.clear_delta > self.delta:
            raise ValueError("clear_delta must not exceed delta")
        return self


class StalenessParams(_Params):
    expected_interval_s: float = Field(gt=0)
    intervals: float = Field(3, gt=0)
    severity: SeverityName = "warning"

    @property
    def max_age(self) -> timedelta:
        return timedelta(seconds=self.expected_interval_s * self.intervals)


Params = ThresholdParams | RateParams | StalenessParams


def parse_params(kind: RuleKind, data: Mapping[str, Any]) -> Params:
    """Validate a rule's JSON parameters for its kind (raises pydantic.ValidationError)."""
    if kind is RuleKind.THRESHOLD:
        return ThresholdParams.model_validate(dict(data))
    if kind is RuleKind.RATE_OF_CHANGE:
        return RateParams.model_validate(dict(data))
    return StalenessParams.model_validate(dict(data))


def levels_from_mapping(
    mapping: Mapping[str, Any], severities: Sequence[SeverityName] | Mapping[str, SeverityName]
) -> list[Level]:
    """Levels declared on a Thing as ``{label: value}`` (or ``{label: {"value":…, "clear":…}}``).

    ``severities`` gives each label its severity by name (labels not named are skipped), or in the
    mapping's order as a sequence. Levels come out from the least to the most severe, as a rule's must be."""
    if isinstance(severities, Mapping):
        named = [(label, spec, severities[label]) for label, spec in mapping.items() if label in severities]
    else:
        named = [(label, spec, sev) for (label, spec), sev in zip(mapping.items(), severities, strict=False)]
    out: list[Level] = []
    for label, spec, severity in named:
        if isinstance(spec, Mapping):
            out.append(
                Level(severity=severity, value=float(spec["value"]), clear=spec.get("clear"), label=label)
            )
        else:
            out.append(Level(severity=severity, value=float(spec), label=label))
    return sorted(out, key=lambda level: Severity(level.severity).rank)


# ---------------------------------------------------------------------------------------------- state


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


@dataclass
class EvalState:
    """The evaluator's memory for one (rule, datastream); stored as JSON."""

    level: int | None = None  # active level index; rate/staleness use 0 when active
    since: list[datetime | None] = field(default_factory=list)  # per level: condition holding since
    last_time: datetime | None = None
    window: list[Point] = field(default_factory=list)  # rate of change: points in the trailing window
    peak: float | None = None

    @property
    def active(self) -> bool:
        return self.level is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "since": [_iso(s) for s in self.since],
            "last_time": _iso(self.last_time),
            "window": [[t.isoformat(), v] for t, v in self.window],
            "peak": self.peak,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> EvalState:
        if not data:
            return cls()
        return cls(
            level=data.get("level"),
            since=[_dt(s) for s in data.get("since", [])],
            last_time=_dt(data.get("last_time")),
            window=[(datetime.fromisoformat(t), float(v)) for t, v in data.get("window", [])],
            peak=data.get("peak"),
        )


Action = Literal["open", "escalate", "deescalate", "clear"]


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    at: datetime
    severity: Severity | None  # the new severity (None when clearing)
    value: float | None
    level: int | None = None
    label: str | None = None


@dataclass
class Evaluation:
    state: EvalState
    transitions: list[Transition]
    last_value: float | None = None
    peak: float | None = None


def _new_points(state: EvalState, points: Iterable[Point]) -> list[Point]:
    pts = sorted(points, key=lambda p: p[0])
    if state.last_time is not None:
        pts = [p for p in pts if p[0] > state.last_time]
    return pts


def _peak(direction_up: bool, peak: float | None, value: float) -> float:
    if peak is None:
        return value
    return max(peak, value) if direction_up else min(peak, value)


def evaluate_threshold(
    params: ThresholdParams, levels: Sequence[Level], state: EvalState, points: Iterable[Point]
) -> Evaluation:
    """Threshold with hysteresis and minimum duration over ``levels`` (the rule's or the station's)."""
    above = params.direction == "above"
    min_dur = timedelta(seconds=params.min_duration_s)
    since: list[datetime | None] = list(state.since) + [None] * max(0, len(levels) - len(state.since))
    since = since[: len(levels)]
    level, peak, last_time = state.level, state.peak, state.last_time
    transitions: list[Transition] = []
    last_value: float | None = None
    for t, v in _new_points(state, points):
        last_value, last_time = v, t
        for i, lvl in enumerate(levels):
            beyond = v >= lvl.value if above else v <= lvl.value
            since[i] = (since[i] or t) if beyond else None
        qualified = [i for i, s in enumerate(since) if s is not None and t - s >= min_dur]
        candidate = max(qualified) if qualified else None
        if level is None:
            if candidate is not None:
                level, peak = candidate, v
                transitions.append(_tr("open", t, levels, level, v))
            continue
        held = [
            j
            for j in range(min(level, len(levels) - 1) + 1)
            if (v >= levels[j].clear_level() if above else v <= levels[j].clear_level())
        ]
        keep = max(held) if held else None
        new = max((x for x in (candidate, keep) if x is not None), default=None)
        peak = _peak(above, peak, v)
        if new is None:
            transitions.append(Transition("clear", t, None, v))
            level, peak = None, None
        elif new > level:
            level = new
            transitions.append(_tr("escalate", t, levels, level, v))
        elif new < level:
            level = new
            transitions.append(_tr("deescalate", t, levels, level, v))
    new_state = EvalState(level=level, since=since, last_time=last_time, peak=peak)
    return Evaluation(new_state, transitions, last_value, peak)


def _tr(action: Action, t: datetime, levels: Sequence[Level], i: int, v: float) -> Transition:
    return Transition(action, t, Severity(levels[i].severity), v, i, levels[i].label)


def evaluate_rate(params: RateParams, state: EvalState, points: Iterable[Point]) -> Evaluation:
    """Rate of change over a trailing window."""
    window = timedelta(seconds=params.window_s)
    clear_delta = params.clear_delta if params.clear_delta is not None else params.delta
    buf = list(state.window)
    level, peak, last_time = state.level, state.peak, state.last_time
    transitions: list[Transition] = []
    last_value: float | None = None
    for t, v in _new_points(state, points):
        last_value, last_time = v, t
        buf.append((t, v))
        buf = [(pt, pv) for pt, pv in buf if pt >= t - window]
        change = v - buf[0][1]
        signed = {"rising": change, "falling": -change, "either": abs(change)}[params.direction]
        if level is None:
            if len(buf) >= 2 and signed >= params.delta:
                level, peak = 0, change
                transitions.append(Transition("open", t, Severity(params.severity), v, 0))
        elif signed < clear_delta:
            transitions.append(Transition("clear", t, None, v))
            level, peak = None, None
        else:
            peak = change if peak is None or abs(change) > abs(peak) else peak
    new_state = EvalState(level=level, last_time=last_time, window=buf, peak=peak)
    return Evaluation(new_state, transitions, last_value, peak)


def evaluate_staleness(
    params: StalenessParams, state: EvalState, last_seen: datetime | None, now: datetime
) -> Evaluation:
    """Sweep: open when the datastream has been silent for longer than the allowed age at ``now``."""
    if state.level is None and (last_seen is None or now - last_seen > params.max_age):
        new_state = EvalState(level=0, last_time=state.last_time or last_seen)
        return Evaluation(new_state, [Transition("open", now, Severity(params.severity), None, 0)])
    return Evaluation(state, [])


def staleness_on_data(state: EvalState, points: Iterable[Point]) -> Evaluation:
    """New data clears a stale alert at the first new observation."""
    pts = _new_points(state, points)
    if not pts:
        return Evaluation(state, [])
    t, v = pts[-1]
    transitions = [Transition("clear", pts[0][0], None, pts[0][1])] if state.level is not None else []
    return Evaluation(EvalState(level=None, last_time=t), transitions, v)


def evaluate(
    kind: RuleKind,
    params: Params,
    state: EvalState,
    points: Iterable[Point],
    *,
    levels: Sequence[Level] | None = None,
) -> Evaluation:
    """Dispatch new observations to the evaluator of the rule's kind."""
    if kind is RuleKind.THRESHOLD:
        assert isinstance(params, ThresholdParams)
        return evaluate_threshold(params, params.levels if levels is None else levels, state, points)
    if kind is RuleKind.RATE_OF_CHANGE:
        assert isinstance(params, RateParams)
        return evaluate_rate(params, state, points)
    return staleness_on_data(state, points)


# ------------------------------------------------------------------------------------------- messages


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_message(template: str, context: Mapping[str, Any]) -> str:
    """``str.format`` with unknown fields left as they are (templates are admin-written)."""
    formatter = string.Formatter()
    try:
        return formatter.vformat(template, (), _SafeDict(context))
    except (ValueError, IndexError, AttributeError, KeyError):
        return template
