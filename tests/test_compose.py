"""The production stack (docker-compose.yml + Dockerfile), checked by construction.

No Docker engine is needed: the compose file is parsed with PyYAML and checked against DESIGN §2
(services, ports, environment names) and §7 (vLLM serving `book-llm`). When a `docker compose`
(or a v2 `docker-compose`) CLI is on the PATH, `config -q` validates it against the compose
schema too; that command needs no engine.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from services.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

EXPECTED_SERVICES = {
    "vllm",
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
TEST_ENV = {"API_TOKEN": "test-token"}

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
    [("api", 8010, 8010), ("ui", 8501, 8501), ("vllm", 8015, 8015), ("chroma", 8001, 8000)],
)
def test_ports_as_in_design(
    services: dict[str, dict[str, Any]], name: str, published: int, target: int
) -> None:
    assert (published, target) in published_ports(services[name])


def test_catalog_and_broker_stay_inside_the_network(services: dict[str, dict[str, Any]]) -> None:
    for name in ("postgres", "redis"):
        assert not published_ports(services[name]), f"{name} should not publish host ports"


def test_vllm_serves_book_llm_on_the_gpu(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    vllm = services["vllm"]
    assert str(vllm["image"]).startswith("vllm/vllm-openai:")
    argv = as_list(vllm.get("command")) + as_list(vllm.get("entrypoint"))
    assert option(argv, "--served-model-name") == "book-llm"
    assert option(argv, "--port") == "8015"
    assert option(argv, "--model") == "microsoft/Phi-3.5-mini-instruct"
    assert int(option(argv, "--max-model-len")) > 0
    assert option(argv, "--tensor-parallel-size") == "1"

    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)

    health = healthcheck_text(vllm)
    assert "localhost:8015/v1/models" in health or "127.0.0.1:8015/v1/models" in health
    assert seconds(str(vllm["healthcheck"].get("start_period", "0s"))) >= 300

    assert "/root/.cache/huggingface" in mount_targets(vllm)
    assert "HUGGING_FACE_HUB_TOKEN" in env_of(vllm)

    # Both presets of DESIGN §7 are documented next to the service.
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "Qwen/Qwen2.5-14B-Instruct" in text and "VLLM_TP=2" in text
    assert "microsoft/Phi-3.5-mini-instruct" in text


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
    vllm_argv = as_list(services["vllm"].get("command"))
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
    ("name", "queue", "pool"), [("worker", "llm", "threads"), ("worker-index", "index", "prefork")]
)
def test_worker_queues_and_pools(
    services: dict[str, dict[str, Any]], name: str, queue: str, pool: str
) -> None:
    argv = as_list(services[name]["command"])
    assert argv[:4] == ["celery", "-A", "services.worker.tasks", "worker"]
    assert option(argv, "-Q") == queue
    assert option(argv, "-P") == pool
    assert int(option(argv, "-c")) >= 1


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


def test_commands_reference_existing_code(services: dict[str, dict[str, Any]]) -> None:
    assert (ROOT / "services/api/app.py").is_file()
    assert (ROOT / "services/worker/tasks.py").is_file()

    api_argv = as_list(services["api"].get("command"))
    assert "services.api.app:create_app" in api_argv and "--factory" in api_argv
    for name in ("worker", "worker-index"):
        module = option(as_list(services[name]["command"]), "-A")
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file()

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    target = pyproject["project"]["scripts"]["copiloto"]
    module = target.split(":")[0]
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), target


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
    env = {k: v for k, v in os.environ.items() if k != "API_TOKEN"}

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

    # Without API_TOKEN the stack refuses to start.
    ok, output = run(env)
    assert not ok and "API_TOKEN" in output, output
