"""Export a whole registry to one document, and import such a document into another.

The document (YAML or JSON) is::

    prompthouse_export: 1
    prompts:
      - name: support/triage
        description: first cut
        tags: {team: support}
        aliases: {production: 1}
        versions:                      # ascending; deleted versions are absent
          - version: 1
            template: "Classify: {{ ticket }}"   # or a list of chat messages
            commit_message: first cut
            tags: {}
            model_config: {model_name: gpt-4o-mini}
            response_format: null
            creation_timestamp: 1763780000000
            user_id: null

Importing it into an empty registry gives the same registry: the same version numbers
(gaps left by deleted versions stay gaps), templates, tags, aliases, model configs,
response formats, descriptions and version timestamps. Not carried over: numbers of
deleted versions above the newest live one (the registry does not expose its version
counter, so the target hands those numbers out again), and prompt-level timestamps.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from prompthouse.entities import (
    Prompt,
    PromptVersion,
    normalize_model_config,
    normalize_response_format,
)
from prompthouse.errors import AlreadyExistsError, InvalidArgumentError, PromptHouseError
from prompthouse.registry import Registry, validate_alias, validate_name
from prompthouse.templating import validate_template

__all__ = ["FORMAT_VERSION", "dump_document", "export_registry", "import_registry",
           "load_document"]

FORMAT_VERSION = 1
_PAGE = 1000
_FORMATS = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}
_PROMPT_KEYS = {"name", "description", "tags", "aliases", "versions"}
_VERSION_KEYS = {"version", "template", "commit_message", "tags", "model_config",
                 "response_format", "creation_timestamp", "user_id"}


# --- export ---------------------------------------------------------------------------


def export_registry(registry: Registry) -> dict[str, Any]:
    """Every prompt of ``registry`` with its live versions, as plain JSON/YAML data.

    Prompts come in name order, versions in ascending order. Prompt timestamps are not
    exported (an import sets them); version creation timestamps are.
    """
    return {
        "prompthouse_export": FORMAT_VERSION,
        "prompts": [_export_prompt(registry, prompt) for prompt in _all_prompts(registry)],
    }


def _all_prompts(registry: Registry) -> Iterator[Prompt]:
    token = None
    while True:
        page = registry.search_prompts(max_results=_PAGE, page_token=token)
        yield from page
        token = page.next_page_token
        if not token:
            return


def _all_versions(registry: Registry, name: str) -> list[PromptVersion]:
    versions: list[PromptVersion] = []
    token = None
    while True:
        page = registry.list_prompt_versions(name, max_results=_PAGE, page_token=token)
        versions.extend(page)
        token = page.next_page_token
        if not token:
            return sorted(versions, key=lambda v: v.version)


def _export_prompt(registry: Registry, prompt: Prompt) -> dict[str, Any]:
    return {
        "name": prompt.name,
        "description": prompt.description,
        "tags": dict(sorted(prompt.tags.items())),
        "aliases": dict(sorted(prompt.aliases.items())),
        "versions": [_export_version(v) for v in _all_versions(registry, prompt.name)],
    }


def _export_version(version: PromptVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "template": version.template,
        "commit_message": version.commit_message,
        "tags": dict(sorted(version.tags.items())),
        "model_config": version.model_config,
        "response_format": version.response_format,
        "creation_timestamp": version.creation_timestamp,
        "user_id": version.user_id,
    }


# --- import ---------------------------------------------------------------------------


def import_registry(registry: Registry, data: Any, *,
                    skip_existing: bool = False) -> dict[str, Any]:
    """Import a document made by :func:`export_registry` into ``registry``.

    The whole document is checked first; a malformed one raises
    :class:`InvalidArgumentError` saying what is wrong and where, and nothing is
    written. A prompt that already exists in ``registry`` raises
    :class:`AlreadyExistsError` naming it, before anything is written, unless
    ``skip_existing=True`` (then it is left as it is and listed under ``skipped``).

    Import is per prompt, not one transaction: each prompt's versions are written in
    ascending order, then its tags, description and aliases. If writing fails part way
    (say the database goes away), the prompts before it stay imported; the error names
    the prompt that failed and the ones already imported, and running the import again
    with ``skip_existing=True`` resumes after them (delete a half-imported prompt
    first). A prompt whose every version was deleted cannot be recreated (a prompt
    exists only through its versions): it is listed under ``skipped`` too.

    Returns ``{"prompts", "versions", "aliases"}`` counts, the ``imported`` names and
    ``skipped`` entries ``{"name", "reason"}``.
    """
    prompts = _validate_document(data)
    summary: dict[str, Any] = {"prompts": 0, "versions": 0, "aliases": 0,
                               "imported": [], "skipped": []}
    existing = {p["name"] for p in prompts
                if registry.get_prompt(p["name"], allow_missing=True) is not None}
    if existing and not skip_existing:
        names = ", ".join(repr(n) for n in sorted(existing))
        raise AlreadyExistsError(
            f"Cannot import: the target registry already has the prompt(s) {names}; "
            "nothing was imported. Delete them first, import into an empty registry, or "
            "skip them (skip_existing=True, or --skip-existing on the command line)."
        )
    for prompt in prompts:
        name = prompt["name"]
        if name in existing:
            summary["skipped"].append({"name": name, "reason": "already exists"})
        elif not prompt["versions"]:
            summary["skipped"].append(
                {"name": name, "reason": "no live versions (a prompt needs one)"}
            )
        else:
            try:
                _import_prompt(registry, prompt, summary)
            except PromptHouseError as exc:
                raise _stopped_at(exc, name, summary["imported"]) from exc
    return summary


def _import_prompt(registry: Registry, prompt: dict[str, Any], summary: dict[str, Any]) -> None:
    name = prompt["name"]
    if registry.get_prompt(name, allow_missing=True) is not None:
        raise AlreadyExistsError(f"The prompt {name!r} already exists in the target registry.")
    for v in prompt["versions"]:
        registry.import_version(
            name, v["version"], v["template"], v.get("commit_message"), v.get("tags"),
            v.get("response_format"), v.get("model_config"), user_id=v.get("user_id"),
            creation_timestamp=v.get("creation_timestamp"),
        )
        summary["versions"] += 1
    for key, value in (prompt.get("tags") or {}).items():
        registry.set_prompt_tag(name, key, value)
    if "description" in prompt:  # else the default: the first commit message
        registry.set_prompt_description(name, prompt["description"])
    for alias, version in (prompt.get("aliases") or {}).items():
        registry.set_prompt_alias(name, alias, version)
        summary["aliases"] += 1
    summary["prompts"] += 1
    summary["imported"].append(name)


def _stopped_at(exc: PromptHouseError, name: str, imported: list[str]) -> PromptHouseError:
    """``exc`` (same class) with a message saying where the import stopped."""
    done = ", ".join(repr(n) for n in imported) if imported else "none"
    message = (
        f"Import stopped at prompt {name!r}: {exc.message} Prompts imported before it: "
        f"{done}. {name!r} may be partly written: check it, delete it if so, and run the "
        "import again skipping existing prompts."
    )
    error = copy.copy(exc)
    error.args = (message,)
    error.message = message
    error.imported = list(imported)  # type: ignore[attr-defined]
    return error


# --- validation -----------------------------------------------------------------------


def _bad(where: str, problem: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"Invalid export document at {where}: {problem}")


def _validate_document(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, Mapping):
        raise _bad("the top level", f"expected a mapping with 'prompthouse_export: "
                   f"{FORMAT_VERSION}' and 'prompts', got {_kind(data)}.")
    marker = data.get("prompthouse_export")
    if marker != FORMAT_VERSION or isinstance(marker, bool):
        raise _bad("'prompthouse_export'", f"expected {FORMAT_VERSION} (the only format "
                   f"version this prompthouse reads), got {marker!r}.")
    unknown = set(data) - {"prompthouse_export", "prompts"}
    if unknown:
        raise _bad("the top level", f"unknown key(s) {_names(unknown)}; allowed: "
                   "'prompthouse_export', 'prompts'.")
    prompts = data.get("prompts")
    if not isinstance(prompts, list):
        raise _bad("'prompts'", f"expected a list of prompts, got {_kind(prompts)}.")
    seen: set[str] = set()
    for i, prompt in enumerate(prompts):
        name = _validate_prompt(prompt, f"prompts[{i}]")
        if name in seen:
            raise _bad(f"prompts[{i}]", f"the prompt {name!r} appears more than once.")
        seen.add(name)
    return prompts


def _validate_prompt(prompt: Any, where: str) -> str:
    if not isinstance(prompt, Mapping):
        raise _bad(where, f"expected a mapping with 'name' and 'versions', got {_kind(prompt)}.")
    name = prompt.get("name")
    _reword(validate_name, name, f"{where}.name")
    where = f"{where} ({name})"
    _check_keys(prompt, _PROMPT_KEYS, {"name", "versions"}, where)
    _check_optional_str(prompt, "description", where)
    _check_str_map(prompt.get("tags"), f"{where}.tags")
    versions = prompt["versions"]
    if not isinstance(versions, list):
        raise _bad(f"{where}.versions", f"expected a list of versions, got {_kind(versions)}.")
    numbers: list[int] = []
    for j, version in enumerate(versions):
        numbers.append(_validate_version(version, f"{where}.versions[{j}]"))
    if numbers != sorted(set(numbers)):
        raise _bad(f"{where}.versions", f"version numbers must be distinct and ascending, "
                   f"got {numbers}.")
    aliases = prompt.get("aliases")
    if aliases is not None:
        if not isinstance(aliases, Mapping):
            raise _bad(f"{where}.aliases", "expected a mapping of alias to version number, "
                       f"got {_kind(aliases)}.")
        for alias, number in aliases.items():
            _reword(validate_alias, alias, f"{where}.aliases")
            if isinstance(number, bool) or number not in numbers:
                raise _bad(f"{where}.aliases.{alias}", f"points at version {number!r}, which "
                           f"is not among the exported versions {numbers}.")
    return name


def _validate_version(version: Any, where: str) -> int:
    if not isinstance(version, Mapping):
        raise _bad(where, f"expected a mapping with 'version' and 'template', "
                   f"got {_kind(version)}.")
    _check_keys(version, _VERSION_KEYS, {"version", "template"}, where)
    number = version["version"]
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise _bad(f"{where}.version", f"expected a positive integer, got {number!r}.")
    _reword(validate_template, version["template"], f"{where}.template")
    for key in ("commit_message", "user_id"):
        _check_optional_str(version, key, where)
    _check_str_map(version.get("tags"), f"{where}.tags")
    for key, check in (("model_config", normalize_model_config),
                       ("response_format", normalize_response_format)):
        value = version.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise _bad(f"{where}.{key}", f"expected a mapping or null, got {_kind(value)}.")
        _reword(check, value, f"{where}.{key}")
    stamp = version.get("creation_timestamp")
    if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int)
                              or stamp < 0):
        raise _bad(f"{where}.creation_timestamp", "expected milliseconds since the epoch "
                   f"(an integer >= 0) or null, got {stamp!r}.")
    return number


def _check_keys(mapping: Mapping[str, Any], allowed: set[str], required: set[str],
                where: str) -> None:
    missing = required - set(mapping)
    if missing:
        raise _bad(where, f"missing {_names(missing)} (required: {_names(required)}).")
    unknown = set(mapping) - allowed
    if unknown:
        raise _bad(where, f"unknown key(s) {_names(unknown)}; allowed: {_names(allowed)}.")


def _check_optional_str(mapping: Mapping[str, Any], key: str, where: str) -> None:
    value = mapping.get(key)
    if value is not None and not isinstance(value, str):
        raise _bad(f"{where}.{key}", f"expected a string or null, got {_kind(value)}.")


def _check_str_map(value: Any, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise _bad(where, f"expected a mapping of strings, got {_kind(value)}.")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise _bad(where, f"tag {key!r}: {item!r}: keys and values must be strings.")


def _reword(check: Any, value: Any, where: str) -> None:
    try:
        check(value)
    except InvalidArgumentError as exc:
        raise _bad(where, exc.message) from None


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__} ({str(value)[:40]!r})"


def _names(keys: set[Any]) -> str:
    return ", ".join(repr(k) for k in sorted(keys, key=str))


# --- files ----------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` writing multi-line strings as ``|`` blocks, for readable diffs."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def format_for(path: str | Path | None, fmt: str | None = None) -> str:
    """``"yaml"`` or ``"json"``: ``fmt`` if given, else from the file extension, else YAML.

    A path whose extension is not ``.json``, ``.yaml`` or ``.yml`` without ``fmt``, or one
    that contradicts ``fmt``, raises :class:`InvalidArgumentError`.
    """
    if fmt is not None and fmt not in ("yaml", "json"):
        raise InvalidArgumentError(f"Unknown format {fmt!r}: use 'yaml' or 'json'.")
    if path is None or str(path) == "-":
        return fmt or "yaml"
    by_ext = _FORMATS.get(Path(path).suffix.lower())
    if by_ext is None and fmt is None:
        raise InvalidArgumentError(
            f"Cannot tell the format of {str(path)!r} from its extension: use .json, .yaml "
            "or .yml (or give the format)."
        )
    if by_ext is not None and fmt is not None and by_ext != fmt:
        raise InvalidArgumentError(
            f"The file {str(path)!r} has a {by_ext.upper()} extension but the format asked "
            f"for is {fmt!r}."
        )
    return fmt or by_ext  # type: ignore[return-value]


def dump_document(data: Any, path: str | Path | None = None, fmt: str | None = None) -> str:
    """Serialize ``data`` as YAML or JSON (see :func:`format_for`) and return the text.

    With ``path`` the text is also written to that file (UTF-8).
    """
    chosen = format_for(path, fmt)
    if chosen == "json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                         default_flow_style=False, width=100)
    if path is not None and str(path) != "-":
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidArgumentError(f"Cannot write {str(path)!r}: {exc.strerror}.") from None
    return text


def load_document(path: str | Path) -> Any:
    """Read a YAML (``.yaml``/``.yml``) or JSON (``.json``) file; ``-`` reads YAML or
    JSON from standard input. Unreadable or malformed input raises
    :class:`InvalidArgumentError` saying where."""
    if str(path) == "-":
        text, chosen, label = sys.stdin.read(), "yaml", "standard input"
    else:
        chosen, label = format_for(path), repr(str(path))
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise InvalidArgumentError(f"Cannot read {label}: {why}.") from None
    if chosen == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(
                f"{label} is not valid JSON: {exc.msg} at line {exc.lineno}, column "
                f"{exc.colno}."
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidArgumentError(f"{label} is not valid YAML: {problem}{where}.") from None
