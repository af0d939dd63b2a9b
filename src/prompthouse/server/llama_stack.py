"""The Llama Stack Prompts API under ``/v1/prompts``: a second adapter over the Registry.

``llama_stack_client`` works against it unchanged. There is no id-to-name table: a
prompt created here is a registry prompt whose name is its ``prompt_id``
(``pmpt_`` + 48 lowercase hex) and that carries the prompt tag
``llama_stack.managed=true``; any other ``prompt_id`` is read as a registry name, so a
prompt managed through the native API is served too. The default version is the
registry alias ``default``, shared with the native API.

:class:`LlamaStackPrompts` translates the Llama Stack semantics (variables, "update
names the latest version", the default version) into registry calls; the routes only
move JSON. Errors answer ``{"error": {"message": ...}}``: 404 not found, 400 bad input
(request validation included, never 422), 503 when the store is unreachable (the one
answer the client should retry); every other status the client would retry carries
``x-should-retry: false``.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, StrictBool, StrictInt
from starlette.exceptions import HTTPException as StarletteHTTPException

from prompthouse.entities import PromptVersion
from prompthouse.errors import (
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PromptHouseError,
    UnavailableError,
)
from prompthouse.registry import Registry
from prompthouse.server.native import json_response
from prompthouse.templating import extract_variables

__all__ = [
    "DEFAULT_ALIAS",
    "MANAGED_TAG",
    "PROVIDER_DATA_HEADER",
    "VARIABLES_TAG",
    "LlamaStackPrompts",
    "error_response",
    "llama_stack_router",
    "new_prompt_id",
    "parse_provider_data",
    "to_wire",
]

log = logging.getLogger("prompthouse.server")

DEFAULT_ALIAS = "default"
MANAGED_TAG = "llama_stack.managed"  # prompt tag: created through this API
VARIABLES_TAG = "llama_stack.variables"  # version tag: the declared variables, JSON list
PROVIDER_DATA_HEADER = "X-LlamaStack-Provider-Data"
# Statuses llama_stack_client retries unless told not to (x-should-retry: false).
_CLIENT_RETRIES = frozenset({408, 409, 429, 500, 502, 503, 504})
_PAGE = 1000


def new_prompt_id() -> str:
    """A fresh ``pmpt_`` + 48 lowercase hex characters (24 random bytes), as upstream."""
    return "pmpt_" + secrets.token_bytes(24).hex()


def parse_provider_data(raw: str | None) -> dict[str, Any] | None:
    """The ``X-LlamaStack-Provider-Data`` header as a dict (``None`` when absent).

    Malformed JSON or anything but an object is an :class:`InvalidArgumentError`; the
    message never repeats the header's value (it carries credentials).
    """
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(
            f"The {PROVIDER_DATA_HEADER} header is not valid JSON ({exc.msg} at character "
            f"{exc.pos}); send a JSON "
            'object such as {"mlflow_api_token": "..."}.'
        ) from None
    if not isinstance(data, dict):
        raise InvalidArgumentError(
            f"The {PROVIDER_DATA_HEADER} header must be a JSON object, not "
            f"{type(data).__name__ if data is not None else 'null'}."
        )
    return data


# --- the Llama Stack semantics over the registry ---------------------------------------


def _declared_variables(version: PromptVersion) -> list[str]:
    """The variables a version declares: the list given at write time, else extracted."""
    stored = version.tags.get(VARIABLES_TAG)
    if stored is not None:
        try:
            names = json.loads(stored)
        except ValueError:
            names = None
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return names
    return sorted(version.variables)


def _check_declared(text: str, variables: Sequence[str] | None) -> dict[str, str]:
    """The version tags that record ``variables``; 400 for a placeholder not declared."""
    if variables is None:
        return {}
    undeclared = extract_variables(text) - set(variables)
    if undeclared:
        raise InvalidArgumentError(
            f"Prompt contains undeclared variables: {sorted(undeclared)}"
        )
    return {VARIABLES_TAG: json.dumps(list(variables), ensure_ascii=False)}


def to_wire(version: PromptVersion, *, is_default: bool | None = None) -> dict[str, Any]:
    """A version as a Llama Stack ``Prompt``; ``is_default`` read from its aliases unless
    given. A chat version has no Llama Stack form: :class:`InvalidArgumentError`."""
    if not version.is_text_prompt:
        raise InvalidArgumentError(
            f"Prompt {version.name!r} version {version.version} is a chat prompt (a list of "
            "messages); the Llama Stack Prompts API carries text prompts only. Read it "
            f"through /api/v1/prompts/{version.name}/versions/{version.version}."
        )
    return {
        "prompt_id": version.name,
        "version": version.version,
        "prompt": version.template,
        "variables": _declared_variables(version),
        "is_default": DEFAULT_ALIAS in version.aliases if is_default is None else is_default,
    }


class LlamaStackPrompts:
    """The seven Prompts API operations over a :class:`Registry`, as wire dicts.

    Every registry error passes through unchanged (the router maps it to a status).
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def create(self, prompt: str, variables: Sequence[str] | None) -> dict[str, Any]:
        """Version 1 of a new prompt named by a fresh id, made the default."""
        prompt_id = new_prompt_id()
        tags = {MANAGED_TAG: "true", **_check_declared(prompt, variables)}
        made = self.registry.register_prompt(prompt_id, prompt, tags=tags)
        self.registry.set_prompt_alias(prompt_id, DEFAULT_ALIAS, made.version)
        return to_wire(made, is_default=True)

    def retrieve(self, prompt_id: str, version: int | None) -> dict[str, Any]:
        """One version; without ``version`` the default one, or the latest if none is."""
        if version is not None:
            return to_wire(self.registry.get_prompt_version(prompt_id, version))
        try:
            found = self.registry.get_prompt_version_by_alias(prompt_id, DEFAULT_ALIAS)
        except NotFoundError:  # no such prompt (raised again below) or no default
            found = self.registry.get_prompt_version_by_alias(prompt_id, "latest")
        return to_wire(found)

    def update(self, prompt_id: str, prompt: str, version: int,
               variables: Sequence[str] | None, set_as_default: bool) -> dict[str, Any]:
        """The next version; ``version`` must name the latest one (optimistic check)."""
        if version < 1:
            raise InvalidArgumentError(f"version must be >= 1, not {version}.")
        tags = _check_declared(prompt, variables)
        try:
            made = self.registry.register_prompt(prompt_id, prompt, tags=tags or None,
                                                 expected_latest_version=version)
        except ConflictError:  # the check and the write are one transaction in the store
            latest = self.registry.get_prompt_version_by_alias(prompt_id, "latest").version
            raise _not_latest(prompt_id, version, latest) from None
        if set_as_default:
            self.registry.set_prompt_alias(prompt_id, DEFAULT_ALIAS, made.version)
        return to_wire(made, is_default=set_as_default)

    def list_prompts(self) -> list[dict[str, Any]]:
        """The default version of every prompt that has one (chat ones left out)."""
        answer = []
        token = None
        while True:
            page = self.registry.search_prompts(None, _PAGE, token, alias=DEFAULT_ALIAS)
            for prompt in page:
                default = prompt.aliases.get(DEFAULT_ALIAS)
                if default is None:
                    continue
                try:
                    version = self.registry.get_prompt_version(prompt.name, default)
                except NotFoundError:  # deleted since the search
                    continue
                if version.is_text_prompt:
                    answer.append(to_wire(version))
            token = page.token
            if not token:
                return answer

    def list_versions(self, prompt_id: str) -> list[dict[str, Any]]:
        """Every live text version, oldest first."""
        found: list[PromptVersion] = []
        token = None
        while True:
            page = self.registry.list_prompt_versions(prompt_id, _PAGE, token)
            found.extend(page)
            token = page.token
            if not token:
                break
        return [to_wire(v) for v in reversed(found) if v.is_text_prompt]

    def set_default_version(self, prompt_id: str, version: int) -> dict[str, Any]:
        """Point ``default`` at ``version`` (seen by the native API as the alias)."""
        self.registry.set_prompt_alias(prompt_id, DEFAULT_ALIAS, version)
        return to_wire(self.registry.get_prompt_version(prompt_id, version), is_default=True)

    def delete(self, prompt_id: str) -> None:
        """Delete the prompt with every version, alias and tag."""
        self.registry.delete_prompt(prompt_id)


