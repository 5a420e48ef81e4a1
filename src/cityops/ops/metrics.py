"""Prometheus metrics. One registry per app so tests and several apps in one process do not collide."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "cityops_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cityops_http_request_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.events = Counter(
            "cityops_events_published_total",
            "Events published on the bus.",
            ["subject"],
            registry=self.registry,
        )

        self.handled = Counter(
            "cityops_events_handled_total",
            "Event deliveries to consumers by durable name and outcome (ok, failed, dead_lettered).",
            ["durable", "outcome"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "cityops_outbox_pending",
            "Outbox events committed but not yet published on the bus (measured at scrape time).",
            registry=self.registry,
        )

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> Metrics:
    metrics = Metrics()
    app.state.metrics = metrics

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        metrics.latency.labels(request.method, template).observe(time.perf_counter() - start)
        return response

    return metrics
