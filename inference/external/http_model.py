"""A model served over HTTP as a batch editor: the client side of the documented protocol.

One request per edit, ``POST`` to the model's URL as ``multipart/form-data``:

- ``image``: the input image, PNG (RGB); ``mask``: the mask, PNG (L, 255 = edit, 0 = keep);
- ``prompt``: the prompt text; ``seed``: a decimal integer;
- ``parameters``: a JSON object, the model's parameters as stored on the EditModel;
- header ``Authorization``: the value of the environment variable named on the model, if any.

The answer is ``200`` with either a PNG body (``Content-Type: image/png``) or JSON
``{"image": "<base64 PNG>", "metadata": {...}}`` (``metadata`` optional). The image must have
the input's size; it is decoded and re-encoded by us, and pasted back through the mask so every
unmasked pixel is the input's. 5xx answers, timeouts and refused connections are retried
(``retries`` times, with backoff); after that the attempt fails and the job's retry policy
takes over. A 4xx, a non-image or a wrong-size answer fails at once with a message.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import requests
from PIL import Image, UnidentifiedImageError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

AUTH_HEADER = "Authorization"


class AnswerRefused(ValueError):
    """The endpoint's answer cannot be used (4xx, not an image, wrong size): no retry helps."""


class EndpointUnavailable(RuntimeError):
    """5xx, timeout or no connection, after the retries: a later attempt may succeed."""


@dataclass(frozen=True)
class HttpSettings:
    url: str  # where to POST
    auth_env: str = ""  # the environment variable holding the Authorization header's value
    timeout_s: float = 120.0  # per request (connect and read)
    concurrency: int = 4  # requests in flight at once from this process
    retries: int = 2  # extra tries on 5xx / timeout / refused connection
    parameters: dict[str, Any] = field(default_factory=dict)  # sent as the parameters field

    def headers(self) -> dict[str, str]:
        """The request headers; KeyError-free: a missing variable is an AnswerRefused."""
        if not self.auth_env:
            return {}
        value = os.environ.get(self.auth_env)
        if not value:
            raise AnswerRefused(f"the environment variable {self.auth_env} (auth) is not set")
        return {AUTH_HEADER: value}


@dataclass(frozen=True)
class HttpResult:
    image: Image.Image
    metadata: dict[str, Any]


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class HttpModel:
    """The client of one endpoint; keeps a connection pool per thread."""

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self._local = threading.local()
        # Kept for the life of the process, so its threads' connections are reused.
        self._pool = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="http-model"
        )

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            n = self.settings.retries
            retry = Retry(
                total=n,
                connect=n,
                read=n,
                status=n,
                other=0,
                status_forcelist=(500, 502, 503, 504),
                allowed_methods=None,  # POST too: a request is idempotent by (job, seed)
                backoff_factor=0.2,
                raise_on_status=False,
            )
            session = requests.Session()
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
            self._local.session = session
        return session

    def edit(
        self, image: Image.Image, mask: npt.NDArray[np.bool_], prompt: str, seed: int
    ) -> HttpResult:
        """One edit through the endpoint; raises AnswerRefused or EndpointUnavailable."""
        s = self.settings
        files = {
            "image": ("image.png", _png(image.convert("RGB")), "image/png"),
            "mask": ("mask.png", _png(Image.fromarray(mask.astype(np.uint8) * 255)), "image/png"),
        }
        data = {"prompt": prompt, "seed": str(seed), "parameters": json.dumps(s.parameters)}
        tries = s.retries + 1
        try:
            answer = self._session().post(
                s.url, files=files, data=data, headers=s.headers(), timeout=s.timeout_s
            )
        except (requests.Timeout, requests.exceptions.RetryError) as exc:
            raise EndpointUnavailable(
                f"{s.url} timed out after {s.timeout_s:g} s ({tries} tries)"
            ) from exc
        except requests.ConnectionError as exc:
            if "timed out" in str(exc).lower():
                raise EndpointUnavailable(
                    f"{s.url} timed out after {s.timeout_s:g} s ({tries} tries)"
                ) from exc
            raise EndpointUnavailable(f"{s.url} is unreachable ({tries} tries): {exc}") from exc
        if answer.status_code >= 500:
            raise EndpointUnavailable(
                f"{s.url} answered {answer.status_code} {answer.reason} ({tries} tries)"
            )
        if answer.status_code != 200:
            raise AnswerRefused(
                f"{s.url} answered {answer.status_code} {answer.reason}: {answer.text[:200]}"
            )
        result = _decode(answer)
        if result.image.size != image.size:
            w, h = result.image.size
            raise AnswerRefused(
                f"{s.url} answered a {w}x{h} image for a {image.width}x{image.height} input"
            )
        return result

    def edit_batch(
        self,
        images: list[Image.Image],
        masks: list[npt.NDArray[np.bool_]],
        prompts: list[str],
        seeds: list[int],
    ) -> list[HttpResult]:
        """The batch's edits, at most ``concurrency`` requests at a time, in input order."""
        calls: list[Callable[[], HttpResult]] = [
            (lambda i=i, m=m, p=p, s=s: self.edit(i, m, p, s))  # type: ignore[misc]
            for i, m, p, s in zip(images, masks, prompts, seeds, strict=True)
        ]
        futures = [self._pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def _decode(answer: requests.Response) -> HttpResult:
    kind = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
    metadata: dict[str, Any] = {}
    body = answer.content
    if kind == "application/json":
        try:
            payload = answer.json()
            body = base64.b64decode(payload["image"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise AnswerRefused(
                'the JSON answer has no base64 "image" field (expected {"image": "<base64 PNG>"})'
            ) from exc
        if isinstance(payload.get("metadata"), dict):
            metadata = payload["metadata"]
    elif kind != "image/png":
        raise AnswerRefused(f"the answer is not an image (Content-Type {kind or 'missing'})")
    try:
        with Image.open(io.BytesIO(body)) as decoded:
            if decoded.format != "PNG":
                raise AnswerRefused(f"the answer is a {decoded.format} image, not a PNG")
            image = decoded.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise AnswerRefused("the answer is not a decodable PNG image") from exc
    return HttpResult(image=image, metadata=metadata)
