"""Native sensing endpoints under ``/api/v1/sensing``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/sensing", tags=["sensing"])
