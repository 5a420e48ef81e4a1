"""Prometheus metrics. One registry per app so tests and several apps in one process do not collide."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send


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


class MetricsMiddleware:
    """Pure ASGI middleware counting requests and timing them up to the response's start line (what a
    client waits for; a stream's body may run for minutes). A ``BaseHTTPMiddleware`` here cost a task,
    a memory stream and a copy of every body chunk per request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        metrics = self.metrics

        async def send_measured(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The router has put the matched route in the scope by the time a response starts.
                template = getattr(scope.get("route"), "path", "unmatched")
                method = scope["method"]
                metrics.requests.labels(method, template, str(message["status"])).inc()
                metrics.latency.labels(method, template).observe(time.perf_counter() - start)
            await send(message)

        await self.app(scope, receive, send_measured)


def install(app: FastAPI) -> Metrics:
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return metrics
