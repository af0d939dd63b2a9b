"""``prompthouse migrate``: a registry copied between SQLite, PostgreSQL and MLflow (a real
``mlflow server``), renumbering into MLflow stated, and resuming after an interruption."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prompthouse.migrate import migrate_registry
from prompthouse.registry import Registry
from prompthouse.settings import Settings
from prompthouse.stores.mlflow import MlflowStore
from prompthouse.stores.sql import SqlStore
from prompthouse.transfer import export_registry
from tests.conftest import _clean_postgres
from tests.mlflow_proxy import MlflowProxy

CHAT = [
    {"role": "system", "content": "You triage tickets for {{ product }}.", "name": "sys"},
    {"role": "user", "content": "{{ ticket }}"},
]


def _fill(registry: Registry, prompts: int = 3) -> None:
    """Text and chat versions, model configs, response formats, version and prompt tags,
    aliases and a changed description: everything MLflow can hold."""
    for i in range(prompts):
        name = f"support.triage-{i}"
        registry.register_prompt(name, f"Classify {i}: {{{{ ticket }}}}", commit_message="first",
                                 tags={"team": "support"},
                                 model_config={"model_name": "gpt-4o-mini", "temperature": 0})
        registry.register_prompt(name, CHAT, commit_message="chat", tags={"team": "triage"},
                                 response_format={"type": "object"})
        registry.register_prompt(name, "Answer {{ q }}", model_config={"top_p": 0.5, "x": 1})
        registry.set_prompt_version_tag(name, 2, "quality", "good")
        registry.set_prompt_tag(name, "owner", f"ana-{i}")
        registry.set_prompt_description(name, f"Triage, take {i}")
        registry.set_prompt_alias(name, "production", 2)
        registry.set_prompt_alias(name, "staging", 3)


def _comparable(registry: Registry) -> list[dict[str, Any]]:
    """The export without what MLflow keeps itself (version timestamps and user ids)."""
    prompts = export_registry(registry)["prompts"]
    for prompt in prompts:
        for version in prompt["versions"]:
            version.pop("creation_timestamp")
            version.pop("user_id")
    return prompts


@pytest.fixture
def sqlite_registry_2(tmp_path: Path, sqlite_template: Path) -> Iterator[Registry]:
    import shutil

    path = tmp_path / "second.db"
    shutil.copy(sqlite_template, path)
    store = SqlStore(f"sqlite:///{path}")
    yield Registry(store, Settings())
    store.close()


@pytest.fixture
def postgres_registry(postgres_store: SqlStore) -> Registry:
    _clean_postgres(postgres_store)
    return Registry(postgres_store, Settings())


def test_round_trip_sqlite_mlflow_postgres_sqlite(
    sqlite_registry: Registry, mlflow_registry: Registry, postgres_registry: Registry,
    sqlite_registry_2: Registry,
) -> None:
    _fill(sqlite_registry)
    original = _comparable(sqlite_registry)
    chain = [sqlite_registry, mlflow_registry, postgres_registry, sqlite_registry_2]
    for source, target in zip(chain, chain[1:], strict=False):
        summary = migrate_registry(source, target)
        assert summary.ok
        assert summary.count("copied") == 3
        assert summary.versions == 9 and summary.aliases == 6
        assert not any(r.renumbered for r in summary.results)
        assert _comparable(target) == original, target.uri
    again = migrate_registry(sqlite_registry, mlflow_registry)
    assert again.count("present") == 3 and again.versions == 0


def test_gaps_are_kept_in_sql_and_renumbered_into_mlflow(
    sqlite_registry: Registry, mlflow_registry: Registry, sqlite_registry_2: Registry
) -> None:
    for text in ("one", "two", "three", "four"):
        sqlite_registry.register_prompt("gappy", text)
    sqlite_registry.delete_prompt_version("gappy", 2)
    sqlite_registry.set_prompt_alias("gappy", "production", 3)
    into_sql = migrate_registry(sqlite_registry, sqlite_registry_2)
    assert into_sql.results[0].renumbered == {}
    assert [v.version for v in sqlite_registry_2.list_prompt_versions("gappy")] == [4, 3, 1]

    into_mlflow = migrate_registry(sqlite_registry, mlflow_registry)
    assert into_mlflow.ok and into_mlflow.results[0].renumbered == {3: 2, 4: 3}
    assert [v.version for v in mlflow_registry.list_prompt_versions("gappy")] == [3, 2, 1]
    production = mlflow_registry.load_prompt("prompts:/gappy@production")
    assert (production.version, production.template) == (2, "three")
    assert migrate_registry(sqlite_registry, mlflow_registry).count("present") == 1


def test_what_mlflow_cannot_hold_fails_that_prompt_only(
    sqlite_registry: Registry, mlflow_registry: Registry
) -> None:
    sqlite_registry.register_prompt("team/folder", "x")
    sqlite_registry.register_prompt("plain", "x")
    summary = migrate_registry(sqlite_registry, mlflow_registry)
    assert not summary.ok and summary.stopped is None
    failed = {r.name: r.reason for r in summary.results if r.outcome == "failed"}
    assert list(failed) == ["team/folder"] and "'/'" in str(failed["team/folder"])
    assert mlflow_registry.get_prompt("plain").latest_version == 1


def test_resume_after_an_interruption(sqlite_registry: Registry, mlflow_registry: Registry,
                                      mlflow_url: str) -> None:
    _fill(sqlite_registry, prompts=5)
    proxy = MlflowProxy(mlflow_url).start()
    creates = {"n": 0, "down": False}

    def outage(method: str, path: str) -> bool:
        """MLflow goes away at the 2nd version of the 3rd prompt, and stays away."""
        if path.endswith("model-versions/create") and not creates["down"]:
            creates["n"] += 1
            creates["down"] = creates["n"] == 8
        return creates["down"]

    proxy.drop = outage
    through_proxy = Registry(MlflowStore(proxy.store_uri), Settings())
    try:
        first = migrate_registry(sqlite_registry, through_proxy)
    finally:
        through_proxy.close()
        proxy.stop()
    assert first.stopped is not None and proxy.url in first.stopped
    assert [r.outcome for r in first.results] == ["copied", "copied", "failed"]
    assert mlflow_registry.get_prompt("support.triage-2").latest_version == 1  # half copied

    second = migrate_registry(sqlite_registry, mlflow_registry)
    assert second.ok
    assert [r.outcome for r in second.results] == [
        "present", "present", "completed", "copied", "copied"]
    assert second.results[2].versions == 2 and second.results[2].aliases == 2
    assert _comparable(mlflow_registry) == _comparable(sqlite_registry)


def test_a_different_prompt_in_the_target_is_a_conflict(
    sqlite_registry: Registry, sqlite_registry_2: Registry
) -> None:
    sqlite_registry.register_prompt("same", "x")
    sqlite_registry.register_prompt("clash", "source text")
    sqlite_registry_2.register_prompt("clash", "target text")
    summary = migrate_registry(sqlite_registry, sqlite_registry_2)
    outcomes = {r.name: (r.outcome, r.reason) for r in summary.results}
    assert outcomes["same"][0] == "copied"
    assert outcomes["clash"][0] == "conflict" and "version 1" in str(outcomes["clash"][1])
    assert sqlite_registry_2.load_prompt("clash").template == "target text"  # untouched


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prompthouse", *args], capture_output=True,
                          text=True, timeout=120)


def test_the_migrate_command(tmp_path: Path, sqlite_uri: str, mlflow_url: str) -> None:
    source = Registry(SqlStore(sqlite_uri), Settings())
    _fill(source, prompts=2)
    source.register_prompt("gappy", "one")
    source.register_prompt("gappy", "two")
    source.delete_prompt_version("gappy", 1)
    source.close()
    target = f"mlflow+{mlflow_url}"
    first = _cli("migrate", "--from", sqlite_uri, "--to", target)
    assert first.returncode == 0, first.stderr
    assert f"-> {target}: 3 prompts copied (7 versions, 4 aliases written)" in first.stdout
    assert "Renumbered 'gappy' (the target numbers versions itself): 2->1" in first.stdout
    second = _cli("migrate", "--from", sqlite_uri, "--to", target)
    assert second.returncode == 0, second.stderr
    assert "0 prompts copied" in second.stdout and "3 already present" in second.stdout
    back = f"sqlite:///{tmp_path / 'back.db'}"
    assert _cli("migrate", "--from", target, "--to", back).returncode == 0
    changed = Registry(SqlStore(back), Settings())
    changed.register_prompt("gappy", "diverged")
    changed.close()
    conflict = _cli("migrate", "--from", target, "--to", back)
    assert conflict.returncode == 1
    assert "Conflict: 'gappy': the target has 2 live versions, the source 1" in conflict.stdout
