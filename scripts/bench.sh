#!/usr/bin/env bash
# Run every benchmark in bench/ and print each one's ratios against its
# same-run baseline, then a summary of what ran, what was skipped and why,
# and every line that reports a missed target.
#
# Usage:
#   scripts/bench.sh [--quick] [NAME...]
#     NAME: turn spawn exit telemetry storage ledger threads repomap repomap-quality cli ttft
#     ttft-scripted code-actions (default: all)
#     --quick: fewer iterations (a smoke run; figures are noisier)
#
# Env: PYTHON (default <repo>/.venv/bin/python).
#
# Exit status: 0 when every core benchmark ran to its end (a missed target is
# printed as MISSED/OVER, not an error: machine load moves these figures); 1
# when one crashed. An optional one (ttft against the real local model,
# code-actions) that cannot run here is skipped with the reason, and one that
# stops half-way is reported in the summary without failing the run.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$REPO/.venv/bin/python}"
cd "$REPO" || exit 1

quick=0
selected=()
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        -h|--help) sed -n "2,18p" "$0"; exit 0 ;;
        -*) echo "unknown option $arg" >&2; exit 2 ;;
        turn|spawn|exit|telemetry|storage|ledger|threads|repomap|repomap-quality|cli|ttft|ttft-scripted|code-actions)
            selected+=("$arg") ;;
        *) echo "unknown benchmark $arg (see --help)" >&2; exit 2 ;;
    esac
done

logdir="$(mktemp -d -t orion-bench.XXXXXX)"
trap 'rm -rf "$logdir"' EXIT
summary=()
crashed=0

wanted() {
    [[ ${#selected[@]} -eq 0 ]] && return 0
    local s
    for s in "${selected[@]}"; do [[ "$s" == "$1" ]] && return 0; done
    return 1
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# run NAME COMMAND...: runs it, keeps its output for the summary. A crash makes
# the script exit 1 at the end; run_optional's crash is reported, not fatal.
optional=0
run_optional() { optional=1; run "$@"; optional=0; }

run() {
    local name="$1"; shift
    wanted "$name" || return 0
    echo
    echo "=== $name: $* (load $(loadavg))"
    local started=$SECONDS
    "$@" 2>&1 | tee "$logdir/$name.log"
    local rc=${PIPESTATUS[0]}
    local took=$((SECONDS - started))
    if [[ $rc -eq 0 ]]; then
        summary+=("$name: ran in ${took}s")
    elif [[ $optional -eq 1 ]]; then
        summary+=("$name: could not run to the end (exit $rc after ${took}s; optional, see its output above)")
    else
        summary+=("$name: FAILED (exit $rc after ${took}s)")
        crashed=1
    fi
}

skip() {
    wanted "$1" || return 0
    echo
    echo "=== $1: skipped: $2"
    summary+=("$1: skipped: $2")
}

if [[ ! -x "$PY" ]]; then
    echo "no python at $PY: create the venv first (make install) or set PYTHON" >&2
    exit 1
fi

if [[ $quick -eq 1 ]]; then
    turn_args=(--iterations 20 --warmup 5)
    telemetry_args=(--turns 20)
    spawn_args=(--reps 6 --fresh 2)
    exit_args=(--reps 2)
    storage_args=(--events 2000 --rows 100000 --rounds 2)
    threads_args=(--threads 1000 --messages 100000 --rounds 50)
    ttft_rounds=(--rounds 3)
    repomap_args=(--corpus stdlib)
    quality_args=(--n 50 --aider-sample 0)
    cli_args=(--reps 2)
else
    turn_args=(--iterations 80 --warmup 15 --profile 40)
    telemetry_args=(--turns 60)
    spawn_args=(--reps 20 --fresh 5)
    exit_args=(--reps 5)
    storage_args=()
    threads_args=()
    ttft_rounds=()
    repomap_args=()
    quality_args=()
    cli_args=()
fi

run turn "$PY" bench/bench_turn.py "${turn_args[@]}"
run spawn "$PY" bench/bench_spawn.py "${spawn_args[@]}"
run exit "$PY" bench/bench_exit.py "${exit_args[@]}"
run telemetry "$PY" bench/bench_telemetry.py "${telemetry_args[@]}"
run storage "$PY" bench/bench_storage.py "${storage_args[@]}"
run ledger "$PY" bench/bench_ledger.py
run threads "$PY" bench/bench_threads.py "${threads_args[@]}"
run repomap "$PY" -m bench.repomap.bench_repomap "${repomap_args[@]}"
# Aider's side runs only when scripts/install-aider.sh installed it (its own
# venv under .cache/); the benchmark says so when it did not.
run repomap-quality "$PY" -m bench.repomap.bench_quality "${quality_args[@]}"
run cli "$PY" bench/bench_cli.py "${cli_args[@]}"

# Time to first token. Against the scripted model it always runs (Orion's own
# overhead). Against the real local model only when one is running or can be
# started without installing anything (scripts/install-local-model.sh takes
# minutes and downloads; bench_ttft.py starts and stops the server itself).
run ttft-scripted "$PY" bench/bench_ttft.py --scripted "${ttft_rounds[@]}"
# The model server is one shared process (.cache/llama-smollm2.*): a test of
# another engineer using it at the same time can cut a stream, hence optional.
if bash scripts/local-model.sh status smollm2 >/dev/null 2>&1 ||
    bash scripts/local-model.sh path smollm2 >/dev/null 2>&1; then
    run_optional ttft "$PY" bench/bench_ttft.py "${ttft_rounds[@]}"
else
    skip ttft "no local model server running and none installed (scripts/install-local-model.sh)"
fi

if [[ -f bench/bench_code_actions.py ]]; then
    run_optional code-actions "$PY" bench/bench_code_actions.py
else
    skip code-actions "bench/bench_code_actions.py does not exist yet"
fi

echo
echo "=== summary (load $(loadavg), $(nproc) CPUs)"
for line in "${summary[@]}"; do echo "  $line"; done
missed="$(grep -hE 'MISSED|OVER' "$logdir"/*.log 2>/dev/null || true)"
if [[ -n "$missed" ]]; then
    echo "  targets reported MISSED/OVER (storage and repomap print targets beside figures; read them above):"
    sed 's/^/    /' <<<"$missed"
else
    echo "  no target reported MISSED/OVER (storage and repomap print targets beside figures; read them above)"
fi
exit $crashed
