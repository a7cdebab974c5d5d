"""Workspace confinement for every file tool the model may call.

The model names files with strings it made up; this module is the only place
where such a string becomes a filesystem path. It refuses anything that is not
a plain relative path, and anything whose *real* path (symlinks resolved,
``..`` collapsed) is not inside the real project root. Containment is decided
on real paths with ``os.path.commonpath``, never by string prefix (a root
``/ws`` must not accept ``/ws2/secret``).

Reads go through ``open_confined``, which narrows the check-then-open race:
the final component is opened with ``O_NOFOLLOW`` (a symlink swapped in after
the check fails to open) and the real path of the *opened descriptor* is
checked again (``/proc/self/fd``, else an inode compare). What remains:

- a hard link inside the root to a file outside it is, by construction, a file
  inside the root (only someone with write access to the root can make one);
- a bind mount inside the root is treated as part of the root;
- directory listings (``os.scandir``) are not descriptor-relative, so a
  directory swapped for a symlink mid-walk can name entries outside; the
  walker never descends into symlinks and every file it *reads* goes through
  ``open_confined``, so such a race can leak names, never contents.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
from functools import lru_cache
from pathlib import Path, PurePosixPath

MAX_PATH_CHARS = 1024
MAX_COMPONENT_CHARS = 255

# A URL scheme (`file:`, `http:`) or a drive letter (`C:`): a colon in the
# first component. Refusing it costs only files literally named `x:y` at the
# top level, which no sane project has.
_SCHEME_OR_DRIVE = re.compile(r"^[^/]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PathRefused(Exception):
    """A path the model may not use; ``reason`` is safe to show the model."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PathMissing(PathRefused):
    """The path is acceptable but nothing exists there."""


def is_inside(root_real: str, candidate_real: str) -> bool:
    """True when the real path ``candidate_real`` is ``root_real`` or below it."""
    try:
        return os.path.commonpath([root_real, candidate_real]) == root_real
    except ValueError:  # different drives, or relative vs absolute
        return False


def check_syntax(user_path: str) -> None:
    """Refuse path strings that are not plain relative POSIX paths."""
    if not isinstance(user_path, str):
        raise PathRefused("the path must be a string")
    if user_path.strip() == "":
        raise PathRefused("the path is empty; use a path relative to the project root")
    if _CONTROL.search(user_path):
        raise PathRefused("the path contains control characters (NUL, newline, ...)")
    if any(unicodedata.category(ch) == "Cf" for ch in user_path):
        # Bidi overrides and zero-width characters make a name look like
        # another one in the editor's edit preview (Trojan Source).
        raise PathRefused("the path contains invisible or bidirectional control characters")
    if len(user_path) > MAX_PATH_CHARS:
        raise PathRefused(f"the path is longer than {MAX_PATH_CHARS} characters")
    if "\\" in user_path:
        # Backslash is a legal POSIX filename character, but from a model it
        # means a Windows path (or a UNC `\\server\share`). Refuse rather than
        # guess what was meant.
        raise PathRefused("backslashes are refused in paths; use '/' as the separator")
    if user_path.startswith("/"):
        raise PathRefused(
            "absolute paths are refused (even inside the project); "
            "use a path relative to the project root"
        )
    if user_path.startswith("~"):
        raise PathRefused(
            "'~' (home directories) is refused; use a path relative to the project root"
        )
    if _SCHEME_OR_DRIVE.match(user_path):
        raise PathRefused(
            "URLs and drive letters are refused; use a path relative to the project root"
        )
    for part in user_path.split("/"):
        if len(part) > MAX_COMPONENT_CHARS:
            raise PathRefused(f"a path component is longer than {MAX_COMPONENT_CHARS} characters")


