"""The UI's labels in Brazilian Portuguese (the default) and English."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LANGUAGE = "pt-BR"
LANGUAGE_NAMES: dict[str, str] = {"pt-BR": "Português (Brasil)", "en": "English"}

_PT_BR: dict[str, str] = {
    "app_title": "Copiloto",
    "app_caption": "Seu copiloto de escrita, com memória do livro.",
    "ui_language": "Idioma da interface",
    # Readiness
    "services": "Serviços",
    "refresh": "Atualizar",
    "service_api": "API",
    "service_database": "Banco de dados",
    "service_redis": "Redis",
    "service_worker": "Worker",
    "service_llm": "LLM",
    "service_chroma": "Memória (Chroma)",
    "state_up": "ativo",
    "state_down": "fora do ar",
    "state_loading": "carregando",
    "state_unknown": "desconhecido",
    "llm_loading": "O LLM está carregando o modelo…",
    "not_ready": "Alguns serviços não estão prontos; os trabalhos podem demorar ou falhar.",
    # Books
    "books": "Livros",
    "new_book": "Novo livro",
    "book_title": "Título",
    "book_language": "Idioma do livro",
    "book_genre": "Gênero",
    "book_synopsis": "Sinopse",
    "create_book": "Criar livro",
    "book_created": "Livro “{title}” criado.",
    "select_book": "Livro",
    "no_books": "Nenhum livro ainda: crie o primeiro na barra lateral.",
    "pick_book": "Escolha ou crie um livro na barra lateral.",
    "book_meta": "{language} · {genre}",
    "no_genre": "sem gênero",
    # Chapters
    "chapters": "Capítulos",
    "no_chapters": "Este livro ainda não tem capítulos.",
    "chapter": "Capítulo",
    "chapter_label": "{position}. {title} (rev. {revision}, {words} palavras)",
    "col_position": "Nº",
    "col_title": "Título",
    "col_revision": "Revisão",
    "col_words": "Palavras",
    "load_chapter": "Abrir no editor",
    # Editor
    "editor": "Escrever",
    "chapter_title": "Título do capítulo",
    "chapter_text": "Texto",
    "overwrite": "Sobrescrever o capítulo aberto",
    "overwrite_help": "Grava uma nova revisão do capítulo aberto em vez de criar outro capítulo.",
    "editing": "Capítulo aberto: {title} (rev. {revision})",
    "editing_none": "Nenhum capítulo aberto: salvar cria um capítulo novo.",
    "save_chapter": "Salvar capítulo",
    "new_chapter": "Novo capítulo",
    "chapter_saved": "Capítulo “{title}” salvo (rev. {revision}, {words} palavras).",
    # Suggestions
    "suggestions": "Sugestões",
    "instructions": "O que você quer das sugestões? (opcional)",
    "max_tokens": "Tamanho máximo da resposta (tokens)",
    "max_tokens_default": "padrão do servidor",
    "generate": "Gerar sugestões",
    "suggest_for": "Sugestões para: {title}",
    "job_queued": "Na fila…",
    "suggestions_ready": "Sugestões prontas.",
    "job_failed": "O trabalho falhou: {error}",
    "job_cancelled": "O trabalho foi cancelado.",
    "job_lost": "Perdi o acompanhamento do trabalho; veja a lista de trabalhos.",
    # Jobs
    "jobs": "Trabalhos",
    "no_jobs": "Nenhum trabalho para este livro.",
    "job_line": "{kind} · {status} · {duration}",
    "cancel": "Cancelar",
    "kind_suggest": "sugestões",
    "status_queued": "na fila",
    "status_running": "em execução",
    "status_succeeded": "concluído",
    "status_failed": "falhou",
    "status_cancelled": "cancelado",
    "duration_none": "—",
}

_EN: dict[str, str] = {
    "app_title": "Copiloto",
    "app_caption": "Your writing copilot, with a memory of the book.",
    "ui_language": "Interface language",
    "services": "Services",
    "refresh": "Refresh",
    "service_api": "API",
    "service_database": "Database",
    "service_redis": "Redis",
    "service_worker": "Worker",
    "service_llm": "LLM",
    "service_chroma": "Memory (Chroma)",
    "state_up": "up",
    "state_down": "down",
    "state_loading": "loading",
    "state_unknown": "unknown",
    "llm_loading": "The LLM is loading its model…",
    "not_ready": "Some services are not ready; jobs may be slow or fail.",
    "books": "Books",
    "new_book": "New book",
    "book_title": "Title",
    "book_language": "Book language",
    "book_genre": "Genre",
    "book_synopsis": "Synopsis",
    "create_book": "Create book",
    "book_created": "Book “{title}” created.",
    "select_book": "Book",
    "no_books": "No books yet: create the first one in the sidebar.",
    "pick_book": "Pick or create a book in the sidebar.",
    "book_meta": "{language} · {genre}",
    "no_genre": "no genre",
    "chapters": "Chapters",
    "no_chapters": "This book has no chapters yet.",
    "chapter": "Chapter",
    "chapter_label": "{position}. {title} (rev. {revision}, {words} words)",
    "col_position": "#",
    "col_title": "Title",
    "col_revision": "Revision",
    "col_words": "Words",
    "load_chapter": "Open in the editor",
    "editor": "Write",
    "chapter_title": "Chapter title",
    "chapter_text": "Text",
    "overwrite": "Overwrite loaded chapter",
    "overwrite_help": "Saves a new revision of the loaded chapter instead of a new chapter.",
    "editing": "Loaded chapter: {title} (rev. {revision})",
    "editing_none": "No chapter loaded: saving creates a new chapter.",
    "save_chapter": "Save chapter",
    "new_chapter": "New chapter",
    "chapter_saved": "Chapter “{title}” saved (rev. {revision}, {words} words).",
    "suggestions": "Suggestions",
    "instructions": "What do you want from the suggestions? (optional)",
    "max_tokens": "Longest answer (tokens)",
    "max_tokens_default": "server default",
    "generate": "Generate suggestions",
    "suggest_for": "Suggestions for: {title}",
    "job_queued": "Queued…",
    "suggestions_ready": "Suggestions ready.",
    "job_failed": "The job failed: {error}",
    "job_cancelled": "The job was cancelled.",
    "job_lost": "Lost track of the job; see the jobs list.",
    "jobs": "Jobs",
    "no_jobs": "No jobs for this book.",
    "job_line": "{kind} · {status} · {duration}",
    "cancel": "Cancel",
    "kind_suggest": "suggestions",
    "status_queued": "queued",
    "status_running": "running",
    "status_succeeded": "succeeded",
    "status_failed": "failed",
    "status_cancelled": "cancelled",
    "duration_none": "—",
}

LABELS: dict[str, dict[str, str]] = {"pt-BR": _PT_BR, "en": _EN}


class Labels:
    """Labels of one language; `t("key", name=...)` fills the label's placeholders."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LABELS else DEFAULT_LANGUAGE
        self._table: Mapping[str, str] = LABELS[self.language]

    def t(self, key: str, **values: object) -> str:
        text = self._table[key]
        return text.format(**values) if values else text

    def get(self, key: str, default: str) -> str:
        """A label that may not exist (e.g. a job kind the UI has no name for yet)."""
        return self._table.get(key, default)


def labels(language: str | None) -> Labels:
    return Labels(language or DEFAULT_LANGUAGE)
