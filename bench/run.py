"""The state one benchmark run carries from section to section."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.profiles import Profile
from bench.report import Report

#: The prompt every system serves for the per-call and load measurements.
NAME = "bench-qa"
TEMPLATE = "Answer the question {{ question }} in the style {{ style }}."
ALIAS_URI = f"prompts:/{NAME}@production"
VERSION_URI = f"prompts:/{NAME}/2"


@dataclass
class Run:
    profile: Profile
    report: Report
    workdir: Path
    postgres_url: str | None  # None: PostgreSQL skipped (the reason is in the notes)
    started: float = field(default_factory=time.monotonic)

    def say(self, message: str) -> None:
        """A progress line on stderr (the tables go to stdout)."""
        print(f"[{time.monotonic() - self.started:5.0f}s] {message}", file=sys.stderr,
              flush=True)


def seed(registry: Any) -> None:
    """Three versions of :data:`NAME`, alias ``production`` on version 2.

    ``registry`` is ``mlflow.genai`` or a prompthouse registry: the same calls.
    """
    for i in range(3):
        registry.register_prompt(NAME, TEMPLATE, commit_message=f"seed {i + 1}")
    registry.set_prompt_alias(NAME, "production", 2)
