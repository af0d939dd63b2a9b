"""A loopback HTTP proxy in front of a real MLflow server, for tests.

It forwards every request unchanged, records what each one carried (method, path, the
prompt name it concerns, its ``Authorization`` header) and can play an outage: drop
chosen requests without an answer, or every request once a budget is spent.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


@dataclass(frozen=True)
class Seen:
    """One request that reached the proxy."""

    method: str
    path: str
    name: str | None
    authorization: str | None


class MlflowProxy:
    """Forwards to ``target`` (``http://127.0.0.1:port``) from a free loopback port."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.seen: list[Seen] = []
        self.drop: Callable[[str, str], bool] | None = None
        """``drop(method, path)``: True closes the connection without an answer."""
        self.budget: int | None = None
        """Requests still forwarded before every later one is dropped (None: no limit)."""
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=target, timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy._record(self.command, self.path, body, self.headers.get("Authorization"))
                if proxy._dropping(self.command, self.path):
                    self.close_connection = True
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                answer = proxy._client.request(self.command, self.path, content=body,
                                               headers=headers)
                self.send_response(answer.status_code)
                self.send_header("Content-Type",
                                 answer.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.store_uri = f"mlflow+{self.url}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> MlflowProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _record(self, method: str, path: str, body: bytes, authorization: str | None) -> None:
        parsed = urllib.parse.urlsplit(path)
        name = urllib.parse.parse_qs(parsed.query).get("name", [None])[0]
        if name is None and body:
            try:
                name = json.loads(body).get("name")
            except (ValueError, AttributeError):
                name = None
        with self._lock:
            self.seen.append(Seen(method, parsed.path, name, authorization))

    def _dropping(self, method: str, path: str) -> bool:
        with self._lock:
            if self.budget is not None:
                if self.budget <= 0:
                    return True
                self.budget -= 1
        return bool(self.drop and self.drop(method, path))
