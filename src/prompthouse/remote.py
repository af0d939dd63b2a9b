"""The remote SDK: the :class:`~prompthouse.registry.Registry` API over a prompthouse server.

``prompthouse.connect("http://host:8000")`` (or ``PROMPTHOUSE_URL``) returns a
:class:`RemoteRegistry`: the same methods, arguments, return types and exceptions as the
embedded registry, spoken over the native HTTP API (``docs/http-api.md``).

``load_prompt`` answers from an in-process cache with stale-while-revalidate:

- a fresh entry is returned without a request (alias and ``@latest`` loads stay fresh
  for ``alias_cache_ttl_seconds``, 60 s; version loads never expire unless
  ``version_cache_ttl_seconds`` is set; ``cache_ttl_seconds=0`` bypasses the cache);
- a stale entry is returned at once and refreshed in the background, at most one
  refresh per key at a time. The refresh sends ``If-None-Match`` with the entry's
  ``ETag``: ``304`` just makes it fresh again, ``404`` evicts it, any other failure
  keeps serving it (a warning on the ``prompthouse.remote`` logger; the next refresh
  is tried after :data:`REFRESH_FAILURE_BACKOFF_SECONDS`);
- a miss while the server is unreachable (or answers 5xx) returns ``fallback=`` as a
  version with ``is_fallback`` True, or raises :class:`~prompthouse.UnavailableError`.

Writes through the SDK invalidate the cached entries of exactly the name they change.

Requests time out after ``request_timeout_seconds`` (5 s). Idempotent requests (GET,
PUT, PATCH, DELETE) are retried ``request_retries`` times (2) with exponential backoff
and jitter after a connection error, a timeout or a 502/503/504 answer; POST
(register, import) never is, since a retry could create a second version.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, SecretStr

from prompthouse._version import __version__
from prompthouse.cache import Claim, PromptCache
from prompthouse.entities import (
    Page,
    Prompt,
    PromptModelConfig,
    PromptVersion,
    normalize_model_config,
    normalize_response_format,
)
from prompthouse.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PromptHouseError,
    UnauthenticatedError,
    UnavailableError,
)
from prompthouse.registry import (
    _validate_page_size,
    _validate_tag,
    _validate_tags,
    _validate_version,
    validate_alias,
    validate_name,
)
from prompthouse.settings import Settings
from prompthouse.templating import Template, freeze_template
from prompthouse.uris import LATEST, PromptRef, parse_prompt_ref

__all__ = ["REFRESH_FAILURE_BACKOFF_SECONDS", "RemoteRegistry"]

log = logging.getLogger("prompthouse.remote")

#: After a failed background refresh, the stale entry is served for this long before
#: the next refresh of that key is tried (so a down server is not hammered).
REFRESH_FAILURE_BACKOFF_SECONDS = 1.0
#: Most background refreshes running at once per client; more stale keys wait for a slot.
MAX_CONCURRENT_REFRESHES = 4
_BACKOFF_BASE_SECONDS = 0.05
_BACKOFF_CAP_SECONDS = 2.0
_RETRY_STATUSES = frozenset({502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
_BY_CODE: dict[str, type[PromptHouseError]] = {
    cls.code: cls
    for cls in (NotFoundError, AlreadyExistsError, InvalidArgumentError, ConflictError,
                UnauthenticatedError, PermissionDeniedError, PayloadTooLargeError,
                UnavailableError)
}
_BY_STATUS: dict[int, type[PromptHouseError]] = {
    400: InvalidArgumentError, 401: UnauthenticatedError, 403: PermissionDeniedError,
    404: NotFoundError, 405: InvalidArgumentError, 409: ConflictError,
    413: PayloadTooLargeError, 422: InvalidArgumentError,
}


def _name(name: str) -> str:
    """A validated prompt name for a path: its ``/`` stay literal (the server takes both)."""
    return quote(validate_name(name), safe="/")


def _segment(value: str) -> str:
    """One path segment (an alias or tag key), with every reserved character encoded.

    ``.`` and ``..`` are encoded too, or the HTTP client would resolve them as dot
    segments.
    """
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def _ref_path(ref: PromptRef) -> str:
    """The path of the version a reference points at (validating name and alias)."""
    base = f"/prompts/{_name(ref.name)}"
    if ref.version is not None:
        return f"{base}/versions/{ref.version}"
    if ref.is_latest:
        return f"{base}/aliases/{LATEST}"
    return f"{base}/aliases/{_segment(validate_alias(ref.alias))}"


def _version_from(data: Mapping[str, Any]) -> PromptVersion:
    return PromptVersion._trusted(
        name=data["name"],
        version=int(data["version"]),
        template=freeze_template(data["template"]),
        commit_message=data.get("commit_message"),
        creation_timestamp=data.get("creation_timestamp"),
        last_updated_timestamp=data.get("last_updated_timestamp"),
        tags=dict(data.get("tags") or {}),
        aliases=tuple(data.get("aliases") or ()),
        user_id=data.get("user_id"),
        response_format=data.get("response_format"),
        model_config=data.get("model_config"),
    )


def _prompt_from(data: Mapping[str, Any]) -> Prompt:
    return Prompt(
        name=data["name"],
        description=data.get("description"),
        tags=dict(data.get("tags") or {}),
        aliases={str(k): int(v) for k, v in (data.get("aliases") or {}).items()},
        latest_version=data.get("latest_version"),
        creation_timestamp=data.get("creation_timestamp"),
        last_updated_timestamp=data.get("last_updated_timestamp"),
        created_by=data.get("created_by"),
    )


def _display_url(url: str) -> str:
    """``url`` without user info, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


