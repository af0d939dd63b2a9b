"""Request and response models of the native API: they type-check bodies and document
the API in OpenAPI. The rules themselves live in the registry, not here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Template = str | list[dict[str, Any]]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class VersionFields(_Body):
    template: Template = Field(
        description="A text template, or a non-empty list of {role, content} messages."
    )
    commit_message: str | None = None
    tags: dict[str, str] | None = Field(None, description="Set on the version and the prompt.")
    llm_config: dict[str, Any] | None = Field(
        None, alias="model_config",
        description="provider, model_name, temperature, max_tokens, top_p, top_k, "
                    "frequency_penalty, presence_penalty, stop_sequences; other keys are kept.",
    )
    response_format: dict[str, Any] | None = Field(None, description="A JSON schema.")
    expected_latest_version: int | None = Field(
        None, description="Register only if this is still the newest version (else 409)."
    )


class RegisterRequest(VersionFields):
    name: str = Field(description="letters, digits, _ . - with / between folders; <= 255")


class CreateVersionRequest(VersionFields):
    version: int | None = Field(
        None, description="Imports only: an explicit number above every number used so far."
    )
    creation_timestamp: int | None = Field(None, description="Imports only (ms since epoch).")
    user_id: str | None = Field(None, description="Imports only.")


class DescriptionRequest(_Body):
    description: str | None


class AliasRequest(_Body):
    version: int


class TagRequest(_Body):
    value: str


class RenderRequest(_Body):
    variables: dict[str, Any] = Field(default_factory=dict)
    allow_partial: bool = False


class PromptVersionOut(BaseModel):
    name: str
    version: int
    template: Template
    prompt_type: str = Field(description="text or chat")
    variables: list[str]
    commit_message: str | None
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    tags: dict[str, str]
    aliases: list[str]
    user_id: str | None
    llm_config: dict[str, Any] | None = Field(alias="model_config")
    response_format: dict[str, Any] | None
    uri: str


class PromptOut(BaseModel):
    name: str
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_version: int | None
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    created_by: str | None


class PromptPage(BaseModel):
    prompts: list[PromptOut]
    next_page_token: str | None


class VersionPage(BaseModel):
    versions: list[PromptVersionOut]
    next_page_token: str | None


class AliasOut(BaseModel):
    name: str
    alias: str
    version: int


class DeletedVersionOut(BaseModel):
    removed_aliases: list[str]


class RenderOut(BaseModel):
    result: Template
    complete: bool
    missing: list[str]


class ChangesOut(BaseModel):
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, list[Any]]


class TemplatePartDiff(BaseModel):
    part: str
    diff: str


class DiffOut(BaseModel):
    name: str
    from_: int = Field(alias="from")
    to: int
    template: list[TemplatePartDiff]
    llm_config: ChangesOut = Field(alias="model_config")
    response_format: ChangesOut
    tags: ChangesOut


class ErrorDetail(BaseModel):
    code: str = Field(description="NOT_FOUND, INVALID_ARGUMENT, PAYLOAD_TOO_LARGE, ...")
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


class HealthOut(BaseModel):
    status: str
    store: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad input: the message names what and why."},
    404: {"model": ErrorOut, "description": "No such prompt, version or alias."},
    409: {"model": ErrorOut, "description": "expected_latest_version is not the latest."},
    413: {"model": ErrorOut, "description": "Body over the size limit."},
    503: {"model": ErrorOut, "description": "The store is unreachable."},
}