def _not_latest(prompt_id: str, given: int, latest: int) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"'{given}' is not the latest prompt version for prompt_id='{prompt_id}'. "
        f"Use the latest version '{latest}' in request."
    )


# --- HTTP ------------------------------------------------------------------------------


class CreatePromptRequest(BaseModel):
    prompt: str = Field(description="The template, with {{ variable }} placeholders.")
    variables: list[str] | None = Field(
        None, description="Declared variables; omitted: extracted from the template."
    )


class UpdatePromptRequest(BaseModel):
    prompt: str = Field(description="The new version's template.")
    version: StrictInt = Field(description="The latest version (else 400).")
    variables: list[str] | None = Field(
        None, description="Declared variables; omitted: extracted from the template."
    )
    set_as_default: StrictBool = Field(True, description="Make the new version the default.")


class SetDefaultVersionRequest(BaseModel):
    version: StrictInt


class PromptOut(BaseModel):
    prompt_id: str = Field(description="pmpt_<48 hex>, or a native prompt's name")
    version: int
    prompt: str | None = None
    variables: list[str] = []
    is_default: bool = False


class ListPromptsOut(BaseModel):
    data: list[PromptOut]


class LlamaStackErrorOut(BaseModel):
    error: dict[str, str] = Field(description='{"message": "..."}')


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": LlamaStackErrorOut, "description": "Bad input (validation included)."},
    404: {"model": LlamaStackErrorOut, "description": "No such prompt or version."},
    503: {"model": LlamaStackErrorOut, "description": "The store is unreachable: retry."},
}


