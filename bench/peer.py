"""The peer: django-ogc-sensorthings in its own venv (bench/.venv-peer), fed the same dataArray batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any


def measure(
    work: Path,
    prof: dict[str, Any],
    start: datetime,
    batches: Callable[..., Any],
    payload: Callable[..., Any],
    post: Callable[..., Any],
) -> tuple[float | None, str]:
    return None, "not measured: not implemented yet"
