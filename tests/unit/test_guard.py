"""Sensitive paths: the list, the CLI's refusal and opt-in, and the editor's confirmation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp

from orion_lsp.agent.guard import EditRefused, allow_sensitive_from_env, sensitive_reason
from orion_lsp.agent.tools.base import EditFailed, FileEdit, OpenDocument
from orion_lsp.agent.tools.disk_applier import DiskEditApplier
from orion_lsp.agent.tools.edit import CreateFileTool, EditFileTool
from orion_lsp.agent.tools.read import ReadFileTool
from orion_lsp.server.editor_io import LspEditApplier
from orion_lsp.testing.fakes import make_context


@pytest.mark.parametrize(
    "path",
    [
        ".vscode/settings.json",
        ".vscode/tasks.json",
        ".git/config",
        ".git/hooks/pre-commit",
        "sub/.git/hooks/post-checkout",
        ".git",
        ".Git/config",
        ".github/workflows/ci.yml",
        ".orion/config.toml",
        ".nvim.lua",
        ".nvimrc",
        ".exrc",
        "web/.exrc",
        ".env",
        ".env.local",
        ".envrc",
        ".bashrc",
        ".zshrc",
        ".profile",
        "home/.config/fish/config.fish",
        "../outside.txt",
        "/etc/passwd",
        "a/../../b",
    ],
)
def test_sensitive(path: str) -> None:
    assert sensitive_reason(path) is not None


@pytest.mark.parametrize(
    "path",
    [
        "pkg/greet.py",
        "vscode/settings.json",
        ".github/ISSUE_TEMPLATE/bug.md",
        "docs/env.md",
        "environment.yml",
        "gitignore.txt",
        ".gitignore",
        "tests/test_git.py",
    ],
)
def test_not_sensitive(path: str) -> None:
    assert sensitive_reason(path) is None


def test_opt_in_values() -> None:
    assert allow_sensitive_from_env({"ORION_ALLOW_SENSITIVE_EDITS": "1"})
    assert allow_sensitive_from_env({"ORION_ALLOW_SENSITIVE_EDITS": "yes"})
    assert not allow_sensitive_from_env({"ORION_ALLOW_SENSITIVE_EDITS": "0"})
    assert not allow_sensitive_from_env({})


# -- the CLI: DiskEditApplier through the real tools ------------------------------------


async def test_cli_refuses_sensitive_edits_with_a_clear_tool_error(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    ctx = make_context(tmp_path, applier=DiskEditApplier(tmp_path, allow_sensitive=False))
    assert (await ReadFileTool().run({"path": ".git/config"}, ctx)).ok
    r = await EditFileTool().run(
        {"path": ".git/config", "oldText": "[core]\n", "newText": "[core]\nhooksPath=/x\n"}, ctx
    )
    assert not r.ok
    assert r.content == (
        "the edit to '.git/config' was not applied: .git/ is protected: git internals and "
        "hooks run code; the terminal never writes such files without the user's opt-in "
        "(ORION_ALLOW_SENSITIVE_EDITS=1); the file is unchanged"
    )
    assert r.data["sensitive"].startswith(".git/")
    assert (tmp_path / ".git" / "config").read_text() == "[core]\n"
    c = await CreateFileTool().run({"path": ".env", "content": "TOKEN=x\n"}, ctx)
    assert not c.ok and "ORION_ALLOW_SENSITIVE_EDITS=1" in c.content
    assert not (tmp_path / ".env").exists()
    assert [(e["path"], e["applied"], "opt-in" in e["refused"]) for e in ctx.edits] == [
        (".git/config", False, True),
        (".env", False, True),
    ]


async def test_cli_writes_sensitive_paths_after_opt_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORION_ALLOW_SENSITIVE_EDITS", "1")
    ctx = make_context(tmp_path, applier=DiskEditApplier(tmp_path))
    c = await CreateFileTool().run({"path": ".env.example", "content": "A=1\n"}, ctx)
    assert c.ok and (tmp_path / ".env.example").read_text() == "A=1\n"


# -- the editor: LspEditApplier against a scripted client -------------------------------


class FakeClient:
    """What LspEditApplier uses of pygls' LanguageServer, scripted."""

    def __init__(self, caps: lsp.ClientCapabilities, answer: Any = None) -> None:
        self.client_capabilities = caps
        self.answer = answer  # MessageActionItem, None, or an exception to raise
        self.asked: list[lsp.ShowMessageRequestParams] = []
        self.applied: list[lsp.ApplyWorkspaceEditParams] = []
        self.on_ask: Any = None
        self.apply_result = lsp.ApplyWorkspaceEditResult(applied=True)

    async def window_show_message_request_async(self, params: lsp.ShowMessageRequestParams) -> Any:
        self.asked.append(params)
        if self.on_ask is not None:
            self.on_ask()
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def workspace_apply_edit_async(self, params: lsp.ApplyWorkspaceEditParams) -> Any:
        self.applied.append(params)
        return self.apply_result


