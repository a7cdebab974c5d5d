"""`DiskRestoreTarget`: rewind on disk (`orion rewind`), one atomic write per file.

Each file is restored by writing a temporary file beside it (fsynced) and
renaming it over the file, so a reader or a kill -9 at any moment finds the
file fully as it was or fully restored. A file the rewound turns created is
unlinked. Folders are walked from the root one component at a time without
following symlinks (agent/tools/disk_applier.py), so a symlink planted since
the turn cannot redirect a restore outside the project. Unless forced, a
file is replaced only while it still holds what the conflict check read.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
from pathlib import Path, PurePosixPath

from ..agent.tools.disk_applier import WriteRefused, new_file_mode, open_folder, write_temp
from ..agent.tools.paths import PathRefused, check_syntax
from .rewind import Restored, Unreadable

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _parts(path: str) -> list[str]:
    try:
        check_syntax(path)
    except PathRefused as exc:
        raise Unreadable(exc.reason) from exc
    parts = list(PurePosixPath(path).parts)
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise Unreadable("not a path inside the project")
    return parts


def _read_at(dfd: int, name: str) -> bytes | None:
    """The bytes of regular file `name` in folder `dfd`; None when it does not exist."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dfd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Unreadable("it is a symlink now") from exc
        raise Unreadable(f"cannot open it: {exc.strerror}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Unreadable("not a regular file")
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    finally:
        os.close(fd)


def _decode(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable("not UTF-8 text") from exc


def _encode(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8", "surrogatepass")


class DiskRestoreTarget:
    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))

    async def read(self, path: str) -> str | None:
        return await asyncio.to_thread(self._read, path)

    async def restore(
        self, path: str, content: str | None, expected: str | None, *, force: bool
    ) -> Restored:
        return await asyncio.to_thread(self._restore, path, content, expected, force)

    def _read(self, path: str) -> str | None:
        parts = _parts(path)
        try:
            dfd = open_folder(self.root, parts[:-1], create=False)
        except WriteRefused as exc:
            if not os.path.lexists(self.root.joinpath(*parts[:-1])):
                return None  # the folder is gone, so is the file
            raise Unreadable(str(exc)) from exc
        try:
            return _decode(_read_at(dfd, parts[-1]))
        finally:
            os.close(dfd)

    def _restore(
        self, path: str, content: str | None, expected: str | None, force: bool
    ) -> Restored:
        try:
            parts = _parts(path)
            dfd = open_folder(self.root, parts[:-1], create=content is not None)
        except (Unreadable, WriteRefused) as exc:
            return Restored(path, False, str(exc))
        try:
            name = parts[-1]
            if not force:
                try:
                    now = _read_at(dfd, name)
                except Unreadable as exc:
                    return Restored(path, False, exc.reason)
                if now != _encode(expected):
                    return Restored(path, False, "it changed while rewinding; not overwritten")
            if content is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=dfd)
                return Restored(path, True)
            try:
                mode = stat.S_IMODE(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode)
            except FileNotFoundError:
                mode = new_file_mode()
            tmp = write_temp(dfd, content.encode("utf-8", "surrogatepass"), mode=mode)
            try:
                os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            except OSError as exc:
                os.unlink(tmp, dir_fd=dfd)
                return Restored(path, False, f"cannot replace it: {exc.strerror}")
            return Restored(path, True)
        except OSError as exc:
            return Restored(path, False, f"cannot write it: {exc.strerror}")
        finally:
            os.close(dfd)
