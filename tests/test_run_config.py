"""A Llama Stack run.yaml as prompthouse's config: the seed's ``prompts:`` provider list,
``${env.VAR...}`` substitution, clear errors, and ``prompthouse serve --config run.yaml``
as a real process driven by the real ``llama_stack_client``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from llama_stack_client import LlamaStackClient

from prompthouse.errors import InvalidArgumentError
from prompthouse.run_config import run_config_settings, substitute_env
from prompthouse.settings import Settings, load_settings
from tests.test_serve_command import _serve, _stop

KNOWN = set(Settings.model_fields)


def _run_yaml(store: dict[str, Any], provider_type: str = "inline::reference",
              **extra: Any) -> dict[str, Any]:
    """The seed's shape: one prompts provider with a store under run_config."""
    return {
        "prompts": [{
            "provider_id": "reference-prompts",
            "provider_type": provider_type,
            "config": {"run_config": {"storage": {"stores": {"prompts": store}}}},
        }],
        **extra,
    }


def _settings(data: dict[str, Any]) -> dict[str, Any]:
    return run_config_settings(data, "run.yaml", KNOWN)


def test_sqlite_and_postgres_stores_become_store_uris() -> None:
    assert _settings(_run_yaml({"type": "sqlite", "db_path": "./prompts.db"})) == {
        "store_uri": "sqlite:///./prompts.db"
    }
    assert _settings(_run_yaml({"type": "sqlite", "db_path": "/srv/p.db"}))["store_uri"] == \
        "sqlite:////srv/p.db"
    url = "postgresql://user:pass@localhost/llama_stack"
    assert _settings(_run_yaml({"type": "postgres", "url": url}))["store_uri"] == url
    assert _settings(_run_yaml({"type": "postgres", "url": "postgres://u@h/d"}))[
        "store_uri"] == "postgresql://u@h/d"
    fields = {"type": "postgres", "host": "db", "port": 5433, "db": "ls", "user": "u",
              "password": "p@ss"}
    assert _settings(_run_yaml(fields))["store_uri"] == "postgresql://u:p%40ss@db:5433/ls"


def test_the_providers_section_of_a_full_run_yaml_works_too() -> None:
    full = {
        "version": 2, "image_name": "starter", "apis": ["inference", "prompts"],
        "providers": {
            "inference": [{"provider_id": "x", "provider_type": "remote::ollama",
                           "config": {"url": "${env.NEVER_SET_FOR_THIS_TEST}"}}],
            **_run_yaml({"type": "sqlite", "db_path": "p.db"}),
        },
        "server": {"port": 8321},
    }
    assert _settings(full) == {"store_uri": "sqlite:///p.db"}  # the rest is not read
    disabled = _run_yaml({"type": "sqlite", "db_path": "p.db"})
    disabled["prompts"].insert(0, {"provider_id": "__disabled__", "provider_type": "x"})
    assert _settings(disabled)["store_uri"] == "sqlite:///p.db"


def test_env_substitution_as_llama_stack_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PH_SET", "value")
    monkeypatch.setenv("PH_EMPTY", "")
    monkeypatch.setenv("PH_NUMBER", "12")
    monkeypatch.delenv("PH_UNSET", raising=False)
    assert substitute_env("${env.PH_SET}") == "value"
    assert substitute_env("a-${env.PH_SET}-${env.PH_UNSET:=b}") == "a-value-b"
    assert substitute_env("${env.PH_EMPTY:=fallback}") == "fallback"
    assert substitute_env("${env.PH_SET:=fallback}") == "value"
    assert substitute_env("${env.PH_UNSET:=}") is None
    assert substitute_env("${env.PH_SET:+on}") == "on"
    assert substitute_env("${env.PH_UNSET:+on}") is None
    assert substitute_env("${env.PH_NUMBER}") == 12
    assert substitute_env("${env.PH_UNSET:=true}") is True
    assert substitute_env("${env.PH_UNSET:=0.5}") == 0.5
    assert substitute_env("${env.PH_UNSET:=~/p.db}") == str(Path.home() / "p.db")
    assert substitute_env({"k": ["${env.PH_SET}", 3]}) == {"k": ["value", 3]}
    assert substitute_env("no ${braces} here") == "no ${braces} here"
    with pytest.raises(InvalidArgumentError) as err:
        substitute_env({"a": [{"b": "${env.PH_UNSET}"}]})
    assert "a[0].b" in err.value.message and "'PH_UNSET' is not set" in err.value.message
    assert "${env.PH_UNSET:=default}" in err.value.message


