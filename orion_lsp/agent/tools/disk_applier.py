"""``DiskEditApplier``: the ``EditApplier`` of the CLI (``orion chat``).

In the editor, edits go through ``workspace/applyEdit`` so they are undoable
there; in a terminal there is no editor, so edits are written to disk here.

Containment is re-checked at write time without a check-then-use race: the
applier walks from the root to the file's folder one component at a time with
``O_DIRECTORY | O_NOFOLLOW`` directory descriptors (creating missing folders
with ``mkdir(dir_fd=...)``), so a symlink planted anywhere on the way makes
the write fail instead of leaving the root. The new content goes to a
temporary file in that folder, then ``os.replace`` (edit) or ``os.link``
(create: never clobbers an existing file), all relative to the folder's
descriptor. An edit whose file changed on disk since the tool computed it is
refused rather than overwritten. Refusals raise ``EditRefused`` with the
reason; an I/O error (disk full, ...) raises ``EditFailed``.

Sensitive paths (``agent/guard.py``: ``.git/``, ``.vscode/``, ``.env*``, shell
rc files, ...) are refused with ``EditRefused`` (a clear tool error) unless the
user opted in with ``ORION_ALLOW_SENSITIVE_EDITS=1``: a terminal has no undo
and no confirmation dialog, so the default is no.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import secrets
import stat
from pathlib import Path

from ..guard import ALLOW_ENV, EditRefused, allow_sensitive_from_env, sensitive_reason
from .base import EditFailed, FileEdit
from .paths import is_inside

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class WriteRefused(Exception):
    """The file cannot be written safely (a symlink on the way, not a regular file...)."""


class DiskEditApplier:
    def __init__(self, root: Path, *, allow_sensitive: bool | None = None) -> None:
        self.root = Path(os.path.realpath(root))
        # None: the environment decides (ORION_ALLOW_SENSITIVE_EDITS).
        self.allow_sensitive = (
            allow_sensitive_from_env() if allow_sensitive is None else allow_sensitive
        )

    async def apply(self, edit: FileEdit, turn_id: str) -> bool:
        self._refuse_sensitive(edit, turn_id)
        return await asyncio.to_thread(self._apply_sync, edit, turn_id)

    def _refuse_sensitive(self, edit: FileEdit, turn_id: str) -> None:
        if self.allow_sensitive:
            return
        # The name the model used and the path actually written must both pass
        # (pure string work: edit.path is absolute and real).
        actual = os.path.relpath(os.path.normpath(edit.path), self.root).replace(os.sep, "/")
        if actual == ".." or actual.startswith("../"):
            return  # outside the root: _parts refuses it (and says so in the log)
        reason = sensitive_reason(edit.rel_path) or sensitive_reason(actual)
        if reason is not None:
            log.warning("turn %s: edit of %s refused: %s", turn_id, edit.rel_path, reason)
            raise EditRefused(
                f"{reason}; the terminal never writes such files without the user's "
                f"opt-in ({ALLOW_ENV}=1)"
            )

    def _apply_sync(self, edit: FileEdit, turn_id: str) -> bool:
        try:
            parts = self._parts(Path(edit.path))
            dfd = open_folder(self.root, parts[:-1], create=edit.create)
            try:
                data = edit.new_content.encode("utf-8", "surrogatepass")
                if edit.create:
                    self._create(dfd, parts[-1], data)
                else:
                    old = edit.old_content.encode("utf-8", "surrogatepass")
                    self._replace(dfd, parts[-1], old, data)
            finally:
                os.close(dfd)
        except WriteRefused as exc:
            log.warning("turn %s: edit of %s not written: %s", turn_id, edit.rel_path, exc)
            raise EditRefused(f"not written: {exc}") from None
        except OSError as exc:
            log.warning("turn %s: edit of %s failed: %s", turn_id, edit.rel_path, exc)
            raise EditFailed(f"writing it to disk failed: {exc.strerror or exc}") from None
        return True

    def _parts(self, target: Path) -> list[str]:
        norm = os.path.normpath(target)
        inside = is_inside(str(self.root), norm) and norm != str(self.root)
        if not target.is_absolute() or not inside:
            raise WriteRefused("the path is not a file inside the root")
        return os.path.relpath(norm, self.root).split(os.sep)

    def _create(self, dfd: int, name: str, data: bytes) -> None:
        tmp = write_temp(dfd, data, mode=new_file_mode())
        try:
            os.link(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
        except FileExistsError as exc:
            raise WriteRefused("the file exists (create never overwrites)") from exc
        finally:
            os.unlink(tmp, dir_fd=dfd)

    def _replace(self, dfd: int, name: str, old: bytes, data: bytes) -> None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        except OSError as exc:
            raise WriteRefused(f"cannot open the file: {exc.strerror}") from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise WriteRefused("not a regular file")
            with os.fdopen(os.dup(fd), "rb") as fh:
                current = fh.read()
        finally:
            os.close(fd)
        if current != old:
            raise WriteRefused("the file changed on disk since the edit was computed")
        tmp = write_temp(dfd, data, mode=stat.S_IMODE(st.st_mode))
        try:
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError:
            os.unlink(tmp, dir_fd=dfd)
            raise


def open_folder(root: Path, folders: list[str], *, create: bool) -> int:
    """A descriptor of root/folders..., never through a symlink (``WriteRefused`` else)."""
    dfd = os.open(root, _DIR_FLAGS)
    try:
        for name in folders:
            if create:
                try:
                    os.mkdir(name, 0o777, dir_fd=dfd)
                except FileExistsError:
                    pass  # a folder (fine) or a symlink (refused just below)
            try:
                nxt = os.open(name, _DIR_FLAGS, dir_fd=dfd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise WriteRefused(f"{name!r} on the way is a symlink or a file") from exc
                raise WriteRefused(f"cannot open folder {name!r}: {exc.strerror}") from exc
            os.close(dfd)
            dfd = nxt
        return dfd
    except BaseException:
        os.close(dfd)
        raise


def write_temp(dfd: int, data: bytes, *, mode: int) -> str:
    """A fully written, fsynced temporary file in the folder; returns its name.

    Renamed over the target afterwards, so a reader (or a kill -9) sees the
    old file or the new one, never a part."""
    name = f".orion-{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(name, flags, 0o600, dir_fd=dfd)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(name, dir_fd=dfd)
        raise
    return name


def new_file_mode() -> int:
    return 0o666 & ~_umask()


def _umask() -> int:
    # os.umask() can only be read by setting it, which would race with other
    # threads creating files; Linux shows it in /proc instead.
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022
