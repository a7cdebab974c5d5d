"""`EditorRestoreTarget`: rewind in the editor, one `workspace/applyEdit` per file.

Each restore is a workspace edit the user can undo in the editor, as every
edit of a turn was. It reads what the user sees (the open buffer, else the
disk) and replaces only the span that differs, so the cursor and folds of
the rest of the buffer stay; the range is in the position encoding
negotiated at `initialize` (orion_lsp/positions.py). A file the rewound
turns created is removed with a `DeleteFile` operation when the client
advertises resource operation `delete`; otherwise it is emptied and the
result says so. An open buffer's version rides along, so a buffer that moved
since the conflict check is refused by the editor instead of overwritten.
The server never writes a file itself.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from ..checkpoints.disk import DiskRestoreTarget
from ..checkpoints.rewind import Restored, Unreadable
from ..positions import TextPositions, addressable
from .editor_io import EditCaps, WorkspaceDocuments, workspace_edit_caps

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

EMPTIED_NOTE = "emptied: this editor cannot delete files through the language server"


def changed_span(old: str, new: str) -> tuple[int, int, str]:
    """(start, end, replacement) in `old`: the smallest span whose replacement gives `new`.

    Common prefix and suffix found by bisection on slices (compared in C), so
    a multi-megabyte buffer costs milliseconds.
    """
    lo, hi = 0, min(len(old), len(new))
    while lo < hi:  # longest common prefix
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    prefix = lo
    lo, hi = 0, min(len(old), len(new)) - prefix
    while lo < hi:  # longest common suffix not overlapping the prefix
        mid = (lo + hi + 1) // 2
        if old[len(old) - mid :] == new[len(new) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    suffix = lo
    return prefix, len(old) - suffix, new[prefix : len(new) - suffix]


class EditorRestoreTarget:
    def __init__(self, server: LanguageServer, documents: WorkspaceDocuments, root: Path) -> None:
        self._server = server
        self._documents = documents
        self._root = Path(os.path.realpath(root))
        self._disk = DiskRestoreTarget(self._root)

    def _real(self, path: str) -> Path:
        real = Path(os.path.realpath(self._root / path))
        if not real.is_relative_to(self._root):
            raise Unreadable("it resolves outside the project now")
        return real

    async def read(self, path: str) -> str | None:
        doc = self._documents.get(self._real(path))
        if doc is not None:
            return doc.text
        return await self._disk.read(path)

    async def restore(
        self, path: str, content: str | None, expected: str | None, *, force: bool
    ) -> Restored:
        try:
            real = self._real(path)
            doc = self._documents.get(real)
            current = doc.text if doc is not None else await self._disk.read(path)
        except Unreadable as exc:
            return Restored(path, False, exc.reason)
        if not force and current != expected:
            return Restored(path, False, "it changed while rewinding; not overwritten")
        if current == content:
            return Restored(path, True)
        uri = self._documents.uri_for(real)
        version = doc.version if doc is not None else None
        caps = workspace_edit_caps(self._server)
        if content is None:
            if caps.delete:
                op = lsp.DeleteFile(
                    uri=uri, options=lsp.DeleteFileOptions(ignore_if_not_exists=True)
                )
                return await self._send(path, [op], None)
            assert current is not None
            applied = await self._replace(path, uri, version, current, "", caps)
            return Restored(
                path, applied.applied, EMPTIED_NOTE if applied.applied else applied.note
            )
        if current is None:
            if not caps.create:
                return Restored(path, False, "it is gone, and this editor cannot create files")
            create = lsp.CreateFile(
                uri=uri, options=lsp.CreateFileOptions(overwrite=False, ignore_if_exists=True)
            )
            insert = self._text_edit(
                uri, None, lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)), content
            )
            return await self._send(path, [create, insert], None)
        return await self._replace(path, uri, version, current, content, caps)

    async def _replace(
        self,
        path: str,
        uri: str,
        version: int | None,
        current: str,
        content: str,
        caps: EditCaps,
    ) -> Restored:
        start, end, new_text = addressable(current, *changed_span(current, content))
        at = TextPositions(current, self._documents.position_encoding)
        rng = lsp.Range(lsp.Position(*at.position(start)), lsp.Position(*at.position(end)))
        if caps.document_changes:
            return await self._send(path, [self._text_edit(uri, version, rng, new_text)], None)
        return await self._send(path, None, {uri: [lsp.TextEdit(range=rng, new_text=new_text)]})

    @staticmethod
    def _text_edit(
        uri: str, version: int | None, rng: lsp.Range, text: str
    ) -> lsp.TextDocumentEdit:
        return lsp.TextDocumentEdit(
            text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
            edits=[lsp.TextEdit(range=rng, new_text=text)],
        )

    async def _send(
        self,
        path: str,
        document_changes: list[Any] | None,
        changes: dict[str, list[lsp.TextEdit]] | None,
    ) -> Restored:
        params = lsp.ApplyWorkspaceEditParams(
            edit=lsp.WorkspaceEdit(document_changes=document_changes, changes=changes),
            label=f"Orion: rewind {path}",
        )
        try:
            result = await self._server.workspace_apply_edit_async(params)
        except Exception as exc:  # a client that errors on applyEdit did not apply it
            log.warning("applyEdit (rewind) failed for %s: %s", path, exc)
            return Restored(path, False, "the editor failed to apply it")
        if getattr(result, "applied", False):
            return Restored(path, True)
        reason = getattr(result, "failure_reason", None)
        note = (
            f"the editor did not apply it: {reason.strip()[:200]}"
            if reason
            else "the editor did not apply it"
        )
        return Restored(path, False, note)
