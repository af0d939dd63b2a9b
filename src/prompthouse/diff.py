"""What changed between two prompt versions (pure, no I/O).

:func:`diff_versions` answers the shape of ``GET /api/v1/prompts/{name}/diff`` (see
``docs/http-api.md``): the template as unified diffs (one part per changed message for
chat prompts), and the added, removed and changed keys of the model config, the response
format and the version tags.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from prompthouse.entities import PromptVersion

__all__ = ["diff_mappings", "diff_versions"]

_NO_NEWLINE = "\\ No newline at end of file\n"


def diff_versions(old: PromptVersion, new: PromptVersion) -> dict[str, Any]:
    """The changes from ``old`` to ``new``.

    ``template`` is a list of ``{"part", "diff"}`` entries, ``[]`` when the template did
    not change: one ``"template"`` part for text prompts (and for a change between text
    and chat, which diffs the text against the messages as JSON), one
    ``"message N (role)"`` part per changed message for chat prompts, aligned by index
    (an added or removed message is diffed against empty text). Each ``diff`` is a
    unified diff from ``name/old`` to ``name/new``, every line ending in a newline.
    """
    fromfile, tofile = f"{old.name}/{old.version}", f"{new.name}/{new.version}"
    return {
        "name": new.name,
        "from": old.version,
        "to": new.version,
        "template": _template_parts(old.template, new.template, fromfile, tofile),
        "model_config": diff_mappings(old.model_config, new.model_config),
        "response_format": diff_mappings(old.response_format, new.response_format),
        "tags": diff_mappings(old.tags, new.tags),
    }


def diff_mappings(old: Mapping[str, Any] | None,
                  new: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Top-level keys ``added`` (new value), ``removed`` (old value), ``changed`` ([old, new])."""
    old, new = old or {}, new or {}
    return {
        "added": {k: v for k, v in new.items() if k not in old},
        "removed": {k: v for k, v in old.items() if k not in new},
        "changed": {k: [old[k], v] for k, v in new.items() if k in old and old[k] != v},
    }


def _template_parts(old: Any, new: Any, fromfile: str, tofile: str) -> list[dict[str, str]]:
    if old == new:
        return []
    if isinstance(old, str) or isinstance(new, str):
        text = _unified(_render_template(old), _render_template(new), fromfile, tofile)
        return [{"part": "template", "diff": text}]
    parts = []
    for index in range(max(len(old), len(new))):
        before = old[index] if index < len(old) else None
        after = new[index] if index < len(new) else None
        if before == after:
            continue
        old_text, new_text = _render_pair(before, after)
        parts.append({
            "part": f"message {index} ({_role(before, after)})",
            "diff": _unified(old_text, new_text, fromfile, tofile),
        })
    return parts


def _render_template(template: Any) -> str:
    """A text template as it is; a chat template as indented JSON."""
    if isinstance(template, str):
        return template
    return _json(template) + "\n"


def _render_pair(before: dict[str, Any] | None,
                 after: dict[str, Any] | None) -> tuple[str, str]:
    """The texts to diff for one message slot.

    The content alone when that is all that differs (or the message was added or
    removed) and it is text; otherwise each message as JSON, so a changed role or extra
    key shows in the diff too.
    """
    if before is None or after is None:
        present = before if after is None else after
        text = _content_text(present)
        return ("", text) if before is None else (text, "")
    rest_before = {k: v for k, v in before.items() if k != "content"}
    rest_after = {k: v for k, v in after.items() if k != "content"}
    if rest_before == rest_after:
        return _content_text(before), _content_text(after)
    return _json(before) + "\n", _json(after) + "\n"


def _content_text(message: Mapping[str, Any]) -> str:
    """A plain ``{"role", "content": str}`` message's content; any other one as JSON."""
    content = message["content"]
    if isinstance(content, str) and set(message) == {"role", "content"}:
        return content
    return _json(dict(message)) + "\n"


def _role(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str:
    if before is None or after is None:
        return str((before or after or {}).get("role"))
    if before.get("role") != after.get("role"):
        return f"{before.get('role')} -> {after.get('role')}"
    return str(after.get("role"))


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _lines(text: str) -> list[str]:
    """Lines split on ``\\n`` only, each keeping its newline (the last may lack one)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _unified(old: str, new: str, fromfile: str, tofile: str) -> str:
    """A unified diff whose every line ends in a newline.

    Templates and message contents seldom end in a newline, so when neither text does,
    both are diffed as if they did; when only one does, the other's last line carries
    GNU diff's ``\\ No newline at end of file`` marker, so that change shows too.
    """
    if not old.endswith("\n") and not new.endswith("\n"):
        old, new = (text + "\n" if text else text for text in (old, new))
    out = []
    for line in difflib.unified_diff(_lines(old), _lines(new), fromfile, tofile, lineterm="\n"):
        out.append(line if line.endswith("\n") else line + "\n" + _NO_NEWLINE)
    return "".join(out)
