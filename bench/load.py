"""Read latency under load: does the API stay responsive while the workers are busy?

Starts its own stack (Chroma server, the llama.cpp server with the packaged model, an `llm` and
an `index` worker, the API over a SQLite catalog in a temporary folder, a spare Redis database),
imports Dom Casmurro (148 chapters), then measures, from a second process polling at a steady
rate, the latency of `GET /jobs/{id}` and `GET /books/{id}/chapters`:
  (a) idle: nothing else running (the baseline, same run);
  (b) loaded: a forced reindex of the whole book plus 4 concurrent `suggest` generations.
Prints p50/p95/p99 of each read and how long the load lasted. Goal: p99 <= 50 ms under load.

    .venv/bin/python bench/load.py [--redis-url redis://127.0.0.1:6379/11] [--rate 20]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from services.launcher.processes import ProcessGroup
from services.launcher.stack import start_chroma_server, start_llm_server, start_stack

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dom-casmurro.txt"
TERMINAL = ("succeeded", "failed", "cancelled")
GENERATIONS = 4
SCENE = (
    "Ana olhou o mar pela última vez antes de embarcar no navio para Lisboa. O irmão acenava do "
    "cais, e a carta do pai pesava-lhe no bolso do casaco. "
) * 4


def wait_job(api: httpx.Client, job_id: str, timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = api.get(f"/jobs/{job_id}").json()
        if job["status"] in TERMINAL:
            if job["status"] != "succeeded":
                raise RuntimeError(f"job {job_id} {job['status']}: {job.get('error')}")
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job['status']}")
        time.sleep(0.1)


def poll(api_url: str, paths: list[str], rate: float, stop: Any, out: Any) -> None:
    """The second process: GET each path in turn, `rate` requests a second, until `stop`."""
    interval = 1.0 / rate
    latencies: dict[str, list[float]] = {p: [] for p in paths}
    errors = 0
    with httpx.Client(base_url=api_url, timeout=30) as client:
        next_at = time.perf_counter()
        n = 0
        while not stop.is_set():
            path = paths[n % len(paths)]
            started = time.perf_counter()
            response = client.get(path)
            latencies[path].append(time.perf_counter() - started)
            errors += response.status_code != 200
            n += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
    out.put((latencies, errors))


def measure(api_url: str, paths: list[str], rate: float, during: Any) -> tuple[dict, int, float]:
    """Poll from another process while `during()` runs; returns latencies, errors, seconds."""
    ctx = mp.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    poller = ctx.Process(target=poll, args=(api_url, paths, rate, stop, out))
    poller.start()
    time.sleep(1.0)  # the poller's interpreter and first connection outside the window
    started = time.perf_counter()
    during()
    took = time.perf_counter() - started
    stop.set()
    latencies, errors = out.get(timeout=60)
    poller.join(30)
    return latencies, errors, took


def percentiles(values: list[float]) -> tuple[float, float, float, float]:
    ms = sorted(v * 1000 for v in values)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98], ms[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--rate", type=float, default=20.0, help="reads per second, in total")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    load = os.getloadavg()[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; load average at start {load:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="copiloto-load-") as tmp:
        group = ProcessGroup(Path(tmp) / "logs")
        stack = None
        try:
            chroma = start_chroma_server(group, Path(tmp) / "chroma")
            llm = start_llm_server(group)
            stack = start_stack(
                Path(tmp) / "stack",
                redis_url=args.redis_url,
                llm_url=llm,
                log_dir=Path(tmp) / "logs" / "stack",
                chroma=chroma,
            )
            with stack.client() as api:
                book = api.post("/books", json={"title": "Dom Casmurro"}).json()["id"]
                upload = api.post(
                    f"/books/{book}/import",
                    files={"file": ("dom-casmurro.txt", CORPUS.read_bytes())},
                    params={"reindex": "false"},
                )
                upload.raise_for_status()
                wait_job(api, upload.json()["id"])
                # The generations run on a short book of their own: a Dom Casmurro chapter plus its
                # memory passages overflow the small model's 2,048-token slot (a 400 from the
                # server), which would measure nothing.
                short = api.post("/books", json={"title": "O Mar"}).json()["id"]
                chapters = [
                    api.post(
                        "/chapter/save",
                        json={"book_id": short, "title": f"Cena {n}", "text": SCENE},
                    ).json()
                    for n in range(GENERATIONS)
                ]
                for saved in chapters:
                    wait_job(api, saved["index_job_id"])
                # A finished job to poll while idle; the reindex itself while loaded.
                first = api.post(f"/books/{book}/reindex").json()["id"]
                wait_job(api, first)
                paths = [f"/jobs/{first}", f"/books/{book}/chapters"]
                idle, idle_errors, _ = measure(
                    stack.api_url, paths, args.rate, lambda: time.sleep(args.idle_seconds)
                )

                reindex_id = api.post(f"/books/{book}/reindex", json={"force": True}).json()["id"]
                loaded_paths = [f"/jobs/{reindex_id}", f"/books/{book}/chapters"]

                def run_load() -> None:
                    jobs = [
                        api.post(
                            "/jobs",
                            json={
                                "kind": "suggest",
                                "book_id": short,
                                "chapter_id": chapters[n]["chapter_id"],
                                "params": {"max_tokens": 256},
                            },
                        ).json()["id"]
                        for n in range(GENERATIONS)
                    ]
                    for job_id in [reindex_id, *jobs]:
                        wait_job(api, job_id)

                loaded, loaded_errors, took = measure(
                    stack.api_url, loaded_paths, args.rate, run_load
                )
        finally:
            if stack is not None:
                stack.stop()
            group.stop()

    print(
        f"\nreads at {args.rate:.0f}/s from a second process; load: forced reindex of 148 "
        f"chapters + {GENERATIONS} suggest jobs, {took:.1f} s"
    )
    print(f"{'':36s}{'n':>6s}{'p50':>9s}{'p95':>9s}{'p99':>9s}{'max':>9s}  (ms)")
    worst = 0.0
    for label, results, keys in (
        ("idle", idle, paths),
        ("loaded", loaded, loaded_paths),
    ):
        for key, name in zip(keys, ("GET /jobs/{id}", "GET /books/{id}/chapters"), strict=True):
            p50, p95, p99, top = percentiles(results[key])
            if label == "loaded":
                worst = max(worst, p99)
            print(
                f"  {label:6s} {name:26s}{len(results[key]):6d}"
                f"{p50:9.1f}{p95:9.1f}{p99:9.1f}{top:9.1f}"
            )
    print(f"errors (non-200): idle {idle_errors}, loaded {loaded_errors}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    print(f"goal: p99 <= 50 ms under load {'met' if worst <= 50 else 'NOT met'} ({worst:.1f} ms)")


if __name__ == "__main__":
    main()
