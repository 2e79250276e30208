"""N concurrent simulated raters against the app under gunicorn on PostgreSQL (loopback only).

Each rater arrives by a Prolific link and works as the task page does: it preloads the task
after the one on screen (`POST …/api/next`), then sends one request per task, which records
the answers and leases the task after the preloaded one (`POST …/api/submit` with `next`).
Measured from the moment every rater holds a task, for --seconds; the arrivals (task page and
preload) are timed apart. Prints judgments per second, p50/p99 latency of the requests, the
machine's CPU time per judgment, and checks that no unit received more than K judgments. The
study (6 baseline models, 240 items: 4,320 single units over 3 prompt types and 3,600 pairwise,
every pair on the mask-rich prompt; 7,920 units, K = 3) holds 23,760 judgments, enough for 30 s
back to back (about 600 judgments/s).

    .venv/bin/python -m bench.load_raters --raters 200 --seconds 30
    .venv/bin/python -m bench.load_raters --raters 200 --seconds 30 --pace-ms 667

Back to back (the default), each rater always has a request in flight, so by Little's law the
mean latency is raters / requests per second: 200 raters at 300 judgments/s (300 requests/s,
one per task) wait 667 ms on average whatever the server does. The goal's pairing of 200 raters, 300
judgments/s and p99 < 150 ms describes raters who spend about half a second on a task; --pace-ms
667 offers exactly that load.

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/editbench_bench,
dropped and created anew). The client runs on the same 2-core machine as the server, so
the figures are a lower bound of what the server alone can do.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
PORT = 8799
TASK_DATA = re.compile(r'<script id="task-data" type="application/json">(.*?)</script>', re.S)
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def server_env(database: str, media: Path, *, host: str) -> dict[str, str]:
    """Production settings (DEBUG off) for a plain-HTTP server on loopback."""
    return {
        **os.environ,
        "DATABASE_URL": database,
        "MEDIA_ROOT": str(media),
        "SECRET_KEY": "bench-" + "k" * 60,
        "ALLOWED_HOSTS": host,
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "STATIC_MANIFEST": "0",
        "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "WARNING",
        # Every simulated rater arrives from 127.0.0.1: lift the limit on new identities.
        "NEW_RATERS_PER_ADDRESS_PER_HOUR": "1000000",
    }


def setup_database(url: str, env: dict[str, str], *, target: float | None = None) -> str:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = [
        "psql",
        "-h",
        parsed.hostname or "127.0.0.1",
        "-U",
        parsed.username or "postgres",
        "-q",
        "-c",
    ]
    subprocess.run([*admin, f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run([*admin, f"CREATE DATABASE {name}"], check=True)
    manage = [sys.executable, "manage.py"]
    spec = Path(env["MEDIA_ROOT"]).parent / "bench-study.yaml"
    spec.write_text(
        "name: Load test\nslug: load-test\nbenchmark: editbench-mini\n"
        "models:\n  - {name: A, kind: baseline, preset: identity}\n"
        "  - {name: B, kind: baseline, preset: reference}\n"
        "  - {name: C, kind: baseline, preset: blur_fill}\n"
        "  - {name: D, kind: baseline, preset: identity}\n"
        "  - {name: E, kind: baseline, preset: blur_fill}\n"
        "  - {name: F, kind: baseline, preset: reference}\n"
        "prompt_types: [mask_simple, mask_rich, full_image]\ntasks: [single, pairwise]\n"
        "raters_per_unit: 3\ngold_rate: 0\nlease_minutes: 30\n"
        + (
            # Precision targets: K_min 1, K (3) the ceiling, the same target for both tasks.
            f"target_half_width: {target}\npairwise_target: half-width\n"
            f"pairwise_half_width: {target}\nk_min: 1\n"
            if target is not None
            else ""
        )
    )
    for step in (
        ["migrate", "-v0"],
        ["import_benchmark", "fixtures/editbench-mini", "--no-progress"],
        ["demo_admin"],
        ["create_study", str(spec)],
        ["study", "generate", "load-test", "--no-progress"],
        ["study", "launch", "load-test"],
    ):
        subprocess.run([*manage, *step], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return "load-test"


def submit_body(task: dict[str, Any], preloaded: dict[str, Any] | None) -> dict[str, Any]:
    """What the task page sends once per task: the answers (yes, or the left side, to every
    question) and a request for the task after the preloaded one."""
    answers = {q["id"]: ("yes" if q["kind"] == "yes_no" else "left") for q in task["questions"]}
    return {
        "assignment": task["assignment"],
        "answers": answers,
        "time_on_task_ms": 3000,
        "client_submission_id": str(uuid.uuid4()),
        "next": {"exclude": [preloaded["assignment"]] if preloaded else []},
    }


class Window:
    """The measured stretch: it opens when every rater has arrived and holds a task (so the
    arrivals' page loads are not counted), and closes ``seconds`` later."""

    def __init__(self, raters: int, seconds: float) -> None:
        self.seconds = seconds
        self.stop = math.inf
        self.started = self.cpu = self.client_cpu = 0.0
        self.results: dict[str, list[float]] = {"page": [], "next": [], "submit": []}
        # The raters' arrival (the task page and the preload of the following task), timed
        # apart from the measured stretch.
        self.arrival: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(raters, action=self._open)

    def _open(self) -> None:
        with self.lock:
            for kind, values in self.results.items():
                self.arrival[kind] = list(values)
                values.clear()
        self.cpu, self.client_cpu = machine_cpu_seconds(), time.process_time()
        self.started = time.perf_counter()
        self.stop = time.monotonic() + self.seconds


class Rater(threading.Thread):
    def __init__(self, n: int, slug: str, window: Window, pace: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.n, self.slug, self.window = n, slug, window
        self.results, self.lock = window.results, window.lock
        self.pace = pace
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        self.judgments = 0
        self.errors = 0

    def request(self, method: str, path: str, body: object = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.update(
                {
                    "Content-Type": "application/json",
                    "X-CSRFToken": self.cookies.get("csrftoken", ""),
                    "Referer": f"http://127.0.0.1:{PORT}/",
                }
            )
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed an idle keep-alive connection (a rater waiting for the
            # others to arrive): reconnect once, as a browser does.
            self.conn.close()
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        text = response.read().decode()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response.status, text

    def timed(self, kind: str, path: str, body: object = None) -> tuple[int, str]:
        started = time.perf_counter()
        status, text = self.request("GET" if body is None else "POST", path, body)
        with self.lock:
            self.results[kind].append(time.perf_counter() - started)
        return status, text

    def run(self) -> None:
        base = f"/s/{self.slug}"
        # A Prolific id is 24 hexadecimal characters; the rater's number in the last ones.
        self.request("GET", f"{base}/?PROLIFIC_PID={self.n:024x}&STUDY_ID=s&SESSION_ID=x")
        status, page = self.timed("page", f"{base}/task/")
        match = TASK_DATA.search(page)
        task, preloaded = None, None
        if status == 200 and match is not None and CSRF.search(page) is not None:
            task = json.loads(match.group(1))
            # As the task page does: preload the following task while this one is on screen,
            # then one request per task: the answers, and the task after the preloaded one.
            preloaded = self.next_task([task["assignment"]])
        self.window.barrier.wait()
        # Raters do not start in step: each begins at a random point of its first period, as
        # people arriving at different times would (200 raters in step would send 200 requests
        # at once every period).
        cycle = time.monotonic() + random.Random(self.n).uniform(0.0, self.pace) - self.pace
        while time.monotonic() < self.window.stop and task:
            if self.pace:
                # A rater at the given pace: one task every `pace` seconds (the time on the
                # task page is whatever the request leaves of it).
                time.sleep(max(0.0, cycle + self.pace - time.monotonic()))
                cycle = max(cycle + self.pace, time.monotonic() - self.pace)
            status, text = self.timed("submit", f"{base}/api/submit", submit_body(task, preloaded))
            if status != 200:
                self.errors += 1
                return
            self.judgments += 1
            following = json.loads(text).get("next")
            if preloaded:
                task, preloaded = preloaded, following
            elif following:
                task, preloaded = following, self.next_task([following["assignment"]])
            else:
                task = None

    def next_task(self, exclude: list[int]) -> dict[str, Any] | None:
        status, text = self.timed("next", f"/s/{self.slug}/api/next", {"exclude": exclude})
        task: dict[str, Any] | None = json.loads(text).get("task") if status == 200 else None
        return task


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all processes), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--pace-ms",
        type=float,
        default=0.0,
        help="each rater starts a task at most every this many ms (0: back to back, no time "
        "on the task page). 200 raters at 667 ms offer 300 judgments/s.",
    )
    parser.add_argument(
        "--target",
        type=float,
        default=None,
        help="give the study precision targets (this 95%% half-width, K_min 1, K_max 3) "
        "instead of a fixed K = 3",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/editbench_bench"
        ),
    )
    args = parser.parse_args()

    work = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True).stdout.strip())
    env = server_env(args.database, work / "media", host="127.0.0.1")
    slug = setup_database(args.database, {**env, "DEBUG": "1"}, target=args.target)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(args.workers),
            "-k",
            "gthread",
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        time.sleep(4)
        window = Window(args.raters, args.seconds)
        raters = [Rater(n, slug, window, pace=args.pace_ms / 1000) for n in range(args.raters)]
        for r in raters:
            r.start()
        for r in raters:
            r.join(timeout=args.seconds + 300)
        elapsed = time.perf_counter() - window.started
        machine_cpu = machine_cpu_seconds() - window.cpu
        client_cpu = time.process_time() - window.client_cpu
        results = window.results
    finally:
        server.terminate()
        server.wait(timeout=30)
    judgments = sum(r.judgments for r in raters)
    errors = sum(r.errors for r in raters)
    check = subprocess.run(
        [
            "psql",
            args.database,
            "-At",
            "-c",
            "SELECT (SELECT count(*) FROM (SELECT unit_id FROM annotation_assignment "
            "WHERE status='submitted' GROUP BY unit_id HAVING count(*) > 3) t), "
            "(SELECT count(*) FROM annotation_studyunit)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    print(
        f"{args.raters} raters, {elapsed:.1f} s, gunicorn {args.workers}x{args.threads} "
        f"gthread, {os.cpu_count()} cores (client on the same machine), "
        + (
            f"pace {args.pace_ms:.0f} ms per task (offered {args.raters / args.pace_ms * 1000:.0f} "
            "judgments/s)"
            if args.pace_ms
            else "back to back (no time on task)"
        )
    )
    print(f"judgments: {judgments} ({judgments / elapsed:.1f}/s), failed submits: {errors}")
    if judgments:
        server_cpu = machine_cpu - client_cpu
        print(
            f"CPU per judgment: {server_cpu / judgments * 1000:.1f} ms server + database, "
            f"{client_cpu / judgments * 1000:.1f} ms client; the server alone on these "
            f"{os.cpu_count()} cores would top out near "
            f"{(os.cpu_count() or 1) / server_cpu * judgments:.0f} judgments/s"
        )
    for label, measured in (("measured", results), ("arrival", window.arrival)):
        for kind in ("page", "next", "submit"):
            values = measured.get(kind, [])
            if values:
                print(
                    f"{label:>8} {kind:>6}: n={len(values)} p50={percentile(values, 0.5):.1f} ms "
                    f"p99={percentile(values, 0.99):.1f} ms "
                    f"mean={statistics.mean(values) * 1000:.1f} ms"
                )
    over, units = check.stdout.strip().split("|")
    print(f"units with more than K=3 submitted judgments: {over} (of {units} units)")


if __name__ == "__main__":
    main()
