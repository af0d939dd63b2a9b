"""The FastAPI application: the native API, the Llama Stack Prompts API, health, metrics
and one error mapping."""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from prompthouse._version import __version__
from prompthouse.credentials import MlflowTokenMiddleware
from prompthouse.errors import PromptHouseError, UnavailableError
from prompthouse.registry import Registry
from prompthouse.server import schemas
from prompthouse.server.llama_stack import llama_stack_router
from prompthouse.server.middleware import Metrics, ObservedApp
from prompthouse.server.native import FastReads, json_response, native_router

log = logging.getLogger("prompthouse.server")

DESCRIPTION = """A self-hosted prompt registry: versioned prompt templates, movable aliases,
tags and search. Every error answers `{"error": {"code", "message"}}`."""


def _error(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status=status)


def _describe_validation(exc: RequestValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        if err.get("type") == "json_invalid":
            problems.append(f"the body is not valid JSON ({err.get('ctx', {}).get('error')})")
        elif err.get("type") == "missing":
            problems.append(f"{where}: required")
        else:
            problems.append(f"{where}: {err.get('msg')}")
    return "Invalid request: " + "; ".join(problems) + "."


def create_app(registry: Registry) -> Any:
    """The ASGI app serving ``registry`` (wrapped in size limit, access log and metrics)."""
    app = FastAPI(
        title="prompthouse",
        version=__version__,
        description=DESCRIPTION,
        responses={400: schemas.ERRORS[400], 413: schemas.ERRORS[413]},
    )
    app.state.registry = registry
    metrics = Metrics()
    inline = registry.store.uri.startswith("sqlite")
    app.include_router(native_router(registry, metrics, inline_reads=inline))
    app.include_router(llama_stack_router(registry, inline_reads=inline))

    @app.exception_handler(PromptHouseError)
    async def _registry_error(_request: Request, exc: PromptHouseError) -> Response:
        return json_response(exc.to_dict(), status=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return _error(400, "INVALID_ARGUMENT", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(404, "NOT_FOUND", f"No route for {request.method} {request.url.path}.")
        if exc.status_code == 405:
            return _error(405, "INVALID_ARGUMENT",
                          f"{request.method} is not allowed on {request.url.path}.")
        return _error(exc.status_code, "INVALID_ARGUMENT", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        # Starlette re-raises after this answer, so the server logs the traceback once.
        return _error(500, "INTERNAL", "Internal server error; the server log has the details.")

    @app.get("/healthz", tags=["operations"], response_model=schemas.HealthOut,
             responses={503: schemas.ERRORS[503]}, summary="Check the server and its store")
    def healthz() -> Response:
        try:
            registry.store.ping()
        except UnavailableError as exc:
            return json_response(exc.to_dict(), status=503)
        return json_response({"status": "ok", "store": registry.store.uri})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics",
             response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    fast = FastReads(app, registry, metrics, inline_reads=inline)
    # Outermost: every route, sync or async, runs with the caller's MLflow token (from
    # X-MLflow-Token or the Llama Stack provider data), never a process-wide variable.
    return MlflowTokenMiddleware(
        ObservedApp(fast, metrics, registry.settings.max_request_bytes)
    )


def _configure_logging() -> None:
    logger = logging.getLogger("prompthouse")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(os.environ.get("PROMPTHOUSE_LOG_LEVEL", "INFO").upper())
        logger.propagate = False


def app_from_env() -> Any:
    """The app for ``prompthouse serve``: settings from the environment (uvicorn factory)."""
    from prompthouse.api import connect
    from prompthouse.settings import load_settings

    _configure_logging()
    # The server always serves a database, even when PROMPTHOUSE_URL (a client setting)
    # is set in its environment.
    registry = connect(load_settings().store_uri)
    log.info("prompthouse %s serving %s", __version__, registry.store.uri)
    return create_app(registry)


def run_server(*, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
               store: str | None = None, config: str | None = None,
               log_level: str = "info") -> None:
    """Serve with uvicorn (``prompthouse serve``). Settings reach the workers through
    the environment, so each worker opens the same registry; migrations run on start."""
    import uvicorn

    from prompthouse.settings import load_settings

    if store:
        os.environ["PROMPTHOUSE_STORE_URI"] = store
    if config:
        os.environ["PROMPTHOUSE_CONFIG"] = str(config)
    os.environ.setdefault("PROMPTHOUSE_LOG_LEVEL", log_level)
    load_settings()  # fail fast, in the parent, on a bad setting or config file
    uvicorn.run(
        "prompthouse.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http="httptools",
        loop="uvloop",  # under the plain asyncio loop every answer waited ~44 ms here
        access_log=False,  # prompthouse logs one line per request itself
        log_level=log_level,
        server_header=False,
    )
