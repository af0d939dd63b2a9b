"""The MLflow store: prompts kept in an MLflow server (3.4 or later), over its REST API.

Prompts are written exactly as MLflow's own client writes them, so ``mlflow.genai`` and
prompthouse read and write the same prompts:

- a prompt is a registered model tagged ``mlflow.prompt.is_prompt = "true"`` (and, when
  prompthouse creates it, ``_mlflow_experiment_ids = ",<id>,"``, as MLflow's client
  links new prompts to the active experiment, "0" by default); its description is the
  registered model's description (the first commit message unless changed); prompt tags
  are the registered model's tags; aliases are the registered model's aliases;
- a version is a model version with ``source: "dummy-source"``, the commit message as
  its description and the tags ``mlflow.prompt.is_prompt``, ``_mlflow_prompt_type``
  (``text`` | ``chat``), ``mlflow.prompt.text`` (the text, or the messages as JSON),
  ``_mlflow_prompt_response_format`` and ``_mlflow_prompt_model_config`` (JSON), after
  the version's own tags.

Those internal tags are never shown as user tags, and cannot be set through
prompthouse. Requests go to ``<uri>/api/2.0/mlflow/...`` with httpx; each one carries
the token of the current request (:mod:`prompthouse.credentials`) or the configured
one, as ``Authorization: Bearer``. Every read is one request (a version, an alias,
``@latest``, a prompt, a search page of exact filters); see :data:`REQUEST_COUNTS`.

What MLflow cannot hold is refused with an :class:`InvalidArgumentError` saying so
(see the README's "MLflow store" section): ``/`` in names, explicit version numbers
other than the next one, tag keys outside MLflow's alphabet, prompt tag values,
descriptions and commit messages over 5,000 characters, template text over 100,000.
Creation timestamps and user ids are MLflow's own and cannot be imported.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import posixpath
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from prompthouse._version import __version__
from prompthouse.credentials import current_mlflow_token
from prompthouse.entities import Page, Prompt, PromptVersion
from prompthouse.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PromptHouseError,
    UnauthenticatedError,
    UnavailableError,
)
from prompthouse.stores.base import NewVersion, SearchCondition, SearchQuery
from prompthouse.templating import freeze_template, thaw_template

__all__ = ["REQUEST_COUNTS", "MlflowStore"]

IS_PROMPT = "mlflow.prompt.is_prompt"
TEXT = "mlflow.prompt.text"
TYPE = "_mlflow_prompt_type"
MODEL_CONFIG = "_mlflow_prompt_model_config"
RESPONSE_FORMAT = "_mlflow_prompt_response_format"
EXPERIMENT_IDS = "_mlflow_experiment_ids"
SOURCE = "dummy-source"
# Hidden from users, as MLflow's PromptVersion.tags and Prompt.tags hide them (MLflow shows
# the experiment ids tag; prompthouse treats it as the bookkeeping it is).
VERSION_INTERNAL = frozenset({IS_PROMPT, TEXT, TYPE, MODEL_CONFIG, RESPONSE_FORMAT})
PROMPT_INTERNAL = frozenset({IS_PROMPT, EXPERIMENT_IDS})
INTERNAL = VERSION_INTERNAL | PROMPT_INTERNAL

# Limits of MLflow's schema and validation (mlflow/store/model_registry/dbmodels,
# mlflow/utils/validation.py), checked before anything is written.
MAX_TEXT = 100_000  # a version tag value, the template text included
MAX_SHORT = 5_000  # descriptions, commit messages and registered-model (prompt) tag values
_TAG_KEY = re.compile(r"^[/\w.\- :]*$")
_NOT_FOUND = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
_EXISTS = frozenset({"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"})
_BUSY = frozenset({"TEMPORARILY_UNAVAILABLE", "INTERNAL_ERROR", "RESOURCE_EXHAUSTED",
                   "REQUEST_LIMIT_EXCEEDED", "SERVICE_UNDER_MAINTENANCE"})
_ORDER = {"name": "name ASC", "-name": "name DESC",
          "last_updated": "last_updated_timestamp ASC",
          "-last_updated": "last_updated_timestamp DESC"}
_MLFLOW_PAGE = 1000  # the most registered models MLflow returns per search page
_URI_OPTIONS = ("experiment_id", "experiment_name")

REQUEST_COUNTS: dict[str, int | str] = {
    "get a version by number": 1,
    "get the version an alias points at": 1,
    "get the latest version (@latest)": 1,
    "get a prompt": 1,
    "search, a page (exact filters)": 1,
    "list versions, a page": 2,
    "register a new prompt": 2,
    "register a version of an existing prompt": "2 + 1 per tag",
    "register only if a version is still the latest": "2 + 1 per tag (+1 per number between)",
    "set an alias": 2,
    "delete an alias": 2,
    "set a prompt tag / a version tag / a model config / the description": 1,
    "delete a prompt tag or a version tag": 2,
    "delete a version": 2,
    "delete a prompt": "3 + 1 per version",
}
"""HTTP requests each store operation makes on its success path (documented in the README)."""


class _Refused(Exception):
    """MLflow answered with an error: its ``error_code``, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class MlflowStore:
    """A store in an MLflow server: ``MlflowStore("http://host:5000")`` (or
    ``mlflow+http://...``, ``mlflow+https://...``, optionally with a path prefix).

    ``token`` is sent as ``Authorization: Bearer``; without it, ``MLFLOW_TRACKING_TOKEN``
    from the environment; ``user:password@`` in the URI (or ``MLFLOW_TRACKING_USERNAME``
    and ``MLFLOW_TRACKING_PASSWORD``) is HTTP basic auth for MLflow's basic-auth server.
    A token set with :func:`prompthouse.credentials.using_mlflow_token` wins over all of
    them for the requests made inside it. ``timeout`` (seconds) bounds connecting and
    each answer; an unreachable or silent server raises :class:`UnavailableError`.

    New prompts are linked to ``experiment_id`` (or the experiment named
    ``experiment_name``, created if missing; default: MLflow's default experiment "0")
    through the ``_mlflow_experiment_ids`` tag, as MLflow's client does. Both can also
    be given in the URI's query: ``mlflow+http://host:5000?experiment_name=prompts``.
    """

    assigns_version_numbers = True
    """MLflow numbers versions itself: an import keeps a number only when it is the next
    one (``prompthouse migrate`` renumbers versions after gaps and says so)."""

    def __init__(self, tracking_uri: str, *, token: str | None = None, timeout: float = 10.0,
                 experiment_id: str | None = None,
                 experiment_name: str | None = None) -> None:
        base, shown, basic, options = _parse_uri(tracking_uri)
        self.uri = shown
        self.url = base
        self._timeout = timeout
        configured = token if token is not None else os.environ.get("MLFLOW_TRACKING_TOKEN")
        self._token = configured or None
        if basic is None and os.environ.get("MLFLOW_TRACKING_USERNAME"):
            basic = (os.environ["MLFLOW_TRACKING_USERNAME"],
                     os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
        self._basic = None
        if basic is not None:
            pair = f"{basic[0]}:{basic[1]}".encode()
            self._basic = "Basic " + base64.b64encode(pair).decode()
        self._experiment_id = experiment_id or options.get("experiment_id")
        self._experiment_name = experiment_name or options.get("experiment_name")
        if self._experiment_id is None and self._experiment_name is None:
            self._experiment_id = "0"
        self._experiment_lock = threading.Lock()
        self._client = httpx.Client(
            base_url=base + "/api/2.0/mlflow/",
            timeout=timeout,
            transport=httpx.HTTPTransport(retries=1),  # a refused connect is tried again once
            headers={"User-Agent": f"prompthouse/{__version__}"},
        )

    def __repr__(self) -> str:
        return f"MlflowStore({self.uri!r})"

    # --- HTTP -------------------------------------------------------------------------

    def _authorization(self) -> dict[str, str]:
        token = current_mlflow_token() or self._token
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self._basic:
            return {"Authorization": self._basic}
        return {}

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One request; MLflow's JSON answer, or :class:`_Refused` with its error code.

        A connection failure or timeout raises :class:`UnavailableError` naming the
        server (never a credential).
        """
        try:
            response = self._client.request(method, path, params=params, json=body,
                                             headers=self._authorization())
        except httpx.TimeoutException:
            raise UnavailableError(
                f"The MLflow server at {self.url} is unavailable: no answer within "
                f"{self._timeout:g} s."
            ) from None
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise UnavailableError(
                f"The MLflow server at {self.url} is unavailable: {reason}."
            ) from None
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = None
        if response.is_success:
            if not isinstance(data, dict):
                raise self._not_mlflow(response.status_code, path)
            return data
        status = response.status_code
        code = data.get("error_code") if isinstance(data, dict) else None
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(code, str):
            if status == 404:
                raise self._not_mlflow(status, path)
            code = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}.get(
                status, "TEMPORARILY_UNAVAILABLE" if status >= 500 or status == 429
                else "BAD_REQUEST")
        if not isinstance(message, str) or not message:
            message = f"HTTP {status}"
        raise _Refused(code, message, status)

    def _not_mlflow(self, status: int, path: str) -> UnavailableError:
        return UnavailableError(
            f"The MLflow server at {self.url} did not answer like MLflow (HTTP {status} for "
            f"/api/2.0/mlflow/{path}): check that the store URI names an MLflow server, "
            "3.4 or later, with its path prefix if it has one."
        )

    def _failure(self, exc: _Refused, not_found: str | None = None) -> PromptHouseError:
        """The prompthouse error for an MLflow refusal (``not_found``: the message for a
        missing resource)."""
        where = f"The MLflow server at {self.url}"
        if exc.code in _NOT_FOUND:
            return NotFoundError(not_found or f"{where}: {exc.message}")
        if exc.code in _EXISTS:
            return AlreadyExistsError(f"{where} refused: {exc.message}")
        if exc.code == "UNAUTHENTICATED" or exc.status == 401:
            return UnauthenticatedError(
                f"{where} refused the credentials: {exc.message} (give a token: "
                "MLFLOW_TRACKING_TOKEN, the X-MLflow-Token header or the mlflow_api_token "
                "of X-LlamaStack-Provider-Data)."
            )
        if exc.code == "PERMISSION_DENIED" or exc.status == 403:
            return PermissionDeniedError(f"{where} denied the request: {exc.message}")
        if exc.code in _BUSY or exc.status >= 500 or exc.status == 429:
            return UnavailableError(f"{where} is unavailable: {exc.message}")
        return InvalidArgumentError(f"{where} refused the request: {exc.message}")

    def _do(self, method: str, path: str, *, not_found: str | None = None,
            params: Mapping[str, Any] | None = None,
            body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """:meth:`_call` with MLflow's refusals turned into prompthouse errors."""
        try:
            return self._call(method, path, params=params, body=body)
        except _Refused as exc:
            raise self._failure(exc, not_found) from None

    def ping(self) -> None:
        # Refused credentials still mean reachable: they are a request's business.
        with contextlib.suppress(UnauthenticatedError, PermissionDeniedError):
            self._do("GET", "registered-models/search",
                     params={"filter": f"tags.`{IS_PROMPT}` = 'true'", "max_results": 1})

    def close(self) -> None:
        self._client.close()

    # --- reading helpers ----------------------------------------------------------------

    @staticmethod
    def _absent(name: str) -> str:
        return f"Prompt {name!r} does not exist."

    def _check_readable(self, name: str) -> None:
        if "/" in name:
            raise NotFoundError(
                f"Prompt {name!r} does not exist: MLflow prompt names cannot contain '/'."
            )

    def _registered_model(self, name: str) -> dict[str, Any]:
        """The registered model ``name``; NotFoundError unless it exists and is a prompt."""
        self._check_readable(name)
        data = self._do("GET", "registered-models/get", params={"name": name},
                        not_found=self._absent(name))
        model = data.get("registered_model") or {}
        if not _is_prompt(model.get("tags")):
            raise NotFoundError(
                f"Prompt {name!r} does not exist: MLflow has a registered model of that name, "
                "not a prompt."
            )
        return model

    def _missing(self, name: str, message: str) -> NotFoundError:
        """``message`` if the prompt exists, else "does not exist" (one more request)."""
        self._registered_model(name)
        return NotFoundError(message)

    def _model_version(self, name: str, version: int) -> dict[str, Any]:
        self._check_readable(name)
        try:
            data = self._call("GET", "model-versions/get",
                              params={"name": name, "version": str(version)})
        except _Refused as exc:
            if exc.code in _NOT_FOUND:
                raise self._missing(name, f"Prompt {name!r} has no version {version}.") from None
            raise self._failure(exc) from None
        return data.get("model_version") or {}

    def _to_version(self, mv: Mapping[str, Any],
                    aliases: Iterable[str] | None = None) -> PromptVersion:
        name = str(mv.get("name"))
        number = int(mv.get("version", 0))
        tags = _tag_dict(mv.get("tags"))
        if tags.get(IS_PROMPT, "").lower() != "true":
            raise NotFoundError(
                f"Prompt {name!r} does not exist: MLflow has a registered model of that name, "
                "not a prompt."
            )
        where = f"Version {number} of prompt {name!r} in the MLflow server at {self.url}"
        text = tags.get(TEXT)
        if text is None:
            raise InvalidArgumentError(f"{where} has no prompt text ({TEXT} tag).")
        try:
            template = freeze_template(json.loads(text)) if tags.get(TYPE) == "chat" else text
            model_config = json.loads(tags[MODEL_CONFIG]) if MODEL_CONFIG in tags else None
            fmt = json.loads(tags[RESPONSE_FORMAT]) if RESPONSE_FORMAT in tags else None
        except (ValueError, InvalidArgumentError) as exc:
            raise InvalidArgumentError(f"{where} cannot be read: {exc}") from None
        found = mv.get("aliases") if aliases is None else aliases
        return PromptVersion._trusted(
            name=name,
            version=number,
            template=template,
            commit_message=mv.get("description") or None,
            model_config=model_config,
            response_format=fmt,
            creation_timestamp=_int_or_none(mv.get("creation_timestamp")),
            last_updated_timestamp=_int_or_none(mv.get("last_updated_timestamp")),
            user_id=mv.get("user_id") or None,
            tags={k: v for k, v in tags.items() if k not in VERSION_INTERNAL},
            aliases=tuple(sorted(found or ())),
        )

    @staticmethod
    def _to_prompt(model: Mapping[str, Any]) -> Prompt:
        tags = _tag_dict(model.get("tags"))
        aliases = sorted((a["alias"], int(a["version"])) for a in model.get("aliases") or ())
        latest = [int(v["version"]) for v in model.get("latest_versions") or ()]
        return Prompt(
            name=str(model.get("name")),
            description=model.get("description") or None,
            tags={k: v for k, v in tags.items() if k not in PROMPT_INTERNAL},
            aliases=dict(aliases),
            latest_version=max(latest) if latest else None,
            creation_timestamp=_int_or_none(model.get("creation_timestamp")),
            last_updated_timestamp=_int_or_none(model.get("last_updated_timestamp")),
            created_by=None,
        )

    # --- reads --------------------------------------------------------------------------

    def get_version(self, name: str, version: int) -> PromptVersion:
        return self._to_version(self._model_version(name, version))

    def get_version_by_alias(self, name: str, alias: str) -> PromptVersion:
        self._check_readable(name)
        try:
            data = self._call("GET", "registered-models/alias",
                              params={"name": name, "alias": alias})
        except _Refused as exc:
            raise self._alias_failure(exc, name, f"Prompt {name!r} has no alias {alias!r}.",
                                      alias) from None
        return self._to_version(data.get("model_version") or {})

    def _alias_failure(self, exc: _Refused, name: str, message: str,
                       alias: str) -> PromptHouseError:
        if exc.code in _NOT_FOUND:
            if "registered model" in exc.message.lower():
                return NotFoundError(self._absent(name))
            return self._missing(name, message)
        # MLflow answers a missing alias with INVALID_PARAMETER_VALUE "... alias X not found".
        lowered = exc.message.lower()
        if exc.code == "INVALID_PARAMETER_VALUE" and "alias" in lowered and "not found" in lowered:
            return NotFoundError(message)
        return self._failure(exc)

    def get_latest_version(self, name: str) -> PromptVersion:
        """One request: MLflow resolves the reserved alias ``latest`` to the newest live
        version (servers that do not know it get the two-request fallback)."""
        self._check_readable(name)
        try:
            data = self._call("GET", "registered-models/alias",
                              params={"name": name, "alias": "latest"})
        except _Refused as exc:
            if exc.code == "INVALID_PARAMETER_VALUE" and "latest" in exc.message.lower():
                return self._latest_by_model(name)
            if exc.code in _NOT_FOUND and "latest version" in exc.message.lower():
                raise self._missing(name, f"Prompt {name!r} has no versions.") from None
            raise self._alias_failure(exc, name, f"Prompt {name!r} has no versions.",
                                      "latest") from None
        return self._to_version(data.get("model_version") or {})

    def _latest_by_model(self, name: str) -> PromptVersion:
        latest = self._to_prompt(self._registered_model(name)).latest_version
        if latest is None:
            raise NotFoundError(f"Prompt {name!r} has no versions.")
        return self.get_version(name, latest)

    def get_prompt(self, name: str) -> Prompt:
        return self._to_prompt(self._registered_model(name))

    def list_versions(self, name: str, max_results: int,
                      page_token: str | None) -> Page[PromptVersion]:
        state = _decode_token(page_token, "v") if page_token else {}
        model = self._registered_model(name)
        by_version: dict[int, list[str]] = {}
        for alias, number in self._to_prompt(model).aliases.items():
            by_version.setdefault(number, []).append(alias)
        params: dict[str, Any] = {
            "filter": f"name = '{name}' AND tags.`{IS_PROMPT}` = 'true'",
            "max_results": max_results,
            "order_by": ["version_number DESC"],
        }
        if state.get("t"):
            params["page_token"] = state["t"]
        data = self._do("GET", "model-versions/search", params=params)
        items = [self._to_version(mv, by_version.get(int(mv["version"]), ()))
                 for mv in data.get("model_versions") or ()]
        token = data.get("next_page_token")
        return Page(items, _encode_token({"k": "v", "t": token}) if token else None)

    def search_prompts(self, query: SearchQuery) -> Page[Prompt]:
        """MLflow filters on the server what its grammar can express exactly; every
        condition is checked again here with prompthouse's semantics (``alias``, LIKE
        escapes, values MLflow cannot quote), so pages hold exactly the matches."""
        clauses = [f"tags.`{IS_PROMPT}` = 'true'"]
        exact = True
        for cond in query.conditions:
            clause, is_exact = _server_clause(cond)
            if clause:
                clauses.append(clause)
            exact = exact and is_exact
        state = _decode_token(query.page_token, "p", query.order_by) if query.page_token else {}
        size = int(state.get("n") or (query.max_results if exact else _MLFLOW_PAGE))
        mlflow_token, skip = state.get("t"), int(state.get("s") or 0)
        items: list[Prompt] = []
        while True:
            params: dict[str, Any] = {"filter": " AND ".join(clauses), "max_results": size,
                                      "order_by": [_ORDER[query.order_by]]}
            if mlflow_token:
                params["page_token"] = mlflow_token
            data = self._do("GET", "registered-models/search", params=params)
            models = data.get("registered_models") or []
            following = data.get("next_page_token") or None
            for i in range(skip, len(models)):
                prompt = self._to_prompt(models[i])
                if not all(_matches(prompt, cond) for cond in query.conditions):
                    continue
                items.append(prompt)
                if len(items) == query.max_results:
                    if i + 1 < len(models):
                        state = {"t": mlflow_token, "s": i + 1}
                    elif following:
                        state = {"t": following, "s": 0}
                    else:
                        return Page(items, None)
                    state.update({"k": "p", "o": query.order_by, "n": size})
                    return Page(items, _encode_token(state))
            if not following:
                return Page(items, None)
            mlflow_token, skip = following, 0

    # --- writing versions ---------------------------------------------------------------

    def create_version(self, new: NewVersion) -> tuple[PromptVersion, bool]:
        """Create the prompt when it is new (one request: it is refused if it exists),
        set the prompt tags on an existing one (one request each, as MLflow's client),
        then create the version. A new prompt whose version fails is removed again."""
        self._check_new_version(new)
        body = {"name": new.name, "source": SOURCE, "tags": self._version_tags(new)}
        if new.commit_message is not None:
            body["description"] = new.commit_message
        if new.version is not None:
            return self._import_version(new, body)
        if new.expected_latest is not None:
            return self._create_if_latest(new, body), False
        created = self._create_prompt(new.name, new.commit_message, new.prompt_tags)
        if not created:
            for key, value in new.prompt_tags.items():
                self._do("POST", "registered-models/set-tag",
                         body={"name": new.name, "key": key, "value": value},
                         not_found=self._absent(new.name))
        mv = self._create_model_version(new.name, body, created)
        return self._to_version(mv, ()), created

    def _create_model_version(self, name: str, body: dict[str, Any],
                              created: bool) -> dict[str, Any]:
        try:
            data = self._do("POST", "model-versions/create", body=body,
                            not_found=self._absent(name))
        except PromptHouseError:
            if created:
                self._remove_if_empty(name)
            raise
        return data.get("model_version") or {}

    def _create_if_latest(self, new: NewVersion, body: dict[str, Any]) -> PromptVersion:
        """Register only if ``new.expected_latest`` is still the newest live version.

        MLflow has no transactions, so this is optimistic: check, write, then look at the
        numbers between the expected version and the new one. A live version there was
        written by a concurrent writer, who wins: the new version is deleted again (its
        number stays used, as every MLflow number) and :class:`ConflictError` says which
        version is the latest.
        """
        expected = new.expected_latest
        latest = self._to_prompt(self._registered_model(new.name)).latest_version
        if latest != expected:
            raise self._not_latest(new.name, expected, latest)
        for key, value in new.prompt_tags.items():
            self._do("POST", "registered-models/set-tag",
                     body={"name": new.name, "key": key, "value": value},
                     not_found=self._absent(new.name))
        mv = self._create_model_version(new.name, body, False)
        number = int(mv.get("version", 0))
        for between in range(number - 1, (expected or 0), -1):
            try:
                self._call("GET", "model-versions/get",
                           params={"name": new.name, "version": str(between)})
            except _Refused as exc:
                if exc.code in _NOT_FOUND:
                    continue  # a deleted number
                raise self._failure(exc) from None
            self._do("DELETE", "model-versions/delete",
                     body={"name": new.name, "version": str(number)})
            raise self._not_latest(new.name, expected, between)
        return self._to_version(mv, ())

    @staticmethod
    def _not_latest(name: str, expected: int | None, latest: int | None) -> ConflictError:
        return ConflictError(
            f"Version {expected} is not the latest version of prompt {name!r}: the latest "
            f"is {latest}. Read it and try again."
        )

    def _import_version(self, new: NewVersion, body: dict[str, Any]
                        ) -> tuple[PromptVersion, bool]:
        try:
            latest = self._to_prompt(self._registered_model(new.name)).latest_version or 0
            exists = True
        except NotFoundError:
            latest, exists = 0, False
        if new.version != latest + 1:
            raise InvalidArgumentError(
                f"Version {new.version} of prompt {new.name!r} cannot be imported into MLflow: "
                f"MLflow numbers versions itself and would make it version {latest + 1} "
                "(prompthouse migrate renumbers such versions and says so)."
            )
        created = not exists and self._create_prompt(new.name, new.commit_message, {})
        mv = self._create_model_version(new.name, body, created)
        got = int(mv.get("version", 0))
        if got != new.version:
            self._do("DELETE", "model-versions/delete",
                     body={"name": new.name, "version": str(got)})
            raise InvalidArgumentError(
                f"Version {new.version} of prompt {new.name!r} cannot be imported into MLflow: "
                f"MLflow gave it number {got} (numbers of deleted versions are never reused), "
                "so it was removed again."
            )
        return self._to_version(mv, ()), created

    def _create_prompt(self, name: str, description: str | None,
                       tags: Mapping[str, str]) -> bool:
        """Create the registered model; ``False`` when the prompt exists already."""
        body: dict[str, Any] = {
            "name": name,
            "tags": [{"key": IS_PROMPT, "value": "true"},
                     {"key": EXPERIMENT_IDS, "value": f",{self._experiment()},"}]
            + [{"key": k, "value": v} for k, v in tags.items()],
        }
        if description is not None:
            body["description"] = description
        try:
            self._call("POST", "registered-models/create", body=body)
            return True
        except _Refused as exc:
            refusal = exc
        if refusal.code in _EXISTS:
            if "already taken by a registered model" in refusal.message:
                raise self._a_model(name)
            if refusal.message.startswith("Prompt ("):
                return False  # "Prompt (name=x) already exists."
        elif refusal.code != "PERMISSION_DENIED":
            raise self._failure(refusal)
        # An older server's wording, or no right to create: is the name a prompt?
        try:
            self._registered_model(name)
        except NotFoundError:
            if refusal.code in _EXISTS:
                raise self._a_model(name) from None
            raise self._failure(refusal) from None
        return False

    @staticmethod
    def _a_model(name: str) -> AlreadyExistsError:
        return AlreadyExistsError(
            f"Cannot register prompt {name!r}: the MLflow server has a registered model of "
            "that name, and MLflow does not let a prompt and a model share a name. Choose "
            "another name."
        )

    def _remove_if_empty(self, name: str) -> None:
        """Undo a prompt created by this request whose first version failed, unless another
        writer gave it a version meanwhile. Best effort: a server that is gone is left."""
        try:
            model = self._registered_model(name)
            if not model.get("latest_versions"):
                self._call("DELETE", "registered-models/delete", body={"name": name})
        except (PromptHouseError, _Refused):
            pass

    def _experiment(self) -> str:
        """The experiment id new prompts are linked to (resolved once from its name)."""
        if self._experiment_id is not None:
            return self._experiment_id
        with self._experiment_lock:
            if self._experiment_id is None:
                name = str(self._experiment_name)
                try:
                    data = self._call("GET", "experiments/get-by-name",
                                      params={"experiment_name": name})
                    found = (data.get("experiment") or {}).get("experiment_id")
                except _Refused as exc:
                    if exc.code not in _NOT_FOUND:
                        raise self._failure(exc) from None
                    found = self._do("POST", "experiments/create",
                                     body={"name": name}).get("experiment_id")
                self._experiment_id = str(found)
        return self._experiment_id

    def _version_tags(self, new: NewVersion) -> list[dict[str, str]]:
        """The version's tags in the order MLflow's client writes them."""
        tags = dict(new.tags)
        tags[IS_PROMPT] = "true"
        tags[TYPE] = new.template_type
        tags[TEXT] = _template_text(new)
        if new.response_format is not None:
            tags[RESPONSE_FORMAT] = json.dumps(new.response_format)
        if new.model_config is not None:
            tags[MODEL_CONFIG] = json.dumps(new.model_config)
        return [{"key": k, "value": v} for k, v in tags.items()]

    def _check_new_version(self, new: NewVersion) -> None:
        """Refuse, before any write, what MLflow cannot hold."""
        if "/" in new.name:
            raise InvalidArgumentError(
                f"MLflow cannot hold the prompt name {new.name!r}: MLflow prompt names use "
                "letters, digits, '_', '.' and '-' only, without '/' folders. Rename it "
                "(e.g. with '.' for '/') or keep it in a SQL store."
            )
        for key in {**new.tags, **new.prompt_tags}:
            _check_tag_key(key)
        for key, value in new.prompt_tags.items():
            _check_length(f"the value of prompt tag {key!r}", value, MAX_SHORT,
                          "a prompt tag value (a registered-model tag)")
        _check_length("the commit message", new.commit_message, MAX_SHORT,
                      "a commit message (a model-version description)")
        _check_length("the template", _template_text(new), MAX_TEXT,
                      "template text (for a chat prompt: its messages as JSON)")
        for what, config in (("model config", new.model_config),
                             ("response format", new.response_format)):
            if config is not None:
                _check_length(f"the {what}", json.dumps(config), MAX_TEXT, f"a {what} as JSON")

    # --- aliases, tags, model config, description ---------------------------------------

    def set_alias(self, name: str, alias: str, version: int, user_id: str | None,
                  timestamp_ms: int) -> None:
        self._to_version(self._model_version(name, version))  # exists, and is a prompt's
        try:
            self._call("POST", "registered-models/alias",
                       body={"name": name, "alias": alias, "version": str(version)})
        except _Refused as exc:
            if exc.code in _NOT_FOUND:
                raise self._missing(name, f"Prompt {name!r} has no version {version}.") from None
            raise self._failure(exc) from None

    def delete_alias(self, name: str, alias: str, timestamp_ms: int) -> None:
        if alias not in self._to_prompt(self._registered_model(name)).aliases:
            raise NotFoundError(f"Prompt {name!r} has no alias {alias!r}.")
        self._do("DELETE", "registered-models/alias", body={"name": name, "alias": alias},
                 not_found=self._absent(name))

    def set_prompt_tag(self, name: str, key: str, value: str, timestamp_ms: int) -> None:
        self._check_readable(name)
        _check_tag_key(key)
        _check_length(f"the value of prompt tag {key!r}", value, MAX_SHORT,
                      "a prompt tag value (a registered-model tag)")
        self._do("POST", "registered-models/set-tag",
                 body={"name": name, "key": key, "value": value}, not_found=self._absent(name))

    def delete_prompt_tag(self, name: str, key: str, timestamp_ms: int) -> None:
        _refuse_internal(key)
        if key not in self._to_prompt(self._registered_model(name)).tags:
            raise NotFoundError(f"Prompt {name!r} has no tag {key!r}.")
        self._do("DELETE", "registered-models/delete-tag", body={"name": name, "key": key},
                 not_found=self._absent(name))

    def set_version_tag(self, name: str, version: int, key: str, value: str,
                        timestamp_ms: int) -> None:
        _check_tag_key(key)
        self._version_tag_call("POST", "model-versions/set-tag", name, version,
                               {"key": key, "value": value})

    def _version_tag_call(self, method: str, path: str, name: str, version: int,
                          extra: Mapping[str, str]) -> None:
        self._check_readable(name)
        try:
            self._call(method, path, body={"name": name, "version": str(version), **extra})
        except _Refused as exc:
            if exc.code in _NOT_FOUND:
                raise self._missing(name, f"Prompt {name!r} has no version {version}.") from None
            raise self._failure(exc) from None

    def delete_version_tag(self, name: str, version: int, key: str,
                           timestamp_ms: int) -> None:
        _refuse_internal(key)
        if key not in self.get_version(name, version).tags:
            raise NotFoundError(f"Version {version} of prompt {name!r} has no tag {key!r}.")
        self._version_tag_call("DELETE", "model-versions/delete-tag", name, version,
                               {"key": key})

    def set_model_config(self, name: str, version: int, model_config: dict[str, Any] | None,
                         timestamp_ms: int) -> None:
        """The ``_mlflow_prompt_model_config`` tag, as ``mlflow.genai.set_prompt_model_config``
        writes it (deleting it when ``model_config`` is None)."""
        if model_config is None:
            self._version_tag_call("DELETE", "model-versions/delete-tag", name, version,
                                   {"key": MODEL_CONFIG})
            return
        text = json.dumps(model_config)
        _check_length("the model config", text, MAX_TEXT, "a model config as JSON")
        self._version_tag_call("POST", "model-versions/set-tag", name, version,
                               {"key": MODEL_CONFIG, "value": text})

    def update_description(self, name: str, description: str | None,
                           timestamp_ms: int) -> None:
        """MLflow keeps no empty description: ``None`` (and ``""``) clear it."""
        self._check_readable(name)
        _check_length("the description", description, MAX_SHORT,
                      "a description (a registered-model description)")
        self._do("PATCH", "registered-models/update",
                 body={"name": name, "description": description or ""},
                 not_found=self._absent(name))

    # --- deleting -----------------------------------------------------------------------

    def delete_version(self, name: str, version: int, timestamp_ms: int) -> list[str]:
        """MLflow removes the aliases on the version and never reuses its number."""
        removed = self.get_version(name, version).aliases
        try:
            self._call("DELETE", "model-versions/delete",
                       body={"name": name, "version": str(version)})
        except _Refused as exc:
            if exc.code in _NOT_FOUND:
                raise self._missing(name, f"Prompt {name!r} has no version {version}.") from None
            raise self._failure(exc) from None
        return sorted(removed)

    def delete_prompt(self, name: str) -> None:
        """Delete every version (newest first), then the registered model."""
        self._registered_model(name)
        numbers: list[int] = []
        params: dict[str, Any] = {"filter": f"name = '{name}' AND tags.`{IS_PROMPT}` = 'true'",
                                  "max_results": _MLFLOW_PAGE,
                                  "order_by": ["version_number DESC"]}
        while True:
            data = self._do("GET", "model-versions/search", params=params)
            numbers.extend(int(mv["version"]) for mv in data.get("model_versions") or ())
            if not data.get("next_page_token"):
                break
            params["page_token"] = data["next_page_token"]
        for number in numbers:
            try:
                self._call("DELETE", "model-versions/delete",
                           body={"name": name, "version": str(number)})
            except _Refused as exc:
                if exc.code not in _NOT_FOUND:  # deleted meanwhile: fine
                    raise self._failure(exc) from None
        try:
            self._call("DELETE", "registered-models/delete", body={"name": name})
        except _Refused as exc:
            if exc.code not in _NOT_FOUND:
                raise self._failure(exc) from None


# --- module helpers -------------------------------------------------------------------


def _parse_uri(uri: str) -> tuple[str, str, tuple[str, str] | None, dict[str, str]]:
    """``(base URL, URI to show, basic-auth pair, query options)`` of a store URI."""
    scheme, sep, rest = uri.strip().partition("://")
    scheme = scheme.lower().removeprefix("mlflow+")
    if not sep or scheme not in ("http", "https") or not rest:
        raise InvalidArgumentError(
            "An MLflow store URI is mlflow+http://host:port or mlflow+https://host[:port]"
            "[/path] (the MLflow tracking server), not "
            f"{uri.split('://')[0] + '://...' if '://' in uri else uri!r}."
        )
    parts = urllib.parse.urlsplit(f"{scheme}://{rest}")
    hostport = parts.netloc.rpartition("@")[2]
    if not parts.hostname:
        raise InvalidArgumentError(f"The MLflow store URI has no host: use {scheme}://host:port.")
    options = dict(urllib.parse.parse_qsl(parts.query))
    unknown = sorted(set(options) - set(_URI_OPTIONS))
    if unknown:
        raise InvalidArgumentError(
            f"Unknown option(s) {', '.join(unknown)} in the MLflow store URI; allowed: "
            f"{', '.join(_URI_OPTIONS)}."
        )
    basic = None
    if parts.username is not None:
        basic = (urllib.parse.unquote(parts.username),
                 urllib.parse.unquote(parts.password or ""))
    path = parts.path.rstrip("/")
    base = f"{scheme}://{hostport}{path}"
    user = f"{basic[0]}:***@" if basic else ""
    return base, f"mlflow+{scheme}://{user}{hostport}{path}", basic, options


def _tag_dict(tags: Any) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in tags or () if "key" in t}