class Docs:
    position_encoding = "utf-16"

    def __init__(self) -> None:
        self.docs: dict[Path, OpenDocument] = {}

    def get(self, path: Path) -> OpenDocument | None:
        return self.docs.get(path)

    def uri_for(self, path: Path) -> str:
        return path.as_uri()


PLAIN = lsp.ClientCapabilities(
    workspace=lsp.WorkspaceClientCapabilities(
        workspace_edit=lsp.WorkspaceEditClientCapabilities(document_changes=False)
    )
)


def _edit(tmp_path: Path, rel: str, version: int | None = 1) -> FileEdit:
    return FileEdit(
        path=tmp_path / rel,
        rel_path=rel,
        create=False,
        old_content="a = 1\n",
        new_content="a = 2\n",
        start=4,
        end=5,
        new_text="2",
        version=version,
    )


async def test_a_client_that_cannot_ask_gets_the_edit_refused(tmp_path: Path) -> None:
    client = FakeClient(PLAIN, answer=RuntimeError("MethodNotFound"))
    applier = LspEditApplier(client, Docs())  # type: ignore[arg-type]
    with pytest.raises(EditRefused, match="could not ask the user to confirm"):
        await applier.apply(_edit(tmp_path, ".envrc", None), "t1")
    assert client.applied == []


async def test_a_dismissed_question_is_a_refusal(tmp_path: Path) -> None:
    client = FakeClient(PLAIN, answer=None)
    applier = LspEditApplier(client, Docs())  # type: ignore[arg-type]
    with pytest.raises(EditRefused, match="did not allow the edit of .nvim.lua"):
        await applier.apply(_edit(tmp_path, ".nvim.lua", None), "t1")
    assert client.applied == [] and len(client.asked) == 1


async def test_typing_while_the_user_is_asked_makes_the_edit_stale(tmp_path: Path) -> None:
    docs = Docs()
    path = tmp_path / ".exrc"
    docs.docs[path] = OpenDocument("a = 1\n", 1)
    client = FakeClient(PLAIN, answer=lsp.MessageActionItem(title="Allow"))
    # The user types while the dialog is up.
    client.on_ask = lambda: docs.docs.__setitem__(path, OpenDocument("a = 10\n", 2))
    applier = LspEditApplier(client, docs)  # type: ignore[arg-type]
    with pytest.raises(EditRefused, match=r"changed \(version 1 -> 2\)"):
        await applier.apply(_edit(tmp_path, ".exrc", 1), "t1")
    assert client.applied == []


async def test_ordinary_paths_are_not_asked_and_a_failure_reason_reaches_the_model(
    tmp_path: Path,
) -> None:
    client = FakeClient(PLAIN)
    client.apply_result = lsp.ApplyWorkspaceEditResult(applied=False, failure_reason="busy")
    applier = LspEditApplier(client, Docs())  # type: ignore[arg-type]
    with pytest.raises(EditFailed, match="the editor failed to apply the edit: busy"):
        await applier.apply(_edit(tmp_path, "pkg/a.py", None), "t1")
    assert client.asked == [] and len(client.applied) == 1
