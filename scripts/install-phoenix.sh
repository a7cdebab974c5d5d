#!/usr/bin/env bash
# Install Arize Phoenix (a real OpenTelemetry trace backend) from PyPI into its
# own venv, for the telemetry tier (`make test-telemetry`).
#
# Why a separate venv (.cache/phoenix-venv): Phoenix brings a web server, an ORM
# and a data stack (~3.5 min to install here); orion-lsp itself must not depend
# on any of it. Orion talks to it over OTLP/HTTP and its REST API only.
# Idempotent: a venv that already has the pinned version is left as it is.
#
# Env: ORION_PHOENIX_VENV (default: <repo>/.cache/phoenix-venv)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ORION_PHOENIX_VENV:-$REPO/.cache/phoenix-venv}"
PYTHON="${PYTHON:-python3}"
PHOENIX_PKG="arize-phoenix==20.26.1"

log() { echo "[install-phoenix] $*" >&2; }

if [[ -x "$VENV/bin/phoenix" ]] && "$VENV/bin/python" -m pip show arize-phoenix 2>/dev/null \
        | grep -qx "Version: ${PHOENIX_PKG##*==}"; then
    log "Phoenix ${PHOENIX_PKG##*==} already in $VENV"
    exit 0
fi
log "creating venv $VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
log "installing $PHOENIX_PKG (a few minutes the first time)"
"$VENV/bin/python" -m pip install --quiet "$PHOENIX_PKG"
log "done: $VENV/bin/phoenix"
