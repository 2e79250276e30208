"""The API schema's error answers, documented once for every operation.

drf-spectacular documents the success answers from the views; every operation
can also answer with an error body of the same shape (``detail``, and per-field
messages for a 400), so those are added here rather than on each view.
"""

from __future__ import annotations

from typing import Any

ERROR_STATUSES = {
    "400": "Invalid input: `detail` says what is wrong; a field's messages are under its name.",
    "401": "No or invalid credentials (send `Authorization: Token <key>`).",
    "403": "Authenticated but not staff.",
    "404": "No such object, or not one you may see.",
    "405": "Method not allowed on this path.",
    "406": "The Accept header asks for a format this operation does not serve.",
    "409": "Not possible in the object's current state (e.g. editing a live study).",
    "413": "The request body is larger than this operation accepts.",
    "415": "Unsupported request content type.",
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": True,
}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation documents its error answers."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for methods in result.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_STATUSES.items():
                responses.setdefault(
                    code,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
    return result
