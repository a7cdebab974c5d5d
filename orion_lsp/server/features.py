"""Registers the LSP features on the server; each handler delegates to one service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

from ..context.definitions import TreeCache
from .code_actions import KINDS, code_actions, resolve

if TYPE_CHECKING:
    from .server import OrionLanguageServer


def register(server: OrionLanguageServer) -> None:
    @server.feature(lsp.INITIALIZE)
    async def initialize(ls: OrionLanguageServer, params: lsp.InitializeParams) -> None:
        await ls.on_initialize(params)

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: OrionLanguageServer, params: lsp.InitializedParams) -> None:
        await ls.on_initialized()

    @server.feature(lsp.SHUTDOWN)
    async def shutdown(ls: OrionLanguageServer, params: None) -> None:
        await ls.on_shutdown()

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: OrionLanguageServer, params: lsp.DidChangeConfigurationParams
    ) -> None:
        await ls.refresh_configuration()

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def did_change_folders(
        ls: OrionLanguageServer, params: lsp.DidChangeWorkspaceFoldersParams
    ) -> None:
        added = ls.add_workspace_folders(params.event.added, params.event.removed)
        await ls.indexer.start(added)

    # pygls keeps the buffers in sync itself; these keep the repo map current.
    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: OrionLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.indexer.text_changed(params.text_document.uri, debounce=False)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: OrionLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.indexer.text_changed(params.text_document.uri, debounce=True)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: OrionLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.indexer.text_changed(params.text_document.uri, debounce=False)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: OrionLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
        await ls.indexer.from_disk([params.text_document.uri])

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def did_change_watched(
        ls: OrionLanguageServer, params: lsp.DidChangeWatchedFilesParams
    ) -> None:
        await ls.indexer.from_disk([c.uri for c in params.changes])

    # Code actions: listed without a model or storage; running one is orion.codeAction.
    trees = TreeCache()

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=list(KINDS), resolve_provider=True),
    )
    def code_action(ls: OrionLanguageServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        return code_actions(ls, params, trees)

    @server.feature(lsp.CODE_ACTION_RESOLVE)
    def code_action_resolve(ls: OrionLanguageServer, params: lsp.CodeAction) -> lsp.CodeAction:
        return resolve(params)
