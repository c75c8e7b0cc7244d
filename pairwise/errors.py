"""One domain error type with a message a person can act on; views map it to an HTTP status."""

from __future__ import annotations

from typing import Any


class PairwiseError(Exception):
    """Bad input or a rule that forbids the action. `status` is the HTTP status the API answers."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def as_dict(self) -> dict[str, str]:
        return {"error": self.message, "code": self.code}


class InvalidInput(PairwiseError):
    """One field of the input is wrong. Answered the way DRF answers its own validation errors
    (annotate.api.errors): {"error": "field: message", "code": "invalid", "fields": {field: [message]}}."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.detail = field, message

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "fields": {self.field: [self.detail]}}


class NotFound(PairwiseError):
    status = 404
    code = "not_found"


class Forbidden(PairwiseError):
    status = 403
    code = "forbidden"


class Conflict(PairwiseError):
    status = 409
    code = "conflict"
