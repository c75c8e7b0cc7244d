"""One domain error type with a message a person can act on; views map it to an HTTP status."""

from __future__ import annotations


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


class NotFound(PairwiseError):
    status = 404
    code = "not_found"


class Forbidden(PairwiseError):
    status = 403
    code = "forbidden"


class Conflict(PairwiseError):
    status = 409
    code = "conflict"
