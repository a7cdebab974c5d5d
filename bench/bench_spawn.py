"""Start-up: spawn -> `initialize` response of `python -m orion_lsp` vs a bare pygls server.

The baseline is the smallest pygls 2 server there is (a `LanguageServer` with
no features, in a temp script), started with the same interpreter, the same
environment and the same `initialize` request (a workspace folder, a temp
`ORION_DB`). The two alternate, so machine load hits both alike; median and
p90 are reported. Orion's database already exists (created by the warm-up
spawn), as when an editor restarts; a few spawns on a fresh database (its
migrations run inside `initialize`) are reported beside it.

Target: orion's median <= 1.2 x the bare server's median.

What must stay off this path: litellm (seconds to import) and the
tree-sitter grammars. This is checked from outside, with no hook in the
server: one more spawn runs under `-X importtime`, which writes one line per
module to stderr as it is imported; the process is killed as soon as the
`initialize` response arrives, so the stderr lines are exactly the imports
made before the response. Heavy modules found there are printed with the
import chain that pulled them in.

    .venv/bin/python bench/bench_spawn.py [--reps 20] [--fresh 5]

Exit status is 0 even when the target is missed (MISSED is printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.lspwire import frame, read_message  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RATIO_TARGET = 1.2
BARE_SERVER = """\
from pygls.lsp.server import LanguageServer

LanguageServer("bare-pygls", "0").start_io()
"""
# Modules that must not be imported before the initialize response (top-level names).
HEAVY = (
    "litellm",
    "openai",
    "httpx",
    "aiohttp",
    "tiktoken",
    "tokenizers",
    "pydantic",
    "tree_sitter",
    "tree_sitter_c",
    "tree_sitter_cpp",
    "tree_sitter_go",
    "tree_sitter_java",
    "tree_sitter_javascript",
    "tree_sitter_python",
    "tree_sitter_rust",
    "tree_sitter_typescript",
    "tree_sitter_language_pack",
    "multiprocessing",
    "concurrent.futures.process",
    "pathspec",
    "regex",
)
# Runs a server under a gc callback that writes each full (generation 2) collection's
# duration to stderr: how much of start-up is the collector walking lsprotocol's heap.
GC_PROBE = """\
import gc, runpy, sys, time
_t = [0.0]
def _cb(phase, info):
    if info["generation"] != 2:
        return
    if phase == "start":
        _t[0] = time.perf_counter()
    else:
        sys.stderr.write("gc2 %.3f\\n" % ((time.perf_counter() - _t[0]) * 1000))
        sys.stderr.flush()
gc.callbacks.append(_cb)
target = sys.argv.pop(1)
if target.endswith(".py"):
    runpy.run_path(target, run_name="__main__")
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def initialize_request(workspace: Path) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "processId": os.getpid(),
            "clientInfo": {"name": "bench-spawn"},
            "rootUri": workspace.as_uri(),
            "workspaceFolders": [{"uri": workspace.as_uri(), "name": workspace.name}],
            "capabilities": {
                "workspace": {"workspaceFolders": True, "configuration": True},
                "window": {"workDoneProgress": True},
            },
        },
    }


def spawn_once(
    cmd: list[str], env: dict[str, str], workspace: Path, *, keep_stderr: bool = False
) -> tuple[float, str]:
    """Seconds from spawn to the initialize response; stderr when asked (then killed)."""
    request = frame(initialize_request(workspace))
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if keep_stderr else subprocess.DEVNULL,
        env=env,
        cwd=workspace,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(request)
        proc.stdin.flush()
        while True:
            message = read_message(proc.stdout)
            if message.get("id") == 1:
                break
        elapsed = time.perf_counter() - started
        if "result" not in message or "capabilities" not in message["result"]:
            raise SystemExit(f"{cmd}: initialize failed: {message}")
        if keep_stderr:
            # Killed at once: what stderr holds is what ran before the response.
            proc.kill()
            _, err = proc.communicate(timeout=30)
            return elapsed, err.decode("utf-8", "replace")
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
        proc.stdin.flush()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return elapsed, ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def clean_env(db: Path, pycache: Path | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORION_", "LITELLM_", "OPENAI_", "PYTHONDONTWRITEBYTECODE"))
    }
    env["ORION_DB"] = str(db)
    env["PYTHONUNBUFFERED"] = "1"
    if pycache is None:
        # As some CI harnesses run: no .pyc written, so orion's own sources (not
        # byte-compiled by pip in an editable install) are compiled at every start.
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        # Bytecode cached as after a pip install, but in a temp folder (nothing is
        # written into the checkout); the warm-up spawns fill it for both servers.
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def full_gc_ms(cmd: list[str], env: dict[str, str], workspace: Path, probe: Path) -> list[float]:
    """Durations of the full collections that ran before the initialize response."""
    target = cmd[2:] if cmd[1] == "-m" else cmd[1:]
    _, err = spawn_once([cmd[0], str(probe), *target], env, workspace, keep_stderr=True)
    return [float(line.split()[1]) for line in err.splitlines() if line.startswith("gc2 ")]


