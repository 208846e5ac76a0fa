"""Request and response shapes for jobs, and the parameters each job kind accepts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.core.db import UtcDatetime
from services.core.ids import ID_PATTERN

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class JobCreate(BaseModel):
    kind: str = Field(max_length=32, description="Job kind, e.g. suggest")
    book_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=64)
    chapter_id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    status: JobStatus
    progress: float
    message: str
    book_id: str | None
    chapter_id: str | None
    parent_id: str | None = None
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    duration_s: float | None = None


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class QueueBacklog(BaseModel):
    queued: int = Field(description="Jobs waiting for a worker on this queue (the catalog)")
    oldest_age_s: float | None = Field(
        description="Seconds the oldest of them has waited; null when none waits"
    )
    depth: int | None = Field(
        default=None, description="Messages in the broker's queue; null if it did not answer"
    )


class Backlog(BaseModel):
    """Work waiting for the workers, per queue; `queued` sums them."""

    queued: int
    queues: dict[str, QueueBacklog]


class SuggestParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instructions: str | None = Field(
        default=None, max_length=4000, description="What the author wants from the suggestions"
    )
    paths: int = Field(default=3, ge=3, le=5, description="How many narrative paths to propose")
    max_tokens: int | None = Field(default=None, ge=16, le=8192)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)


class IndexChapterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(default=False, description="Rebuild even if the text is unchanged")
    summarize: bool = Field(default=True, description="Also write an LLM summary of the chapter")


class AskParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)
    use_memory: bool = Field(default=True, description="Retrieve passages of the book first")
    top_k: int | None = Field(default=None, ge=1, le=20, description="Passages to retrieve")
    max_tokens: int | None = Field(default=None, ge=16, le=8192)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)


class IdeateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=3, ge=1, le=10, description="How many story ideas to propose")
    theme: str | None = Field(
        default=None, max_length=2000, description="A theme or direction the ideas should follow"
    )
    max_tokens: int | None = Field(default=None, ge=64, le=8192)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)


class ExtractMetadataParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The original API extracted metadata "from the text sent": a text instead of a saved
    # chapter (then nothing is stored on a chapter; the result and the artifact carry it).
    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=1_000_000,
        description="Text to read instead of the job's chapter (the original API)",
    )
    title: str | None = Field(
        default=None, min_length=1, max_length=300, description="The sent text's title"
    )
    max_tokens: int | None = Field(default=None, ge=64, le=8192)
    # Extraction wants the likeliest reading of the text, not variety.
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)

    @model_validator(mode="after")
    def _text_is_not_blank(self) -> ExtractMetadataParams:
        if self.text is not None and not self.text.strip():
            raise ValueError("text must not be blank")
        if self.title is not None and self.text is None:
            raise ValueError("title goes with text: send the text to read too")
        return self


class CritiqueParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    focus: str | None = Field(
        default=None, max_length=2000, description="What the critique should look at most"
    )
    top_k: int | None = Field(
        default=None, ge=1, le=20, description="Passages of earlier chapters to compare against"
    )
    max_tokens: int | None = Field(default=None, ge=16, le=8192)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)


class ExpandIdea(BaseModel):
    """A story idea to write a scene from; `ideate` produces these."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    logline: str = Field(min_length=1, max_length=2000)
    conflict: str | None = Field(default=None, max_length=2000)
    characters: list[str] = Field(default_factory=list, max_length=20)
    hook: str | None = Field(default=None, max_length=2000)


class ExpandParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idea: ExpandIdea | None = Field(default=None, description="The idea the scene develops")
    instructions: str | None = Field(
        default=None, max_length=4000, description="What the author wants from the scene"
    )
    from_chapter: bool = Field(
        default=False, description="Continue from the job's chapter (needs a chapter_id)"
    )
    save_as_chapter: bool = Field(
        default=False, description="Also save the scene as a new chapter at the end of the book"
    )
    chapter_title: str | None = Field(
        default=None, min_length=1, max_length=300, description="Title of the saved chapter"
    )
    max_tokens: int | None = Field(default=None, ge=16, le=8192)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)

    @model_validator(mode="after")
    def _has_a_starting_point(self) -> ExpandParams:
        if self.idea is None and not (self.instructions or "").strip() and not self.from_chapter:
            raise ValueError(
                "expand needs something to write from: give an idea, instructions, "
                "or from_chapter=true"
            )
        return self


class ReindexBookParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(
        default=False, description="Rebuild every chapter, even those already indexed"
    )
    summarize: bool = Field(
        default=False,
        description="Afterwards, also queue LLM summaries (a separate pass on the llm queue)",
    )


class SummarizeChapterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportManuscriptParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hash of the uploaded file")
    format: Literal["md", "txt", "docx", "epub"]
    filename: str = Field(default="", max_length=255, description="Shown only, never a path")
    reindex: bool = Field(default=True, description="Index the book once imported")
    summarize: bool = Field(default=False, description="Also queue LLM summaries of chapters")


class ExtractFactsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(
        default=False, description="Extract again even if this text was extracted already"
    )
    use_llm: bool = Field(
        default=True,
        description="Type entities and find facts with the LLM (false: name candidates only)",
    )


class ContinuityCheckParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chapter_ids: list[Annotated[str, Field(pattern=ID_PATTERN, max_length=64)]] | None = Field(
        default=None,
        max_length=10_000,
        description="Audit only the pairs touching these chapters (default: those changed since "
        "the last audit)",
    )
    force: bool = Field(default=False, description="Audit every chapter again")
    judge: Literal["uncertain", "all", "off"] | None = Field(
        default=None,
        description="Which new candidates the LLM judges: those the rules are unsure of, all, "
        "or none (default: the CONTINUITY_JUDGE setting)",
    )


class BuildBibleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(default=False, description="Extract every chapter again")
    use_llm: bool = Field(
        default=True,
        description="Type entities and find facts with the LLM (false: name candidates only)",
    )
