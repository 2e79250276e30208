"""The one error type every service raises for a request the domain refuses."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the domain refuses; ``problems`` are messages for the user.

    ``code`` is ``"invalid"`` (bad input: HTTP 400), ``"conflict"`` (the
    current state forbids it: HTTP 409) or ``"too_many"`` (a rate limit: HTTP 429).
    """

    def __init__(self, problems: str | list[str], *, code: str = "invalid") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.code = code
        super().__init__("\n".join(self.problems))

    @property
    def http_status(self) -> int:
        """What an HTTP endpoint answers with: 409 for a conflict, 429 for a rate limit,
        400 otherwise."""
        return {"conflict": 409, "too_many": 429}.get(self.code, 400)