Row = tuple[str, int, int, int]  # module, nesting level, self us, cumulative us


def imports_before_initialize(cmd: list[str], env: dict[str, str], workspace: Path) -> list[Row]:
    """Every module imported before the initialize response, in import order."""
    _, err = spawn_once([cmd[0], "-X", "importtime", *cmd[1:]], env, workspace, keep_stderr=True)
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        # "import time:   self_us |   cumulative_us | <2 spaces per level>module"
        first, cum_us, name = line.split("|", 2)
        level = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((name.strip(), level, int(first.split(":")[1]), int(cum_us)))
    return rows


def chain_of(rows: list[Row], index: int) -> list[str]:
    """The import chain that pulled rows[index] in: importtime prints a module's
    children before it, one indent level deeper, so the parent of a line is the
    next line below it with a smaller level."""
    name, level = rows[index][0], rows[index][1]
    chain = [name]
    for other, other_level, _, _ in rows[index + 1 :]:
        if other_level < level:
            chain.append(other)
            level = other_level
            if level == 0:
                break
    return list(reversed(chain))


def heavy_report(rows: list[Row]) -> list[str]:
    lines = []
    for heavy in HEAVY:
        hits = [i for i, r in enumerate(rows) if r[0] == heavy or r[0].startswith(heavy + ".")]
        if not hits:
            continue
        # The package's own line (printed after its children) carries its cumulative time.
        i = next((i for i in hits if rows[i][0] == heavy), hits[-1])
        cum = rows[i][3] / 1000
        lines.append(f"{heavy} ({cum:.0f} ms cumulative): {' -> '.join(chain_of(rows, i))}")
    return lines


def extra_imports(orion: list[Row], bare: list[Row]) -> tuple[list[Row], list[tuple[str, float]]]:
    """Modules orion imports that the bare server does not, and their self time
    per top-level package (seconds), largest first."""
    bare_names = {r[0] for r in bare}
    extra = [r for r in orion if r[0] not in bare_names]
    per_top: dict[str, float] = {}
    for name, _, self_us, _ in extra:
        top = name.split(".")[0]
        per_top[top] = per_top.get(top, 0.0) + self_us / 1e6
    ranked = sorted(per_top.items(), key=lambda kv: kv[1], reverse=True)
    return extra, ranked


