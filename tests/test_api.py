"""The module-level API acts on the default registry from PROMPTHOUSE_STORE_URI."""

from __future__ import annotations

from pathlib import Path

import pytest

import prompthouse


@pytest.fixture
def default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    uri = f"sqlite:///{tmp_path}/default.db"
    monkeypatch.setenv("PROMPTHOUSE_STORE_URI", uri)
    prompthouse.set_default_registry(None)
    yield uri
    prompthouse.get_default_registry().close()
    prompthouse.set_default_registry(None)


def test_every_module_function_works(default_store: str) -> None:
    v1 = prompthouse.register_prompt("qa", "Q: {{ q }}", commit_message="first",
                                     tags={"team": "a"}, model_config={"temperature": 0.2})
    assert prompthouse.get_default_registry().uri == default_store
    prompthouse.register_prompt("qa", "Question: {{ q }}")
    prompthouse.set_prompt_alias("qa", "production", 1)
    assert prompthouse.load_prompt("prompts:/qa@production") == prompthouse.load_prompt("qa", 1)
    assert prompthouse.load_prompt("qa").version == 2
    assert v1.format(q="why") == "Q: why"
    prompthouse.set_prompt_tag("qa", "owner", "ana")
    prompthouse.set_prompt_version_tag("qa", 1, "reviewed", "yes")
    prompthouse.set_prompt_model_config("qa", 1, {"temperature": 0.5})
    prompthouse.set_prompt_description("qa", "answers")
    prompt = prompthouse.get_prompt("qa")
    assert prompt.tags == {"team": "a", "owner": "ana"}
    assert prompt.description == "answers"
    loaded = prompthouse.load_prompt("qa", 1)
    assert loaded.tags == {"team": "a", "reviewed": "yes"}
    assert loaded.model_config == {"temperature": 0.5}
    assert [p.name for p in prompthouse.search_prompts("tags.owner = 'ana'")] == ["qa"]
    assert [p.name for p in prompthouse.search_prompts(alias="production")] == ["qa"]
    assert [v.version for v in prompthouse.list_prompt_versions("qa")] == [2, 1]
    prompthouse.delete_prompt_model_config("qa", 1)
    prompthouse.delete_prompt_version_tag("qa", 1, "reviewed")
    prompthouse.delete_prompt_tag("qa", "owner")
    prompthouse.delete_prompt_alias("qa", "production")
    assert prompthouse.load_prompt("qa", 1).model_config is None
    assert prompthouse.delete_prompt_version("qa", 2) == []
    prompthouse.delete_prompt("qa")
    assert prompthouse.get_prompt("qa", allow_missing=True) is None


def test_connect_returns_independent_registries(tmp_path: Path) -> None:
    reg = prompthouse.connect(f"sqlite:///{tmp_path}/x.db")
    try:
        assert isinstance(reg, prompthouse.Registry)
        reg.register_prompt("a", "b")
        assert reg.get_prompt("a").latest_version == 1
    finally:
        reg.close()


def test_settings_come_from_a_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "prompthouse.yaml"
    config.write_text(f"store_uri: sqlite:///{tmp_path}/from-file.db\nmax_template_chars: 5\n")
    monkeypatch.delenv("PROMPTHOUSE_STORE_URI", raising=False)
    reg = prompthouse.connect(config_file=config)
    try:
        assert reg.uri.endswith("from-file.db")
        with pytest.raises(prompthouse.InvalidArgumentError, match="limit is 5"):
            reg.register_prompt("a", "too long")
    finally:
        reg.close()
    monkeypatch.setenv("PROMPTHOUSE_MAX_TEMPLATE_CHARS", "50")  # env beats the file
    reg = prompthouse.connect(config_file=config)
    try:
        reg.register_prompt("a", "now fits")
    finally:
        reg.close()


def test_bad_settings_and_uris_are_clear_errors(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(prompthouse.InvalidArgumentError, match="Unsupported store URI"):
        prompthouse.connect("mysql://localhost/db")
    monkeypatch.setenv("PROMPTHOUSE_ALIAS_CACHE_TTL_SECONDS", "-3")
    with pytest.raises(prompthouse.InvalidArgumentError, match="alias_cache_ttl_seconds"):
        prompthouse.connect(f"sqlite:///{tmp_path}/x.db")
    bad = tmp_path / "bad.yaml"
    bad.write_text("store_uri: [unclosed\n")
    with pytest.raises(prompthouse.InvalidArgumentError, match="not valid YAML"):
        prompthouse.connect(config_file=bad)


def test_unreachable_database_is_unavailable_without_password() -> None:
    with pytest.raises(prompthouse.UnavailableError) as info:
        prompthouse.connect("postgresql://user:s3cret@127.0.0.1:1/nope")
    assert "s3cret" not in str(info.value)
    assert "127.0.0.1:1" in str(info.value)
