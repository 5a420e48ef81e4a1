"""Reaching the real services the suite needs: PostgreSQL, Mosquitto, NATS.

With CI=true a missing service fails the test loudly; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import socket

import pytest

PG_ADMIN_URL = os.environ.get("CITYOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MQTT_HOST, MQTT_PORT = "127.0.0.1", int(os.environ.get("CITYOPS_TEST_MQTT_PORT", "1883"))
NATS_URL = os.environ.get("CITYOPS_TEST_NATS_URL", "nats://127.0.0.1:4222")
REDIS_HOST, REDIS_PORT = "127.0.0.1", int(os.environ.get("CITYOPS_TEST_REDIS_PORT", "6379"))

IN_CI = os.environ.get("CI", "").lower() == "true"


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    """Fail (CI) or skip (elsewhere) when a service does not answer on host:port."""
    if reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it (start it, see docs/development.md)", pytrace=False)
    pytest.skip(message)


def require_postgres() -> None:
    require("PostgreSQL", "127.0.0.1", 5432)


def require_mqtt() -> None:
    require("Mosquitto (MQTT)", MQTT_HOST, MQTT_PORT)


def require_nats() -> None:
    host_port = NATS_URL.rsplit("//", 1)[-1]
    host, port = host_port.split(":")
    require("NATS JetStream", host, int(port))


def require_redis() -> None:
    require("Redis", REDIS_HOST, REDIS_PORT)