def _is_prompt(tags: Any) -> bool:
    return _tag_dict(tags).get(IS_PROMPT, "").lower() == "true"


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _template_text(new: NewVersion) -> str:
    """The ``mlflow.prompt.text`` value: the text, or ``json.dumps`` of the messages."""
    if new.template_type == "chat":
        return json.dumps(thaw_template(new.template))
    return str(new.template)


def _refuse_internal(key: str) -> None:
    if key in INTERNAL:
        raise InvalidArgumentError(
            f"The tag {key!r} is MLflow's own bookkeeping for prompts (template, type, model "
            "config, response format, prompt marker, experiments): it cannot be set or "
            "deleted as a tag. Use the registry's methods for model config instead."
        )


def _check_tag_key(key: str) -> None:
    _refuse_internal(key)
    normalized = posixpath.normpath(key)
    if (not _TAG_KEY.match(key) or normalized != key or normalized == "."
            or normalized.startswith(("..", "/"))):
        raise InvalidArgumentError(
            f"MLflow cannot hold the tag key {key!r}: MLflow tag keys use letters, digits, "
            "'_', '-', '.', ' ', ':' and '/' only, and must not read as an unnormalized "
            "path (no leading '/', '..', './', '//' or trailing '/')."
        )


def _check_length(what: str, value: str | None, limit: int, kind: str) -> None:
    if value is not None and len(value) > limit:
        raise InvalidArgumentError(
            f"MLflow cannot hold {what}: it keeps at most {limit:,} characters in {kind}, "
            f"and this is {len(value):,}."
        )


