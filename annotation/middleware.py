"""Request body limits per endpoint, answered with a 413 before the body is read.

Django's own limit (``DATA_UPLOAD_MAX_MEMORY_SIZE``) applies only to form fields and is
answered with a bare 400 after spooling; here the declared ``Content-Length`` is compared
with the endpoint's limit first, so a 60 MB body to a rater endpoint is refused at once,
with a message that says the limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

# (path pattern, setting holding its limit in bytes), the first match decides.
BODY_LIMITS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/api/v1/models/[^/]+/outputs/$"), "OUTPUTS_UPLOAD_MAX_BYTES"),
    (re.compile(r"^/admin/annotation/editmodel/\d+/upload/$"), "OUTPUTS_UPLOAD_MAX_BYTES"),
    (re.compile(r"^/api/v1/studies/[^/]+/platform-export/$"), "EXPORT_UPLOAD_MAX_BYTES"),
    (re.compile(r"^/s/[^/]+/api/"), "RATER_REQUEST_MAX_BYTES"),
    (re.compile(r""), "REQUEST_MAX_BYTES"),
)


def body_limit(path: str) -> tuple[int, str]:
    """The body limit in bytes of ``path``, and the setting that holds it."""
    for pattern, name in BODY_LIMITS:
        if pattern.match(path):
            return int(getattr(settings, name)), name
    raise AssertionError("the last pattern matches every path")  # pragma: no cover


def _size(n: int) -> str:
    return f"{n / 1024**2:.1f} MB" if n >= 1024**2 else f"{n / 1024:.0f} KB"


class BodySizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit, _ = body_limit(request.path)
        if declared > limit:
            message = (
                f"The request body is {_size(declared)}; this endpoint accepts at most "
                f"{_size(limit)}."
            )
            if request.path.startswith(("/api/", "/s/")):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
