"""`copiloto up` (what `make up` runs): everything starts, answers, and stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.launcher.processes import port_open
from services.launcher.stack import free_port
from tests.conftest import claim_redis_db


def test_up_starts_the_stack_and_ctrl_c_stops_it(tmp_path: Path, redis_base: str) -> None:
    ports = {name: free_port() for name in ("API_PORT", "LLM_PORT", "UI_PORT")}
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "LLM_BASE_URL": f"http://127.0.0.1:{ports['LLM_PORT']}/v1",
        "DATA_DIR": str(tmp_path / "data"),
        "REDIS_URL": claim_redis_db(redis_base),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.launcher.cli", "up"],
        env=env,
        cwd=tmp_path,  # no .env of the developer's is read
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line or time.monotonic() > deadline:
                break
        output = "".join(lines)
        assert "Copiloto is running" in output, output
        assert f"http://127.0.0.1:{ports['UI_PORT']}" in output
        api = f"http://127.0.0.1:{ports['API_PORT']}"
        ready = httpx.get(f"{api}/ready", timeout=10)
        deadline = time.monotonic() + 30
        while ready.status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            ready = httpx.get(f"{api}/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        ui = f"http://127.0.0.1:{ports['UI_PORT']}/_stcore/health"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(ui, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("the UI never answered")
        assert (tmp_path / "data" / "copiloto.db").is_file()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0, "".join(lines)
    for name, port in ports.items():
        assert not port_open("127.0.0.1", port), f"{name} {port} still open after Ctrl-C"
