"""What a turn sees of the editor: open buffers in, notifications and edits out.

- `WorkspaceDocuments`: tools read open buffers (pygls keeps them in sync
  through didOpen/didChange/didClose), not stale disk.
- `EditorSink`: `orion/chatDelta`, `orion/toolEvent` and `$/progress` reports.
- `LspEditApplier`: each edit is one `workspace/applyEdit`, so the editor can
  undo it, its range in the position encoding negotiated at `initialize`;
  sensitive paths need the user's yes first.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from ..agent.guard import EditRefused, sensitive_reason
from ..agent.tools.base import EditFailed, FileEdit, OpenDocument
from ..positions import TextPositions, addressable, encoding_of
from ..project import uri_to_path
from ..redact import Redactor

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer
    from pygls.workspace import TextDocument

log = logging.getLogger(__name__)

CHAT_DELTA = "orion/chatDelta"
TOOL_EVENT = "orion/toolEvent"
TURN_END = "orion/turnEnd"
# The two answers of the sensitive-path question (window/showMessageRequest).
ALLOW = "Allow"
DENY = "Deny"


class WorkspaceDocuments:
    def __init__(self, server: LanguageServer) -> None:
        self._server = server
        # uri -> real path: `search` asks once per file it walks, so resolving every
        # open document's symlinks on each call would be that many syscalls again.
        self._real: dict[str, str | None] = {}

    def _open_uri(self, path: Path) -> str | None:
        """The URI of the open buffer for `path` (reached through any symlink), if any."""
        try:
            docs: dict[str, TextDocument] = self._server.workspace.text_documents
        except RuntimeError:  # not initialized
            return None
        target = os.path.realpath(path)
        for uri in list(docs):
            if uri not in self._real:
                p = uri_to_path(uri)
                self._real[uri] = os.path.realpath(p) if p is not None else None
            if self._real[uri] == target:
                return uri
        return None

    def get(self, path: Path) -> OpenDocument | None:
        uri = self._open_uri(path)
        if uri is None:
            return None
        doc = self._server.workspace.text_documents.get(uri)
        return OpenDocument(text=doc.source, version=doc.version) if doc is not None else None

    @property
    def position_encoding(self) -> str:
        """The encoding of `character` in every position to and from this client."""
        return encoding_of(self._server.workspace.position_encoding)

    def uri_for(self, path: Path) -> str:
        """The URI the editor knows the file by (it may be through a symlink)."""
        return self._open_uri(path) or from_fs_path(str(path)) or path.as_uri()


class EditorSink:
    """Sends a turn's events to the client, in order, through one place."""

    def __init__(
        self, server: LanguageServer, redactor: Redactor, progress_token: Any = None
    ) -> None:
        self._server = server
        self._redact = redactor
        self.progress_token = progress_token

    async def delta(self, turn_id: str, text: str) -> None:
        self._server.protocol.notify(CHAT_DELTA, {"turnId": turn_id, "delta": self._redact(text)})

    async def tool_event(
        self, turn_id: str, type: str, name: str, ok: bool | None, summary: str
    ) -> None:
        params: dict[str, Any] = {
            "turnId": turn_id,
            "type": type,
            "name": name,
            "summary": self._redact(summary),
        }
        if ok is not None:
            params["ok"] = ok
        self._server.protocol.notify(TOOL_EVENT, params)

    async def progress(self, turn_id: str, message: str) -> None:
        if self.progress_token is None:
            return
        self._server.work_done_progress.report(
            self.progress_token, lsp.WorkDoneProgressReport(message=message)
        )

    def turn_end(self, params: dict[str, Any]) -> None:
        self._server.protocol.notify(TURN_END, params)