def test_own_settings_in_the_same_file_are_substituted_too(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PH_DIR", "/data")
    monkeypatch.delenv("PH_TTL", raising=False)
    data = _run_yaml({"type": "sqlite", "db_path": "${env.PH_DIR}/prompts.db"},
                     alias_cache_ttl_seconds="${env.PH_TTL:=5}", unrelated="${env.NOPE}")
    assert _settings(data) == {"store_uri": "sqlite:////data/prompts.db",
                               "alias_cache_ttl_seconds": 5}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"prompts": {"provider_type": "inline::reference"}}, "prompts must be a list"),
        ({"prompts": []}, "exactly one provider"),
        (_run_yaml({"type": "sqlite", "db_path": "a"}) | {"prompts": [
            _run_yaml({"type": "sqlite", "db_path": "a"})["prompts"][0]] * 2},
         "exactly one provider (prompthouse serves one store), not 2"),
        ({"prompts": ["inline::reference"]}, "prompts[0] must be a mapping"),
        ({"prompts": [{"provider_type": "remote::mlflow",
                       "config": {"mlflow_tracking_uri": "file:///tmp/mlruns"}}]},
         "must be an http:// or https:// URL of an MLflow server"),
        (_run_yaml({}, provider_type="inline::other"),
         "prompts[0].provider_type must be 'inline::reference' or 'remote::mlflow'"),
        ({"prompts": [{"provider_type": "inline::reference", "config": {}}]},
         "prompts[0].config.run_config is missing"),
        (_run_yaml({"type": "redis"}),
         "prompts[0].config.run_config.storage.stores.prompts.type must be 'sqlite'"),
        (_run_yaml({"type": "sqlite"}), "stores.prompts.db_path must be the SQLite file's"),
        (_run_yaml({"type": "postgres", "url": "mysql://x"}), "stores.prompts.url must be"),
        (_run_yaml({"type": "postgres", "port": "x"}), "stores.prompts.port must be"),
        (_run_yaml({"type": "sqlite", "db_path": "a"}, store_uri="sqlite:///b"),
         "either as store_uri or as the prompts provider"),
    ],
)
def test_bad_run_yaml_names_the_key_and_what_is_allowed(data: dict[str, Any],
                                                        words: str) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        _settings(data)
    assert err.value.message.startswith("run.yaml: ")
    assert words in err.value.message


def test_load_settings_reads_a_run_yaml(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTHOUSE_STORE_URI", raising=False)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(_run_yaml({"type": "sqlite", "db_path": "x.db"},
                                             cache_max_entries=7)))
    settings = load_settings(path)
    assert (settings.store_uri, settings.cache_max_entries) == ("sqlite:///x.db", 7)
    monkeypatch.setenv("PROMPTHOUSE_STORE_URI", "sqlite:///env.db")  # env beats the file
    assert load_settings(path).store_uri == "sqlite:///env.db"


def test_a_postgres_run_yaml_opens_the_database(tmp_path: Path, fresh_postgres_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from prompthouse.api import connect

    monkeypatch.delenv("PROMPTHOUSE_STORE_URI", raising=False)
    monkeypatch.setenv("PH_PG_URL", fresh_postgres_url)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(_run_yaml({"type": "postgres", "url": "${env.PH_PG_URL}"})))
    registry = connect(config_file=path)
    try:
        assert registry.uri.startswith("postgresql")
        registry.register_prompt("qa", "x")
        assert registry.get_prompt("qa").latest_version == 1  # type: ignore[union-attr]
    finally:
        registry.close()


SEED_RUN_YAML = """\
prompts:
  - provider_id: reference-prompts
    provider_type: inline::reference
    config:
      run_config:
        storage:
          stores:
            prompts:
              type: sqlite
              db_path: ${env.PH_TEST_DB_DIR:=./nowhere}/prompts.db
"""


