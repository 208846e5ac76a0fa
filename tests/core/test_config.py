"""Settings read the env names of README.md (Configuration) and `.env` files."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.config import Settings


def test_defaults_match_the_design(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.openai_model == "book-llm"
    assert settings.llm_base_url == "http://127.0.0.1:8015/v1"
    assert (settings.chroma_host, settings.chroma_port) == ("127.0.0.1", 8001)
    assert settings.database_url == f"sqlite:///{(tmp_path / 'data' / 'copiloto.db').resolve()}"
    assert settings.api_token is None


def test_env_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "OPENAI_MODEL=other\nCHROMA_HOST=\nCORS_ORIGINS=http://a,http://b\nAPI_TOKEN=s3cret\n"
    )
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("REDIS_URL", "redis://r:6379/2")
    settings = Settings()
    assert settings.openai_model == "other"
    assert settings.chroma_host is None  # empty → embedded Chroma
    assert settings.cors_origins == ["http://a", "http://b"]
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.redis_url == "redis://r:6379/2"
    assert settings.api_token == "s3cret"


def test_time_limits_stay_below_the_visibility_timeout() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.job_soft_time_limit_s < settings.job_time_limit_s
    assert settings.job_time_limit_s < settings.broker_visibility_timeout_s
    with pytest.raises(ValueError, match="visibility"):
        Settings(_env_file=None, JOB_TIME_LIMIT=400, BROKER_VISIBILITY_TIMEOUT=300)  # type: ignore[call-arg]


SAFE_PRODUCTION = {
    "ENV": "production",
    "API_TOKEN": "f" * 32,
    "DATABASE_URL": "postgresql+psycopg://copiloto:9c1d7e3a55b04f2e@postgres:5432/copiloto",
    "CORS_ORIGINS": "https://books.example.org",
}


def test_production_accepts_safe_settings() -> None:
    settings = Settings(_env_file=None, **SAFE_PRODUCTION)  # type: ignore[arg-type]
    assert settings.is_production


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"API_TOKEN": ""}, "API_TOKEN is not set"),
        ({"API_TOKEN": "short-token"}, "API_TOKEN is shorter than 16"),
        (
            {"DATABASE_URL": "postgresql+psycopg://copiloto:copiloto@postgres:5432/copiloto"},
            "well-known password 'copiloto'",
        ),
        ({"DATABASE_URL": "postgresql://postgres:Postgres@db/x"}, "well-known password"),
        ({"CORS_ORIGINS": "https://books.example.org,*"}, "CORS_ORIGINS contains '\\*'"),
        ({"CORS_ORIGINS": '["*"]'}, "CORS_ORIGINS contains"),
    ],
)
def test_production_refuses_insecure_defaults(override: dict[str, str], complaint: str) -> None:
    with pytest.raises(
        ValueError, match=f"ENV=production refuses insecure settings: .*{complaint}"
    ):
        Settings(_env_file=None, **{**SAFE_PRODUCTION, **override})  # type: ignore[arg-type]


def test_production_lists_every_problem_at_once() -> None:
    with pytest.raises(ValueError) as raised:
        Settings(
            _env_file=None,
            ENV="Production",
            DATABASE_URL="postgresql://u:password@h/d",
            CORS_ORIGINS="*",
        )  # type: ignore[call-arg]
    message = str(raised.value)
    assert "API_TOKEN" in message and "password" in message and "CORS_ORIGINS" in message


def test_development_keeps_the_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not production: no token, SQLite, '*' all fine; a shell's $ENV (sh start-up file) too.
    monkeypatch.setenv("ENV", "/home/someone/.shinit")
    settings = Settings(_env_file=None, CORS_ORIGINS="*")  # type: ignore[call-arg]
    assert not settings.is_production and settings.api_token is None
    assert settings.log_format == "text"
