"""A reference model server for the HTTP protocol of ``http_model``, inpainting with a baseline.

For tests, the HTTP overhead benchmark and as a template for wrapping a real model:

    .venv/bin/python -m inference.external.reference_server --port 8765 --baseline blur_fill

It listens on loopback only. With ``--token T`` a request without ``Authorization: T`` is a
401. It prints ``listening on http://127.0.0.1:PORT/`` once it accepts requests.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import io
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image

from inference import baselines


class BadRequest(ValueError):
    pass


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body by name (files and values alike)."""
    if not content_type.startswith("multipart/form-data"):
        raise BadRequest("send multipart/form-data")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def inpaint_request(fields: dict[str, bytes], baseline: str) -> Image.Image:
    """The baseline's edit of the request's image and mask."""
    missing = [k for k in ("image", "mask", "prompt", "seed", "parameters") if k not in fields]
    if missing:
        raise BadRequest(f"missing field(s): {', '.join(missing)}")
    image = Image.open(io.BytesIO(fields["image"])).convert("RGB")
    mask = np.asarray(Image.open(io.BytesIO(fields["mask"])).convert("L")) > 0
    int(fields["seed"])
    json.loads(fields["parameters"])
    if baseline == "identity":
        return baselines.identity(image, mask)
    return baselines.blur_fill(image, mask)


class Handler(BaseHTTPRequestHandler):
    """POST any path: the edit as a PNG body (or JSON with ``?json=1``)."""

    baseline = "blur_fill"
    token = ""

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and benchmarks read stdout for the ready line only

    def send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_fields(self) -> dict[str, bytes]:
        length = int(self.headers.get("Content-Length", "0"))
        return parse_multipart(self.headers.get("Content-Type", ""), self.rfile.read(length))

    def authorised(self) -> bool:
        if self.token and self.headers.get("Authorization") != self.token:
            self.send(401, b"missing or wrong Authorization header", "text/plain")
            return False
        return True

    def answer(self, image: Image.Image) -> None:
        out = io.BytesIO()
        image.save(out, format="PNG")
        self.send(200, out.getvalue(), "image/png")

    def do_POST(self) -> None:
        if not self.authorised():
            return
        try:
            edited = inpaint_request(self.read_fields(), self.baseline)
        except (BadRequest, ValueError, OSError) as exc:
            self.send(400, str(exc).encode(), "text/plain")
            return
        self.answer(edited)


def serve(handler: type[Handler], port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--baseline", choices=("blur_fill", "identity"), default="blur_fill")
    parser.add_argument("--token", default="", help="the Authorization value to require")
    args = parser.parse_args()
    handler = type(
        "ConfiguredHandler", (Handler,), {"baseline": args.baseline, "token": args.token}
    )
    serve(handler, args.port)


if __name__ == "__main__":
    main()
