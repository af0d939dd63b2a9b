"""Copy a whole registry from one store to another (``prompthouse migrate``).

Each prompt is exported and imported with :mod:`prompthouse.transfer`, one prompt at a
time: its live versions (template, commit message, tags, model config, response format),
then its tags, description and aliases. Between SQL stores (SQLite, PostgreSQL) version
numbers are kept, gaps included. MLflow numbers versions itself, so into an MLflow store
the versions of a prompt with gaps become 1, 2, 3, ... in order; aliases follow their
versions, and the summary lists every renumbered prompt.

Resuming: what decides is the target, not a log. For each source prompt:

- absent from the target: copied whole;
- the target holds the same first versions (compared in order by number and content:
  template, commit message, tags, model config, response format): the missing versions
  are copied, then the source's tags, description and aliases are set where the target's
  differ ("completed", or "already present" when nothing was missing). Tags and aliases
  only the target has are left alone;
- any other difference: a conflict, left untouched and reported.

So running the same migration again after an interruption (or a failure) finishes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from prompthouse.entities import Prompt, PromptVersion
from prompthouse.errors import PromptHouseError, UnavailableError
from prompthouse.registry import Registry
from prompthouse.transfer import (
    FORMAT_VERSION,
    _all_prompts,
    _all_versions,
    _export_prompt,
    import_registry,
)

__all__ = ["MigrationSummary", "PromptResult", "list_prompts", "migrate_prompt",
           "migrate_registry"]

Outcome = Literal["copied", "completed", "present", "empty", "conflict", "failed"]


@dataclass
class PromptResult:
    """What migrating one prompt did."""

    name: str
    outcome: Outcome
    versions: int = 0
    """Versions written to the target."""
    aliases: int = 0
    """Aliases set in the target."""
    renumbered: dict[int, int] = field(default_factory=dict)
    """Source version number -> target number, for the numbers that changed."""
    reason: str | None = None
    """Why a prompt was a conflict, failed or was empty."""


@dataclass
class MigrationSummary:
    """Every prompt's result, and why the run stopped early if it did."""

    results: list[PromptResult] = field(default_factory=list)
    stopped: str | None = None

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def versions(self) -> int:
        return sum(r.versions for r in self.results)

    @property
    def aliases(self) -> int:
        return sum(r.aliases for r in self.results)

    @property
    def ok(self) -> bool:
        """True when every prompt is in the target (no conflict, failure or stop)."""
        return self.stopped is None and not (self.count("conflict") or self.count("failed"))


def list_prompts(registry: Registry) -> list[Prompt]:
    """Every prompt of ``registry``, in name order."""
    return list(_all_prompts(registry))


def migrate_registry(source: Registry, target: Registry, *,
                     prompts: list[Prompt] | None = None,
                     on_prompt: Callable[[PromptResult], None] | None = None
                     ) -> MigrationSummary:
    """Copy every prompt of ``source`` (or ``prompts``) into ``target``; see the module.

    A prompt that fails is reported and the next one is tried; an unavailable store
    stops the run (``stopped`` says why; running it again resumes). ``on_prompt`` is
    called after each prompt (a progress bar).
    """
    summary = MigrationSummary()
    for prompt in list_prompts(source) if prompts is None else prompts:
        try:
            result = migrate_prompt(source, target, prompt)
        except PromptHouseError as exc:
            root = exc.__cause__ if isinstance(exc.__cause__, PromptHouseError) else exc
            result = PromptResult(prompt.name, "failed", reason=root.message)
            if isinstance(exc, UnavailableError):
                summary.stopped = root.message
        summary.results.append(result)
        if on_prompt is not None:
            on_prompt(result)
        if summary.stopped:
            break
    return summary


def migrate_prompt(source: Registry, target: Registry, prompt: Prompt) -> PromptResult:
    """Copy one prompt, or finish copying it; see the module for how it decides."""
    doc = _export_prompt(source, prompt)
    name = doc["name"]
    if not doc["versions"]:
        return PromptResult(name, "empty", reason="no live versions (a prompt needs one)")
    numbers = [v["version"] for v in doc["versions"]]
    store = getattr(target, "store", None)
    if getattr(store, "assigns_version_numbers", False):
        mapping = {n: i for i, n in enumerate(numbers, 1)}
    else:
        mapping = {n: n for n in numbers}
    renumbered = {s: t for s, t in mapping.items() if s != t}
    doc = {**doc,
           "versions": [{**v, "version": mapping[v["version"]]} for v in doc["versions"]],
           "aliases": {a: mapping[n] for a, n in doc["aliases"].items()}}
    if target.get_prompt(name, allow_missing=True) is None:
        done = import_registry(target, {"prompthouse_export": FORMAT_VERSION,
                                        "prompts": [doc]})
        return PromptResult(name, "copied", done["versions"], done["aliases"], renumbered)
    return _complete(target, doc, renumbered)


def _content(number: int, template: Any, commit_message: str | None, tags: Any,
             model_config: Any, response_format: Any) -> tuple[Any, ...]:
    """What must be equal for a target version to count as a copy of a source version
    (an empty commit message is no commit message: MLflow keeps no empty strings)."""
    return number, template, commit_message or None, dict(tags or {}), model_config, \
        response_format


def _stored(v: PromptVersion) -> tuple[Any, ...]:
    return _content(v.version, v.template, v.commit_message, v.tags, v.model_config,
                    v.response_format)


def _exported(v: Mapping[str, Any]) -> tuple[Any, ...]:
    return _content(v["version"], v["template"], v.get("commit_message"), v.get("tags"),
                    v.get("model_config"), v.get("response_format"))


def _complete(target: Registry, doc: dict[str, Any], renumbered: dict[int, int]
              ) -> PromptResult:
    name = doc["name"]
    have = _all_versions(target, name)
    want = doc["versions"]
    if len(have) > len(want):
        return PromptResult(name, "conflict", reason=(
            f"the target has {len(have)} live versions, the source {len(want)}"))
    for got, wanted in zip(have, want, strict=False):
        if _stored(got) != _exported(wanted):
            return PromptResult(name, "conflict", reason=(
                f"version {got.version} in the target is not the source's version "
                f"{wanted['version']} (template, commit message, tags or configs differ)"))
    result = PromptResult(name, "present", renumbered=renumbered)
    for v in want[len(have):]:
        target.import_version(
            name, v["version"], v["template"], v.get("commit_message"), v.get("tags"),
            v.get("response_format"), v.get("model_config"), user_id=v.get("user_id"),
            creation_timestamp=v.get("creation_timestamp"),
        )
        result.versions += 1
    current = target.get_prompt(name)
    assert current is not None  # it has versions
    wrote = result.versions > 0
    for key, value in doc["tags"].items():
        if current.tags.get(key) != value:
            target.set_prompt_tag(name, key, value)
            wrote = True
    if (current.description or None) != (doc["description"] or None):
        target.set_prompt_description(name, doc["description"])
        wrote = True
    for alias, number in doc["aliases"].items():
        if current.aliases.get(alias) != number:
            target.set_prompt_alias(name, alias, number)
            result.aliases += 1
            wrote = True
    if wrote:
        result.outcome = "completed"
    return result
