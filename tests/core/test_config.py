"""Settings read the env names of DESIGN §2 and `.env` files."""

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
