"""Positions in the encoding each client negotiated: Neovim utf-8, eglot utf-32, VS Code utf-16.

The client here behaves like the editor: it applies each `workspace/applyEdit`
to its buffer counting `character` in the negotiated encoding
(tests/editor_text.py, written apart from the server's code) and reports the
change with an incremental `didChange` in that encoding too. Text: CRLF lines
with accents and characters outside the BMP before every edit point.
"""

from __future__ import annotations

import pytest
from lsprotocol import types as lsp

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall
from tests import editor_text

from .harness import Session, start_session
from .test_code_actions import list_actions

PROFILES = [("neovim", "utf-8"), ("emacs", "utf-32"), ("visual-studio-code", "utf-16")]

DOC = (
    "# Café ☕ — naïve 😀 notes\r\n"
    'NOTE = "😀 é EDIT_ME"  # keep\r\n'
    'pair = ("𝄞 clef", "ünïcode")\r\n'
    'last = "𝄞 end"\r\n'
)
EDITED = (
    "# Café ☕ — naïve 😀 notes\r\n"
    'NOTE = "😀 é EDITED"  # keep\r\n'
    'pair = ("𝄞 clef", "ÜNÏCODE")\r\n'
    'last = "𝄞 END"\r\n'
)


def _edit(old: str, new: str) -> ScriptedReply:
    return ScriptedReply(
        tool_calls=[
            ScriptedToolCall("edit_file", {"path": "pkg/notes.py", "oldText": old, "newText": new})
        ]
    )


@pytest.fixture(params=PROFILES, ids=[p[0] for p in PROFILES])
async def editor(request, workspace, db_path, model):
    caps, encoding = request.param
    s = await start_session(workspace, db_path, model, caps=caps)
    assert s.encoding == encoding  # what pygls chose from the client's preferences
    (workspace / "pkg" / "notes.py").write_bytes(DOC.encode())
    yield s
    await s.client.shutdown_session()


async def test_edits_land_exactly_in_the_editors_buffer(
    editor: Session, model: ScriptedModelServer
):
    s = editor
    s.follow_edits = True
    uri = await s.open("pkg/notes.py", DOC)
    read = ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "pkg/notes.py"})])
    model.push(
        read,
        # After an emoji and an accent on the line.
        _edit('EDIT_ME"', 'EDITED"'),
        # The model writes "\n"; the file is CRLF.
        _edit('pair = ("𝄞 clef", "ünïcode")\nlast', 'pair = ("𝄞 clef", "ÜNÏCODE")\nlast'),
        # Matches from the "\n" of a CRLF: no LSP position lies before it.
        _edit('\nlast = "𝄞 end"', '\nlast = "𝄞 END"'),
        read,
        ScriptedReply(text="Done."),
    )
    result = await s.chat("edit the notes")
    names = ["read_file", "edit_file", "edit_file", "edit_file", "read_file"]
    assert result["toolCalls"] == [{"name": n, "ok": True} for n in names]
    assert [e["applied"] for e in result["edits"]] == [True, True, True]
    assert len(s.apply_edits) == 3
    assert s.buffers[uri][0] == EDITED
    # The server's copy of the buffer, kept by didChange in the same encoding,
    # is what the model read last.
    last_read = [m for m in model.requests[-1]["messages"] if m["role"] == "tool"][-1]
    assert last_read["content"].splitlines()[1:] == [
        f"{n}| {line}" for n, line in enumerate(EDITED.split("\r\n")[:-1], start=1)
    ]
    assert (s.workspace / "pkg" / "notes.py").read_bytes() == DOC.encode()  # never written


SELECTIONS = [
    "EDIT_ME",  # after an emoji and an accent
    'é EDIT_ME"  # keep\r\npair = ("𝄞',  # across a CRLF, ending after a non-BMP character
    "😀 notes\r\nNOTE",
]


async def test_the_model_gets_exactly_the_selected_text(
    editor: Session, model: ScriptedModelServer
):
    s = editor
    uri = await s.open("pkg/notes.py", DOC)
    for selected in SELECTIONS:
        model.push(ScriptedReply(text="It is a note."))
        rng = editor_text.range_of(DOC, selected, s.encoding)
        wire = {
            "start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character},
        }
        n = len(model.requests)
        result = await s.chat("what is this?", uri=uri, range=wire)
        assert result["status"] == "completed"
        system = model.requests[n]["messages"][0]["content"]
        lines = f"(lines {rng.start.line + 1}-{rng.end.line + 1})"
        assert f"## Selection in pkg/notes.py {lines}\n```\n{selected}\n```" in system, selected


WIDE_JS = 'function a() { return "' + "😀" * 12 + ' é"; } function b() {} function c() {}\r\n'


async def test_code_action_finds_the_definition_at_the_cursor(
    editor: Session, model: ScriptedModelServer
):
    s = editor
    (s.workspace / "pkg" / "wide.js").write_bytes(WIDE_JS.encode())
    uri = await s.open("pkg/wide.js", WIDE_JS)
    # The cursor on the name `b`: read in another encoding, the column would
    # point into `a`'s string or past `b`, into `c` or the line's end.
    at = editor_text.position(WIDE_JS, WIDE_JS.index("function b") + len("function "), s.encoding)
    actions = {a["title"]: a for a in await list_actions(s, uri, lsp.Range(at, at))}
    cmd = actions["Orion: Add docstring"]["command"]
    model.push(ScriptedReply(text="It needs none."))
    await s.command(cmd["command"], {**cmd["arguments"][0], "detach": False})  # to its end
    task = model.requests[-1]["messages"][-1]["content"]
    assert "the function `b` in pkg/wide.js" in task
