#!/usr/bin/env bash
# Installs GNU Emacs (no X) and eglot from Debian, for the eglot test suite.
# Idempotent: when both are present it only checks and returns. Debian 12
# ships Emacs 28.2 and elpa-eglot 1.9 (Emacs 29+ has eglot built in).
set -euo pipefail
log() { echo "[emacs setup] $*" >&2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Loaded the way the tests load it (-Q skips Debian's site-start).
have_eglot() {
  command -v emacs >/dev/null && emacs -Q --batch -l "$here/tests/orion-test.el" >/dev/null 2>&1
}
if have_eglot; then exit 0; fi

sudo=""
[[ "$(id -u)" -ne 0 ]] && sudo="sudo"
install() {
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    emacs-nox elpa-eglot >/dev/null
}
log "apt-get install emacs-nox elpa-eglot"
# A clean machine may have no package lists yet (or stale ones): update once, then retry.
if ! install 2>/dev/null; then
  log "apt-get update"
  $sudo apt-get update -qq
  install
fi
have_eglot || { log "eglot still cannot be loaded after the install"; exit 1; }
