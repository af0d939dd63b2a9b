"""Per-request credentials for the MLflow store, without process-wide environment variables.

A server answering many users at once must send each user's MLflow token with that
user's requests only. :func:`using_mlflow_token` sets the token for the code it wraps
(a context variable: per thread and per asyncio task, copied into the thread a
``run_in_threadpool`` call uses); :class:`~prompthouse.stores.mlflow.MlflowStore` reads
it on every request and falls back to its configured token::

    with using_mlflow_token(token_from_the_request):
        registry.load_prompt("prompts:/qa@production")

The HTTP layer takes the token from ``X-LlamaStack-Provider-Data``
(``{"mlflow_api_token": "..."}``) or the native header ``X-MLflow-Token``:
:func:`mlflow_token_from_headers` reads both, :class:`MlflowTokenMiddleware` applies it
to a whole ASGI app. Tokens are never logged or put in error messages.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = [
    "MLFLOW_TOKEN_HEADER",
    "PROVIDER_DATA_TOKEN_KEY",
    "MlflowTokenMiddleware",
    "current_mlflow_token",
    "mlflow_token_from_headers",
    "mlflow_token_from_provider_data",
    "mlflow_token_override",
    "using_mlflow_token",
]

MLFLOW_TOKEN_HEADER = "X-MLflow-Token"
"""The native header carrying an MLflow token for one request."""
PROVIDER_DATA_HEADER = "X-LlamaStack-Provider-Data"
PROVIDER_DATA_TOKEN_KEY = "mlflow_api_token"
"""The key of ``X-LlamaStack-Provider-Data`` that carries the MLflow token."""

mlflow_token_override: ContextVar[str | None] = ContextVar(
    "prompthouse_mlflow_token_override", default=None
)
"""The MLflow token of the current request, if it brought one (else ``None``)."""


def current_mlflow_token() -> str | None:
    """The token set by the innermost :func:`using_mlflow_token`, or ``None``."""
    return mlflow_token_override.get()


@contextmanager
def using_mlflow_token(token: str | None) -> Iterator[None]:
    """Send ``token`` to MLflow for every store request made inside the block.

    ``None`` or ``""`` means "no override": the store's configured token applies.
    Blocks nest; the previous value comes back on exit, whatever happens inside.
    """
    reset = mlflow_token_override.set(token or None)
    try:
        yield
    finally:
        mlflow_token_override.reset(reset)


def mlflow_token_from_provider_data(data: Mapping[str, Any] | None) -> str | None:
    """The ``mlflow_api_token`` of parsed ``X-LlamaStack-Provider-Data``, if it is a
    non-empty string (anything else is ignored: the configured token applies)."""
    if not isinstance(data, Mapping):
        return None
    token = data.get(PROVIDER_DATA_TOKEN_KEY)
    return token if isinstance(token, str) and token else None


def mlflow_token_from_headers(headers: Mapping[str, str]) -> str | None:
    """The MLflow token a request carries: ``X-MLflow-Token``, else the
    ``mlflow_api_token`` of ``X-LlamaStack-Provider-Data``; ``None`` when neither.

    ``headers`` must look names up case-insensitively (Starlette's and httpx's do).
    Malformed provider data gives ``None`` here; the Llama Stack routes refuse it
    themselves with a 400.
    """
    native = headers.get(MLFLOW_TOKEN_HEADER)
    if native:
        return native
    raw = headers.get(PROVIDER_DATA_HEADER)
    if not raw:
        return None
    try:
        return mlflow_token_from_provider_data(json.loads(raw))
    except ValueError:
        return None


_Scope = MutableMapping[str, Any]
_ASGIApp = Callable[[_Scope, Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]],
                    Awaitable[None]]


class MlflowTokenMiddleware:
    """ASGI middleware: runs each HTTP request inside :func:`using_mlflow_token` with the
    token its headers carry (see :func:`mlflow_token_from_headers`).

    Wrap the outermost app so every route, sync or async, sees the token.
    """

    def __init__(self, app: _ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: _Scope, receive: Callable[..., Awaitable[Any]],
                       send: Callable[..., Awaitable[Any]]) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        token = mlflow_token_from_headers(_HeaderView(scope.get("headers") or ()))
        with using_mlflow_token(token):
            await self.app(scope, receive, send)


class _HeaderView(Mapping[str, str]):
    """Raw ASGI headers looked up by name, case-insensitively (first value wins)."""

    def __init__(self, raw: Any) -> None:
        self._values: dict[str, str] = {}
        for name, value in raw:
            self._values.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

    def __getitem__(self, key: str) -> str:
        return self._values[key.lower()]

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._values.get(key.lower(), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)
