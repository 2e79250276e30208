"""The reference model server with misbehaving routes, for the http kind's tests.

    python -m tests.annotation.http_model_server --token "Bearer t"

Every route inpaints with the blur-fill baseline, then: ``/`` answers the PNG; ``/json``
answers JSON with metadata; ``/flaky`` answers 500 to the first request of each (prompt,
seed) and the PNG after; ``/slow`` sleeps 2 s first; ``/wrong-size`` answers a PNG 8 px
wider; ``/not-image`` answers HTML; ``/leaky`` answers a PNG carrying a tEXt chunk that
names the model. ``GET /stats`` tells requests per route and the most in flight at once per route.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import threading
import time
from typing import Any

from PIL import Image, PngImagePlugin

from inference.external.reference_server import BadRequest, Handler, inpaint_request, serve

LOCK = threading.Lock()
STATS: dict[str, Any] = {"hits": {}, "in_flight": {}, "max_in_flight": {}}
SEEN: set[tuple[bytes, bytes]] = set()
LEAKED_NAME = "Secret Model Leaky v2"


def png(image: Image.Image, info: PngImagePlugin.PngInfo | None = None) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


class MisbehavingHandler(Handler):
    def do_GET(self) -> None:
        with LOCK:
            body = json.dumps(STATS).encode()
        self.send(200, body, "application/json")

    def do_POST(self) -> None:
        route = self.path.split("?")[0]
        with LOCK:
            STATS["hits"][route] = STATS["hits"].get(route, 0) + 1
            now = STATS["in_flight"][route] = STATS["in_flight"].get(route, 0) + 1
            STATS["max_in_flight"][route] = max(STATS["max_in_flight"].get(route, 0), now)
        try:
            if self.authorised():
                self.route(route)
        finally:
            with LOCK:
                STATS["in_flight"][route] -= 1

    def route(self, route: str) -> None:
        try:
            fields = self.read_fields()
            edited = inpaint_request(fields, "blur_fill")
        except (BadRequest, ValueError, OSError) as exc:
            self.send(400, str(exc).encode(), "text/plain")
            return
        if route == "/flaky":
            key = (fields["prompt"], fields["seed"])
            with LOCK:
                first = key not in SEEN
                SEEN.add(key)
            if first:
                self.send(500, b"warming up", "text/plain")
                return
        if route in ("/slow", "/busy"):
            time.sleep(2.0 if route == "/slow" else 0.3)
        if route == "/json":
            encoded = base64.b64encode(png(edited)).decode()
            body = json.dumps({"image": encoded, "metadata": {"server": "reference"}})
            self.send(200, body.encode(), "application/json")
        elif route == "/wrong-size":
            self.answer(edited.resize((edited.width + 8, edited.height)))
        elif route == "/not-image":
            self.send(200, b"<html>maintenance</html>", "text/html")
        elif route == "/leaky":
            info = PngImagePlugin.PngInfo()
            info.add_text("parameters", f"Model: {LEAKED_NAME}, Seed: 1")
            self.send(200, png(edited, info), "image/png")
        else:
            self.answer(edited)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    serve(type("Configured", (MisbehavingHandler,), {"token": args.token}), args.port)


if __name__ == "__main__":
    main()