def _quoted(value: str) -> str | None:
    """``'value'`` for an MLflow filter, or None when MLflow's grammar cannot carry it."""
    if "'" in value or "\\" in value:
        return None
    return f"'{value}'"


def _loosened(pattern: str) -> str:
    r"""A LIKE pattern without escapes that matches at least what ``pattern`` matches
    (``\%``, ``\_`` and ``\\`` become ``_``: MLflow's LIKE has no escape character)."""
    return re.sub(r"\\.", "_", pattern)


def _server_clause(cond: SearchCondition) -> tuple[str | None, bool]:
    """The MLflow filter clause for ``cond`` (None: checked here only), and whether the
    server applies it exactly."""
    if cond.field == "alias":
        return None, False
    if cond.field == "tag":
        if cond.key is None or "`" in cond.key:
            return None, False
        subject = f"tags.`{cond.key}`"
    else:
        subject = "name"
    if cond.op in ("IN", "NOT IN"):
        values = [_quoted(v) for v in cond.value]
        if any(v is None for v in values):
            return None, False
        return f"{subject} {cond.op} ({', '.join(values)})", True  # type: ignore[arg-type]
    value = str(cond.value)
    exact = True
    if cond.op in ("LIKE", "ILIKE"):
        loose = _loosened(value)
        exact, value = loose == value, loose
    quoted = _quoted(value)
    if quoted is None:
        return None, False
    return f"{subject} {cond.op} {quoted}", exact


