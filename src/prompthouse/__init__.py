"""prompthouse: a self-hosted prompt registry.

    import prompthouse

    prompthouse.register_prompt("qa", "Answer {{ question }}", commit_message="first")
    prompthouse.set_prompt_alias("qa", "production", 1)
    prompt = prompthouse.load_prompt("prompts:/qa@production")
    prompt.format(question="What is a prompt registry?")
"""

from prompthouse._version import __version__
from prompthouse.api import (
    connect,
    delete_prompt,
    delete_prompt_alias,
    delete_prompt_model_config,
    delete_prompt_tag,
    delete_prompt_version,
    delete_prompt_version_tag,
    get_default_registry,
    get_prompt,
    list_prompt_versions,
    load_prompt,
    register_prompt,
    search_prompts,
    set_default_registry,
    set_prompt_alias,
    set_prompt_description,
    set_prompt_model_config,
    set_prompt_tag,
    set_prompt_version_tag,
)
from prompthouse.entities import Page, Prompt, PromptModelConfig, PromptVersion
from prompthouse.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidArgumentError,
    MissingVariablesError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PromptHouseError,
    TemplateSecurityError,
    UnauthenticatedError,
    UnavailableError,
)
from prompthouse.registry import Registry
from prompthouse.uris import PromptRef, parse_prompt_ref

__all__ = [
    "AlreadyExistsError",
    "ConflictError",
    "InvalidArgumentError",
    "MissingVariablesError",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Prompt",
    "PromptHouseError",
    "PromptModelConfig",
    "PromptRef",
    "PromptVersion",
    "Registry",
    "TemplateSecurityError",
    "UnauthenticatedError",
    "UnavailableError",
    "__version__",
    "connect",
    "delete_prompt",
    "delete_prompt_alias",
    "delete_prompt_model_config",
    "delete_prompt_tag",
    "delete_prompt_version",
    "delete_prompt_version_tag",
    "get_default_registry",
    "get_prompt",
    "list_prompt_versions",
    "load_prompt",
    "parse_prompt_ref",
    "register_prompt",
    "search_prompts",
    "set_default_registry",
    "set_prompt_alias",
    "set_prompt_description",
    "set_prompt_model_config",
    "set_prompt_tag",
    "set_prompt_version_tag",
]
