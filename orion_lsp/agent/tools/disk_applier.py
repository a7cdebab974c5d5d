"""``DiskEditApplier``: the ``EditApplier`` of the CLI (``orion chat``).

In the editor, edits go through ``workspace/applyEdit`` so they are undoable
there; in a terminal there is no editor, so edits are written to disk here.
Writes are atomic (a temporary file in the same folder, then ``os.replace``,
or ``os.link`` for a new file so an existing one is never clobbered).
Containment is checked again at write time, and an edit whose file changed
on disk since the tool computed it is refused rather than overwriting.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import tempfile
from pathlib import Path

from .base import FileEdit
from .paths import is_inside

log = logging.getLogger(__name__)


class DiskEditApplier:
    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))

    async def apply(self, edit: FileEdit, turn_id: str) -> bool:
        return await asyncio.to_thread(self._apply_sync, edit, turn_id)

    def _inside(self, path: Path) -> bool:
        return is_inside(str(self.root), os.path.realpath(path))

    def _apply_sync(self, edit: FileEdit, turn_id: str) -> bool:
        target = Path(edit.path)
        if not target.is_absolute() or not self._inside(target):
            log.warning("turn %s: refusing a write outside the root (%s)", turn_id, edit.rel_path)
            return False
        data = edit.new_content.encode("utf-8", "surrogatepass")
        if edit.create:
            return self._create(target, data, edit, turn_id)
        return self._replace(target, data, edit, turn_id)

    def _create(self, target: Path, data: bytes, edit: FileEdit, turn_id: str) -> bool:
        parent = target.parent
        # realpath of a folder that does not exist yet resolves the part that
        # does; checked before and after creating so a symlink planted in
        # between cannot carry the new folders outside.
        if not self._inside(parent):
            return False
        os.makedirs(parent, exist_ok=True)
        if not self._inside(parent) or os.path.lexists(target):
            log.warning("turn %s: not creating %s (exists or moved)", turn_id, edit.rel_path)
            return False
        tmp = self._write_temp(parent, data, mode=0o666 & ~_umask())
        try:
            os.link(tmp, target)  # fails if the name exists: never clobbers
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True

    def _replace(self, target: Path, data: bytes, edit: FileEdit, turn_id: str) -> bool:
        try:
            st = os.lstat(target)
            if not stat.S_ISREG(st.st_mode):
                return False
            with open(target, "rb") as fh:
                current = fh.read()
        except OSError as exc:
            log.warning("turn %s: cannot read %s: %s", turn_id, edit.rel_path, exc.strerror)
            return False
        if current != edit.old_content.encode("utf-8", "surrogatepass"):
            log.warning("turn %s: %s changed on disk; edit not written", turn_id, edit.rel_path)
            return False
        tmp = self._write_temp(target.parent, data, mode=stat.S_IMODE(st.st_mode))
        try:
            os.replace(tmp, target)
        except OSError:
            os.unlink(tmp)
            raise
        return True

    @staticmethod
    def _write_temp(folder: Path, data: bytes, *, mode: int) -> str:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".orion-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
        except BaseException:
            os.unlink(tmp)
            raise
        return tmp


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
