"""Scratch copies of a workspace for the `tests` evaluator, outside the workspace.

A test command may write anything (caches, build output, a marker file): it
runs in a copy so the user's files and the editor's view of them never
change. The copy leaves out what the workspace's `.gitignore` files exclude
(git's rules, whether or not the folder is a git repository) and the
version-control folders; symlinked files inside the root are copied as
files, symlinks leading out of it and symlinked directories are not
followed (the same walk as the model's tools). Then the turn's files are
laid over it in the state being tested ("before" or "after" the turn).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..agent.tools.paths import is_inside
from ..agent.tools.walk import VCS_DIRS, WalkStats, walk_files

# Entries (files and folders) a copy may visit: a bigger tree is refused
# rather than tested half-copied.
COPY_VISIT_BUDGET = 500_000


class ScratchError(Exception):
    """The scratch copy could not be made; str() says why (no secrets, no traceback)."""


def make_scratch(root: Path, label: str) -> Path:
    """A new empty directory for one run, outside the workspace.

    A workspace may itself live in the temp directory (the copy is then its
    sibling); a temp directory inside the workspace is refused.
    """
    base = os.path.realpath(tempfile.gettempdir())
    real_root = os.path.realpath(root)
    if is_inside(real_root, base):
        raise ScratchError(
            f"the temp directory {base} is inside the workspace; set TMPDIR to a folder outside it"
        )
    return Path(tempfile.mkdtemp(prefix=f"orion-tests-{label}-", dir=base))


def copy_workspace(root: Path, dest: Path) -> int:
    """Copy the workspace's non-ignored files into `dest`; returns the number copied."""
    stats = WalkStats()
    copied = 0
    real_root = Path(os.path.realpath(root))
    for entry in walk_files(
        real_root, real_root, stats=stats, budget=COPY_VISIT_BUDGET, skip_dirs=VCS_DIRS
    ):
        target = dest / entry.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(entry.real_path, target, follow_symlinks=True)
        except OSError as exc:
            raise ScratchError(f"cannot copy {entry.rel}: {exc.strerror or exc}") from None
        copied += 1
    if stats.exhausted:
        raise ScratchError(
            f"the workspace has more than {COPY_VISIT_BUDGET} entries; not copied for tests"
        )
    return copied


def overlay(dest: Path, files: Mapping[str, str | None]) -> None:
    """Write `files` (relative POSIX path -> text, None = absent) into the copy."""
    for rel, text in files.items():
        target = dest / rel
        if not is_inside(str(dest), os.path.realpath(target.parent)):
            raise ScratchError(f"refusing a path outside the copy: {rel}")
        if text is None:
            if target.is_file() or target.is_symlink():
                target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # newline="": the stored text keeps its own line endings (CRLF stays CRLF).
        with open(target, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)


def remove_scratch(path: Path) -> None:
    """Delete a copy, including folders a test made read-only."""
    for dirpath, dirnames, _files in os.walk(path):
        for name in dirnames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, name), stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)