class LspEditApplier:
    """One `workspace/applyEdit` per edit, annotated with the turn that made it.

    Sensitive paths (`agent/guard.py`) are never applied silently: a client
    with `changeAnnotationSupport` gets the edit with a `needsConfirmation`
    annotation (VS Code shows its refactor preview); any other client is asked
    first with `window/showMessageRequest` Allow/Deny, and anything but Allow
    (Deny, dismissed, an error) refuses the edit without an `applyEdit`.
    """

    def __init__(self, server: LanguageServer, documents: WorkspaceDocuments) -> None:
        self._server = server
        self._documents = documents

    async def apply(self, edit: FileEdit, turn_id: str) -> bool:
        uri = self._documents.uri_for(edit.path)
        caps = workspace_edit_caps(self._server)
        sensitive = sensitive_reason(edit.rel_path)
        # Confirmation by annotation needs both documentChanges and annotations.
        by_annotation = sensitive is not None and caps.document_changes and caps.annotations
        if sensitive is not None and not by_annotation:
            await self._ask(edit, sensitive)
        self._check_current(edit)
        if edit.create:
            text_range, new_text = lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)), edit.new_text
        else:
            text_range, new_text = self._range(edit)
        label = f"Orion: edit {edit.rel_path}"
        # Only what the client advertised: resource operations live in
        # documentChanges, so a client that lists `create` takes a CreateFile
        # (Neovim lists it without documentChanges); any other gets a plain
        # TextDocumentEdit (version null: a new file) or a `changes` map, which
        # every client applies. eglot before 1.24 errors on a CreateFile.
        create_op = edit.create and caps.create
        if not (caps.document_changes or create_op):
            text_edit = lsp.TextEdit(range=text_range, new_text=new_text)
            params = lsp.ApplyWorkspaceEditParams(
                edit=lsp.WorkspaceEdit(changes={uri: [text_edit]}), label=label
            )
            return await self._send(params, edit)
        annotation_id: str | None = f"orion-turn-{turn_id}" if caps.annotations else None
        annotations: dict[str, lsp.ChangeAnnotation] | None = (
            {
                annotation_id: lsp.ChangeAnnotation(
                    label=f"Orion turn {turn_id[:8]}",
                    description=(
                        f"Edit of {edit.rel_path} made by Orion"
                        + (f" (sensitive: {sensitive})" if by_annotation else "")
                    ),
                    needs_confirmation=by_annotation,
                )
            }
            if annotation_id
            else None
        )
        changes: list[Any] = []
        if create_op:
            changes.append(
                lsp.CreateFile(
                    uri=uri,
                    options=lsp.CreateFileOptions(overwrite=False, ignore_if_exists=False),
                    annotation_id=annotation_id,
                )
            )
        # The client refuses the edit if its buffer moved past this version.
        version = None if edit.create else edit.version
        changes.append(
            lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                edits=[
                    lsp.AnnotatedTextEdit(
                        range=text_range, new_text=new_text, annotation_id=annotation_id
                    )
                    if annotation_id
                    else lsp.TextEdit(range=text_range, new_text=new_text)
                ],
            )
        )
        params = lsp.ApplyWorkspaceEditParams(
            edit=lsp.WorkspaceEdit(document_changes=changes, change_annotations=annotations),
            label=label,
        )
        return await self._send(params, edit)

    async def _ask(self, edit: FileEdit, reason: str) -> None:
        """Allow/Deny for a sensitive path; raises EditRefused unless allowed."""
        verb = "create" if edit.create else "edit"
        params = lsp.ShowMessageRequestParams(
            type=lsp.MessageType.Warning,
            message=f"Orion wants to {verb} {edit.rel_path} ({reason}). Allow this edit?",
            actions=[lsp.MessageActionItem(title=ALLOW), lsp.MessageActionItem(title=DENY)],
        )
        try:
            choice = await self._server.window_show_message_request_async(params)
        except Exception as exc:  # no way to ask: never apply silently
            log.info("showMessageRequest failed for %s: %s", edit.rel_path, exc)
            raise EditRefused(
                f"{edit.rel_path} is sensitive ({reason}) and the editor could not ask "
                "the user to confirm; not applied"
            ) from None
        title = getattr(choice, "title", None)
        if title != ALLOW:
            raise EditRefused(
                f"the user denied the {verb} of {edit.rel_path} (sensitive: {reason})"
                if title == DENY
                else f"the user did not allow the {verb} of {edit.rel_path} (sensitive: {reason})"
            )

    def _check_current(self, edit: FileEdit) -> None:
        """The buffer must still be what the edit was computed against.

        Between the tool's check and here the user may have typed (a
        confirmation can take minutes); a stale range would land in the wrong
        place, so refuse and let the model read again.
        """
        doc = self._documents.get(edit.path)
        if edit.create:
            if doc is not None:
                raise EditRefused(f"{edit.rel_path} was opened in the editor meanwhile")
            return
        if doc is None:
            return  # a file on disk: the tool hashed it just now
        if doc.version != edit.version or doc.text != edit.old_content:
            raise EditRefused(
                f"the document {edit.rel_path} changed (version {edit.version} -> "
                f"{doc.version}) before the edit could be applied; read it again"
            )

    def _range(self, edit: FileEdit) -> tuple[lsp.Range, str]:
        """The replaced span as an LSP range in the negotiated position encoding."""
        start, end, new_text = addressable(edit.old_content, edit.start, edit.end, edit.new_text)
        at = TextPositions(edit.old_content, self._documents.position_encoding)
        return lsp.Range(
            lsp.Position(*at.position(start)), lsp.Position(*at.position(end))
        ), new_text

    async def _send(self, params: lsp.ApplyWorkspaceEditParams, edit: FileEdit) -> bool:
        """True when applied, False when refused (no reason given: the user said no).

        An error answer, or `applied: false` with a `failureReason`, is the
        editor failing: `EditFailed`, never reported as a refusal.
        """
        try:
            result = await self._server.workspace_apply_edit_async(params)
        except Exception as exc:
            log.warning("applyEdit failed for %s: %s", edit.rel_path, exc)
            why = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            raise EditFailed(_failed(why)) from None
        if getattr(result, "applied", False):
            return True
        reason = getattr(result, "failure_reason", None)
        log.info("client did not apply edit to %s: %s", edit.rel_path, reason)
        if isinstance(reason, str) and reason.strip():
            raise EditFailed(_failed(reason))
        return False


def _failed(reason: str) -> str:
    return "the editor failed to apply the edit: " + " ".join(reason.split())[:200]


@dataclass(frozen=True)
class EditCaps:
    """What the client said it can do with a workspace edit (`workspace.workspaceEdit`)."""

    document_changes: bool
    annotations: bool
    create: bool  # `create` among the advertised resource operations
    delete: bool = False  # `delete` among them (rewind removes a created file)


def workspace_edit_caps(server: LanguageServer) -> EditCaps:
    try:
        we = server.client_capabilities.workspace.workspace_edit  # type: ignore[union-attr]
    except AttributeError:
        we = None
    if we is None:
        return EditCaps(document_changes=False, annotations=False, create=False)
    ops = we.resource_operations or ()
    return EditCaps(
        document_changes=bool(we.document_changes),
        annotations=we.change_annotation_support is not None,
        create=lsp.ResourceOperationKind.Create in ops,
        delete=lsp.ResourceOperationKind.Delete in ops,
    )
