"""Where a rater's request time goes: the task page's call per task, in-process.

    .venv/bin/python -m bench.profile_rater_requests --pairs 300 [--cprofile]

Sets up the load-test study of ``bench/load_raters.py`` on PostgreSQL (BENCH_DATABASE_URL,
dropped and created anew), then lets raters answer tasks through Django's test client
(full middleware stack, no HTTP server) and prints the mean time of the page's one request
per task (the answers, and the task after the preloaded one) and its SQL statements. With
``--cprofile``, the 25 costliest functions as well.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import time
import uuid
from pathlib import Path

from bench import load_raters


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=300)
    p.add_argument("--raters", type=int, default=20)
    p.add_argument("--cprofile", action="store_true")
    p.add_argument("--reuse", action="store_true", help="keep the database of an earlier run")
    p.add_argument(
        "--target", type=float, default=None, help="a study with precision targets (load_raters)"
    )
    a = p.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/editbench_bench")
    work = Path("var/bench-profile")
    env = load_raters.server_env(url, work.resolve() / "media", host="testserver")
    work.mkdir(parents=True, exist_ok=True)
    slug = (
        "load-test"
        if a.reuse
        else load_raters.setup_database(url, {**env, "DEBUG": "1"}, target=a.target)
    )
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    clients = []
    for _ in range(a.raters):
        c = Client()
        c.get(f"/s/{slug}/?PROLIFIC_PID={uuid.uuid4().hex[:24]}&STUDY_ID=s&SESSION_ID=x")
        page = c.get(f"/s/{slug}/task/").content.decode()
        task = json.loads(load_raters.TASK_DATA.search(page).group(1))  # type: ignore[union-attr]
        preloaded = c.post(
            f"/s/{slug}/api/next",
            json.dumps({"exclude": [task["assignment"]]}),
            content_type="application/json",
        ).json()["task"]
        clients.append((c, task, preloaded))
    times: dict[str, list[float]] = {"submit": []}
    sample: dict[str, list[str]] = {}
    profiler = cProfile.Profile() if a.cprofile else None

    def step(i: int) -> None:
        c, task, preloaded = clients[i % len(clients)]
        body = load_raters.submit_body(task, preloaded)
        with CaptureQueriesContext(connection) as q:
            t = time.perf_counter()
            r = c.post(f"/s/{slug}/api/submit", json.dumps(body), content_type="application/json")
            times["submit"].append(time.perf_counter() - t)
        assert r.status_code == 200, (r.status_code, r.content[:200])
        sample["submit"] = [x["sql"] for x in q.captured_queries]
        clients[i % len(clients)] = (c, preloaded, r.json()["next"])

    for i in range(min(20, a.pairs)):  # warm-up
        step(i)
    times = {"submit": []}
    if profiler:
        profiler.enable()
    for i in range(a.pairs):
        step(i)
    if profiler:
        profiler.disable()
    for kind in ("submit",):
        print(f"{kind}: mean {statistics.mean(times[kind]) * 1000:.2f} ms, "
              f"median {statistics.median(times[kind]) * 1000:.2f} ms, "
              f"{len(sample[kind])} SQL statements")  # fmt: skip
        for sql in sample[kind]:
            print("   ", sql[:220])
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
