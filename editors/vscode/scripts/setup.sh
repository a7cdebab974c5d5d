#!/usr/bin/env bash
# Installs everything the VS Code extension's build and tests need, from the
# Debian, npm registries only (nothing else is reachable on CI). Idempotent:
# a warm run only checks stamps and returns in about a second.
#
# What and why (measured on these machines; docs/vscode.md#tests):
# - chromium, ripgrep, libkrb5-dev (+ a C++ toolchain) from apt: the browser
#   that drives code-server, the `rg` code-server searches with (its npm
#   package would download it from GitHub), and the headers `kerberos` builds
#   against.
# - the extension's own npm deps (`npm ci`, committed package-lock.json).
# - code-server 4.100.3 (VS Code 1.100, the last on Node 20) + playwright-core
#   in test-host/, with --ignore-scripts; then we do by hand what code-server's
#   postinstall would do, minus the downloads: install lib/vscode's deps,
#   link Debian's rg, `npm rebuild` the native modules against the local
#   Node headers, and make its two symlinks.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOST="$HERE/test-host"
CS="$HOST/node_modules/code-server"
VSC="$CS/lib/vscode"
STAMP="$HOST/node_modules/.orion-setup-done"
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
# node-gyp must build against the installed Node's headers, never fetch them.
if [[ -f /usr/include/node/node_api.h ]]; then export npm_config_nodedir=/usr; fi

log() { echo "[setup] $*" >&2; }

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v rg >/dev/null || missing+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  sudo=""
  [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [[ "$node_major" != "20" ]]; then
  log "code-server 4.100.x needs Node 20, found $(node --version)"
  exit 1
fi

# A stamp newer than the lock file means the tree matches it.
fresh() { [[ -f "$2" && "$2" -nt "$1" ]]; }

if ! fresh "$HERE/package-lock.json" "$HERE/node_modules/.package-lock.json"; then
  log "npm ci (extension)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

if ! fresh "$HOST/package-lock.json" "$STAMP"; then
  log "npm ci --ignore-scripts (code-server $(node -p "require('$HOST/package.json').dependencies['code-server']"), playwright-core)"
  (cd "$HOST" && npm ci --ignore-scripts --loglevel=error)
  # argon2 (code-server's password hashing) would fetch a prebuilt binary
  # from GitHub; build it from source instead.
  (cd "$HOST" && npm_config_build_from_source=true npm rebuild argon2 --loglevel=error >/dev/null)
  log "code-server: lib/vscode dependencies"
  # npm ci refuses code-server's slightly stale shrinkwrap; install resolves it
  # the same way its own postinstall does.
  (cd "$VSC" && npm install --omit=dev --ignore-scripts --loglevel=error)
  mkdir -p "$VSC/node_modules/@vscode/ripgrep/bin"
  ln -sf "$(command -v rg)" "$VSC/node_modules/@vscode/ripgrep/bin/rg"
  log "code-server: npm rebuild (native modules)"
  # node-pty's install runs `npx node-gyp`: let npx fetch it from npm.
  (cd "$VSC" && npm_config_yes=true npm rebuild --loglevel=error >/dev/null)
  ln -sfn node_modules "$VSC/node_modules.asar"
  ln -sfn code-linux.sh "$VSC/bin/remote-cli/code-server"
  ln -sfn browser-linux.sh "$VSC/bin/helpers/browser.sh"
  touch "$STAMP"
fi
log "ready: code-server $(XDG_CONFIG_HOME="$HOST/node_modules/.xdg" node "$CS/out/node/entry.js" --version 2>/dev/null | tail -1)"
