#!/usr/bin/env bash
# Install Aider (aider-chat 0.86.1, from PyPI) into its own venv under .cache/,
# outside the project's dependencies, for the map-quality comparison in
# bench/repomap/bench_quality.py. Prints the venv's python on success.
#
# Usage: scripts/install-aider.sh [--timeout SECONDS]   (default 900)
# Exit status: 0 installed (or already there), 1 failed or timed out.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.cache/aider-0.86.1"
PYTHON="${PYTHON:-python3}"
timeout_s=900
if [[ "${1:-}" == "--timeout" ]]; then timeout_s="${2:?}"; fi

if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "import aider.repomap" 2>/dev/null; then
    echo "$VENV/bin/python"
    exit 0
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" || exit 1
started=$SECONDS
if ! timeout "$timeout_s" "$VENV/bin/python" -m pip install --quiet "aider-chat==0.86.1" >&2; then
    echo "aider-chat==0.86.1 did not install within ${timeout_s}s (or failed)" >&2
    rm -rf "$VENV"
    exit 1
fi
echo "installed aider-chat 0.86.1 in $((SECONDS - started))s" >&2
echo "$VENV/bin/python"