def stats(values: list[float]) -> tuple[float, float]:
    p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
    return statistics.median(values), p90


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=20, help="spawns of each server")
    parser.add_argument("--fresh", type=int, default=5, help="orion spawns on a fresh database")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)"
    )
    tmp = Path(tempfile.mkdtemp(prefix="orion-bench-spawn-"))
    try:
        workspace = tmp / "workspace"
        workspace.mkdir()
        (workspace / "main.py").write_text("def main() -> None:\n    print('hi')\n")
        bare_script = tmp / "bare_server.py"
        bare_script.write_text(BARE_SERVER)
        env = clean_env(tmp / "orion.db", tmp / "pycache")
        orion_cmd = [args.python, "-m", "orion_lsp"]
        bare_cmd = [args.python, str(bare_script)]
        # Warm-up: page cache, bytecode cache, and orion's database (created and migrated).
        for _ in range(2):
            spawn_once(orion_cmd, env, workspace)
            spawn_once(bare_cmd, env, workspace)
        orion_s: list[float] = []
        bare_s: list[float] = []
        for i in range(args.reps):
            pair = [(orion_cmd, orion_s), (bare_cmd, bare_s)]
            for cmd, out in pair if i % 2 == 0 else reversed(pair):
                out.append(spawn_once(cmd, env, workspace)[0])
        fresh_s: list[float] = []
        for i in range(args.fresh):
            fresh_env = clean_env(tmp / f"fresh-{i}.db", tmp / "pycache")
            fresh_s.append(spawn_once(orion_cmd, fresh_env, workspace)[0])
        nopyc_env = clean_env(tmp / "orion.db", None)
        nopyc_orion: list[float] = []
        nopyc_bare: list[float] = []
        for _ in range(args.fresh):
            nopyc_orion.append(spawn_once(orion_cmd, nopyc_env, workspace)[0])
            nopyc_bare.append(spawn_once(bare_cmd, nopyc_env, workspace)[0])
        rows = imports_before_initialize(orion_cmd, env, workspace)
        bare_rows = imports_before_initialize(bare_cmd, env, workspace)
        probe = tmp / "gc_probe.py"
        probe.write_text(GC_PROBE)
        gc_orion = full_gc_ms(orion_cmd, env, workspace, probe)
        gc_bare = full_gc_ms(bare_cmd, env, workspace, probe)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    (o, o90), (b, b90) = stats(orion_s), stats(bare_s)
    ratio = o / b
    print(f"spawn -> initialize response, {args.reps} spawns each, alternating:")
    print(f"  bare pygls : median {b * 1000:6.0f} ms  p90 {b90 * 1000:6.0f} ms")
    print(f"  orion      : median {o * 1000:6.0f} ms  p90 {o90 * 1000:6.0f} ms")
    if fresh_s:
        print(
            f"  orion, fresh database ({len(fresh_s)} spawns, migrations inside initialize): "
            f"median {statistics.median(fresh_s) * 1000:.0f} ms"
        )
    if nopyc_orion:
        print(
            f"  without a bytecode cache (PYTHONDONTWRITEBYTECODE=1, {len(nopyc_orion)} each): "
            f"orion median {statistics.median(nopyc_orion) * 1000:.0f} ms, "
            f"bare {statistics.median(nopyc_bare) * 1000:.0f} ms"
        )
    verdict = "OK" if ratio <= RATIO_TARGET else "MISSED"
    print(f"  ratio {ratio:.2f}x (target <= {RATIO_TARGET}x): {verdict}")

    def import_s(r: list[Row]) -> float:
        return sum(x[2] for x in r) / 1e6

    print(
        f"imports before the initialize response (one -X importtime spawn each): "
        f"orion {len(rows)} modules {import_s(rows):.2f} s, "
        f"bare {len(bare_rows)} modules {import_s(bare_rows):.2f} s"
    )
    extra, ranked = extra_imports(rows, bare_rows)
    print(
        f"  orion's extra modules: {len(extra)}, {import_s(extra) * 1000:.0f} ms; by package: "
        + ", ".join(f"{name} {secs * 1000:.0f} ms" for name, secs in ranked[:10])
    )
    slowest = sorted(extra, key=lambda r: r[2], reverse=True)[:10]
    print(
        "  slowest extra modules (own time): "
        + ", ".join(f"{name} {self_us / 1000:.1f} ms" for name, _, self_us, _ in slowest)
    )
    print(
        f"  full (gen 2) garbage collections before the response: orion {len(gc_orion)} "
        f"taking {sum(gc_orion):.0f} ms, bare {len(gc_bare)} taking {sum(gc_bare):.0f} ms"
    )
    heavy = heavy_report(rows)
    if heavy:
        print("  heavy modules imported before the response:")
        for line in heavy:
            print("    " + line)
    else:
        print("  no heavy module (litellm, openai, tree-sitter, ...) before the response")
    # litellm (seconds) and the tree-sitter grammars must not be there at all; the
    # tree_sitter core binding alone is a small extension module, reported with its cost.
    for label, prefixes, strict in (
        ("litellm", ("litellm",), True),
        ("tree-sitter grammars", tuple(h for h in HEAVY if h.startswith("tree_sitter_")), True),
        ("tree_sitter core binding", ("tree_sitter",), False),
    ):
        found = [r for r in rows if r[0] in prefixes or r[0].startswith(prefixes[0] + ".")]
        if not found:
            print(f"  {label}: not imported before initialize: OK")
            continue
        cost = sum(r[2] for r in found) / 1000
        verdict = "MISSED" if strict else "light, but not off the path"
        print(f"  {label}: imported before initialize ({cost:.1f} ms): {verdict}")
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
