"""The native REST API under ``/api/v1``: HTTP in, one registry call, JSON out.

Routes hold no rules: the registry validates and raises; ``app.py`` maps its errors.
Names may contain ``/``, so routes with a suffix after the name come first.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from prompthouse.entities import PromptVersion
from prompthouse.errors import InvalidArgumentError, PromptHouseError
from prompthouse.registry import Registry
from prompthouse.server import schemas as s
from prompthouse.server.middleware import Metrics

JSON = "application/json"
VERSION_ROUTE = "/prompts/{name:path}/versions/{version}"
ALIAS_ROUTE = "/prompts/{name:path}/aliases/{alias}"
PREFIX = "/api/v1"


#: PostgreSQL reads run on a few threads of their own rather than AnyIO's pool of 40: with
#: 32 connections, 32 threads fighting the event loop for the GIL held GET-by-alias on one
#: worker to 1,309 req/s with a p99 of 321 ms; on 4 threads it is 2,242 req/s with a p99
#: of 21 ms (python -m bench). Stores that wait on slow I/O (MLflow over HTTP) keep
#: AnyIO's pool, where more requests can wait at once.
SQL_READ_THREADS = 4
_sql_read_pool = ThreadPoolExecutor(SQL_READ_THREADS, thread_name_prefix="prompthouse-read")


async def _run_sql_read(fn: Callable[..., Any], *args: Any) -> Any:
    call = functools.partial(contextvars.copy_context().run, fn, *args)
    return await asyncio.get_running_loop().run_in_executor(_sql_read_pool, call)


def offload(registry: Registry) -> Callable[..., Awaitable[Any]]:
    """How a read that may block runs off the event loop for ``registry``'s store (with
    the caller's context variables either way)."""
    if registry.store.uri.startswith("postgresql"):
        return _run_sql_read
    return run_in_threadpool


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def encode_version(version: PromptVersion, if_none_match: str | None, metrics: Metrics
                   ) -> tuple[int, bytes, str]:
    """Status, body and ETag of a version answer; 304 with no body when the ETag matches."""
    body = json.dumps(version.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    if if_none_match == etag:
        metrics.cache.labels("not_modified").inc()
        return 304, b"", etag
    metrics.cache.labels("full").inc()
    return 200, body, etag


def _version_fields(body: s.VersionFields) -> dict[str, Any]:
    return {
        "template": body.template,
        "commit_message": body.commit_message,
        "tags": body.tags,
        "response_format": body.response_format,
        "model_config": body.llm_config,
    }


def _register(registry: Registry, name: str, body: s.VersionFields) -> PromptVersion:
    return registry.register_prompt(name, **_version_fields(body),
                                    expected_latest_version=body.expected_latest_version)


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidArgumentError(
                f"Invalid tag filter {pair!r}: use tag=key=value (repeat for more tags)."
            )
        tags[key] = value
    return tags


def native_router(registry: Registry, metrics: Metrics, *, inline_reads: bool) -> APIRouter:
    """The ``/api/v1`` routes over ``registry``.

    ``inline_reads``: run the hot reads on the event loop (SQLite answers in tens of
    microseconds and never waits for a lock in WAL mode); otherwise in the thread pool.
    Writes always run in the thread pool (a writer may wait for the database lock).
    """
    router = APIRouter(prefix=PREFIX, responses=s.ERRORS)
    run_off_loop = offload(registry)

    async def read(fn: Callable[..., Any], *args: Any) -> Any:
        if inline_reads:
            return fn(*args)
        return await run_off_loop(fn, *args)

    def version_response(request: Request, version: PromptVersion) -> Response:
        status, body, etag = encode_version(version, request.headers.get("if-none-match"),
                                            metrics)
        if status == 304:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type=JSON, headers={"ETag": etag})

    def render(version: PromptVersion, body: s.RenderRequest) -> Response:
        result = version.format_values(body.variables, allow_partial=body.allow_partial)
        if isinstance(result, PromptVersion):
            payload = {"result": result.template, "complete": False,
                       "missing": sorted(result.variables)}
        else:
            payload = {"result": result, "complete": True, "missing": []}
        return json_response(payload)

    # --- routes with a suffix after the name (matched first) ---------------------------

    @router.put("/prompts/{name:path}/versions/{version}/tags/{key:path}", status_code=204,
                tags=["tags"], summary="Set a version tag")
    def set_version_tag(name: str, version: int, key: str, body: s.TagRequest) -> Response:
        registry.set_prompt_version_tag(name, version, key, body.value)
        return Response(status_code=204)

    @router.delete("/prompts/{name:path}/versions/{version}/tags/{key:path}", status_code=204,
                   tags=["tags"], summary="Delete a version tag")
    def delete_version_tag(name: str, version: int, key: str) -> Response:
        registry.delete_prompt_version_tag(name, version, key)
        return Response(status_code=204)

    @router.put("/prompts/{name:path}/versions/{version}/model-config", tags=["versions"],
                response_model=s.PromptVersionOut, summary="Replace a version's model config")
    def set_model_config(name: str, version: int, body: dict[str, Any]) -> Response:
        registry.set_prompt_model_config(name, version, body)
        return json_response(registry.get_prompt_version(name, version).to_dict())

    @router.delete("/prompts/{name:path}/versions/{version}/model-config", status_code=204,
                   tags=["versions"], summary="Remove a version's model config")
    def delete_model_config(name: str, version: int) -> Response:
        registry.delete_prompt_model_config(name, version)
        return Response(status_code=204)

    @router.post("/prompts/{name:path}/versions/{version}/render", tags=["render"],
                 response_model=s.RenderOut, summary="Format a version server-side")
    async def render_version(name: str, version: int, body: s.RenderRequest) -> Response:
        return render(await read(registry.get_prompt_version, name, version), body)

    @router.post("/prompts/{name:path}/aliases/{alias}/render", tags=["render"],
                 response_model=s.RenderOut, summary="Format the version an alias points at")
    async def render_alias(name: str, alias: str, body: s.RenderRequest) -> Response:
        return render(await read(registry.get_prompt_version_by_alias, name, alias), body)

    @router.get(VERSION_ROUTE, tags=["versions"],
                response_model=s.PromptVersionOut, summary="Get a version (ETag)")
    async def get_version(name: str, version: int, request: Request) -> Response:
        return version_response(request, await read(registry.get_prompt_version, name,
                                                    version))

    @router.delete("/prompts/{name:path}/versions/{version}", tags=["versions"],
                   response_model=s.DeletedVersionOut,
                   summary="Delete a version and the aliases on it")
    def delete_version(name: str, version: int) -> Response:
        return json_response({"removed_aliases": registry.delete_prompt_version(name, version)})

    @router.get("/prompts/{name:path}/versions", tags=["versions"],
                response_model=s.VersionPage, summary="List versions, newest first")
    async def list_versions(
        name: str, max_results: int = 100, page_token: str | None = None
    ) -> Response:
        page = await read(registry.list_prompt_versions, name, max_results, page_token)
        return json_response({"versions": [v.to_dict() for v in page],
                              "next_page_token": page.token})

    @router.post("/prompts/{name:path}/versions", status_code=201, tags=["versions"],
                 response_model=s.PromptVersionOut,
                 summary="Register the next version (or import one with its number)")
    def create_version(name: str, body: s.CreateVersionRequest) -> Response:
        if body.version is None:
            if body.creation_timestamp is not None or body.user_id is not None:
                raise InvalidArgumentError(
                    "creation_timestamp and user_id are for imports: give them with version."
                )
            made = _register(registry, name, body)
        else:
            if body.expected_latest_version is not None:
                raise InvalidArgumentError(
                    "expected_latest_version is for registering, not with an explicit version."
                )
            made = registry.import_version(name, body.version, **_version_fields(body),
                                           user_id=body.user_id,
                                           creation_timestamp=body.creation_timestamp)
        return json_response(made.to_dict(), status=201)

    @router.get(ALIAS_ROUTE, tags=["aliases"],
                response_model=s.PromptVersionOut,
                summary="Get the version an alias points at (ETag); 'latest' is the newest")
    async def get_by_alias(name: str, alias: str, request: Request) -> Response:
        return version_response(request, await read(registry.get_prompt_version_by_alias,
                                                    name, alias))

    @router.put("/prompts/{name:path}/aliases/{alias}", tags=["aliases"],
                response_model=s.AliasOut, summary="Point an alias at a version")
    def set_alias(name: str, alias: str, body: s.AliasRequest) -> Response:
        registry.set_prompt_alias(name, alias, body.version)
        return json_response({"name": name, "alias": alias, "version": body.version})

    @router.delete("/prompts/{name:path}/aliases/{alias}", status_code=204, tags=["aliases"],
                   summary="Delete an alias")
    def delete_alias(name: str, alias: str) -> Response:
        registry.delete_prompt_alias(name, alias)
        return Response(status_code=204)

    @router.put("/prompts/{name:path}/tags/{key:path}", status_code=204, tags=["tags"],
                summary="Set a prompt tag")
    def set_prompt_tag(name: str, key: str, body: s.TagRequest) -> Response:
        registry.set_prompt_tag(name, key, body.value)
        return Response(status_code=204)

    @router.delete("/prompts/{name:path}/tags/{key:path}", status_code=204, tags=["tags"],
                   summary="Delete a prompt tag")
    def delete_prompt_tag(name: str, key: str) -> Response:
        registry.delete_prompt_tag(name, key)
        return Response(status_code=204)

    @router.get("/prompts/{name:path}/diff", tags=["versions"], response_model=s.DiffOut,
                summary="What changed between two versions")
    def diff(
        name: str,
        from_version: Annotated[int, Query(alias="from")],
        to_version: Annotated[int, Query(alias="to")],
    ) -> Response:
        return json_response(registry.diff_prompt_versions(name, from_version, to_version))

    # --- the prompt itself ----------------------------------------------------------

    @router.get("/prompts/{name:path}", tags=["prompts"], response_model=s.PromptOut,
                summary="Get a prompt")
    async def get_prompt(name: str) -> Response:
        return json_response((await read(registry.get_prompt, name)).to_dict())

    @router.patch("/prompts/{name:path}", tags=["prompts"], response_model=s.PromptOut,
                  summary="Update a prompt's description")
    def update_prompt(name: str, body: s.DescriptionRequest) -> Response:
        registry.set_prompt_description(name, body.description)
        return json_response(registry.get_prompt(name).to_dict())

    @router.delete("/prompts/{name:path}", status_code=204, tags=["prompts"],
                   summary="Delete a prompt with all its versions")
    def delete_prompt(name: str) -> Response:
        registry.delete_prompt(name)
        return Response(status_code=204)

    @router.get("/prompts", tags=["prompts"], response_model=s.PromptPage,
                summary="Search prompts")
    async def search(
        filter: str | None = None,  # noqa: A002 - the query parameter's public name
        name_pattern: str | None = None,
        tag: Annotated[list[str], Query(description="key=value; repeat for more")] = [],  # noqa: B006
        alias: str | None = None,
        order_by: str = "name",
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Response:
        page = await read(lambda: registry.search_prompts(
            filter, max_results, page_token, name_pattern=name_pattern, tags=_tags(tag),
            alias=alias, order_by=order_by,
        ))
        return json_response({"prompts": [p.to_dict() for p in page],
                              "next_page_token": page.token})

    @router.post("/prompts", status_code=201, tags=["prompts"],
                 response_model=s.PromptVersionOut,
                 summary="Register a prompt version (creates the prompt when new)")
    def register(body: s.RegisterRequest) -> Response:
        return json_response(_register(registry, body.name, body).to_dict(), status=201)

    return router


# --- the hot reads, answered before FastAPI's router -----------------------------------

_VERSION_PATH = re.compile(r"^/api/v1/prompts/(?P<name>.+)/versions/(?P<version>[0-9]{1,9})$")
_ALIAS_PATH = re.compile(r"^/api/v1/prompts/(?P<name>.+)/aliases/(?P<alias>[^/]+)$")


class FastReads:
    """GET a version by number or alias without FastAPI's routing and validation.

    These two reads are what applications do all day. The answer is byte for byte the
    one the FastAPI routes give (same encoder, same ETag); anything that is not a plain
    success (a missing prompt, a bad argument) falls through to FastAPI, which answers
    it with the usual error shape. The FastAPI routes stay, and document the API.
    """

    def __init__(self, app: Any, registry: Registry, metrics: Metrics, *,
                 inline_reads: bool) -> None:
        self.app = app
        self.registry = registry
        self.metrics = metrics
        self.inline_reads = inline_reads
        self.run_off_loop = offload(registry)
        # Stand-ins for the FastAPI routes: the metrics label reads their ``path``.
        self.version_route = SimpleNamespace(path=PREFIX + VERSION_ROUTE)
        self.alias_route = SimpleNamespace(path=PREFIX + ALIAS_ROUTE)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and \
                scope["path"].startswith("/api/v1/prompts/"):
            answered = await self._try(scope, send)
            if answered:
                return
        await self.app(scope, receive, send)

    async def _try(self, scope: dict[str, Any], send: Any) -> bool:
        path = scope["path"]
        match = _VERSION_PATH.match(path)
        if match is not None:
            fn, args, route = (self.registry.get_prompt_version,
                               (match["name"], int(match["version"])), self.version_route)
        else:
            match = _ALIAS_PATH.match(path)
            if match is None:
                return False
            fn, args, route = (self.registry.get_prompt_version_by_alias,
                               (match["name"], match["alias"]), self.alias_route)
        try:
            version = fn(*args) if self.inline_reads else await self.run_off_loop(fn, *args)
        except PromptHouseError:
            return False  # FastAPI answers errors, in the one error shape
        if_none_match = None
        for key, value in scope["headers"]:
            if key == b"if-none-match":
                if_none_match = value.decode("latin-1")
        status, body, etag = encode_version(version, if_none_match, self.metrics)
        headers = [(b"etag", etag.encode()), (b"content-length", str(len(body)).encode())]
        if status == 200:
            headers.append((b"content-type", b"application/json"))
        scope["route"] = route  # the metrics label, as if FastAPI had routed it
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True
