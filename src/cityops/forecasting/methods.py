"""The forecast models and the two baselines, as pure numpy over a regular series (no database).

A series is ``times`` (hours since the Unix epoch, a regular grid of ``step`` hours) and ``values`` (NaN for a
missing step). A :class:`Forecaster` is fitted on a training window (``fit``) and then, at each origin, forecasts
from the history up to that origin (``predict``) without refitting: models are refitted on a schedule, never on
a request. Baselines take the same arguments, so a backtest computes them the same way as the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

# the tidal constituents resolvable from a few weeks of hourly data (Rayleigh criterion, ~15 days for M2/S2)
CONSTITUENTS = ["M2", "S2", "N2", "K2", "K1", "O1", "P1", "Q1", "M4", "MS4", "MN4", "M6"]
LAT = 10.5  # Tây Ninh (former Long An), for utide's nodal corrections
LUNAR_DAY_H = 24.84


class Forecaster(Protocol):
    """A model: ``fit`` on a training window, then ``predict`` ``values`` at ``origin + lead × step``."""

    name: str

    def fit(self, times: Array, values: Array) -> None: ...

    def predict(self, times: Array, values: Array, leads: Sequence[int]) -> Array: ...


def last_finite(values: Array) -> float:
    """The latest value that is not NaN (NaN when there is none)."""
    ok = np.flatnonzero(np.isfinite(values))
    return float(values[ok[-1]]) if ok.size else float("nan")


def persistence(times: Array, values: Array, leads: Sequence[int]) -> Array:
    """Tomorrow is today: the last value, at every lead."""
    return np.full(len(leads), last_finite(values))


def seasonal_naive(period_h: float, step_h: float = 1.0) -> Callable[[Array, Array, Sequence[int]], Array]:
    """The value one period (or whole periods) before each target, interpolated between steps
    (24.84 h — one lunar day — for tide-driven series, 168 h for weekly ones)."""

    def forecast(times: Array, values: Array, leads: Sequence[int]) -> Array:
        out = np.empty(len(leads))
        ok = np.isfinite(values)
        for i, lead in enumerate(leads):
            lead_h = lead * step_h
            k = np.ceil(lead_h / period_h - 1e-9)
            target = times[-1] + lead_h - k * period_h
            out[i] = np.interp(target, times[ok], values[ok]) if ok.any() else np.nan
        return out

    return forecast


def _days(times: Array) -> Array:
    return times / 24.0


class Harmonic:
    """Tidal harmonic analysis (utide, ordinary least squares on :data:`CONSTITUENTS`), plus the mean residual
    of the last lunar day (river discharge and wind set-up move the mean level; tides do not)."""

    name = "harmonic"

    def __init__(self) -> None:
        self.coef: object | None = None

    def fit(self, times: Array, values: Array) -> None:
        import utide

        ok = np.isfinite(values)
        self.coef = utide.solve(
            _days(times[ok]),
            values[ok],
            lat=LAT,
            method="ols",
            conf_int="none",
            trend=False,
            constit=CONSTITUENTS,
            epoch="1970-01-01",
            verbose=False,
        )

    def tide(self, times: Array) -> Array:
        import utide

        if self.coef is None:
            raise RuntimeError("fit the harmonic model first")
        return np.asarray(utide.reconstruct(_days(times), self.coef, epoch="1970-01-01", verbose=False).h)

    def predict(self, times: Array, values: Array, leads: Sequence[int]) -> Array:
        recent = times >= times[-1] - LUNAR_DAY_H
        residual = values[recent] - self.tide(times[recent])
        offset = float(np.nanmean(residual)) if np.isfinite(residual).any() else 0.0
        return self.tide(times[-1] + np.asarray(leads, dtype=float)) + offset


class SalinityRegression:
    """Salinity: tide harmonics plus a ridge regression per lead on lagged salinity (now, 6 h and 24 h ago,
    and whole lunar days before the target), the harmonic tide at the target, the tide range over the target's lunar day (spring–neap), the season
    (day of year) and the upstream stations' latest values (``upstream``: their series on the same grid)."""

    name = "salinity"
    LAGS = (0, 6, 24)

    def __init__(
        self, leads: Sequence[int], upstream: Sequence[Array] = (), upstream_times: Array | None = None
    ):
        self.leads = tuple(leads)
        self.upstream = [np.asarray(u, dtype=float) for u in upstream]
        self.upstream_times = upstream_times
        self.harmonic = Harmonic()
        self.models: dict[int, object] = {}
        self._tide: dict[int, float] = {}

    def tide_at(self, times: Array) -> Array:
        """The harmonic tide at whole hours, each hour reconstructed once (utide is costly per call)."""
        hours = np.round(times).astype(np.int64)
        missing = sorted({int(h) for h in hours} - self._tide.keys())
        if missing:
            values = self.harmonic.tide(np.asarray(missing, dtype=float))
            self._tide.update(zip(missing, (float(v) for v in values), strict=True))
        return np.array([self._tide[int(h)] for h in hours])

    def _up(self, at: float) -> list[float]:
        if self.upstream_times is None:
            return []
        i = int(np.searchsorted(self.upstream_times, at, side="right")) - 1
        return [float(u[i]) if 0 <= i < len(u) else float("nan") for u in self.upstream]

    def _features(self, times: Array, values: Array, i: int, lead: int) -> list[float]:
        target = times[i] + lead
        window = target - LUNAR_DAY_H + np.arange(0, 25, dtype=float)
        tide_window = self.tide_at(window)
        doy = 2 * np.pi * (datetime.fromtimestamp(target * 3600, UTC).timetuple().tm_yday / 365.25)
        lags = [values[i - lag] if i - lag >= 0 else np.nan for lag in self.LAGS]
        # the value whole lunar days before the target (what the seasonal naive forecasts)
        back = i + lead - np.ceil(lead / LUNAR_DAY_H - 1e-9) * LUNAR_DAY_H
        lo = int(np.floor(back))
        frac = back - lo
        season = values[lo] * (1 - frac) + values[min(lo + 1, i)] * frac if lo >= 0 else np.nan
        return [
            *lags,
            float(season),
            float(self.tide_at(np.array([target]))[0]),
            float(tide_window.max() - tide_window.min()),
            float(np.sin(doy)),
            float(np.cos(doy)),
            *self._up(times[i]),
        ]

    def fit(self, times: Array, values: Array) -> None:
        from sklearn.linear_model import Ridge

        self.harmonic.fit(times, values)
        self._tide = {}
        self.tide_at(np.arange(times[0] - 26, times[-1] + max(self.leads) + 2, dtype=float))
        for lead in self.leads:
            rows, ys = [], []
            for i in range(24, len(values) - lead, 3):
                x = self._features(times, values, i, lead)
                y = values[i + lead]
                if np.isfinite(y) and np.all(np.isfinite(x)):
                    rows.append(x)
                    ys.append(y - values[i])
            if len(rows) > 20:
                self.models[lead] = Ridge(alpha=1.0).fit(np.asarray(rows), np.asarray(ys))

    def predict(self, times: Array, values: Array, leads: Sequence[int]) -> Array:
        out = np.empty(len(leads))
        i = len(values) - 1
        for k, lead in enumerate(leads):
            model = self.models.get(lead)
            x = self._features(times, values, i, lead)
            if model is None or not np.all(np.isfinite(x)):
                out[k] = last_finite(values)
            else:
                out[k] = values[i] + float(model.predict(np.asarray([x]))[0])  # type: ignore[attr-defined]
        return np.maximum(out, 0.0)