class RemoteRegistry:
    """A prompt registry served by a prompthouse server, with the :class:`Registry` API.

    Get one with ``prompthouse.connect("http://host:8000")``. ``api_key`` (default
    setting ``api_key``, ``PROMPTHOUSE_API_KEY``) is sent as ``Authorization: Bearer``
    and never appears in a message or log. ``timeout`` (seconds, default setting
    ``request_timeout_seconds``) bounds connecting and each read; ``retries`` (default
    setting ``request_retries``) is how often an idempotent request is retried.
    ``clock`` is what the cache reads for freshness (tests inject one). One HTTP
    connection pool with keep-alive is shared by all threads; :meth:`close` releases it.

    Errors are the embedded registry's: the server's ``{"error": {"code", "message"}}``
    becomes the exception class of that code with the server's message. An unreachable
    server, a timeout or a 5xx answer is :class:`~prompthouse.UnavailableError` naming
    the server URL.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | SecretStr | None = None,
        settings: Settings | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgumentError(
                f"A prompthouse server URL looks like http://host:8000 or "
                f"https://host/prefix, not {_display_url(url) if parts else url!r}."
            )
        self.settings = settings or Settings()
        self._url = _display_url(url)
        self._timeout = float(timeout if timeout is not None
                              else self.settings.request_timeout_seconds)
        self._retries = int(retries if retries is not None else self.settings.request_retries)
        if self._timeout <= 0 or self._retries < 0:
            raise InvalidArgumentError(
                "timeout must be > 0 seconds and retries >= 0, "
                f"not timeout={self._timeout!r}, retries={self._retries!r}."
            )
        key = api_key if api_key is not None else self.settings.api_key
        if isinstance(key, SecretStr):
            key = key.get_secret_value()
        headers = {"Accept": "application/json", "User-Agent": f"prompthouse/{__version__}"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            base_url=url.rstrip("/") + "/api/v1",
            headers=headers,
            timeout=httpx.Timeout(self._timeout),
            follow_redirects=False,
        )
        self.cache = PromptCache(self.settings.cache_max_entries, clock=clock)
        self._listeners: list[Callable[[str, str], None]] = []
        self._refresh_slots = threading.BoundedSemaphore(MAX_CONCURRENT_REFRESHES)
        self._closed = False

    @property
    def uri(self) -> str:
        """The server's URL (without any user info)."""
        return self._url

    def __repr__(self) -> str:
        return f"RemoteRegistry({self._url!r})"

    def __enter__(self) -> RemoteRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool; background refreshes still running fail quietly."""
        self._closed = True
        self._client.close()

    def on_change(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(name, event)`` after every write made through this client."""
        self._listeners.append(listener)

    def _changed(self, name: str, event: str) -> None:
        self.cache.invalidate(name)
        for listener in self._listeners:
            listener(name, event)

    # --- HTTP ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, params: Any = None, body: Any = None,
              headers: Mapping[str, str] | None = None) -> httpx.Response:
        """One request, retried if idempotent; transport failures raise UnavailableError.

        Returns whatever the server answered (errors included, see :meth:`_check`).
        """
        content = None
        if body is not None:
            try:
                content = json.dumps(body, allow_nan=False, separators=(",", ":"),
                                     ensure_ascii=False).encode()
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(
                    f"The request must be JSON-serializable: {exc}"
                ) from None
            headers = {**(headers or {}), "Content-Type": "application/json"}
        attempts = 1 + self._retries if method in _IDEMPOTENT else 1
        problem = ""
        for attempt in range(attempts):
            if attempt:
                delay = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
                time.sleep(delay * random.uniform(0.5, 1.0))
            try:
                response = self._client.request(method, path, params=params, content=content,
                                                headers=headers)
            except httpx.TimeoutException:
                problem = f"did not answer within {self._timeout:g} s"
                continue
            except httpx.TransportError as exc:
                problem = f"could not be reached ({type(exc).__name__}: {str(exc)[:200]})"
                continue
            except RuntimeError as exc:  # the client was closed
                raise UnavailableError(
                    f"The connection to the prompthouse server {self._url} is closed ({exc})."
                ) from None
            if response.status_code in _RETRY_STATUSES and attempt + 1 < attempts:
                continue
            return response
        tries = f" (tried {attempts} times)" if attempts > 1 else ""
        raise UnavailableError(f"The prompthouse server {self._url} {problem}{tries}.")

    def _check(self, response: httpx.Response) -> httpx.Response:
        """``response`` if it is a success (or 304), else its error as an exception."""
        status = response.status_code
        if status < 400:
            return response
        code = message = None
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            pass
        if status >= 500:
            detail = f": {message}" if message else f" {response.reason_phrase}"
            raise UnavailableError(
                f"The prompthouse server {self._url} answered {status}{detail}"
            )
        cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status, PromptHouseError)
        raise cls(message or f"The prompthouse server {self._url} answered {status} "
                             f"{response.reason_phrase}.")

    def _call(self, method: str, path: str, *, params: Any = None,
              body: Any = None) -> Any:
        """Send, check, and decode the JSON answer (``None`` for an empty one)."""
        response = self._check(self._send(method, path, params=params, body=body))
        return self._json(response) if response.content else None

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._not_prompthouse() from None

    def _not_prompthouse(self) -> UnavailableError:
        return UnavailableError(
            f"The server {self._url} did not answer like a prompthouse server (is the URL "
            "right?)."
        )

    def _decode_version(self, data: Any) -> PromptVersion:
        try:
            return _version_from(data)
        except (KeyError, TypeError, ValueError, PromptHouseError):
            raise self._not_prompthouse() from None

    def _decode_prompt(self, data: Any) -> Prompt:
        try:
            return _prompt_from(data)
        except (KeyError, TypeError, ValueError):
            raise self._not_prompthouse() from None

    def _write(self, name: str, event: str, method: str, path: str, *,
               body: Any = None) -> Any:
        """A write: afterwards (even a failed one, which may have landed) ``name``'s
        cached entries are dropped, and only those."""
        try:
            return self._call(method, path, body=body)
        finally:
            self._changed(name, event)

    # --- writing versions ---------------------------------------------------------------

    def register_prompt(
        self,
        name: str,
        template: Template,
        commit_message: str | None = None,
        tags: Mapping[str, str] | None = None,
        response_format: type[BaseModel] | Mapping[str, Any] | None = None,
        model_config: PromptModelConfig | Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        expected_latest_version: int | None = None,
    ) -> PromptVersion:
        """Register ``template`` as the next version of ``name`` (creating the prompt).

        ``tags`` go on the new version and on the prompt. Not retried (a retry could
        register a second version). ``user_id`` cannot be sent over HTTP (the server
        decides who is writing): giving one is an :class:`InvalidArgumentError`.
        ``expected_latest_version``: as :meth:`Registry.register_prompt` (409 ->
        :class:`ConflictError`).
        """
        _no_user_id(user_id, "register_prompt")
        body = {
            "name": validate_name(name),
            "template": template,
            "commit_message": commit_message,
            "tags": _validate_tags(tags) if tags is not None else None,
            "model_config": normalize_model_config(model_config),
            "response_format": normalize_response_format(response_format),
        }
        if expected_latest_version is not None:
            body["expected_latest_version"] = expected_latest_version
        return self._decode_version(
            self._write(name, "version_created", "POST", "/prompts", body=body)
        )

    def import_version(
        self,
        name: str,
        version: int,
        template: Template,
        commit_message: str | None = None,
        tags: Mapping[str, str] | None = None,
        response_format: Mapping[str, Any] | None = None,
        model_config: Mapping[str, Any] | None = None,
        *,
        user_id: str | None = None,
        creation_timestamp: int | None = None,
    ) -> PromptVersion:
        """Write a version with an explicit number above every number used so far
        (imports, migrations); tags go on the version only. Not retried."""
        body = {
            "version": _validate_version(version),
            "template": template,
            "commit_message": commit_message,
            "tags": _validate_tags(tags) if tags is not None else None,
            "model_config": normalize_model_config(model_config),
            "response_format": normalize_response_format(response_format),
            "user_id": user_id,
            "creation_timestamp": creation_timestamp,
        }
        return self._decode_version(self._write(
            name, "version_created", "POST", f"/prompts/{_name(name)}/versions", body=body
        ))

    # --- reading ------------------------------------------------------------------------

    def load_prompt(
        self,
        name_or_uri: str,
        version: int | str | None = None,
        allow_missing: bool = False,
        cache_ttl_seconds: float | None = None,
        *,
        fallback: Template | None = None,
    ) -> PromptVersion | None:
        """Load a version by URI or name, from the cache when it can (see the module doc).

        ``allow_missing=True`` returns ``None`` when the prompt, version or alias does not
        exist. ``fallback`` (a template string or chat messages) is returned as an
        uncached version 0 with ``is_fallback`` True when the server is unreachable or
        answers 5xx and nothing is cached; without it that is an
        :class:`~prompthouse.UnavailableError` naming the server.
        """
        if cache_ttl_seconds is None or cache_ttl_seconds > 0:
            found = self.cache.get_or_claim((name_or_uri, version))
            if found is not None:
                if found[1] is not None:
                    self._refresh_in_background(found[1])
                return found[0]
        return self._load(name_or_uri, version, allow_missing, cache_ttl_seconds, fallback)

    def _load(self, name_or_uri: str, version: int | str | None, allow_missing: bool,
              cache_ttl_seconds: float | None, fallback: Template | None
              ) -> PromptVersion | None:
        if cache_ttl_seconds is not None and (
            isinstance(cache_ttl_seconds, bool) or cache_ttl_seconds < 0
        ):
            raise InvalidArgumentError(
                f"cache_ttl_seconds must be a number >= 0 (0 bypasses the cache), "
                f"not {cache_ttl_seconds!r}."
            )
        ref = parse_prompt_ref(name_or_uri, version)
        path = _ref_path(ref)
        generation = self.cache.generation(ref.name)
        try:
            response = self._check(self._send("GET", path))
        except NotFoundError:
            if allow_missing:
                return None
            raise
        except UnavailableError:
            if fallback is None:
                raise
            return PromptVersion._fallback(ref.name, fallback)
        result = self._decode_version(self._json(response))
        if cache_ttl_seconds is None or cache_ttl_seconds > 0:
            ttl = cache_ttl_seconds
            if ttl is None:
                ttl = (self.settings.version_cache_ttl_seconds if ref.version is not None
                       else self.settings.alias_cache_ttl_seconds)
            self.cache.put((name_or_uri, version), ref.name, result, ttl, generation,
                           etag=response.headers.get("etag"))
        return result

    def _refresh_in_background(self, claim: Claim) -> None:
        if self._closed or not self._refresh_slots.acquire(blocking=False):
            self.cache.end_refresh(claim.key)  # a later read tries again
            return
        try:
            threading.Thread(target=self._refresh, args=(claim,), daemon=True,
                             name="prompthouse-refresh").start()
        except RuntimeError:  # no new threads (the interpreter is shutting down)
            self._refresh_slots.release()
            self.cache.end_refresh(claim.key)

    def _refresh(self, claim: Claim) -> None:
        """Revalidate one stale entry with ``If-None-Match``; runs in a daemon thread."""
        retry_in = None
        name_or_uri, version = claim.key  # type: ignore[misc]
        try:
            headers = {"If-None-Match": claim.etag} if claim.etag else None
            ref = parse_prompt_ref(name_or_uri, version)
            response = self._send("GET", _ref_path(ref), headers=headers)
            if response.status_code == 304:
                self.cache.renew(claim.key, claim.generation, claim.etag)
            else:
                self._check(response)
                self.cache.put(claim.key, claim.name, self._decode_version(self._json(response)),
                               claim.ttl, claim.generation, etag=response.headers.get("etag"))
        except NotFoundError:
            self.cache.evict(claim.key, claim.generation)
        except Exception as exc:  # keep serving the stale entry, whatever went wrong
            retry_in = REFRESH_FAILURE_BACKOFF_SECONDS
            if not self._closed:
                log.warning(
                    "Could not refresh %s from %s (%s); serving the cached version, "
                    "next try in %g s.", _uri_of(name_or_uri, version), self._url,
                    exc if isinstance(exc, PromptHouseError) else type(exc).__name__,
                    retry_in,
                )
        finally:
            self.cache.end_refresh(claim.key, retry_in)
            self._refresh_slots.release()

    def get_prompt_version(self, name: str, version: int | str) -> PromptVersion:
        """One version by number, from the server (no cache)."""
        path = f"/prompts/{_name(name)}/versions/{_validate_version(version)}"
        return self._decode_version(self._call("GET", path))

    def get_prompt_version_by_alias(self, name: str, alias: str) -> PromptVersion:
        """The version an alias points at (``latest``: the newest), from the server."""
        return self._decode_version(self._call("GET", _ref_path(PromptRef(name, alias=alias))))

    def get_prompt(self, name: str, allow_missing: bool = False) -> Prompt | None:
        """The prompt: description, tags, aliases and latest version number."""
        try:
            return self._decode_prompt(self._call("GET", f"/prompts/{_name(name)}"))
        except NotFoundError:
            if allow_missing:
                return None
            raise

    def search_prompts(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        *,
        name_pattern: str | None = None,
        tags: Mapping[str, str] | None = None,
        alias: str | None = None,
        order_by: str = "name",
    ) -> Page[Prompt]:
        """Find prompts: the criteria of :meth:`Registry.search_prompts`, a page at a time.

        A tag key holding ``=`` cannot be sent as ``tag=key=value``: filter on it with
        ``filter_string`` (``tags.`a=b` = 'x'``) instead.
        """
        params: list[tuple[str, str]] = []
        if filter_string is not None:
            params.append(("filter", str(filter_string)))
        if name_pattern is not None:
            params.append(("name_pattern", str(name_pattern)))
        for key, value in _validate_tags(tags).items():
            if "=" in key:
                raise InvalidArgumentError(
                    f"The tag key {key!r} holds '=', which tag=key=value cannot carry; use "
                    f"filter_string=\"tags.`{key}` = '...'\" instead."
                )
            params.append(("tag", f"{key}={value}"))
        if alias is not None:
            params.append(("alias", str(alias)))
        params.append(("order_by", str(order_by)))
        params.append(("max_results", str(_validate_page_size(max_results))))
        if page_token:
            params.append(("page_token", str(page_token)))
        data = self._call("GET", "/prompts", params=params)
        try:
            items = [_prompt_from(p) for p in data["prompts"]]
            return Page(items, data.get("next_page_token"))
        except (KeyError, TypeError, ValueError):
            raise self._not_prompthouse() from None

    def list_prompt_versions(
        self, name: str, max_results: int = 100, page_token: str | None = None
    ) -> Page[PromptVersion]:
        """The live versions of ``name``, newest first, a page at a time."""
        params = [("max_results", str(_validate_page_size(max_results)))]
        if page_token:
            params.append(("page_token", str(page_token)))
        data = self._call("GET", f"/prompts/{_name(name)}/versions", params=params)
        try:
            items = [self._decode_version(v) for v in data["versions"]]
            return Page(items, data.get("next_page_token"))
        except (KeyError, TypeError):
            raise self._not_prompthouse() from None

    def diff_prompt_versions(self, name: str, from_version: int | str,
                             to_version: int | str) -> dict[str, Any]:
        """What changed between two versions (the shape of ``GET .../diff``)."""
        params = [("from", str(_validate_version(from_version))),
                  ("to", str(_validate_version(to_version)))]
        result: dict[str, Any] = self._call("GET", f"/prompts/{_name(name)}/diff",
                                            params=params)
        return result

    # --- aliases, tags, model config, description ---------------------------------------

    def set_prompt_alias(self, name: str, alias: str, version: int | str,
                         *, user_id: str | None = None) -> None:
        """Point ``alias`` at an existing ``version`` of ``name`` (moving it if set)."""
        _no_user_id(user_id, "set_prompt_alias")
        path = f"/prompts/{_name(name)}/aliases/{_segment(validate_alias(alias))}"
        self._write(name, "alias_set", "PUT", path,
                    body={"version": _validate_version(version)})

    def delete_prompt_alias(self, name: str, alias: str) -> None:
        path = f"/prompts/{_name(name)}/aliases/{_segment(validate_alias(alias))}"
        self._write(name, "alias_deleted", "DELETE", path)

    def set_prompt_tag(self, name: str, key: str, value: str) -> None:
        key, value = _validate_tag(key, value)
        self._write(name, "prompt_tag_set", "PUT",
                    f"/prompts/{_name(name)}/tags/{_segment(key)}", body={"value": value})

    def delete_prompt_tag(self, name: str, key: str) -> None:
        key = _validate_tag(key, "")[0]
        self._write(name, "prompt_tag_deleted", "DELETE",
                    f"/prompts/{_name(name)}/tags/{_segment(key)}")

    def set_prompt_version_tag(self, name: str, version: int | str, key: str,
                               value: str) -> None:
        key, value = _validate_tag(key, value)
        path = (f"/prompts/{_name(name)}/versions/{_validate_version(version)}"
                f"/tags/{_segment(key)}")
        self._write(name, "version_tag_set", "PUT", path, body={"value": value})

    def delete_prompt_version_tag(self, name: str, version: int | str, key: str) -> None:
        key = _validate_tag(key, "")[0]
        path = (f"/prompts/{_name(name)}/versions/{_validate_version(version)}"
                f"/tags/{_segment(key)}")
        self._write(name, "version_tag_deleted", "DELETE", path)

    def set_prompt_model_config(
        self, name: str, version: int | str,
        model_config: PromptModelConfig | Mapping[str, Any],
    ) -> None:
        """Replace a version's model config (the template itself never changes)."""
        if model_config is None:
            raise InvalidArgumentError(
                "model_config is required; use delete_prompt_model_config to remove it."
            )
        config = normalize_model_config(model_config)
        path = f"/prompts/{_name(name)}/versions/{_validate_version(version)}/model-config"
        self._write(name, "model_config_set", "PUT", path, body=config)

    def delete_prompt_model_config(self, name: str, version: int | str) -> None:
        path = f"/prompts/{_name(name)}/versions/{_validate_version(version)}/model-config"
        self._write(name, "model_config_deleted", "DELETE", path)

    def set_prompt_description(self, name: str, description: str | None) -> None:
        """Set (or with ``None`` clear) the description; retried like PUT (it is idempotent)."""
        self._write(name, "description_set", "PATCH", f"/prompts/{_name(name)}",
                    body={"description": description})

    # --- deleting -------------------------------------------------------------------------

    def delete_prompt_version(self, name: str, version: int | str) -> list[str]:
        """Delete one version; the aliases that pointed at it are removed and returned."""
        path = f"/prompts/{_name(name)}/versions/{_validate_version(version)}"
        data = self._write(name, "version_deleted", "DELETE", path)
        try:
            return [str(a) for a in data["removed_aliases"]]
        except (KeyError, TypeError):
            raise self._not_prompthouse() from None

    def delete_prompt(self, name: str) -> None:
        """Delete the prompt with every version, alias and tag."""
        self._write(name, "prompt_deleted", "DELETE", f"/prompts/{_name(name)}")


def _no_user_id(user_id: str | None, method: str) -> None:
    if user_id is not None:
        raise InvalidArgumentError(
            f"{method}(user_id=...) is not available through the HTTP API: the server "
            "records who writes. Use import_version to keep a user id from elsewhere."
        )


def _uri_of(name_or_uri: str, version: int | str | None) -> str:
    if version is None:
        return name_or_uri
    return f"{name_or_uri} version {version}"
