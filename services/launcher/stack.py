"""A whole local stack on free ports (API, workers, LLM server) for tests and benchmarks."""

from __future__ import annotations

import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.core.config import Settings
from services.core.migrate import upgrade
from services.launcher.cli import (
    LLM_START_TIMEOUT,
    api_argv,
    chroma_argv,
    chroma_heartbeat_url,
    llm_command,
    worker_argv,
)
from services.launcher.processes import ProcessGroup, http_ok, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_llm_server(group: ProcessGroup, port: int | None = None, engine: str = "llamacpp") -> str:
    """The LLM server with the packaged model (llama.cpp, or vLLM from `make vllm-cpu`), started
    by the launcher's own command; returns its OpenAI base URL."""
    port = port or free_port()
    settings = Settings(_env_file=None, LLM_PORT=port)
    argv, env = llm_command(settings, engine)
    proc = group.start("llm" if engine == "llamacpp" else engine, argv, env)
    url = f"http://127.0.0.1:{port}/v1"
    wait_until(
        lambda: http_ok(f"{url}/models"),
        timeout=LLM_START_TIMEOUT[engine],
        what=f"LLM server ({engine})",
        proc=proc,
    )
    return url


def start_chroma_server(group: ProcessGroup, path: Path) -> tuple[str, int]:
    """A Chroma server on a free port storing under `path`; returns (host, port)."""
    port = free_port()
    settings = Settings(_env_file=None, DATA_DIR=str(path))
    proc = group.start("chroma", chroma_argv(settings, "127.0.0.1", port))
    wait_until(
        lambda: http_ok(chroma_heartbeat_url("127.0.0.1", port)),
        timeout=60,
        what="chroma",
        proc=proc,
    )
    return "127.0.0.1", port


@dataclass
class Stack:
    """A running API plus workers over one catalog, one Redis database and one LLM URL."""

    env: dict[str, str]
    data_dir: Path
    api_url: str
    group: ProcessGroup
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return Settings(_env_file=None, **self.env)  # type: ignore[arg-type]

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=60, **kwargs)

    def start_worker(self, queue: str = "llm", name: str | None = None) -> subprocess.Popen[bytes]:
        argv = worker_argv(self.settings, queue)
        argv[argv.index("-n") + 1] = f"{name or queue}-{uuid.uuid4().hex[:6]}@%h"
        proc = self.group.start(name or f"worker-{queue}", argv, self.env)
        self.workers[name or queue] = proc
        return proc

    def start_api(self, name: str = "api", **overrides: str) -> str:
        port = free_port()
        env = {**self.env, "API_PORT": str(port), **overrides}
        proc = self.group.start(name, api_argv(Settings(_env_file=None, **env)), env)  # type: ignore[arg-type]
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{url}/health"), timeout=60, what=name, proc=proc)
        return url

    def stop(self) -> None:
        self.group.stop()


def start_stack(
    root: Path,
    *,
    redis_url: str,
    llm_url: str,
    log_dir: Path,
    chroma: tuple[str, int] | None = None,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    with_worker: bool = True,
) -> Stack:
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "DATA_DIR": str(data_dir),
        "REDIS_URL": redis_url,
        "LLM_BASE_URL": llm_url,
        # Unset CHROMA_HOST means the embedded store (single process only).
        "CHROMA_HOST": chroma[0] if chroma else "",
        "CHROMA_PORT": str(chroma[1]) if chroma else "8001",
        # Stacks may share a Chroma server: each keeps its own collection.
        "MEMORY_COLLECTION": f"book_memory_{uuid.uuid4().hex[:8]}",
        **({"DATABASE_URL": database_url} if database_url else {}),
        **(extra_env or {}),
    }
    stack = Stack(env, data_dir, "", ProcessGroup(log_dir))
    try:
        upgrade(stack.settings.database_url)
        if with_worker:
            stack.start_worker("llm")
            stack.start_worker("index")
        stack.api_url = stack.start_api()
    except BaseException:
        # Workers started before a failure would live on, consuming from the Redis database
        # the next test session claims.
        stack.stop()
        raise
    stack.env["API_URL"] = stack.api_url
    return stack
