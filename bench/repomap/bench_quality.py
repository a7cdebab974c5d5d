"""Map quality: does a question naming a function get a map holding its file?

On the CPython standard library (found through sysconfig, no download), 200
functions are picked at random with a fixed seed among the public module-level
functions and methods (found with `ast`, not with Orion's own tags) whose name
is defined in exactly one file, so "its defining file" is unambiguous. For
each, the question "Where is NAME implemented, and what calls it?" goes
through the same path as a turn (`mentioned_identifiers` of the prompt, then
`RepoIndex.render` within 4,096 tokens), and a hit is a map that lists the
defining file. The hit rate is printed, with the misses.

Aider (aider-chat 0.86.1, outside the project's dependencies) is compared
when `scripts/install-aider.sh` installed it into .cache/: its `RepoMap`
gets the same files, the same budget and, as its own coder would, the words
of the same question as `mentioned_idents`. Aider takes seconds per map, so
it answers a subset (`--aider-sample`, the first N picks) and Orion's rate on
that same subset is printed beside it.

    .venv/bin/python -m bench.repomap.bench_quality [--root DIR] [--n 200]
        [--aider-sample 40] [--no-aider]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED = 16
BUDGET_TOKENS = 4096
QUESTION = "Where is {name} implemented, and what calls it?"
AIDER_PYTHON = REPO / ".cache" / "aider-0.86.1" / "bin" / "python"
AIDER_SCRIPT = Path(__file__).with_name("aider_map.py")


def pick_functions(root: Path, n: int, seed: int = SEED) -> list[tuple[str, str]]:
    """(name, defining file) for n public functions/methods with a unique name."""
    from orion_lsp.context.files import walk_files

    where: dict[str, set[str]] = defaultdict(set)
    candidates: set[tuple[str, str]] = set()
    for entry in walk_files(root):
        if not entry.rel_path.endswith(".py"):
            continue
        try:
            tree = ast.parse((root / entry.rel_path).read_bytes())
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                where[node.name].add(entry.rel_path)
        for node in tree.body:
            members = [node]
            if isinstance(node, ast.ClassDef):
                members = list(node.body)
            for m in members:
                if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef) and not m.name.startswith(
                    "_"
                ):
                    candidates.add((m.name, entry.rel_path))
    unique = sorted((name, f) for name, f in candidates if where[name] == {f} and len(name) >= 3)
    return random.Random(seed).sample(unique, min(n, len(unique)))


def defining_files(text: str) -> set[str]:
    return {line[:-1] for line in text.splitlines() if line.endswith(":") and "│" not in line}


async def orion_hits(root: Path, picks: list[tuple[str, str]]) -> tuple[list[bool], float]:
    from orion_lsp.context.cache import MemoryTagCache
    from orion_lsp.context.service import RepoIndex, mentioned_identifiers

    index = RepoIndex(root, "quality", MemoryTagCache())
    await index.build()
    hits = []
    t = time.perf_counter()
    for name, path in picks:
        prompt = QUESTION.format(name=name)
        m = index.render(mentioned=mentioned_identifiers(prompt), budget_tokens=BUDGET_TOKENS)
        hits.append(path in defining_files(m.text))
    return hits, (time.perf_counter() - t) / max(1, len(picks))


def aider_hits(root: Path, picks: list[tuple[str, str]]) -> tuple[list[bool], float] | str:
    """Aider's hits on `picks`, or why it could not run."""
    if not AIDER_PYTHON.exists():
        return "not installed (scripts/install-aider.sh installs aider-chat 0.86.1 into .cache/)"
    with tempfile.TemporaryDirectory() as tmp:
        job = Path(tmp) / "job.json"
        from orion_lsp.context.files import walk_files

        job.write_text(
            json.dumps(
                {
                    "root": str(root),
                    # The files Orion indexes (the stdlib is no git repository
                    # for Aider to list): the same corpus for both.
                    "files": [e.rel_path for e in walk_files(root)],
                    "budget": BUDGET_TOKENS,
                    "questions": [QUESTION.format(name=n) for n, _ in picks],
                    "cache": str(Path(tmp) / "aider-tags-cache"),
                }
            )
        )
        # HOME and cwd in the temp folder: Aider's own files stay out of the corpus.
        env = {**os.environ, "HOME": tmp, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        proc = subprocess.run(
            [str(AIDER_PYTHON), str(AIDER_SCRIPT), str(job)],
            capture_output=True,
            text=True,
            cwd=tmp,
            env=env,
        )
        if proc.returncode != 0:
            return f"aider run failed: {proc.stderr.strip().splitlines()[-1:]}"
        out = json.loads(proc.stdout.strip().splitlines()[-1])
    hits = [path in set(files) for (_, path), files in zip(picks, out["maps"], strict=True)]
    return hits, out["seconds_per_map"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=sysconfig.get_paths()["stdlib"])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--aider-sample", type=int, default=40)
    ap.add_argument("--no-aider", action="store_true")
    args = ap.parse_args()
    root = Path(args.root)
    picks = pick_functions(root, args.n)
    hits, per_map = asyncio.run(orion_hits(root, picks))
    rate = sum(hits) / len(hits)
    print(f"corpus: {root} ({len(picks)} functions, seed {SEED}, budget {BUDGET_TOKENS} tokens)")
    print(f"orion: {sum(hits)}/{len(hits)} hits = {rate:.1%}  ({per_map * 1000:.0f} ms per map)")
    misses = [f"{n} ({p})" for (n, p), h in zip(picks, hits, strict=True) if not h]
    if misses:
        print("  misses: " + ", ".join(misses[:30]) + (" ..." if len(misses) > 30 else ""))
    if not args.no_aider and args.aider_sample > 0:
        sub = picks[: args.aider_sample]
        got = aider_hits(root, sub)
        if isinstance(got, str):
            print(f"aider 0.86.1: {got}")
        else:
            a_hits, a_per_map = got
            o_sub = hits[: len(sub)]
            print(
                f"aider 0.86.1 on the first {len(sub)}: {sum(a_hits)}/{len(sub)} = "
                f"{sum(a_hits) / len(sub):.1%} ({a_per_map:.1f} s per map); orion on the same: "
                f"{sum(o_sub)}/{len(sub)} = {sum(o_sub) / len(sub):.1%}"
            )
    print(f"load average during run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
