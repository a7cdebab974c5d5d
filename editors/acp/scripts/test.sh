#!/usr/bin/env bash
# The ACP front end against the official TypeScript SDK's client (npm, pinned
# in package-lock.json). Installs it offline-friendly with `npm ci` (the npm
# registry only), then runs test.mjs with the repo's venv Python.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$HERE"
if [[ ! -d node_modules/@agentclientprotocol/sdk ]]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
export ORION_PYTHON="${ORION_PYTHON:-$REPO/.venv/bin/python}"
timeout 300 node test.mjs
