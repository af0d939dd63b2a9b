"""The README's Python examples run as written (those that need no outside service).

A line whose comment starts with an error class name (``# MissingVariablesError: ...``)
must raise that error; everything else must run cleanly, in order, in a fresh directory.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import prompthouse

README = Path(__file__).resolve().parent.parent / "README.md"
NEEDS_SERVICE = ("PROMPTHOUSE_URL", "http://", "postgresql://", "LlamaStackClient")
EXPECTS_ERROR = re.compile(r"#\s*(\w+Error)\b")


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_readme_has_runnable_examples() -> None:
    runnable = [b for b in _blocks() if not any(marker in b for marker in NEEDS_SERVICE)]
    assert len(runnable) >= 2


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROMPTHOUSE_URL", raising=False)
    monkeypatch.delenv("PROMPTHOUSE_STORE_URI", raising=False)
    prompthouse.set_default_registry(None)
    namespace: dict[str, object] = {}
    try:
        for block in _blocks():
            if any(marker in block for marker in NEEDS_SERVICE):
                continue
            pending: list[str] = []
            for line in block.splitlines():
                expected = EXPECTS_ERROR.search(line)
                if expected and hasattr(prompthouse, expected.group(1)):
                    exec("\n".join(pending), namespace)  # noqa: S102 - our own README
                    pending = []
                    with pytest.raises(getattr(prompthouse, expected.group(1))):
                        exec(line, namespace)  # noqa: S102
                else:
                    pending.append(line)
            exec("\n".join(pending), namespace)  # noqa: S102
    finally:
        prompthouse.get_default_registry().close()
        prompthouse.set_default_registry(None)
