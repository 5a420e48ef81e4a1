"""Rolling-origin backtests: a model against persistence and seasonal naive, computed the same way.

The model is fitted on the history before the test window and refitted every ``refit_steps`` (as the
background task refits it on its schedule); at each origin (every ``stride`` steps) the model and both
baselines forecast every lead from the history up to the origin, and each forecast is scored against what
was then observed. Skill is the MSE skill score ``1 − MSE(model) / MSE(baseline)``: above 0 the model beats
the baseline at that lead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cityops.forecasting.methods import Array, Forecaster, persistence, seasonal_naive

PERSISTENCE = "persistence"
SEASONAL = "seasonal_naive"


@dataclass(frozen=True, slots=True)
class LeadScore:
    """One lead time's errors: MAE and RMSE of the model and of each baseline, over ``n`` forecasts."""

    lead: int
    n: int
    mae: dict[str, float]
    rmse: dict[str, float]

    def skill(self, baseline: str, model: str) -> float | None:
        base = self.rmse[baseline]
        if not np.isfinite(base) or base == 0.0:
            return None
        return 1.0 - (self.rmse[model] / base) ** 2

    def best_baseline(self) -> str:
        seasonal = self.rmse[SEASONAL]
        if not np.isfinite(seasonal) or self.rmse[PERSISTENCE] <= seasonal:
            return PERSISTENCE
        return SEASONAL

    def published(self, model: str) -> str:
        """The model only where it beats persistence (and is not beaten by the seasonal naive) at this lead;
        otherwise the better baseline, labelled as such. Not scored at all: persistence."""
        if not self.n:
            return PERSISTENCE
        best = self.best_baseline()
        if self.rmse[model] < self.rmse[PERSISTENCE] and self.rmse[model] <= self.rmse[best]:
            return model
        return best


@dataclass(slots=True)
class Backtest:
    model: str
    origins: int = 0
    leads: list[LeadScore] = field(default_factory=list)


def rolling_origin(
    make: Callable[[], Forecaster],
    times: Array,
    values: Array,
    leads: Sequence[int],
    *,
    season_h: float,
    step_h: float = 1.0,
    test_steps: int,
    stride: int,
    refit_steps: int,
    min_train: int,
) -> Backtest:
    """Score ``make()``'s forecasts over the last ``test_steps`` of the series (see the module docstring)."""
    n = len(values)
    first = max(min_train, n - test_steps - max(leads))
    if first >= n - min(leads) or int(np.isfinite(values[:first]).sum()) < min_train // 2:
        raise ValueError("the series is too short (or too sparse) for a backtest")
    naive = seasonal_naive(season_h, step_h)
    model = make()
    errors: dict[int, dict[str, list[float]]] = {
        lead: {model.name: [], PERSISTENCE: [], SEASONAL: []} for lead in leads
    }
    fitted_at = -(10**9)
    origins = 0
    for origin in range(first, n - min(leads), stride):
        if origin - fitted_at >= refit_steps:
            model.fit(times[:origin], values[:origin])
            fitted_at = origin
        hist_t, hist_v = times[: origin + 1], values[: origin + 1]
        if not np.isfinite(hist_v[-1]):
            continue
        usable = [lead for lead in leads if origin + lead < n and np.isfinite(values[origin + lead])]
        if not usable:
            continue
        origins += 1
        truth = np.array([values[origin + lead] for lead in usable])
        for name, fc in (
            (model.name, model.predict(hist_t, hist_v, usable)),
            (PERSISTENCE, persistence(hist_t, hist_v, usable)),
            (SEASONAL, naive(hist_t, hist_v, usable)),
        ):
            for lead, err in zip(usable, np.asarray(fc) - truth, strict=True):
                errors[lead][name].append(float(err))
    result = Backtest(model=model.name, origins=origins)
    for lead in leads:
        errs = errors[lead]
        count = len(errs[model.name])
        result.leads.append(
            LeadScore(
                lead=lead,
                n=count,
                mae={k: float(np.mean(np.abs(v))) if v else float("nan") for k, v in errs.items()},
                rmse={
                    k: float(np.sqrt(np.mean(np.square(v)))) if v else float("nan") for k, v in errs.items()
                },
            )
        )
    return result