def error_response(status: int, message: str, *, retryable: bool = False) -> Response:
    """A Llama Stack error; ``x-should-retry: false`` when the client would retry it."""
    headers = None
    if status in _CLIENT_RETRIES and not retryable:
        headers = {"x-should-retry": "false"}
    return json_response({"error": {"message": message}}, status=status, headers=headers)


class _LlamaStackRoute(APIRoute):
    """Answers errors in the Llama Stack shape (``{"error": {"message"}}``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except PromptHouseError as exc:
                return error_response(exc.http_status, exc.message,
                                      retryable=isinstance(exc, UnavailableError))
            except RequestValidationError as exc:
                from prompthouse.server.app import _describe_validation  # app imports us

                return error_response(400, _describe_validation(exc))
            except StarletteHTTPException:
                raise  # e.g. a body cut off by the size limit: the middleware answers 413
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                return error_response(
                    500, "Internal server error; the server log has the details."
                )

        return answer


def _read_provider_data(request: Request) -> None:
    """Validate ``X-LlamaStack-Provider-Data`` and keep it as
    ``request.state.provider_data`` (per-request store credentials; never logged)."""
    request.state.provider_data = parse_provider_data(
        request.headers.get(PROVIDER_DATA_HEADER)
    )


def llama_stack_router(registry: Registry, *, inline_reads: bool) -> APIRouter:
    """The ``/v1/prompts`` routes over ``registry``.

    ``inline_reads``: answer reads on the event loop (SQLite), else in the thread pool,
    as the native router does. ``Authorization: Bearer`` is accepted (no authentication
    yet). Names may contain ``/``: routes with a suffix come first.
    """
    api = LlamaStackPrompts(registry)
    router = APIRouter(prefix="/v1", tags=["llama-stack"], responses=_ERRORS,
                       route_class=_LlamaStackRoute,
                       dependencies=[Depends(_read_provider_data)])

    async def read(fn: Callable[..., Any], *args: Any) -> Any:
        if inline_reads:
            return fn(*args)
        return await run_in_threadpool(fn, *args)

    @router.get("/prompts/{prompt_id:path}/versions", response_model=ListPromptsOut,
                summary="List a prompt's versions, oldest first")
    async def list_versions(prompt_id: str) -> Response:
        return json_response({"data": await read(api.list_versions, prompt_id)})

    @router.put("/prompts/{prompt_id:path}/set-default-version", response_model=PromptOut,
                summary="Make a version the default (the registry alias 'default')")
    def set_default_version(prompt_id: str, body: SetDefaultVersionRequest) -> Response:
        return json_response(api.set_default_version(prompt_id, body.version))

    @router.get("/prompts/{prompt_id:path}", response_model=PromptOut,
                summary="Get a version: the default one (else the latest) or ?version=N")
    async def retrieve(prompt_id: str, version: int | None = None) -> Response:
        return json_response(await read(api.retrieve, prompt_id, version))

    @router.put("/prompts/{prompt_id:path}", response_model=PromptOut,
                summary="Save the next version; 'version' must be the latest")
    def update(prompt_id: str, body: UpdatePromptRequest) -> Response:
        return json_response(api.update(prompt_id, body.prompt, body.version, body.variables,
                                        body.set_as_default))

    @router.delete("/prompts/{prompt_id:path}", summary="Delete a prompt and every version")
    def delete(prompt_id: str) -> Response:
        api.delete(prompt_id)
        return json_response(None)

    @router.get("/prompts", response_model=ListPromptsOut,
                summary="List the default version of every prompt that has one")
    async def list_prompts() -> Response:
        return json_response({"data": await read(api.list_prompts)})

    @router.post("/prompts", response_model=PromptOut,
                 summary="Create a prompt (version 1, the default) with a new prompt_id")
    def create(body: CreatePromptRequest) -> Response:
        return json_response(api.create(body.prompt, body.variables))

    return router
