"""One exception hierarchy for every prompthouse error.

Every error carries a stable ``code`` (the string a client can branch on) and the
HTTP status the server answers with. Messages say what was wrong and what is allowed.
"""

from __future__ import annotations

__all__ = [
    "PromptHouseError",
    "NotFoundError",
    "AlreadyExistsError",
    "InvalidArgumentError",
    "MissingVariablesError",
    "TemplateSecurityError",
    "ConflictError",
    "UnauthenticatedError",
    "PermissionDeniedError",
    "PayloadTooLargeError",
    "UnavailableError",
]


class PromptHouseError(Exception):
    """Base class of every error prompthouse raises on purpose."""

    code: str = "INTERNAL"
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, dict[str, str]]:
        """The native JSON error body: ``{"error": {"code", "message"}}``."""
        return {"error": {"code": self.code, "message": self.message}}


class NotFoundError(PromptHouseError, LookupError):
    """A prompt, version or alias does not exist."""

    code = "NOT_FOUND"
    http_status = 404


class AlreadyExistsError(PromptHouseError):
    code = "ALREADY_EXISTS"
    http_status = 409


class InvalidArgumentError(PromptHouseError, ValueError):
    """The caller passed something that breaks a rule; the message names the rule."""

    code = "INVALID_ARGUMENT"
    http_status = 400


class MissingVariablesError(InvalidArgumentError):
    """``format()`` was not given every variable the template needs."""

    def __init__(self, missing: set[str] | frozenset[str], *, jinja: bool = False) -> None:
        self.missing = frozenset(missing)
        names = ", ".join(repr(m) for m in sorted(self.missing))
        hint = (
            "Pass every variable, or set allow_partial=True to bind some now and the rest later."
        )
        super().__init__(f"Missing variables: {names}. {hint}")
        self.jinja = jinja


class TemplateSecurityError(InvalidArgumentError):
    """A Jinja2 template tried something the sandbox forbids."""


class ConflictError(PromptHouseError):
    code = "CONFLICT"
    http_status = 409


class UnauthenticatedError(PromptHouseError):
    code = "UNAUTHENTICATED"
    http_status = 401


class PermissionDeniedError(PromptHouseError):
    code = "PERMISSION_DENIED"
    http_status = 403


class PayloadTooLargeError(PromptHouseError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class UnavailableError(PromptHouseError):
    """The store (database, MLflow server, remote registry) cannot be reached."""

    code = "UNAVAILABLE"
    http_status = 503