def _hour_of_week(times: Array) -> NDArray[np.int64]:
    # 1970-01-01 was a Thursday: shift so that 0 is Monday 00:00 UTC
    return ((np.floor(times).astype(np.int64) + 3 * 24) % 168).astype(np.int64)


class Profile:
    """Air quality: a diurnal profile (hour of day) plus a weekday offset, fitted on the history, and the
    latest anomaly from it decaying at the fitted lag-1 autocorrelation (an AR(1) on the anomalies)."""

    name = "profile"

    def __init__(self) -> None:
        self.diurnal = np.zeros(24)
        self.weekday = np.zeros(7)
        self.phi = 0.0

    def expected(self, times: Array) -> Array:
        how = _hour_of_week(times)
        return self.diurnal[how % 24] + self.weekday[how // 24]

    def fit(self, times: Array, values: Array) -> None:
        ok = np.isfinite(values)
        how = _hour_of_week(times)
        mean = float(np.mean(values[ok])) if ok.any() else 0.0
        for h in range(24):
            sel = ok & (how % 24 == h)
            self.diurnal[h] = float(np.mean(values[sel])) if sel.any() else mean
        rest = values - self.diurnal[how % 24]
        for d in range(7):
            sel = ok & (how // 24 == d)
            self.weekday[d] = float(np.mean(rest[sel])) if sel.any() else 0.0
        anomaly = values - self.expected(times)
        a, b = anomaly[:-1], anomaly[1:]
        pair = np.isfinite(a) & np.isfinite(b)
        if pair.sum() > 10 and float(np.var(a[pair])) > 0:
            self.phi = float(np.clip(np.corrcoef(a[pair], b[pair])[0, 1], 0.0, 0.999))

    def predict(self, times: Array, values: Array, leads: Sequence[int]) -> Array:
        ok = np.flatnonzero(np.isfinite(values))
        if not ok.size:
            return np.full(len(leads), np.nan)
        last = ok[-1]
        anomaly = values[last] - float(self.expected(times[last : last + 1])[0])
        lead_arr = np.asarray(leads, dtype=float)
        ahead = lead_arr + (times[-1] - times[last])
        out: Array = np.maximum(self.expected(times[-1] + lead_arr) + anomaly * self.phi**ahead, 0.0)
        return out


class Weekly:
    """Daily counts (reports per ward and category): the mean of the same weekday over the last ``weeks``
    working weeks, with days off (weekends, Tết and public holidays, from the working calendar) scaled by
    the history's ratio of day-off to working-day counts. ``step`` is 24 h: leads count days."""

    name = "weekly"

    def __init__(self, is_working_day: Callable[[date], bool], weeks: int = 8) -> None:
        self.is_working_day = is_working_day
        self.weeks = weeks
        self.off_ratio = 1.0

    def _day(self, t: float) -> date:
        return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=float(t) + 7)).date()  # local day

    def fit(self, times: Array, values: Array) -> None:
        work = np.array([self.is_working_day(self._day(t)) for t in times])
        ok = np.isfinite(values)
        on, off = values[ok & work], values[ok & ~work]
        if on.size and off.size and float(np.mean(on)) > 0:
            self.off_ratio = float(np.mean(off) / np.mean(on))

    def predict(self, times: Array, values: Array, leads: Sequence[int]) -> Array:
        out = np.empty(len(leads))
        for k, lead in enumerate(leads):
            target = times[-1] + 24.0 * lead
            weekday = self._day(target).weekday()
            same = [
                values[i]
                for i in range(len(values) - 1, max(-1, len(values) - 7 * self.weeks - 1), -1)
                if self._day(times[i]).weekday() == weekday
                and self.is_working_day(self._day(times[i]))
                and np.isfinite(values[i])
            ]
            level = float(np.mean(same)) if same else last_finite(values)
            if weekday >= 5:  # a weekend: its own weekday mean, working-day rules do not apply
                same_w = [
                    values[i]
                    for i in range(len(values) - 1, max(-1, len(values) - 7 * self.weeks - 1), -1)
                    if self._day(times[i]).weekday() == weekday and np.isfinite(values[i])
                ]
                level = float(np.mean(same_w)) if same_w else level
            elif not self.is_working_day(self._day(target)):
                level *= self.off_ratio
            out[k] = level
        return out
