"""The `orion` CLI as a user runs it: subprocesses, a real database, the scripted model over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orion_lsp.project import derive_project_id
from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


def orion(*args: str, env: dict[str, str], cwd: Path | None = None, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "-m", "orion_lsp.cli", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_env(model: ScriptedModelServer, db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env.update(ORION_MODEL=model.model, ORION_API_BASE=model.base_url, ORION_DB=str(db))
    env.update(extra)
    return env


def test_project_id_matches_the_server_rule(tmp_path: Path):
    ws = tmp_path / "my-proj"
    ws.mkdir()
    link = tmp_path / "alias"
    link.symlink_to(ws)
    env = dict(os.environ)
    out = orion("project-id", str(link), env=env)
    assert out.returncode == 0
    assert out.stdout.strip() == derive_project_id(ws)
    assert out.stdout.startswith("my-proj-")
    assert orion("project-id", str(tmp_path / "missing"), env=env).returncode == 2


def test_chat_history_traces_round_trip(tmp_path: Path, model: ScriptedModelServer):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def main():\n    return 1\n")
    db = tmp_path / "orion.db"
    env = make_env(model, db)
    model.push(
        ScriptedReply(
            text="Reading. ", tool_calls=[ScriptedToolCall("read_file", {"path": "app.py"})]
        ),
        ScriptedReply(text="`main` returns 1."),
    )
    out = orion(
        "chat", "--project-id", "p-cli", "--workspace", str(ws), "what does main return?", env=env
    )
    assert out.returncode == 0, out.stderr
    # Only the answer on stdout (a line break is added where a tool ran, for the terminal).
    assert out.stdout.replace("\n", "") == "Reading. `main` returns 1."
    assert "read_file" in out.stderr

    hist = orion("history", "--project-id", "p-cli", "--json", env=env)
    data = json.loads(hist.stdout)
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert data["messages"][1]["content"] == "Reading. `main` returns 1."

    traces = orion("traces", "--project-id", "p-cli", "--json", env=env)
    events = json.loads(traces.stdout)["events"]
    assert [e["type"] for e in events] == [
        "turn_start",
        "llm_call",
        "tool_call",
        "tool_result",
        "llm_call",
        "turn_end",
    ]
    assert events[-1]["payload"]["status"] == "completed"
    assert orion("traces", "--project-id", "p-cli", "--turn", "nope", env=env).returncode == 1


def test_exit_codes(tmp_path: Path, model: ScriptedModelServer):
    bad = tmp_path / "bad.db"
    bad.write_text("not a database")
    env = make_env(model, bad)
    out = orion("history", "--project-id", "x", env=env)
    assert out.returncode == 3
    assert out.stderr.startswith("Orion storage error:") and str(bad) in out.stderr
    assert orion("chat", env=env).returncode == 2  # --project-id missing
    env_ok = make_env(model, tmp_path / "ok.db", ORION_API_BASE="http://127.0.0.1:9/v1")
    out = orion("chat", "--project-id", "x", "--workspace", str(tmp_path), "hi", env=env_ok)
    assert out.returncode == 1
    assert "Orion model error:" in out.stderr and "127.0.0.1:9" in out.stderr
    # One clear message, once: no warning lines beside it, no object reprs.
    assert out.stderr.count("Orion model error:") == 1 and "cannot connect to" in out.stderr
    assert "WARNING" not in out.stderr and " object at 0x" not in out.stderr


def test_chat_without_project_id_prints_the_command_that_works(
    tmp_path: Path, model: ScriptedModelServer
):
    env = make_env(model, tmp_path / "orion.db")
    prompt = "what's «this» 😀?"
    out = orion("chat", prompt, env=env, cwd=tmp_path)
    assert out.returncode == 2
    command = out.stderr.strip().splitlines()[-1].strip()
    assert command.startswith('orion chat --project-id "$(orion project-id .)" ')
    # The printed command, run by a shell, works: same project as the server derives.
    model.push(ScriptedReply(text="It works."))
    shell = command.replace("orion ", f"{sys.executable} -m orion_lsp.cli ")
    ran = subprocess.run(
        shell, shell=True, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert "It works." in ran.stdout
    assert model.requests[-1]["messages"][-1]["content"] == prompt
    out = orion("history", "--project-id", derive_project_id(tmp_path), "--json", env=env)
    assert [m["content"] for m in json.loads(out.stdout)["messages"]] == [prompt, "It works."]


def test_interactive_session_shares_history(tmp_path: Path, model: ScriptedModelServer):
    env = make_env(model, tmp_path / "orion.db")
    model.push(ScriptedReply(text="first answer"), ScriptedReply(text="second answer"))
    out = orion(
        "chat", "--project-id", "p-int", "--workspace", str(tmp_path), env=env, stdin="one\ntwo\n"
    )
    assert out.returncode == 0, out.stderr
    assert "first answer" in out.stdout and "second answer" in out.stdout
    second_request = model.requests[1]["messages"]
    assert [m["content"] for m in second_request[1:]] == ["one", "first answer", "two"]


def test_doctor_checks_the_critic_at_its_own_endpoint(tmp_path: Path, model: ScriptedModelServer):
    model.push(
        ScriptedReply(text="ok"),
        ScriptedReply(tool_calls=[ScriptedToolCall("ping", {"message": "hello"})]),
    )
    with ScriptedModelServer(default=ScriptedReply(text="critic ok")) as critic:
        env = make_env(
            model,
            tmp_path / "orion.db",
            ORION_CRITIC_MODEL=critic.model,
            ORION_CRITIC_API_BASE=critic.base_url,
        )
        out = orion("doctor", env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert critic.requests, "the critic check never reached the critic's endpoint"
        assert f"critic model: {critic.model} at {critic.base_url}" in out.stdout


def test_doctor_reports_and_caches_tool_mode(tmp_path: Path, model: ScriptedModelServer):
    env = make_env(model, tmp_path / "orion.db")
    model.push(
        ScriptedReply(text="ok"),
        ScriptedReply(tool_calls=[ScriptedToolCall("ping", {"message": "hello"})]),
    )
    out = orion("doctor", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "schema version" in out.stdout
    assert "tool mode: native" in out.stdout
    assert "python" in out.stdout and "tree-sitter" in out.stdout
    model.push(ScriptedReply(status=500, error_message="down"))
    down = orion("doctor", env=env)
    assert down.returncode == 1 and "[FAIL] model" in down.stdout
