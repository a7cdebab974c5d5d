"""Walking the workspace for ``list_files``, ``search`` and ``symbols``.

Honours ``.gitignore`` files (the root's and nested ones, with git's
"deepest file that has a matching pattern decides" rule, via ``pathspec``),
always skips version-control and dependency folders, never descends into a
symlinked directory (so no loops and no way out of the root), and stops after
a budget of entries so a huge tree cannot stall a turn.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec

from .paths import is_inside

log = logging.getLogger(__name__)

VCS_DIRS = frozenset({".git", ".hg", ".svn"})
ALWAYS_SKIP_DIRS = VCS_DIRS | {"node_modules", ".venv", "__pycache__"}
# Entries visited (files and directories) before a walk gives up.
DEFAULT_VISIT_BUDGET = 100_000


@dataclass
class _Rules:
    # (directory relative to root, "" for the root; its compiled .gitignore)
    specs: list[tuple[str, pathspec.GitIgnoreSpec]] = field(default_factory=list)
    skip_dirs: frozenset[str] = ALWAYS_SKIP_DIRS

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Git semantics: the deepest .gitignore with a matching pattern decides."""
        for base, spec in reversed(self.specs):
            sub = rel[len(base) + 1 :] if base else rel
            result = spec.check_file(sub + "/" if is_dir else sub)
            if result.include is not None:
                return bool(result.include)
        return False


def _load_gitignore(dir_real: str) -> pathspec.GitIgnoreSpec | None:
    path = os.path.join(dir_real, ".gitignore")
    try:
        # A .gitignore that is itself a symlink could point anywhere: skip it.
        if os.path.islink(path) or not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read(256_000).splitlines()
        import pathspec  # ~10 ms: off the server's start-up path

        return pathspec.GitIgnoreSpec.from_lines(lines)
    except (OSError, ValueError) as exc:  # unreadable or malformed: no rules from it
        log.debug("ignoring unreadable .gitignore in %s: %s", dir_real, exc)
        return None


@dataclass
class WalkStats:
    visited: int = 0
    # True when the visit budget stopped the walk before the end.
    exhausted: bool = False


@dataclass(frozen=True)
class WalkEntry:
    real_path: Path  # absolute real path (inside the root)
    rel: str  # POSIX path relative to the root, as listed (a symlink's own name)
    is_symlink: bool


def walk_files(
    root: Path,
    start_real: Path,
    *,
    include_symlinks: bool = True,
    stats: WalkStats | None = None,
    budget: int = DEFAULT_VISIT_BUDGET,
    skip_dirs: frozenset[str] = ALWAYS_SKIP_DIRS,
) -> Iterator[WalkEntry]:
    """Files under ``start_real`` (a real directory inside ``root``), sorted by path.

    Symlinked files are yielded only when their target is a file inside the
    root (and only with ``include_symlinks``); symlinked directories are not
    entered, nor are directories named in ``skip_dirs``.
    """
    root_real = os.path.realpath(root)
    stats = stats if stats is not None else WalkStats()
    rules = _Rules()
    # The .gitignore files of the directories between the root and the start.
    start_rel = os.path.relpath(start_real, root_real)
    parts = [] if start_rel == "." else start_rel.split(os.sep)
    for i in range(len(parts) + 1):
        base = "/".join(parts[:i])
        spec = _load_gitignore(os.path.join(root_real, *parts[:i]))
        if spec is not None:
            rules.specs.append((base, spec))
    start = "/".join(parts)
    rules.skip_dirs = skip_dirs
    yield from _walk_dir(root_real, str(start_real), start, rules, include_symlinks, stats, budget)


def _walk_dir(
    root_real: str,
    dir_path: str,
    dir_rel: str,
    rules: _Rules,
    include_symlinks: bool,
    stats: WalkStats,
    budget: int,
) -> Iterator[WalkEntry]:
    try:
        with os.scandir(dir_path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        log.debug("cannot list %s: %s", dir_path, exc)
        return
    for entry in entries:
        if stats.visited >= budget:
            stats.exhausted = True
            return
        stats.visited += 1
        rel = f"{dir_rel}/{entry.name}" if dir_rel else entry.name
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            if entry.name in rules.skip_dirs or rules.ignored(rel, is_dir=True):
                continue
            spec = _load_gitignore(entry.path)
            if spec is not None:
                rules.specs.append((rel, spec))
            yield from _walk_dir(root_real, entry.path, rel, rules, include_symlinks, stats, budget)
            if spec is not None:
                rules.specs.pop()
            if stats.exhausted:
                return
            continue
        if rules.ignored(rel, is_dir=False):
            continue
        if is_link:
            if not include_symlinks:
                continue
            target = os.path.realpath(entry.path)
            # Directories behind links are not entered; outside targets are hidden.
            if not is_inside(root_real, target) or not os.path.isfile(target):
                continue
            yield WalkEntry(Path(target), rel, is_symlink=True)
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue  # sockets, FIFOs, devices
        except OSError:
            continue
        yield WalkEntry(Path(entry.path), rel, is_symlink=False)


def glob_matcher(glob: str) -> pathspec.GitIgnoreSpec:
    """A gitignore-style glob: `*.py` matches at any depth, `src/*.py` is anchored."""
    # GitIgnoreSpec exists from pathspec 0.10 through 1.x; the "gitwildmatch"
    # factory name is deprecated in 1.x.
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines([glob])
