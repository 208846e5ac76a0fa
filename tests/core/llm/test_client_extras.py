"""What the client really sends: engine extras only to the engine /v1/models names, and a
stream closed as soon as `stop` says so. A small recording server stands in for the engines
(the real engines are exercised by tests/api/test_generation_guard.py and test_llm_contract)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from services.core.config import Settings
from services.core.llm.client import LLMClient
from services.core.llm.sampling import Sampling


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owned_by: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owned_by = owned_by
        self.bodies: list[dict[str, Any]] = []
        self.chunks_sent = 0


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps(
            {"object": "list", "data": [{"id": "book-llm", "owned_by": self.server.owned_by}]}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.server.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        try:
            for i in range(200):
                chunk = {
                    "id": "x",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "book-llm",
                    "choices": [{"index": 0, "delta": {"content": f"w{i} "}}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                self.server.chunks_sent += 1
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


def serve(owned_by: str) -> Iterator[Recorder]:
    server = Recorder(owned_by)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["llamacpp", "vllm", "openai"])
def recorder(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    yield from serve(request.param)


def client_for(server: Recorder, **env: str) -> LLMClient:
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    return LLMClient(Settings(_env_file=None, LLM_BASE_URL=url, **env))  # type: ignore[call-arg]


def test_extras_only_for_the_engine_that_takes_them(recorder: Recorder) -> None:
    llm = client_for(recorder)
    sampling = Sampling(0.4, 0.9, 0.3, 0.0, 1.1, 0.8)
    done = llm.stream_chat([{"role": "user", "content": "oi"}], on_delta=lambda _: None,
                           sampling_profile=sampling, max_tokens=300)  # fmt: skip
    body = recorder.bodies[-1]
    assert (body["temperature"], body["top_p"], body["frequency_penalty"]) == (0.4, 0.9, 0.3)
    engine_fields = {"repeat_penalty", "dry_multiplier", "repetition_penalty"} & set(body)
    expected = {
        "llamacpp": {"repeat_penalty", "dry_multiplier"},
        "vllm": {"repetition_penalty"},
        "openai": set(),
    }[recorder.owned_by]
    assert engine_fields == expected
    assert {k: v for k, v in done.sampling.items() if k in expected} == {
        k: body[k] for k in expected
    }


def test_without_a_profile_only_the_temperature_is_sent(recorder: Recorder) -> None:
    llm = client_for(recorder)
    llm.stream_chat([{"role": "user", "content": "oi"}], on_delta=lambda _: None, temperature=0.2)
    body = recorder.bodies[-1]
    assert body["temperature"] == 0.2
    assert not {"top_p", "frequency_penalty", "repeat_penalty", "dry_multiplier"} & set(body)


@pytest.mark.parametrize("recorder", ["llamacpp"], indirect=True)
def test_stop_closes_the_stream_early(recorder: Recorder) -> None:
    llm = client_for(recorder)
    seen: list[str] = []
    done = llm.stream_chat(
        [{"role": "user", "content": "oi"}],
        on_delta=seen.append,
        stop=lambda: len(seen) >= 5,
    )
    assert done.finish_reason == "stopped" and len(seen) == 5
    assert done.completion_tokens == 5  # no usage chunk: the pieces are counted
    assert done.text == "w0 w1 w2 w3 w4 "


def test_unreadable_models_list_falls_back_to_the_configured_engine() -> None:
    llm = LLMClient(
        Settings(_env_file=None, LLM_BASE_URL="http://127.0.0.1:9/v1", LLM_ENGINE="vllm")  # type: ignore[call-arg]
    )
    assert llm.server_info() is None and llm.engine() == "vllm"
    auto = LLMClient(Settings(_env_file=None, LLM_BASE_URL="http://127.0.0.1:9/v1"))  # type: ignore[call-arg]
    assert auto.engine() is None
