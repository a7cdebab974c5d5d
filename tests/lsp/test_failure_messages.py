"""Every failing command shows its error: a `window/showMessage` Error with exactly
the error's text (a stock client sees nothing else), also for turn commands that
fail before their turn starts, and for a detached turn that fails later."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from orion_lsp.testing import ScriptedModelServer

from .harness import Session, model_env, start_session

RANGE = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}


async def wait_messages(s: Session, text: str, count: int) -> list[str]:
    """The Error messages once `text` was shown `count` times (or after 5 s)."""
    try:
        async with asyncio.timeout(5):
            while s.error_messages().count(text) < count:
                await asyncio.sleep(0.02)
    except TimeoutError:
        pass
    return s.error_messages()


async def test_each_failing_command_shows_the_start_up_storage_error(
    workspace: Path, tmp_path: Path, model: ScriptedModelServer
):
    bad = tmp_path / "notadb.db"
    bad.write_bytes(b"not a database\n" * 50)
    s = await start_session(workspace, bad, model)
    try:
        uri = (workspace / "pkg" / "greet.py").as_uri()
        calls = (
            ("orion.chat", {"prompt": "hi"}),
            ("orion.chat", {"prompt": "hi", "detach": True}),
            ("orion.codeAction", {"action": "explain", "uri": uri, "range": RANGE}),
            (
                "orion.codeAction",
                {"action": "explain", "uri": uri, "range": RANGE, "detach": False},
            ),
            ("orion.history", {}),
        )
        texts = []
        for name, args in calls:
            with pytest.raises(JsonRpcException) as exc:
                await s.command(name, args)
            assert exc.value.code == -32803, name
            texts.append(exc.value.message)
        text = texts[0]
        assert text.startswith("Orion storage error:") and str(bad) in text
        assert set(texts) == {text}
        # Once after `initialized`, then once per failing command.
        errors = await wait_messages(s, text, 1 + len(calls))
        assert errors.count(text) == 1 + len(calls), errors
        assert model.requests == []
    finally:
        await s.client.shutdown_session()


async def test_a_detached_turn_that_fails_shows_its_error(
    workspace: Path, db_path: Path, model: ScriptedModelServer
):
    env = model_env(model, db_path, ORION_API_BASE="http://127.0.0.1:9/v1")
    s = await start_session(workspace, db_path, model, env=env)
    try:
        result = await s.chat("hello?", detach=True)
        assert result["status"] == "running"
        end = await s.wait_turn_end(result["turnId"], timeout=60)
        assert end["status"] == "error" and end["error"].startswith("Orion model error:")
        errors = await wait_messages(s, end["error"], 1)
        assert errors.count(end["error"]) == 1, errors
    finally:
        await s.client.shutdown_session()


async def test_a_database_directory_that_is_a_file_is_named(
    workspace: Path, tmp_path: Path, model: ScriptedModelServer
):
    (tmp_path / "data-file").write_text("I am a file, not a folder\n")
    db = tmp_path / "data-file" / "orion.db"
    s = await start_session(
        workspace, db, model, env=model_env(model, db), log_file=tmp_path / "server.log"
    )
    try:
        with pytest.raises(JsonRpcException) as exc:
            await s.chat("hi")
        assert f"{tmp_path / 'data-file'} is not a directory" in exc.value.message
        assert exc.value.message in await wait_messages(s, exc.value.message, 2)
    finally:
        await s.client.shutdown_session()
