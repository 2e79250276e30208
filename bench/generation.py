"""Edits per minute through one Celery worker on Redis vs the pipeline called in-process.

Both paths run the same jobs (items of the shipped benchmark × one model × one prompt
type) with the same batch size; the worker path includes everything a deployment pays:
the broker round trip, claiming jobs, loading inputs, writing PNGs, recording edits.

    .venv/bin/python -m bench.generation --items 48 --model editor-im

Uses its own SQLite database and media folder under a temporary directory and Redis
database 14 (CELERY_BENCH_BROKER_URL); prints the figures recorded in bench/RESULTS.md.

With ``--http`` it measures instead what the http model kind costs per edit over the same
baseline run in-process: the reference server (inference/external/reference_server.py) on
loopback runs the baseline, one request at a time (concurrency 1), so the difference is the
protocol: PNG encoding both ways, the multipart request, the answer's decoding and checks.

    .venv/bin/python -m bench.generation --http --items 48 --model identity
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument(
        "--model", default="editor-im", help="cascade checkpoint or baseline preset"
    )
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument(
        "--broker", default=os.environ.get("CELERY_BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
    )
    parser.add_argument(
        "--http", action="store_true", help="the http kind's overhead over in-process"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="editbench-bench-"))
    env = {
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "MEDIA_ROOT": str(work / "media"),
        "GENERATION_BATCH_SIZE": str(args.batch),
        "CELERY_QUEUE": "editbench-bench",
    }
    os.environ.update(env)
    os.environ["CELERY_BROKER_URL"] = ""  # this process: in-process tasks
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from celery import Celery
    from django.core.management import call_command

    from annotation.models import BenchmarkItem, EditModel, GenerationJob
    from annotation.services.generation import generation_request, jobs_run

    call_command("migrate", verbosity=0)
    call_command("import_benchmark", str(ROOT / "fixtures/editbench-mini"), "--no-progress")
    items = list(BenchmarkItem.objects.order_by("pk")[: args.items])
    if args.model in ("identity", "blur_fill"):
        model = EditModel.objects.create(name=args.model, kind="baseline", preset=args.model)
    else:
        model = EditModel.objects.create(
            name=args.model,
            kind="cascade",
            checkpoint=args.model,
            parameters={"guidance": "oscillate", "steps": 20},
        )

    if args.http:
        http_overhead(items, model, args.batch)
        return

    def request(seed: int) -> list[list[int]]:
        return generation_request(
            items=items, models=[model], prompt_types=["mask_rich"], seeds=[seed], enqueue=False
        ).batches

    # Warm-up: load the model in this process (the worker also loads it once).
    jobs_run(job_ids=request(99)[0][:1])

    batches = request(1)
    n = sum(len(b) for b in batches)
    started = time.perf_counter()
    for batch in batches:
        jobs_run(job_ids=batch)
    in_process = n / (time.perf_counter() - started) * 60

    worker_env = {**os.environ, **env, "CELERY_BROKER_URL": args.broker}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "-n",
            "bench@%h",
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = Celery("bench", broker=args.broker, set_as_current=False)
    try:
        with client.connection_for_write() as conn:
            conn.default_channel.queue_purge("editbench-bench")
        warm = request(98)[0][:1]
        client.send_task("annotation.tasks.generate_edits", args=[warm], queue="editbench-bench")
        while not GenerationJob.objects.filter(pk__in=warm, status="done").exists():
            time.sleep(0.1)
        batches = request(2)
        started = time.perf_counter()
        for batch in batches:
            client.send_task(
                "annotation.tasks.generate_edits", args=[batch], queue="editbench-bench"
            )
        ids = [j for b in batches for j in b]
        while GenerationJob.objects.filter(pk__in=ids, status="done").count() < len(ids):
            time.sleep(0.05)
        through_worker = n / (time.perf_counter() - started) * 60
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    print(
        f"model {args.model}, {n} edits of 256x256 items, batch {args.batch}, "
        f"{os.cpu_count()} cores"
    )
    print(f"in-process pipeline:  {in_process:8.1f} edits/min")
    print(
        f"one worker on Redis:  {through_worker:8.1f} edits/min "
        f"({through_worker / in_process:.0%} of in-process)"
    )


def _timed_run(items: list[Any], model: Any, seed: int) -> float:
    from annotation.services.generation import generation_request, jobs_run

    batches = generation_request(
        items=items, models=[model], prompt_types=["mask_rich"], seeds=[seed], enqueue=False
    ).batches
    started = time.perf_counter()
    for batch in batches:
        jobs_run(job_ids=batch)
    return time.perf_counter() - started


def http_overhead(items: list[Any], baseline: Any, batch: int) -> None:
    """Seconds per edit: the baseline in-process vs the same baseline behind the protocol."""
    from annotation.models import EditModel

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inference.external.reference_server",
            "--baseline",
            baseline.preset,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        http = EditModel.objects.create(
            name=f"{baseline.preset} over http", kind="http", endpoint_url=url, concurrency=1
        )
        for model in (baseline, http):  # warm-up: connections, caches
            _timed_run(items[:2], model, 99)
        rounds = [
            (_timed_run(items, baseline, seed), _timed_run(items, http, seed)) for seed in (1, 2, 3)
        ]
    finally:
        server.kill()
        server.wait(timeout=10)
    n = len(items)
    local = min(r[0] for r in rounds) / n * 1000
    remote = min(r[1] for r in rounds) / n * 1000
    side = items[0].width
    print(f"baseline {baseline.preset}, {n} edits of {side}x{side} items, batch {batch}, ", end="")
    print(f"{os.cpu_count()} cores; best of 3 rounds")
    print(f"in-process:           {local:8.2f} ms per edit")
    print(f"http (loopback):      {remote:8.2f} ms per edit")
    print(f"overhead of http:     {remote - local:8.2f} ms per edit")


if __name__ == "__main__":
    main()