def _like(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    r"""A SQL LIKE pattern (``%`` any run, ``_`` one character, ``\`` escapes) as a regex."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _compare(actual: str, op: str, value: str | tuple[str, ...]) -> bool:
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    if op in ("LIKE", "ILIKE"):
        return _like(str(value), op == "ILIKE").fullmatch(actual) is not None
    if op == "IN":
        return actual in value
    if op == "NOT IN":
        return actual not in value
    raise InvalidArgumentError(f"Unsupported comparison {op!r}.")  # pragma: no cover


def _matches(prompt: Prompt, cond: SearchCondition) -> bool:
    """``cond`` with the SQL store's semantics (a missing tag matches nothing, ``!=``
    included; an alias condition matches when any alias of the prompt does)."""
    if cond.field == "name":
        return _compare(prompt.name, cond.op, cond.value)
    if cond.field == "alias":
        return any(_compare(alias, cond.op, cond.value) for alias in prompt.aliases)
    actual = prompt.tags.get(cond.key or "")
    return actual is not None and _compare(actual, cond.op, cond.value)


def _encode_token(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, kind: str, order: str | None = None) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict) or data.get("k") != kind or data.get("o") != order:
            raise ValueError
        return data
    except (ValueError, TypeError):
        raise InvalidArgumentError(
            "Invalid page token: pass the next_page_token of the previous page of the "
            "same query unchanged."
        ) from None
