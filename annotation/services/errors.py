"""The one error type every service raises for a request the domain refuses."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the domain refuses; ``problems`` are messages for the user.

    ``code`` is ``"invalid"`` (bad input: HTTP 400) or ``"conflict"`` (the
    current state forbids it: HTTP 409).
    """

    def __init__(self, problems: str | list[str], *, code: str = "invalid") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.code = code
        super().__init__("\n".join(self.problems))

    @property
    def http_status(self) -> int:
        """What an HTTP endpoint answers with: 409 for a conflict, 400 otherwise."""
        return 409 if self.code == "conflict" else 400
