"""A typed HTTP client for the Copiloto API; every failure surfaces as one readable `ApiError`."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, NotRequired, Required, Self, TypedDict, cast

import httpx

from services.ui.settings import UiSettings
from services.ui.sse import parse_events

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
# `ApiError.status` when no HTTP answer came back at all (connection refused, timeout).
NO_RESPONSE = 0
# A whole book goes up or comes down in one request: parsing a long EPUB takes a while.
UPLOAD_TIMEOUT_S = UiSettings.model_fields["upload_timeout_s"].default


class Book(TypedDict):
    id: str
    title: str
    language: str
    genre: str | None
    synopsis: str | None
    created_at: str
    updated_at: str


class Chapter(TypedDict):
    id: str
    book_id: str
    position: int
    title: str
    current_revision: int
    word_count: int
    content_hash: str
    summary: NotRequired[str | None]
    metadata: NotRequired[dict[str, Any]]
    in_memory: NotRequired[bool]
    created_at: str
    updated_at: str


class Revision(TypedDict):
    number: int
    title: str
    source: str
    created_at: str
    word_count: int
    text: NotRequired[str | None]


class ChapterDetail(Chapter):
    text: str
    revisions: list[Revision]


class ChapterSaved(TypedDict):
    book_id: str
    chapter_id: str
    revision: int
    title: str
    word_count: int
    file: str
    index_job_id: NotRequired[str | None]


class Job(TypedDict):
    id: str
    kind: str
    status: JobStatus
    progress: float
    message: str
    book_id: str | None
    chapter_id: str | None
    parent_id: NotRequired[str | None]
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_s: float | None


class JobPage(TypedDict):
    items: list[Job]
    total: int
    limit: int
    offset: int


class Check(TypedDict):
    state: Literal["up", "down", "loading"]
    detail: str
    latency_ms: float
    ok: bool


class QueueBacklog(TypedDict):
    queued: int
    oldest_age_s: float | None
    depth: int | None


class Backlog(TypedDict):
    queued: int
    queues: dict[str, QueueBacklog]


class Readiness(TypedDict, total=False):
    ready: Required[bool]
    checks: Required[dict[str, Check]]
    backlog: Backlog | None  # jobs waiting per queue (null when the catalog did not answer)


class Artifact(TypedDict):
    id: str
    job_id: str
    kind: str
    book_id: str | None
    chapter_id: str | None
    title: str
    text: str
    data: dict[str, Any] | None
    file_name: str | None
    created_at: str


class MemoryStatus(TypedDict):
    mode: str
    host: str | None
    port: int | None
    collection_prefix: str
    embedding_model: str
    state: str
    detail: str
    latency_ms: float
    ok: bool
    documents: NotRequired[int | None]


class Collection(TypedDict):
    name: str
    count: int
    metadata: dict[str, Any]


class MemoryDocument(TypedDict):
    id: str
    text: str
    metadata: dict[str, Any]


class SearchHit(TypedDict):
    doc_id: str
    chapter_id: str
    chapter_title: str
    chapter_position: int
    passage_index: int | None
    kind: str
    text: str
    highlights: list[list[int]]
    found_by: str
    score: float


class ContinuityCitation(TypedDict):
    chapter_id: str
    chapter_position: int
    chapter_title: str
    revision: int
    quote: str
    start: int
    end: int


class ContinuityFinding(TypedDict):
    id: str
    type: str
    severity: str
    explanation: str
    entity: str | None
    attribute: str | None
    status: str
    citations: list[ContinuityCitation]


class ContinuityPage(TypedDict):
    items: list[ContinuityFinding]
    total: int


class BookSearch(TypedDict):
    book_id: str
    query: str
    indexed: bool
    rebuilding: bool
    model: str | None
    took_ms: float
    results: list[SearchHit]


class DocumentPage(TypedDict):
    name: str
    book_id: str
    total: int
    limit: int
    offset: int
    items: list[MemoryDocument]


class Cleared(TypedDict):
    deleted: int


class BookCleared(Cleared):
    book_id: str


class ChapterPreview(TypedDict):
    index: int
    title: str
    word_count: int
    preview: str


class ManuscriptPreview(TypedDict):
    book_id: str
    filename: str
    format: str
    sha256: str
    split: str
    total_chapters: int
    total_words: int
    metadata: dict[str, str]
    front_matter: str
    already_imported: bool
    chapters: list[ChapterPreview]


class TrashItem(TypedDict):
    book: Book
    deleted_at: str
    purge_after: str


class RestoredBook(TypedDict):
    book_id: str
    title: str
    mode: str
    replaced: bool
    chapters: int
    revisions: int
    artifacts: int
    files: int
    reindex_job_id: str | None


class BibleEntity(TypedDict):
    id: str
    kind: str
    name: str
    aliases: list[str]
    origin: str
    mentions: int
    chapters: list[str]
    facts: int


class BibleEntityPage(TypedDict):
    items: list[BibleEntity]
    total: int


class BibleFact(TypedDict):
    id: str
    entity_id: str
    attribute: str
    value: str
    chapter_id: str
    chapter_position: int
    chapter_title: str
    revision: int
    until_chapter_id: str | None
    story_time: str | None
    quote: str
    start: int
    end: int
    origin: str
    pinned: bool
    intentional: bool


class BibleEntityDetail(TypedDict):
    id: str
    kind: str
    name: str
    aliases: list[str]
    origin: str
    mentions: int
    chapters: list[str]
    facts: list[BibleFact]


class PresenceChapter(TypedDict):
    id: str
    title: str
    position: int
    words: int


class PresenceEntity(TypedDict):
    id: str
    name: str
    kind: str
    counts: list[int]


class Presence(TypedDict):
    chapters: list[PresenceChapter]
    entities: list[PresenceEntity]


class BibleNote(TypedDict):
    id: int
    text: str
    source: str
    created_at: str


class BibleNotes(TypedDict):
    items: list[BibleNote]


class BibleImportReport(TypedDict):
    dry_run: bool
    created: list[dict[str, Any]]
    updated: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    skipped_facts: list[dict[str, Any]]


@dataclass(frozen=True)
class Download:
    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class JobEvent:
    """One server-sent event of a job: status, progress, delta, reset or final."""

    event: str
    data: dict[str, Any]
    id: str | None = None


class ApiError(Exception):
    """The API refused a request, failed, or could not be reached (status 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message


def _validation_problem(problem: Any) -> str:
    if not isinstance(problem, dict):
        return str(problem)
    # FastAPI prefixes where the value came from ("body", "query", "path"); the field is enough.
    loc = [str(p) for p in problem.get("loc", []) if p not in ("body", "query", "path", "header")]
    msg = str(problem.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{'.'.join(loc)}: {msg}" if loc else msg


def error_message(status: int, body: Any, fallback: str = "") -> str:
    """The API's error body as one sentence: `detail` text, or `field: msg` for 422 lists."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list) and detail:
        return "; ".join(_validation_problem(p) for p in detail)
    if isinstance(detail, dict):
        return json.dumps(detail, ensure_ascii=False)
    text = fallback.strip()[:300]
    return f"HTTP {status}: {text}" if text else f"HTTP {status}"


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    raise ApiError(response.status_code, error_message(response.status_code, body, response.text))


class ApiClient:
    """One method per endpoint the UI uses; answers are the API's JSON as typed dicts."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 30.0,
        upload_timeout_s: float = UPLOAD_TIMEOUT_S,
        events_read_timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self.upload_timeout_s = upload_timeout_s
        self.events_read_timeout_s = events_read_timeout_s
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport
        )

    @classmethod
    def from_settings(cls, settings: UiSettings) -> ApiClient:
        return cls(
            settings.api_url,
            settings.api_token,
            timeout_s=settings.request_timeout_s,
            upload_timeout_s=settings.upload_timeout_s,
            events_read_timeout_s=settings.events_read_timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(
        self, method: str, path: str, *, ok_statuses: tuple[int, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiError(
                NO_RESPONSE, f"the API at {self.base_url} did not answer in time"
            ) from exc
        except httpx.HTTPError as exc:
            raise ApiError(NO_RESPONSE, f"cannot reach the API at {self.base_url}: {exc}") from exc
        if response.status_code not in ok_statuses:
            _raise_for(response)
        return response

    def _request(
        self, method: str, path: str, *, ok_statuses: tuple[int, ...] = (), **kwargs: Any
    ) -> Any:
        response = self._send(method, path, ok_statuses=ok_statuses, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, f"the API answered {path} with non-JSON") from exc

    # Health
    def ready(self) -> Readiness:
        """Readiness of every dependency; a 503 still carries the checks, so it is no error."""
        return cast(Readiness, self._request("GET", "/ready", ok_statuses=(503,)))

    # Books
    def list_books(self, limit: int = 100, offset: int = 0) -> list[Book]:
        return cast(
            list[Book], self._request("GET", "/books", params={"limit": limit, "offset": offset})
        )

    def create_book(
        self,
        title: str,
        language: str,
        genre: str | None = None,
        synopsis: str | None = None,
    ) -> Book:
        body = {"title": title, "language": language, "genre": genre, "synopsis": synopsis}
        return cast(Book, self._request("POST", "/books", json=body))

    def get_book(self, book_id: str) -> Book:
        return cast(Book, self._request("GET", f"/books/{book_id}"))

    # Chapters
    def list_chapters(self, book_id: str) -> list[Chapter]:
        return cast(list[Chapter], self._request("GET", f"/books/{book_id}/chapters"))

    def get_chapter(self, chapter_id: str) -> ChapterDetail:
        return cast(ChapterDetail, self._request("GET", f"/chapters/{chapter_id}"))

    def save_chapter(self, book_id: str, title: str, text: str) -> ChapterSaved:
        body = {"book_id": book_id, "title": title, "text": text}
        return cast(ChapterSaved, self._request("POST", "/chapter/save", json=body))

    def update_chapter(
        self,
        book_id: str,
        chapter_id: str,
        *,
        title: str | None = None,
        text: str | None = None,
        expected_revision: int | None = None,
    ) -> ChapterSaved:
        body = {
            "book_id": book_id,
            "chapter_id": chapter_id,
            "title": title,
            "text": text,
            "expected_revision": expected_revision,
        }
        return cast(ChapterSaved, self._request("PUT", "/chapter/update", json=body))

    def get_revision(self, chapter_id: str, number: int) -> Revision:
        return cast(Revision, self._request("GET", f"/chapters/{chapter_id}/revisions/{number}"))

    def restore_revision(self, chapter_id: str, number: int) -> ChapterSaved:
        body = {"revision": number}
        return cast(
            ChapterSaved, self._request("POST", f"/chapters/{chapter_id}/restore", json=body)
        )

    # Jobs
    def submit_job(
        self,
        kind: str,
        *,
        book_id: str | None = None,
        chapter_id: str | None = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        body = {"kind": kind, "book_id": book_id, "chapter_id": chapter_id, "params": params or {}}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return cast(Job, self._request("POST", "/jobs", json=body, headers=headers))

    def suggest(
        self,
        book_id: str,
        chapter_id: str,
        *,
        instructions: str | None = None,
        paths: int | None = None,
        max_tokens: int | None = None,
    ) -> Job:
        params = {"instructions": instructions, "paths": paths, "max_tokens": max_tokens}
        return self.submit_job(
            "suggest", book_id=book_id, chapter_id=chapter_id, params=_present(params)
        )

    def critique(
        self,
        book_id: str,
        chapter_id: str,
        *,
        focus: str | None = None,
        top_k: int | None = None,
        max_tokens: int | None = None,
    ) -> Job:
        params = _present({"focus": focus, "top_k": top_k, "max_tokens": max_tokens})
        return self.submit_job("critique", book_id=book_id, chapter_id=chapter_id, params=params)

    def extract_metadata(self, book_id: str, chapter_id: str) -> Job:
        return self.submit_job("extract_metadata", book_id=book_id, chapter_id=chapter_id)

    def ask(
        self,
        book_id: str,
        question: str,
        *,
        use_memory: bool = True,
        top_k: int | None = None,
        max_tokens: int | None = None,
    ) -> Job:
        params = {"question": question, "use_memory": use_memory, "top_k": top_k}
        return self.submit_job(
            "ask", book_id=book_id, params=_present({**params, "max_tokens": max_tokens})
        )

    def ideate(self, book_id: str, *, count: int, theme: str | None = None) -> Job:
        params = _present({"count": count, "theme": theme})
        return self.submit_job("ideate", book_id=book_id, params=params)

    def expand(
        self,
        book_id: str,
        *,
        idea: dict[str, Any] | None = None,
        chapter_id: str | None = None,
        instructions: str | None = None,
        max_tokens: int | None = None,
    ) -> Job:
        """A scene from an idea, or continuing a chapter (`chapter_id`), or from instructions."""
        params = _present(
            {
                "idea": idea,
                "instructions": instructions,
                "from_chapter": True if chapter_id else None,
                "max_tokens": max_tokens,
            }
        )
        return self.submit_job("expand", book_id=book_id, chapter_id=chapter_id, params=params)

    def get_job(self, job_id: str) -> Job:
        return cast(Job, self._request("GET", f"/jobs/{job_id}"))

    def list_jobs(
        self,
        *,
        book_id: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobPage:
        query = {"book_id": book_id, "status": status, "kind": kind, "limit": limit}
        params = {k: v for k, v in {**query, "offset": offset}.items() if v is not None}
        return cast(JobPage, self._request("GET", "/jobs", params=params))

    def cancel_job(self, job_id: str) -> Job:
        return cast(Job, self._request("POST", f"/jobs/{job_id}/cancel"))

    def job_events(
        self, job_id: str, *, last_event_id: str | None = None, read_timeout_s: float | None = None
    ) -> Generator[JobEvent, None, None]:
        """Follow a job's server-sent events until its `final` event (or the stream ends).

        The server sends a keep-alive at least every 15 s, so a read that waits longer than
        `read_timeout_s` means the connection is dead: that raises `ApiError(0, ...)`.
        """
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(10.0, read=read_timeout_s or self.events_read_timeout_s)
        try:
            with self._http.stream(
                "GET", f"/jobs/{job_id}/events", headers=headers, timeout=timeout
            ) as response:
                if not response.is_success:
                    response.read()
                    _raise_for(response)
                yield from parse_sse(response.iter_lines())
        except httpx.HTTPError as exc:
            raise ApiError(NO_RESPONSE, f"lost the event stream of job {job_id}: {exc}") from exc

    # Artifacts
    def list_artifacts(
        self, *, book_id: str | None = None, chapter_id: str | None = None
    ) -> list[Artifact]:
        params = {k: v for k, v in {"book_id": book_id, "chapter_id": chapter_id}.items() if v}
        return cast(list[Artifact], self._request("GET", "/artifacts", params=params))

    # Manuscripts
    def preview_manuscript(self, book_id: str, filename: str, data: bytes) -> ManuscriptPreview:
        """How the file would split into chapters; nothing is saved."""
        return cast(
            ManuscriptPreview,
            self._request(
                "POST",
                f"/books/{book_id}/import",
                params={"dry_run": "true"},
                files={"file": (filename, data)},
                timeout=self.upload_timeout_s,
            ),
        )

    def import_manuscript(
        self, book_id: str, filename: str, data: bytes, *, reindex: bool = True
    ) -> Job:
        """The `import_manuscript` job (its answer also carries the split as `preview`)."""
        return cast(
            Job,
            self._request(
                "POST",
                f"/books/{book_id}/import",
                params={"reindex": str(reindex).lower()},
                files={"file": (filename, data)},
                timeout=self.upload_timeout_s,
            ),
        )

    def reindex_book(self, book_id: str, *, force: bool = False, summarize: bool = False) -> Job:
        body = {"force": force, "summarize": summarize}
        return cast(Job, self._request("POST", f"/books/{book_id}/reindex", json=body))

    def export_book(self, book_id: str, fmt: str) -> Download:
        response = self._send(
            "GET", f"/books/{book_id}/export", params={"format": fmt}, timeout=self.upload_timeout_s
        )
        disposition = response.headers.get("content-disposition", "")
        name = disposition.partition('filename="')[2].rstrip('"') or f"book.{fmt}"
        media_type = response.headers.get("content-type", "application/octet-stream")
        return Download(name, media_type, response.content)

    # The story bible
    def build_bible(self, book_id: str, *, force: bool = False, use_llm: bool = True) -> Job:
        params = {"force": force, "use_llm": use_llm}
        return self.submit_job("build_bible", book_id=book_id, params=params)

    def bible_entities(
        self, book_id: str, *, kind: str | None = None, q: str | None = None, limit: int = 500
    ) -> BibleEntityPage:
        params = _present({"kind": kind, "q": q or None, "limit": limit})
        return cast(
            BibleEntityPage,
            self._request("GET", f"/books/{book_id}/bible/entities", params=params),
        )

    def bible_entity(self, book_id: str, entity_id: str) -> BibleEntityDetail:
        path = f"/books/{book_id}/bible/entities/{entity_id}"
        return cast(BibleEntityDetail, self._request("GET", path))

    def update_bible_entity(
        self,
        book_id: str,
        entity_id: str,
        *,
        name: str | None = None,
        kind: str | None = None,
        aliases: list[str] | None = None,
    ) -> BibleEntityDetail:
        body = _present({"name": name, "kind": kind, "aliases": aliases})
        path = f"/books/{book_id}/bible/entities/{entity_id}"
        return cast(BibleEntityDetail, self._request("PATCH", path, json=body))

    def delete_bible_entity(self, book_id: str, entity_id: str, *, confirm: bool = False) -> None:
        path = f"/books/{book_id}/bible/entities/{entity_id}"
        self._send("DELETE", path, params={"confirm": str(confirm).lower()})

    def merge_bible_entities(
        self, book_id: str, entity_id: str, other_ids: list[str]
    ) -> BibleEntityDetail:
        path = f"/books/{book_id}/bible/entities/{entity_id}/merge"
        return cast(BibleEntityDetail, self._request("POST", path, json={"other_ids": other_ids}))

    def update_bible_fact(
        self,
        book_id: str,
        fact_id: str,
        *,
        pinned: bool | None = None,
        intentional: bool | None = None,
    ) -> BibleFact:
        body = _present({"pinned": pinned, "intentional": intentional})
        path = f"/books/{book_id}/bible/facts/{fact_id}"
        return cast(BibleFact, self._request("PATCH", path, json=body))

    def delete_bible_fact(self, book_id: str, fact_id: str) -> None:
        self._send("DELETE", f"/books/{book_id}/bible/facts/{fact_id}")

    def bible_notes(self, book_id: str, entity_id: str) -> list[BibleNote]:
        path = f"/books/{book_id}/bible/entities/{entity_id}/notes"
        return cast(BibleNotes, self._request("GET", path))["items"]

    def bible_presence(self, book_id: str) -> Presence:
        return cast(Presence, self._request("GET", f"/books/{book_id}/bible/presence"))

    def export_bible(self, book_id: str, fmt: str) -> Download:
        response = self._send(
            "GET",
            f"/books/{book_id}/bible/export",
            params={"format": fmt},
            timeout=self.upload_timeout_s,
        )
        disposition = response.headers.get("content-disposition", "")
        name = disposition.partition('filename="')[2].rstrip('"') or f"bible.{fmt}"
        media_type = response.headers.get("content-type", "application/octet-stream")
        return Download(name, media_type, response.content)

    def import_bible(
        self, book_id: str, fmt: str, filename: str, data: bytes, *, dry_run: bool
    ) -> BibleImportReport:
        return cast(
            BibleImportReport,
            self._request(
                "POST",
                f"/books/{book_id}/bible/import",
                params={"format": fmt, "dry_run": str(dry_run).lower()},
                files={"file": (filename, data)},
                timeout=self.upload_timeout_s,
            ),
        )

    # Archives and the trash
    def download_archive(self, book_id: str) -> Download:
        response = self._send("GET", f"/books/{book_id}/archive", timeout=UPLOAD_TIMEOUT_S)
        disposition = response.headers.get("content-disposition", "")
        name = disposition.partition('filename="')[2].rstrip('"') or f"{book_id}.copiloto.zip"
        return Download(name, "application/zip", response.content)

    def restore_archive(
        self, filename: str, data: bytes, *, mode: str = "new", confirm: str | None = None
    ) -> RestoredBook:
        params = _present({"mode": mode, "confirm": confirm})
        files = {"file": (filename, data, "application/zip")}
        return cast(
            RestoredBook,
            self._request(
                "POST", "/books/restore", params=params, files=files, timeout=UPLOAD_TIMEOUT_S
            ),
        )

    def delete_book(self, book_id: str, confirm: str) -> TrashItem:
        params = {"confirm": confirm}
        return cast(TrashItem, self._request("DELETE", f"/books/{book_id}", params=params))

    def list_trash(self) -> list[TrashItem]:
        return cast(list[TrashItem], self._request("GET", "/trash"))

    def restore_from_trash(self, book_id: str) -> Book:
        return cast(Book, self._request("POST", f"/trash/{book_id}/restore"))

    def purge_book(self, book_id: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._request("DELETE", f"/trash/{book_id}"))

    # Memory (Chroma)
    def memory_status(self) -> MemoryStatus:
        return cast(MemoryStatus, self._request("GET", "/chroma/status"))

    def memory_collections(self) -> list[Collection]:
        return cast(list[Collection], self._request("GET", "/chroma/collections"))

    def memory_documents(self, name: str, *, limit: int = 20, offset: int = 0) -> DocumentPage:
        params = {"limit": limit, "offset": offset}
        return cast(DocumentPage, self._request("GET", f"/chroma/collection/{name}", params=params))

    def search_book(self, book_id: str, query: str, k: int = 10) -> BookSearch:
        params = {"q": query, "k": k}
        return cast(BookSearch, self._request("GET", f"/books/{book_id}/search", params=params))

    # Continuity audit
    def continuity_check(self, book_id: str, *, force: bool = False) -> Job:
        return self.submit_job("continuity_check", book_id=book_id, params={"force": force})

    def continuity_findings(self, book_id: str, status: str | None = None) -> ContinuityPage:
        params = {"status": status} if status else {}
        path = f"/books/{book_id}/continuity/findings"
        return cast(ContinuityPage, self._request("GET", path, params=params))

    def mark_finding(self, book_id: str, finding_id: str, status: str) -> ContinuityFinding:
        path = f"/books/{book_id}/continuity/findings/{finding_id}"
        return cast(ContinuityFinding, self._request("PATCH", path, json={"status": status}))

    def continuity_report(self, book_id: str) -> str:
        return self._send("GET", f"/books/{book_id}/continuity/report").text

    def clear_book_memory(self, book_id: str) -> BookCleared:
        params = {"confirm": book_id}
        return cast(BookCleared, self._request("DELETE", f"/chroma/book/{book_id}", params=params))

    def clear_all_memory(self, confirmation: str) -> Cleared:
        params = {"confirm": confirmation}
        return cast(Cleared, self._request("DELETE", "/chroma/clear", params=params))


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """Parameters the caller gave: the API fills in its defaults for the rest."""
    return {k: v for k, v in values.items() if v is not None}


def parse_sse(lines: Iterator[str]) -> Iterator[JobEvent]:
    """The job's events, keep-alive comments included (as `comment` events)."""
    for event in parse_events(lines, comments=True):
        yield JobEvent(event.event, event.data, event.id)
