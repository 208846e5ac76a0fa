"""Read latency under load: does the API stay responsive while the workers are busy?

Starts its own stack (Chroma server, the llama.cpp server with the packaged model, an `llm` and
an `index` worker, the API over a SQLite catalog in a temporary folder, a spare Redis database),
imports Dom Casmurro (148 chapters), then measures, from a second process polling at a steady
rate, the latency of `GET /jobs/{id}` and `GET /books/{id}/chapters`:
  (a) idle: nothing else running (the baseline, same run);
  (b) loaded: a forced reindex of the whole book plus 4 concurrent `suggest` generations.
Prints p50/p95/p99 of each read and how long the load lasted. Goal: p99 <= 50 ms under load.
Then time-to-searchable of an author's save (from the save's answer to its passages being in
memory), p50/p95: (c) with nothing else running (the baseline), (d) while a forced reindex of
the whole book runs (bulk work on the `index` queue; the save's indexing goes to
`index_urgent`). Goal: p95 <= 10 s during the reindex; p50 <= 5 s idle (issue 13: "searchable" = the save's
passage comes back from book search found both by words and by meaning).

    .venv/bin/python bench/load.py [--redis-url redis://127.0.0.1:6379/11] [--rate 20]
    .venv/bin/python bench/load.py --searchable-only --idle-only --no-llm --saves 12
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
from services.launcher.stack import free_port, start_chroma_server, start_llm_server, start_stack

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


def time_to_searchable(
    api: httpx.Client, book_id: str, n: int, timeout: float = 120
) -> tuple[float, str]:
    """Save a chapter; seconds until book search finds its passages (polled every 0.1 s), and
    the save's index job."""
    saved = api.post(
        "/chapter/save", json={"book_id": book_id, "title": f"Nota {n}", "text": SCENE}
    ).json()
    started = time.perf_counter()
    query = {"q": f"Nota {n}", "k": 50}
    while time.perf_counter() - started < timeout:
        found = api.get(f"/books/{book_id}/search", params=query).json()
        # Searchable both ways: its passage found by words and by meaning (the book is small,
        # so every passage with "Nota" is in both rankings once it is in both indexes).
        if any(
            hit["chapter_id"] == saved["chapter_id"] and hit["found_by"] == "both"
            for hit in found.get("results", [])
        ):
            return time.perf_counter() - started, str(saved["index_job_id"])
        time.sleep(0.1)
    raise TimeoutError(f"save {n} not searchable after {timeout:.0f} s")


def searchable_series(api: httpx.Client, book_id: str, saves: int, start: int) -> list[float]:
    """One save at a time, as an author works: the next save comes once the previous one's
    indexing (with its LLM summary) has ended, so each number is one save's own wait."""
    times = []
    for n in range(start, start + saves):
        took, job_id = time_to_searchable(api, book_id, n)
        times.append(took)
        wait_job(api, job_id, timeout=600)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--rate", type=float, default=20.0, help="reads per second, in total")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--saves", type=int, default=8, help="author saves timed per phase")
    parser.add_argument(
        "--searchable-only",
        action="store_true",
        help="skip the read-latency phases: only time-to-searchable, idle and during a reindex",
    )
    parser.add_argument(
        "--idle-only",
        action="store_true",
        help="with --searchable-only: only the idle series, no reindex during the saves",
    )
    parser.add_argument(
        "--no-llm",
        action="store_true",
        help="no LLM server: each save's summary fails at once and is skipped (its passages "
        "are indexed before the summary, so time-to-searchable is the same; the run is shorter)",
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the Dom Casmurro text")
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
            llm = f"http://127.0.0.1:{free_port()}/v1" if args.no_llm else start_llm_server(group)
            stack = start_stack(
                Path(tmp) / "stack",
                redis_url=args.redis_url,
                llm_url=llm,
                log_dir=Path(tmp) / "logs" / "stack",
                chroma=chroma,
            )
            with stack.client() as api:
                book = api.post("/books", json={"title": "Dom Casmurro"}).json()["id"]
                if not args.idle_only:  # the book the reindex phases work on
                    upload = api.post(
                        f"/books/{book}/import",
                        files={"file": ("dom-casmurro.txt", args.corpus.read_bytes())},
                        params={"reindex": "false"},
                    )
                    upload.raise_for_status()
                    wait_job(api, upload.json()["id"])
                if not args.searchable_only:
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

                    reindex_id = api.post(f"/books/{book}/reindex", json={"force": True}).json()[
                        "id"
                    ]
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

                # Time-to-searchable of an author's save: idle, then during a bulk reindex.
                notes = api.post("/books", json={"title": "Notas"}).json()["id"]
                quiet = searchable_series(api, notes, args.saves, 0)
                during: list[float] = []
                still_running, bulk_progress = False, 0.0
                if not args.idle_only:
                    bulk = api.post(f"/books/{book}/reindex", json={"force": True}).json()["id"]
                    while api.get(f"/jobs/{bulk}").json()["progress"] < 0.05:
                        time.sleep(0.2)
                    during = searchable_series(api, notes, args.saves, args.saves)
                    bulk_job = api.get(f"/jobs/{bulk}").json()
                    still_running = bulk_job["status"] == "running"
                    bulk_progress = bulk_job["progress"]
                    if still_running:
                        api.post(f"/jobs/{bulk}/cancel")
        finally:
            if stack is not None:
                stack.stop()
            group.stop()

    if not args.searchable_only:
        print_reads(args, idle, idle_errors, loaded, loaded_errors, took, paths, loaded_paths)
    print_searchable(args, quiet, during, still_running, bulk_progress)


def print_reads(
    args: Any,
    idle: dict,
    idle_errors: int,
    loaded: dict,
    loaded_errors: int,
    took: float,
    paths: list[str],
    loaded_paths: list[str],
) -> None:
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
    print(f"goal: p99 <= 50 ms under load {'met' if worst <= 50 else 'NOT met'} ({worst:.1f} ms)")


def print_searchable(
    args: Any, quiet: list[float], during: list[float], still_running: bool, bulk_progress: float
) -> None:
    def p50_p95(values: list[float]) -> tuple[float, float]:
        cuts = statistics.quantiles(values, n=20, method="inclusive")
        return statistics.median(values), cuts[18]

    print(f"\ntime-to-searchable of an author's save ({args.saves} saves each, seconds)")
    print(f"{'':36s}{'p50':>9s}{'p95':>9s}{'max':>9s}")
    q50, q95 = p50_p95(quiet)
    print(f"  {'idle (baseline)':32s}{q50:9.2f}{q95:9.2f}{max(quiet):9.2f}")
    print(f"goal: p50 <= 5 s on an idle stack {'met' if q50 <= 5 else 'NOT met'} ({q50:.2f} s)")
    if not during:
        print(f"idle saves: {', '.join(f'{t:.2f}' for t in quiet)} s")
    else:
        d50, d95 = p50_p95(during)
        print(f"  {'during a forced reindex':32s}{d50:9.2f}{d95:9.2f}{max(during):9.2f}")
        print(
            f"  ratio during/idle: p50 {d50 / q50:.2f}x, p95 {d95 / q95:.2f}x; the reindex was "
            f"{'still running' if still_running else 'over'} after the last save "
            f"(progress {bulk_progress:.2f})"
        )
        print(
            f"goal: p95 <= 10 s during the reindex {'met' if d95 <= 10 else 'NOT met'} "
            f"({d95:.2f} s)"
        )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
