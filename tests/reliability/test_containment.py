"""Issue 7, item 7: the model's file tools never reach outside the workspace.

Builds on tests/unit/test_tools_containment.py (its fixture tree, 70+ hostile
paths and checks), and adds what a unit run cannot afford or does not do:
every hostile path for every file tool through the real server and litellm
(100% refused for the reading tools), 1,000 generated paths, and a symlink
swapped between the check and the open while the tools run.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from orion_lsp.agent.tools import default_tools, run_tool
from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall
from tests.unit.test_tools_containment import (
    CANARY,
    _assert_clean,
    _build,
    _calls,
    _ctx,
    _hostile,
    _snapshot,
)

from .conftest import Starter, rows, server_env

READING = ("read_file", "list_files", "search", "symbols")


def test_hostile_paths_through_the_real_server(
    start_server: Starter, tmp_path: Path, db_path: Path
) -> None:
    root = _build(tmp_path)
    # "" is the root itself (list/search of the workspace): not hostile.
    hostile = [p for p in _hostile(root) if p != ""]
    assert len(set(hostile)) >= 60
    before = _snapshot(root.parent, root)
    edits: list[dict] = []

    def apply(params: dict) -> dict:
        edits.append(params)
        return {"applied": False}  # the editor refuses: nothing is written anywhere

    calls = [(name, args) for path in hostile for name, args in _calls(path)]
    with ScriptedModelServer() as model:
        for i in range(0, len(calls), 60):
            chunk = calls[i : i + 60]
            model.push(ScriptedReply(tool_calls=[ScriptedToolCall(n, a) for n, a in chunk]))
        model.push(ScriptedReply(text="done"))
        steps = len(model._script)  # noqa: SLF001 (the scripted model's own queue)
        server = start_server(
            server_env(model, db_path),
            root,
            init_options={"maxSteps": steps + 1},
            apply_edit=apply,
        )
        result = server.command("orion.chat", {"prompt": "try every path"}, timeout=300)
        assert result["status"] == "completed", result
        assert len(result["toolCalls"]) == len(calls)
        # What tools returned to the model (the calls themselves quote CANARY as oldText).
        sent_to_model = json.dumps(
            [m for r in model.requests for m in r["messages"] if m["role"] == "tool"]
        )
        assert server.shutdown() is not None
    reading = [
        r for (name, _), r in zip(calls, result["toolCalls"], strict=True) if name in READING
    ]
    refused = sum(not r["ok"] for r in reading)
    allowed = [
        (name, args)
        for (name, args), r in zip(calls, result["toolCalls"], strict=True)
        if name in READING and r["ok"]
    ]
    assert refused == len(reading), allowed
    assert CANARY not in sent_to_model and "root:x:0:0" not in sent_to_model
    assert CANARY.encode() not in server.transcript()
    for (payload,) in rows(db_path, "SELECT payload FROM trace_events WHERE type='tool_result'"):
        assert CANARY not in payload and "root:x:0:0" not in payload
    for e in edits:  # edits the model got as far as proposing stay inside the root
        for change in e["edit"].get("documentChanges", []):
            uri = change.get("textDocument", {}).get("uri") or change.get("uri", "")
            assert uri.startswith(root.as_uri() + "/"), uri
    assert _snapshot(root.parent, root) == before
    print(
        json.dumps(
            {
                "test": "containment_lsp",
                "paths": len(set(hostile)),
                "calls": len(calls),
                "reading_refused": f"{refused}/{len(reading)}",
                "edits_proposed": len(edits),
            }
        )
    )


_PARTS = st.one_of(
    st.sampled_from(
        [
            "..",
            ".",
            "",
            "ok.txt",
            "src",
            "link_out",
            "dir_out",
            "ws2link",
            "ws2",
            "canary.txt",
            "secret.txt",
            "outside",
            "x",
            "ws",
            "rel_link_out",
            "loop1",
            "%2e%2e",
            "~",
            "dangling_out",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
)


def test_generated_paths_never_escape(tmp_path: Path) -> None:
    root = _build(tmp_path)
    base = root.parent
    before = _snapshot(tmp_path, root)
    tools = {t.name: t for t in default_tools()}
    ctx = _ctx(root)
    seen = {"n": 0}

    @settings(
        max_examples=1000,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        parts=st.lists(_PARTS, min_size=1, max_size=6),
        lead=st.sampled_from(["", "/", "./", "../", "~/", "file://", "%2e%2e/", "\\"]),
        tool=st.sampled_from(
            ["read_file", "list_files", "search", "symbols", "edit_file", "create_file"]
        ),
    )
    def one(parts: list[str], lead: str, tool: str) -> None:
        path = lead + "/".join(parts)
        for name, args in _calls(path):
            if name == tool:
                _assert_clean(asyncio.run(run_tool(tools, name, args, ctx)), base)
        seen["n"] += 1

    one()
    assert seen["n"] == 1000
    assert _snapshot(tmp_path, root) == before
    for edit in ctx.edits:
        assert not edit["path"].startswith(("../", "/")) and edit["path"] != ".."


@pytest.mark.parametrize("kind", ["file", "dir"])
def test_symlink_swapped_between_check_and_open(tmp_path: Path, kind: str) -> None:
    root = _build(tmp_path)
    base = root.parent
    (root / "src" / "canary.txt").write_text("inside, harmless\n")
    link = root / "race"
    inside, outside = (
        (root / "ok.txt", base / "outside" / "canary.txt")
        if kind == "file"
        else (root / "src", base / "outside")
    )
    target = "race" if kind == "file" else "race/canary.txt"
    os.symlink(inside, link)
    before = _snapshot(tmp_path, root)
    stop = threading.Event()
    swaps = {"n": 0}

    def swapper() -> None:
        tmp = root / ".race-tmp"
        while not stop.is_set():
            for dest in (outside, inside):
                if tmp.exists() or tmp.is_symlink():
                    tmp.unlink()
                os.symlink(dest, tmp)
                os.replace(tmp, link)  # atomic: the link is always one or the other
                swaps["n"] += 1

    tools = {t.name: t for t in default_tools()}
    ctx = _ctx(root)
    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    ok = 0
    try:
        for _ in range(300):
            for name, args in _calls(target):
                r = asyncio.run(run_tool(tools, name, args, ctx))
                _assert_clean(r, base)
                ok += r.ok
    finally:
        stop.set()
        t.join(5)
    assert swaps["n"] > 100, "the race never ran"
    os.replace(link, root / "race.done") if link.is_symlink() else None
    assert _snapshot(tmp_path, root) == before
    print(
        json.dumps(
            {
                "test": f"toctou_{kind}",
                "calls": 300 * len(_calls(target)),
                "swaps": swaps["n"],
                "ok_inside": ok,
            }
        )
    )