def resolve_in_workspace(root: Path, user_path: str, *, must_exist: bool) -> tuple[Path, str]:
    """Map a model-given path to (absolute real path, POSIX path relative to root).

    Raises ``PathRefused`` (``PathMissing`` when ``must_exist`` and nothing is
    there) with a reason that never names anything outside the root.
    """
    check_syntax(user_path)
    root_real = os.path.realpath(root)
    # `%2e%2e` is deliberately not decoded: it is a literal file name here.
    candidate = os.path.join(root_real, user_path)
    try:
        real = os.path.realpath(candidate)
    except (OSError, ValueError) as exc:  # e.g. ELOOP in strict mode, odd encodings
        raise PathRefused("the path cannot be resolved") from exc
    if not is_inside(root_real, real):
        # The model's path is not echoed: it may itself be an absolute path
        # of this machine written in a roundabout way (`a/..//etc/x`).
        raise PathRefused(
            "the path resolves outside the project root (through '..' or a symlink); "
            "only files inside the project can be used"
        )
    rel = PurePosixPath(os.path.relpath(real, root_real)).as_posix()
    _refuse_unresolved_links(root_real, rel)
    if must_exist and not os.path.exists(real):
        raise PathMissing(f"{rel!r} does not exist")
    return Path(real), rel


def _refuse_unresolved_links(root_real: str, rel: str) -> None:
    """Refuse a path realpath could not fully resolve (a symlink loop).

    Non-strict ``realpath`` leaves a looping symlink in place, so the result
    still names a link; every existing component must be a plain entry.
    """
    if rel == ".":
        return
    current = root_real
    for part in rel.split("/"):
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except OSError:
            return  # the rest does not exist yet (create_file)
        if stat.S_ISLNK(st.st_mode):
            raise PathRefused("the path goes through a symlink loop")


def _fd_real_path(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def open_confined(root: Path, real_path: Path) -> int:
    """Open an existing regular file for reading, confined to ``root``.

    Returns a raw file descriptor (the caller closes it). Raises
    ``PathRefused`` when the file is not a regular file or turns out to be
    outside the root once opened.
    """
    root_real = _real_root(str(root))
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    # O_NONBLOCK: opening a FIFO must not hang the turn; O_NOFOLLOW: a symlink
    # swapped in for the final component after the check fails with ELOOP.
    flags |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    # Only computed for messages; searching thousands of files skips it.
    rel = _LazyRel(root_real, str(real_path))
    try:
        fd = os.open(real_path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PathRefused(f"{rel!r} changed into a symlink while being opened") from exc
        if exc.errno == errno.ENOENT:
            raise PathMissing(f"{rel!r} does not exist") from exc
        raise PathRefused(f"{rel!r} cannot be opened: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise PathRefused(f"{rel!r} is a directory; use list_files")
        if not stat.S_ISREG(st.st_mode):
            raise PathRefused(f"{rel!r} is not a regular file")
        opened = _fd_real_path(fd)
        if opened is not None:
            if not is_inside(root_real, opened):
                raise PathRefused(f"{rel!r} resolves outside the project root")
        else:
            # No /proc: the path must still resolve inside and name this inode.
            again = os.path.realpath(real_path)
            st2 = os.stat(again)
            if not is_inside(root_real, again) or (st2.st_dev, st2.st_ino) != (
                st.st_dev,
                st.st_ino,
            ):
                raise PathRefused(f"{rel!r} changed while being opened")
        return fd
    except BaseException:
        os.close(fd)
        raise


@lru_cache(maxsize=64)
def _real_root(root: str) -> str:
    # The root's real path is fixed for a session (ToolContext.root is already
    # real); caching it saves several lstat calls per file in a search.
    return os.path.realpath(root)


class _LazyRel:
    """The root-relative name of a path, computed when a message needs it."""

    def __init__(self, root_real: str, path: str) -> None:
        self.root_real = root_real
        self.path = path

    def __repr__(self) -> str:
        if is_inside(self.root_real, self.path):
            return repr(PurePosixPath(os.path.relpath(self.path, self.root_real)).as_posix())
        return "'<outside the project>'"
