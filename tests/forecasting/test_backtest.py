"""The backtest machinery on series with known answers (no database): a pure harmonic series is forecast
almost exactly, a random walk is not beaten by any model, a seasonal series beats persistence."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from cityops.forecasting.backtest import PERSISTENCE, SEASONAL, rolling_origin
from cityops.forecasting.methods import Harmonic, Profile, SalinityRegression, Weekly, seasonal_naive

T0 = 490_000.0  # hours since the epoch (2025-11-24)
M2, K1 = 12.4206012, 23.93447213


def _tide(times: np.ndarray) -> np.ndarray:
    return 1.1 * np.cos(2 * np.pi * times / M2) + 0.4 * np.cos(2 * np.pi * times / K1 + 0.7) + 0.2


def test_a_pure_harmonic_series_is_forecast_almost_exactly() -> None:
    times = T0 + np.arange(40 * 24, dtype=float)
    values = _tide(times)
    bt = rolling_origin(
        Harmonic,
        times,
        values,
        (1, 6, 24, 48),
        season_h=24.84,
        test_steps=7 * 24,
        stride=12,
        refit_steps=10_000,
        min_train=21 * 24,
    )
    assert bt.origins >= 10
    for score in bt.leads:
        assert score.rmse["harmonic"] < 0.01, score
        assert score.rmse[PERSISTENCE] > 0.1
        assert (score.skill(PERSISTENCE, "harmonic") or 0) > 0.99
        assert score.published("harmonic") == "harmonic"


def test_a_random_walk_does_not_beat_persistence() -> None:
    rng = np.random.default_rng(16)
    times = T0 + np.arange(60 * 24, dtype=float)
    values = 50 + np.cumsum(rng.normal(0, 1.0, len(times)))
    bt = rolling_origin(
        Profile,
        times,
        values,
        (1, 6, 24, 48),
        season_h=24.0,
        test_steps=14 * 24,
        stride=6,
        refit_steps=7 * 24,
        min_train=21 * 24,
    )
    for score in bt.leads:
        skill = score.skill(PERSISTENCE, "profile")
        assert skill is not None
        assert skill < 0.02, score
        assert score.published("profile") in (PERSISTENCE, SEASONAL)
    # persistence beats the seasonal naive (which copies a value 18 h older) at 6 h
    six = next(s for s in bt.leads if s.lead == 6)
    assert six.rmse[PERSISTENCE] < six.rmse[SEASONAL]


def test_a_seasonal_series_beats_persistence() -> None:
    rng = np.random.default_rng(7)
    times = T0 + np.arange(60 * 24, dtype=float)
    values = 40 + 15 * np.sin(2 * np.pi * times / 24) + rng.normal(0, 2, len(times))
    bt = rolling_origin(
        Profile,
        times,
        values,
        (6, 12, 24),
        season_h=24.0,
        test_steps=14 * 24,
        stride=6,
        refit_steps=7 * 24,
        min_train=21 * 24,
    )
    for score in bt.leads:
        assert score.rmse["profile"] < 3.0, score
    twelve = next(s for s in bt.leads if s.lead == 12)
    assert twelve.published("profile") == "profile"
    assert (twelve.skill(PERSISTENCE, "profile") or 0) > 0.9


def test_weekly_counts_with_holidays_beat_persistence() -> None:
    rng = np.random.default_rng(3)
    days = 140
    times = T0 + 24.0 * np.arange(days) - 7  # local midnights (UTC+7)
    off = {date(2026, 1, 1)}

    def working(d: date) -> bool:
        return d.weekday() < 5 and d not in off

    rates = np.array([12, 10, 10, 9, 11, 3, 2], dtype=float)
    weekday = (np.floor((times + 7) / 24).astype(int) + 3) % 7
    values = rng.poisson(rates[weekday]).astype(float)
    bt = rolling_origin(
        lambda: Weekly(working),
        times,
        values,
        (1, 7),
        season_h=168.0,
        step_h=24.0,
        test_steps=42,
        stride=1,
        refit_steps=7,
        min_train=56,
    )
    one = next(s for s in bt.leads if s.lead == 1)
    assert one.published("weekly") == "weekly"
    assert (one.skill(PERSISTENCE, "weekly") or 0) > 0.3


def test_seasonal_naive_uses_one_lunar_day() -> None:
    times = np.arange(100, dtype=float)
    values = times.copy()  # value = time: the forecast reads off the time it copies
    fc = seasonal_naive(24.84)(times, values, [1, 24, 30])
    assert fc == pytest.approx([99 + 1 - 24.84, 99 + 24 - 24.84, 99 + 30 - 2 * 24.84])


def test_the_salinity_regression_learns_a_lagged_upstream_driver() -> None:
    rng = np.random.default_rng(5)
    times = T0 + np.arange(50 * 24, dtype=float)
    upstream = 3 + np.cumsum(rng.normal(0, 0.05, len(times)))
    # downstream follows the upstream station 6 h later, plus a tidal wiggle
    values = np.maximum(np.roll(upstream, 6) + 0.3 * np.cos(2 * np.pi * times / M2), 0)
    values[:6] = values[6]
    bt = rolling_origin(
        lambda: SalinityRegression((6,), [upstream], times),
        times,
        values,
        (6,),
        season_h=24.84,
        test_steps=10 * 24,
        stride=6,
        refit_steps=10_000,
        min_train=30 * 24,
    )
    score = bt.leads[0]
    assert score.published("salinity") == "salinity"
    assert (score.skill(PERSISTENCE, "salinity") or 0) > 0.5
