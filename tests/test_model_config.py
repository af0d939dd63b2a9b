"""PromptModelConfig validation and (de)serialisation; response_format on PromptVersion."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from prompthouse import InvalidArgumentError, PromptModelConfig, PromptVersion

FULL = {
    "provider": "openai",
    "model_name": "gpt-4o",
    "temperature": 0.7,
    "max_tokens": 1000,
    "top_p": 0.9,
    "top_k": 40,
    "frequency_penalty": -0.5,
    "presence_penalty": 1.5,
    "stop_sequences": ["\n\n", "END"],
}


def test_valid_fields_are_kept():
    config = PromptModelConfig.from_dict(FULL)
    assert config.provider == "openai"
    assert config.model_name == "gpt-4o"
    assert config.temperature == 0.7
    assert config.max_tokens == 1000
    assert config.top_p == 0.9
    assert config.top_k == 40
    assert config.frequency_penalty == -0.5
    assert config.presence_penalty == 1.5
    assert config.stop_sequences == ["\n\n", "END"]
    assert config.extra_params == {}
    assert config.to_dict() == FULL


@pytest.mark.parametrize(
    "data",
    [
        {"temperature": 0},
        {"top_p": 0},
        {"top_p": 1},
        {"max_tokens": 1},
        {"top_k": 1},
        {"stop_sequences": []},
        {},
    ],
)
def test_boundary_values_are_valid(data):
    assert PromptModelConfig.from_dict(data).to_dict() == data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"temperature": -1}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": -5}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": -0.1}, "top_p"),
        ({"top_k": 0}, "top_k"),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"stop_sequences": [1, 2]}, "stop_sequences"),
        ({"stop_sequences": ["ok", None]}, "stop_sequences"),
        ({"model_name": 3}, "model_name"),
    ],
)
def test_invalid_values_name_the_field(data, field):
    with pytest.raises(InvalidArgumentError) as info:
        PromptModelConfig.from_dict(data)
    message = str(info.value)
    assert message.startswith("Invalid model config")
    assert field in message
    assert repr(data[field]) in message or field + "." in message
    assert info.value.code == "INVALID_ARGUMENT"


def test_every_invalid_field_is_reported_at_once():
    with pytest.raises(InvalidArgumentError) as info:
        PromptModelConfig.from_dict({"temperature": -1, "top_k": 0, "model_name": "m"})
    assert "temperature" in str(info.value) and "top_k" in str(info.value)
    assert "model_name" not in str(info.value)


@pytest.mark.parametrize("data", [None, "temperature=1", [("temperature", 1)], 3])
def test_from_dict_needs_a_mapping(data):
    with pytest.raises(InvalidArgumentError, match="A model config is a dict"):
        PromptModelConfig.from_dict(data)


def test_invalid_model_config_on_prompt_version():
    with pytest.raises(InvalidArgumentError, match="top_p"):
        PromptVersion("p", 1, "x", model_config={"top_p": 1.5})


def test_to_dict_drops_none_and_flattens_extra_params():
    config = PromptModelConfig(
        model_name="m", temperature=None, max_tokens=10,
        extra_params={"anthropic_version": "2023-06-01", "meta": {"cache": True}},
    )
    assert config.to_dict() == {
        "model_name": "m",
        "max_tokens": 10,
        "anthropic_version": "2023-06-01",
        "meta": {"cache": True},
    }
    assert "extra_params" not in config.to_dict()
    assert PromptModelConfig().to_dict() == {}


def test_from_dict_moves_unknown_keys_to_extra_params():
    data = {"model_name": "m", "temperature": 0.1, "seed": 42, "logit_bias": {"50256": -100}}
    config = PromptModelConfig.from_dict(data)
    assert config.model_name == "m" and config.temperature == 0.1
    assert config.extra_params == {"seed": 42, "logit_bias": {"50256": -100}}
    assert config.to_dict() == data


def test_from_dict_merges_an_explicit_extra_params():
    config = PromptModelConfig.from_dict(
        {"model_name": "m", "extra_params": {"a": 1}, "b": 2}
    )
    assert config.extra_params == {"a": 1, "b": 2}
    assert config.to_dict() == {"model_name": "m", "a": 1, "b": 2}


@pytest.mark.parametrize(
    "data",
    [FULL, {"model_name": "m", "seed": 1, "nested": {"x": [1, 2]}}, {}, {"unknown": None}],
)
def test_round_trip(data):
    config = PromptModelConfig.from_dict(data)
    again = PromptModelConfig.from_dict(config.to_dict())
    assert again == config
    assert again.to_dict() == config.to_dict()


def test_prompt_version_stores_model_config_as_a_flat_dict():
    from_dict = PromptVersion("p", 1, "x", model_config={"model_name": "m", "seed": 7})
    from_model = PromptVersion(
        "p", 1, "x", model_config=PromptModelConfig(model_name="m", extra_params={"seed": 7})
    )
    assert from_dict.model_config == {"model_name": "m", "seed": 7}
    assert from_model.model_config == from_dict.model_config
    assert PromptVersion("p", 1, "x").model_config is None


def test_model_config_must_be_json():
    with pytest.raises(InvalidArgumentError, match="JSON-serializable"):
        PromptVersion("p", 1, "x", model_config={"callback": object()})


# --- response_format ------------------------------------------------------------------


class Answer(BaseModel):
    answer: str
    confidence: float
    sources: list[str] = []


def test_pydantic_model_class_is_stored_as_its_json_schema():
    prompt = PromptVersion("p", 1, "x", response_format=Answer)
    schema = prompt.response_format
    assert schema == Answer.model_json_schema()
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"answer", "confidence", "sources"}
    assert schema["required"] == ["answer", "confidence"]


def test_dict_response_format_is_kept():
    schema = {
        "type": "object",
        "properties": {"summary": {"type": "string"}},
        "required": ["summary"],
    }
    prompt = PromptVersion("p", 1, "x", response_format=schema)
    assert prompt.response_format == schema
    assert PromptVersion("p", 1, "x").response_format is None


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ("json", "str"),
        (3, "int"),
        ([{"type": "object"}], "list"),
        (Answer(answer="a", confidence=1.0), "Answer"),
        (dict, "type"),
    ],
)
def test_other_response_formats_are_refused(value, type_name):
    with pytest.raises(InvalidArgumentError) as info:
        PromptVersion("p", 1, "x", response_format=value)
    assert "pydantic model class or a JSON-schema dict" in str(info.value)
    assert f"not {type_name}" in str(info.value)


def test_response_format_dict_must_be_json():
    with pytest.raises(InvalidArgumentError, match="JSON-serializable"):
        PromptVersion("p", 1, "x", response_format={"default": {1, 2}})


def test_known_fields_inside_extra_params_are_validated_as_fields() -> None:
    with pytest.raises(InvalidArgumentError, match="temperature"):
        PromptModelConfig.from_dict({"extra_params": {"temperature": -1}})
    config = PromptModelConfig.from_dict({"extra_params": {"temperature": 0.5, "seed": 1}})
    assert config.temperature == 0.5
    assert config.extra_params == {"seed": 1}
    assert PromptModelConfig.from_dict(config.to_dict()) == config
