"""`orion repomap [DIR] [--tokens N] [--focus FILE]... [--stats]` (docs/protocol.md#orion-verbs).

Prints the ranked repo map the model would get for DIR to stdout. The tags
cache is the Orion database when it opens (so a second run re-parses only
what changed), else memory; a cache problem never fails the command.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from .cache import MemoryTagCache, TagCache
from .service import RepoIndex

log = logging.getLogger(__name__)


def phases_line(p: dict[str, float]) -> str:
    """Where the time went: walk, parse, tags, rank, render (a user with a slow repo asks).

    parse and tags are CPU time summed over the worker processes; rank is the
    build's link (or the snapshot's load on a restart) plus this request's.
    """
    if "restore_s" in p:
        link = f"snapshot loaded in {_dur(p['restore_s'])}"
    else:
        link = f"link {_dur(p.get('link_s', 0.0))}"
    return (
        f"phases: walk {_dur(p.get('walk_s', 0.0))}"
        f" | parse {_dur(p.get('parse_cpu_s', 0.0))} cpu"
        f" | tags {_dur(p.get('tags_cpu_s', 0.0))} cpu"
        f" | rank: {link}, this map {_dur(p.get('rank_ms', 0.0) / 1000)}"
        f" | render {_dur(p.get('render_ms', 0.0) / 1000)}"
    )


def _dur(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="orion repomap", description="Print the ranked repo map.")
    p.add_argument("dir", nargs="?", default=".")
    p.add_argument("--tokens", type=int, default=4096, help="budget (characters / 4)")
    p.add_argument("--focus", action="append", default=[], help="file relative to DIR")
    p.add_argument(
        "--stats", action="store_true", help="add files, symbols, build time and its phases"
    )
    p.add_argument("--no-cache", action="store_true", help=argparse.SUPPRESS)
    return p


def repomap_main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    root = Path(args.dir)
    if not root.is_dir():
        sys.stderr.write(f"orion repomap: not a directory: {args.dir}\n")
        return 2
    if args.tokens < 0:
        sys.stderr.write("orion repomap: --tokens must be >= 0\n")
        return 2
    return asyncio.run(_run(root, args))


async def _open_cache() -> tuple[TagCache, object | None]:
    """The database cache when the database opens, else memory."""
    try:
        from orion_lsp.config import default_database_path
        from orion_lsp.storage import Database

        from .cache import SqliteTagCache

        db = await Database.open(os.environ.get("ORION_DB") or default_database_path())
    except Exception as e:  # the map works without a cache
        log.warning("repo map cache unavailable, using memory: %s", e)
        return MemoryTagCache(), None
    return SqliteTagCache(db), db


async def _run(root: Path, args: argparse.Namespace) -> int:
    from orion_lsp.project import project_for

    project = project_for(root)
    cache, db = (MemoryTagCache(), None) if args.no_cache else await _open_cache()
    try:
        index = RepoIndex(project.root, project.project_id, cache)
        await index.build()
        focus = [Path(f).as_posix().removeprefix("./") for f in args.focus]
        repo_map = index.render(focus_files=focus, budget_tokens=args.tokens)
        sys.stdout.write(repo_map.text)
        if args.stats:
            s = index.stats()
            sys.stdout.write(
                f"\n# files: {s['files']}  symbols: {s['symbols']}  build: {s['buildMs']} ms"
                f" ({index.reparsed} parsed)  map: {repo_map.files} files,"
                f" {repo_map.tokens} tokens\n# {phases_line(index.phases)}\n"
            )
        sys.stdout.flush()
    finally:
        if db is not None:
            await db.close()  # type: ignore[attr-defined]
    return 0
