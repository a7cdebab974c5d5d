#!/usr/bin/env bash
# Runs every Emacs + eglot test of orion-lsp in `emacs -Q --batch` against the
# real orion-lsp server and the scripted model. Exits non-zero on any failure.
#
#   editors/emacs/scripts/test.sh [tests/test-session.el ...]
#
# Installs Debian's emacs-nox and elpa-eglot when missing (scripts/setup.sh).
# Environment: EMACS (default: emacs), ORION_PYTHON (default:
# <repo>/.venv/bin/python), JOBS (parallel files, default 2), TEST_TIMEOUT
# (seconds per file, default 180), KEEP=1 (keep logs and temp files).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$here/../.." && pwd)"
export ORION_PYTHON="${ORION_PYTHON:-$repo/.venv/bin/python}"
emacs="${EMACS:-emacs}"
jobs="${JOBS:-2}"
per_file="${TEST_TIMEOUT:-180}"

bash "$here/scripts/setup.sh"
echo "[emacs] $("$emacs" --version | head -1), eglot $(
  "$emacs" -Q --batch -l "$here/tests/orion-test.el" --eval '(princ (orion-test-eglot-version))' 2>/dev/null || echo '?')" >&2

# Everything Emacs or the server writes goes to a throwaway directory; the
# checkout is importable without an install.
work="$(mktemp -d "${TMPDIR:-/tmp}/orion-emacs-tests.XXXXXX")"
trap 'if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" \
  XDG_STATE_HOME="$work/state" XDG_CACHE_HOME="$work/cache"
mkdir -p "$HOME"
# ORION_SRC: test against another checkout of the server.
export PYTHONPATH="${ORION_SRC:-$repo}${PYTHONPATH:+:$PYTHONPATH}"
export LITELLM_LOCAL_MODEL_COST_MAP=True
unset ORION_DB ORION_MODEL ORION_API_BASE ORION_API_KEY ORION_CRITIC_MODEL

cd "$here"
if [ "$#" -gt 0 ]; then
  files=("$@")
else
  # The slowest first (its model answers after jsonrpc's 10 s timeout).
  files=(tests/test-code-action.el)
  for f in tests/test-*.el; do
    case " ${files[*]} " in *" $f "*) ;; *) files+=("$f") ;; esac
  done
fi

run_one() {
  local f="$1" log="$work/$(basename "$1").log" rc=0
  TMPDIR="$work" ORION_EMACS_TEST_RUN="$work" timeout -k 5 "$per_file" \
    "$emacs" -Q --batch -l "$f" </dev/null >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 124 ]; then echo "FAILED  $f :: timed out after ${per_file}s" >>"$log"; fi
  echo "$rc" >"$log.rc"
}

# shellcheck source=../../../scripts/lib/editor-suite.sh
source "$repo/scripts/lib/editor-suite.sh"
status=0
run_suite Emacs ORION_EMACS_TEST_RUN -E '^(ok|FAILED) ' || status=$?
exit "$status"