@pytest.mark.slow
def test_serve_with_the_seed_run_yaml_and_the_quick_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's quick start, unchanged but for the base URL, against the real server."""
    monkeypatch.delenv("PROMPTHOUSE_STORE_URI", raising=False)
    monkeypatch.setenv("PH_TEST_DB_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "run.yaml").write_text(SEED_RUN_YAML)
    proc, url, _log = _serve(tmp_path, "--config", "run.yaml")
    try:
        client = LlamaStackClient(base_url=url)
        prompt = client.prompts.create(
            prompt="Summarize the following text in {{ num_sentences }} sentences:\n\n"
                   "{{ text }}",
            variables=["num_sentences", "text"],
        )
        retrieved = client.prompts.retrieve(prompt_id=prompt.prompt_id)
        assert retrieved.prompt.startswith("Summarize the following")
        updated = client.prompts.update(
            prompt_id=prompt.prompt_id,
            prompt="Summarize in exactly {{ num_sentences }} sentences:\n\n{{ text }}",
            version=1,
            set_as_default=True,
        )
        assert updated.version == 2
        prompts = client.prompts.list()
        assert len(prompts) == 1
        client.prompts.delete(prompt_id=prompt.prompt_id)
        assert client.prompts.list() == []
    finally:
        _stop(proc)
    assert (tmp_path / "data" / "prompts.db").exists()  # the substituted path
    assert not (tmp_path / "prompthouse.db").exists()


def test_the_mlflow_provider_maps_to_the_mlflow_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok")
    data = {"prompts": [{
        "provider_id": "mlflow-prompts",
        "provider_type": "remote::mlflow",
        "config": {"mlflow_tracking_uri": "http://mlflow.internal:5000/",
                   "experiment_name": "team prompts",
                   "auth_credential": "${env.MLFLOW_TRACKING_TOKEN:=}"},
    }]}
    assert _settings(data) == {
        "store_uri": "mlflow+http://mlflow.internal:5000?experiment_name=team+prompts",
        "mlflow_token": "tok",
    }
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    bare = {"prompts": [{"provider_type": "remote::mlflow", "config": {
        "mlflow_tracking_uri": "http://a:5000", "mlflow_registry_uri": "https://b:5000",
        "auth_credential": "${env.MLFLOW_TRACKING_TOKEN:=}"}}]}
    assert _settings(bare) == {
        "store_uri": "mlflow+https://b:5000?experiment_name=llama-stack-prompts"
    }


@pytest.mark.slow
def test_serve_the_seed_quick_start_over_an_mlflow_server(
    tmp_path: Path, mlflow_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's remote::mlflow config: the quick start with the real llama_stack_client,
    the prompts landing in MLflow where MLflow's own client reads them."""
    import mlflow

    monkeypatch.delenv("PROMPTHOUSE_STORE_URI", raising=False)
    monkeypatch.setenv("PH_MLFLOW_URL", mlflow_url)
    (tmp_path / "run.yaml").write_text(
        "prompts:\n"
        "  - provider_id: mlflow-prompts\n"
        "    provider_type: remote::mlflow\n"
        "    config:\n"
        "      mlflow_tracking_uri: ${env.PH_MLFLOW_URL:=http://localhost:5000}\n"
        "      experiment_name: llama-stack-prompts\n"
        "      auth_credential: ${env.MLFLOW_TRACKING_TOKEN:=}\n"
    )
    proc, url, _log = _serve(tmp_path, "--config", "run.yaml")
    try:
        client = LlamaStackClient(base_url=url)
        made = client.prompts.create(prompt="Hi {{ name }}", variables=["name"])
        assert made.version == 1 and made.is_default
        updated = client.prompts.update(prompt_id=made.prompt_id, prompt="Hello {{ name }}",
                                        version=1, set_as_default=True)
        assert updated.version == 2
        assert [p.prompt for p in client.prompts.list()] == ["Hello {{ name }}"]
        client.prompts.set_default_version(prompt_id=made.prompt_id, version=1)
        assert client.prompts.retrieve(prompt_id=made.prompt_id).prompt == "Hi {{ name }}"
        mlflow.set_registry_uri(mlflow_url)
        seen = mlflow.genai.load_prompt(f"prompts:/{made.prompt_id}@default",
                                        cache_ttl_seconds=0)
        assert (seen.version, seen.template) == (1, "Hi {{ name }}")
        client.prompts.delete(prompt_id=made.prompt_id)
        assert client.prompts.list() == []
    finally:
        _stop(proc)
