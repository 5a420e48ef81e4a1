"""The scheduled runs (``background_tasks``): forecasts every hour, backtests (and so refits) every day."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cityops.db import session_scope
from cityops.forecasting.service import run_all
from cityops.forecasting.targets import declared_targets

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.settings import Settings

log = logging.getLogger(__name__)

RUN_SECONDS = 3600.0
BACKTEST_SECONDS = 86400.0


def run_forecasts(sessions: sessionmaker[Session], settings: Settings, *, backtest: bool = False) -> int:
    """One run over every target; returns the forecasts written."""
    with session_scope(sessions) as session:
        results = run_all(session, declared_targets(), backtest=backtest)
    written = sum(r.written for r in results)
    log.info("forecasts: %d targets, %d forecasts written (backtest=%s)", len(results), written, backtest)
    return written
