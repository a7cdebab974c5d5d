"""Repo map benchmark on the CPython standard library (found through sysconfig).

Each phase runs in its own subprocess so its peak RSS is its own. Printed next
to a floor measured in the same run (plain tree-sitter parse of the same files,
one process, trees dropped) and the targets of the issue. The SQLite tags
cache is a fresh database file in a temp folder.

    .venv/bin/python -m bench.repomap.bench_repomap [--root DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

TARGETS = {"cold": 8.0, "warm": 1.5, "request_ms": 150.0, "incremental_ms": 30.0, "rss_mb": 250.0}
EDITED = "asyncio/tasks.py"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class DescendantPeak:
    """Peak VmHWM of our descendant processes (pool workers are children of the
    forkserver, so RUSAGE_CHILDREN never sees them): polled from /proc."""

    def __init__(self) -> None:
        import threading

        self.peak_kb = 0
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> DescendantPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        me = os.getpid()
        cpu: dict[int, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.wait(0.2):
            parents: dict[int, int] = {}
            stats: dict[int, list[str]] = {}
            for d in os.listdir("/proc"):
                if not d.isdigit():
                    continue
                try:
                    with open(f"/proc/{d}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                parents[int(d)] = int(fields[1])
                stats[int(d)] = fields
            for pid in parents:
                p, hops = parents.get(pid), 0
                while p not in (None, 0, 1, me) and hops < 5:
                    p, hops = parents.get(p), hops + 1
                if p != me:
                    continue
                fields = stats[pid]
                cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
                try:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    continue
            self.cpu_s = sum(cpu.values())


def phase_floor(root: str) -> dict:
    from orion_lsp.context.files import walk_files
    from orion_lsp.context.languages import language_for_path, parser

    t = time.perf_counter()
    cpu = time.process_time()
    n = size = 0
    for e in walk_files(Path(root)):
        lang = language_for_path(e.rel_path)
        assert lang is not None
        data = (Path(root) / e.rel_path).read_bytes()
        parser(lang).parse(data)
        n += 1
        size += len(data)
    return {
        "seconds": time.perf_counter() - t,
        "cpu": time.process_time() - cpu,
        "files": n,
        "mb": size / 1e6,
        "rss_mb": _rss_mb(),
    }


async def _open(db_path: str, root: str):  # noqa: ANN202
    from orion_lsp.context.cache import SqliteTagCache
    from orion_lsp.context.service import RepoIndex
    from orion_lsp.storage import Database

    db = await Database.open(db_path)
    return db, RepoIndex(Path(root), "bench", SqliteTagCache(db))


async def _phase_build(root: str, db_path: str) -> dict:
    db, index = await _open(db_path, root)
    t = time.perf_counter()
    cpu = time.process_time()
    with DescendantPeak() as kids:
        await index.build()
        secs = time.perf_counter() - t
        cpu = time.process_time() - cpu
    await db.close()
    return {
        "seconds": secs,
        "reparsed": index.reparsed,
        **index.stats(),
        "rss_mb": _rss_mb(),
        "workers_rss_mb": kids.peak_kb / 1024,
        "main_cpu": cpu,
        "workers_cpu": kids.cpu_s,
    }


async def _phase_requests(root: str, db_path: str) -> dict:
    db, index = await _open(db_path, root)
    await index.build()
    requests = [
        {},
        {"focus_files": [EDITED]},
        {"focus_files": ["json/decoder.py"], "mentioned": {"JSONDecodeError", "scanner"}},
        {"mentioned": {"urlopen", "Request"}, "touched": ["http/client.py"]},
        {"focus_files": ["email/message.py"], "touched": ["email/parser.py"]},
    ]
    times = []
    for kw in requests * 4:
        t = time.perf_counter()
        m = index.render(budget_tokens=4096, **kw)
        times.append((time.perf_counter() - t) * 1000)
        assert m.tokens <= 4096 and m.text
    # Incremental: an edit of a buffer, then the next request shows it.
    text = (Path(root) / EDITED).read_text()
    inc = []
    req_after = []
    for k in range(5):
        edited = text + f"\n\ndef bench_added_function_{k}(x):\n    return x\n"
        t = time.perf_counter()
        index.update_text(EDITED, edited)
        inc.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        m = index.render(mentioned={f"bench_added_function_{k}"}, budget_tokens=4096)
        req_after.append((time.perf_counter() - t) * 1000)
        assert f"bench_added_function_{k}" in m.text
    await db.close()
    times.sort()
    return {
        "request_ms_median": times[len(times) // 2],
        "request_ms_max": times[-1],
        "incremental_ms_median": sorted(inc)[len(inc) // 2],
        "incremental_ms_max": max(inc),
        "request_after_edit_ms_median": sorted(req_after)[len(req_after) // 2],
        "rss_mb": _rss_mb(),
    }


def _child(phase: str, root: str, db_path: str) -> None:
    if phase == "floor":
        out = phase_floor(root)
    elif phase == "build":
        out = asyncio.run(_phase_build(root, db_path))
    else:
        out = asyncio.run(_phase_requests(root, db_path))
    sys.stdout.write(json.dumps(out) + "\n")


def _run(phase: str, root: str, db_path: str) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.repomap.bench_repomap",
            "--phase",
            phase,
            "--root",
            root,
            "--db",
            db_path,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--phase")
    ap.add_argument("--db")
    args = ap.parse_args()
    if args.phase:
        _child(args.phase, args.root, args.db)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "orion.db")
        floor = _run("floor", args.root, db)
        cold = _run("build", args.root, db)
        warm = _run("build", args.root, db)
        req = _run("requests", args.root, db)
    rows = [
        ("corpus", f"{floor['files']} files, {floor['mb']:.1f} MB", "", ""),
        (
            "floor: plain parse, 1 process",
            f"{floor['seconds']:.2f} s",
            f"cpu {floor['cpu']:.2f} s",
            "",
        ),
        (
            "cold build (2 workers, SQLite cache)",
            f"{cold['seconds']:.2f} s",
            f"{cold['seconds'] / floor['seconds']:.2f}x floor",
            f"<= {TARGETS['cold']} s",
        ),
        (
            "cold build cpu: main / workers",
            f"{cold['main_cpu']:.2f} / {cold['workers_cpu']:.2f} s",
            "",
            "",
        ),
        (
            "warm restart (cache)",
            f"{warm['seconds']:.2f} s",
            f"{warm['seconds'] / floor['seconds']:.2f}x floor",
            f"<= {TARGETS['warm']} s",
        ),
        (
            "per request rank+render (median/max)",
            f"{req['request_ms_median']:.0f} / {req['request_ms_max']:.0f} ms",
            "",
            f"<= {TARGETS['request_ms']:.0f} ms",
        ),
        (
            "incremental update_text (median/max)",
            f"{req['incremental_ms_median']:.1f} / {req['incremental_ms_max']:.1f} ms",
            "",
            f"<= {TARGETS['incremental_ms']:.0f} ms",
        ),
        (
            "request right after an edit (median)",
            f"{req['request_after_edit_ms_median']:.0f} ms",
            "",
            "",
        ),
        (
            "peak RSS main: cold / warm / requests",
            f"{cold['rss_mb']:.0f} / {warm['rss_mb']:.0f} / {req['rss_mb']:.0f} MB",
            f"floor {floor['rss_mb']:.0f} MB",
            f"<= {TARGETS['rss_mb']:.0f} MB",
        ),
        ("peak RSS of one worker process (cold)", f"{cold['workers_rss_mb']:.0f} MB", "", ""),
        (
            "index",
            f"{cold['files']} files, {cold['symbols']} symbols, {cold['reparsed']} parsed "
            f"cold, {warm['reparsed']} parsed warm",
            "",
            "",
        ),
        ("Aider 0.86 (measured here once, same corpus)", "40 s cold, 13 s/request, 590 MB", "", ""),
    ]
    w = max(len(r[0]) for r in rows)
    for name, val, ratio, target in rows:
        print(f"{name:<{w}}  {val:<28} {ratio:<16} {target}")
    print(f"load average during run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
