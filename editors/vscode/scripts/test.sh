#!/usr/bin/env bash
# The VS Code extension's whole test run, for `make test-editors` and CI:
# installs what is missing (scripts/setup.sh), type-checks and builds, packages
# the .vsix, runs the unit tests (node --test), then the extension-host tests
# and the UI smoke test in code-server + headless Chromium (test/host/run.mjs)
# against the real orion-lsp server and the scripted model.
# Exits non-zero when anything fails. ORION_PYTHON picks the interpreter that
# has orion_lsp installed (default: <repo>/.venv/bin/python).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
start=$SECONDS
stage() { echo "[vscode] $* (+$((SECONDS - start))s)" >&2; }

stage "setup"
./scripts/setup.sh
stage "typecheck + compile tests"
npx tsc -p .
stage "bundle + package"
node esbuild.mjs --minify
npx vsce package --no-dependencies --out dist/orion-vscode.vsix >/dev/null
stage "unit tests"
node --test out/test/unit/
stage "extension-host + UI tests in code-server"
timeout 300 node test/host/run.mjs "$@"
stage "all passed"
