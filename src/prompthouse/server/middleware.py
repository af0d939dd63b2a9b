"""Pure ASGI middleware: request size limit, access log line, Prometheus metrics.

Pure ASGI (not Starlette's BaseHTTPMiddleware) so that the hot routes pay a few
microseconds for it, not a task switch per request.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

ASGIApp = Any
access_log = logging.getLogger("prompthouse.access")


class Metrics:
    """The server's Prometheus metrics, in a collector registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "prompthouse_http_requests_total", "HTTP requests answered.",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "prompthouse_http_request_duration_seconds", "Time to answer a request.",
            ["method", "route"], registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.cache = Counter(
            "prompthouse_conditional_get_total",
            "Version and alias reads answered 304 (not modified) or 200.",
            ["result"], registry=self.registry,
        )


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class ObservedApp:
    """Refuse oversized bodies (413), then time, count and log every request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        limit = self.max_body_bytes
        too_large = False

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if too_large:  # the app's own answer to a body we cut off is replaced
                return
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        received = 0

        async def receive_limited() -> dict[str, Any]:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        try:
            declared = _content_length(scope)
            if declared is not None and declared > limit:
                too_large = True
            else:
                try:
                    await self.app(scope, receive_limited, send_wrapper)
                except _BodyTooLarge:
                    pass
            if too_large:
                status = 413
                await _reject_too_large(send, limit)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(method, label).observe(elapsed)
            access_log.info("%s %s %d %.1fms", method, scope["path"], status, elapsed * 1000)


class _BodyTooLarge(Exception):
    pass


def _content_length(scope: dict[str, Any]) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject_too_large(send: Any, limit: int) -> None:
    body = _error_body(
        "PAYLOAD_TOO_LARGE",
        f"The request body is larger than {limit} bytes (setting "
        "PROMPTHOUSE_MAX_REQUEST_BYTES).",
    )
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    })
    await send({"type": "http.response.body", "body": body})
