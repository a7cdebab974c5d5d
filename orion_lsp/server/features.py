"""Registers the LSP features on the server; each handler delegates to one service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types as lsp

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
    def did_change_folders(
        ls: OrionLanguageServer, params: lsp.DidChangeWorkspaceFoldersParams
    ) -> None:
        ls.add_workspace_folders(params.event.added, params.event.removed)
