"""The scheduled runs (``background_tasks``): forecasts every hour, backtests (and so refits) every day."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cityops.clock import utcnow
from cityops.db import session_scope
from cityops.forecasting.report_volume import LOCAL, refresh_counts
from cityops.forecasting.service import run_all
from cityops.forecasting.targets import all_targets

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.settings import Settings

log = logging.getLogger(__name__)

RUN_SECONDS = 3600.0
BACKTEST_SECONDS = 86400.0


def run_forecasts(sessions: sessionmaker[Session], settings: Settings, *, backtest: bool = False) -> int:
    """One run over every target; returns the forecasts written."""
    with session_scope(sessions) as session:
        refresh_counts(session, until=utcnow().astimezone(LOCAL).date())
        results = run_all(session, all_targets(session), backtest=backtest)
    written = sum(r.written for r in results)
    log.info("forecasts: %d targets, %d forecasts written (backtest=%s)", len(results), written, backtest)
    return written
