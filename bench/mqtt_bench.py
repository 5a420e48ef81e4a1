"""MQTT ingest through Mosquitto: one observation per message, QoS 1, messages/s stored."""

from __future__ import annotations

from typing import Any


def unavailable() -> str | None:
    return "MQTT ingest not landed yet"


def measure(
    env: dict[str, str], server: Any, prof: dict[str, Any], backend: str, sa_url: str, row: Any
) -> Any:
    raise NotImplementedError
