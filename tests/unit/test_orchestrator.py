"""The turn loop through the real composition root, real SQLite and the scripted model over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from orion_lsp.agent.tools.base import NoDocuments
from orion_lsp.agent.tools.disk_applier import DiskEditApplier
from orion_lsp.agent.turn import TurnRequest
from orion_lsp.config import Settings
from orion_lsp.project import Project
from orion_lsp.services import Services, open_services
from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall
from orion_lsp.testing.fakes import RecordingSink


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    return Project("calc-test", root.resolve())


@pytest_asyncio.fixture
async def services(tmp_path: Path, model: ScriptedModelServer) -> AsyncIterator[Services]:
    settings = Settings(
        model=model.model,
        api_base=model.base_url,
        database_path=str(tmp_path / "orion.db"),
        api_key="x-test-key-123",
    )
    s = await open_services(settings, with_repo_map=False)
    yield s
    await s.close()


async def run(
    services: Services, project: Project, prompt: str, **settings: Any
) -> tuple[Any, RecordingSink]:
    if settings:
        services.update_settings(replace(services.settings, **settings))
    sink = RecordingSink()
    outcome = await services.require_orchestrator().run(
        TurnRequest(project=project, prompt=prompt),
        sink,
        documents=NoDocuments(),
        applier=DiskEditApplier(project.root),
    )
    return outcome, sink


async def events(services: Services, project: Project, turn_id: str) -> list[Any]:
    assert services.traces is not None
    return await services.traces.events(project.project_id, turn_id)


FENCED_CALL = (
    'Let me look.\n```tool_call\n{"name": "read_file", "arguments": {"path": "calc.py"}}\n```\n'
)


async def test_text_tool_mode_parses_calls_and_hides_them(services, project, model):
    model.push(ScriptedReply(text=FENCED_CALL), ScriptedReply(text="`add` returns the sum."))
    outcome, sink = await run(services, project, "what does add do?", tool_mode="text")
    assert outcome.status == "completed"
    assert outcome.tool_calls == [{"name": "read_file", "ok": True}]
    shown = "".join(sink.deltas)
    assert shown == outcome.answer
    assert "tool_call" not in shown and shown.startswith("Let me look.")
    first = model.requests[0]
    assert "tools" not in first  # text mode sends no native tools
    assert "```tool_call" in first["messages"][0]["content"]  # the format is described
    second = model.requests[1]["messages"]
    assert second[-1]["role"] == "user" and "return a + b" in second[-1]["content"]
    evs = await events(services, project, outcome.turn_id)
    llm = [e.payload for e in evs if e.type == "llm_call"]
    assert llm[0]["toolMode"] == "text" and llm[0]["textToolCalls"] is True


async def test_auto_mode_learns_text_calls(services, project, model):
    model.push(ScriptedReply(text=FENCED_CALL), ScriptedReply(text="done"))
    outcome, _ = await run(services, project, "look at calc")
    assert outcome.tool_calls == [{"name": "read_file", "ok": True}]
    assert "tools" in model.requests[0]  # auto starts native
    model.push(ScriptedReply(text="second turn"))
    await run(services, project, "again")
    assert "tools" not in model.requests[-1]  # now it knows: text mode
    assert "```tool_call" in model.requests[-1]["messages"][0]["content"]


async def test_length_cut_is_said(services, project, model):
    model.push(ScriptedReply(text="A long answer that was cut", finish_reason="length"))
    outcome, _ = await run(services, project, "explain everything")
    assert outcome.answer.startswith("A long answer that was cut")
    assert "output length limit" in outcome.answer
    llm = [
        e.payload for e in await events(services, project, outcome.turn_id) if e.type == "llm_call"
    ]
    assert llm[0]["finishReason"] == "length"


async def test_server_error_is_retried_and_each_attempt_recorded(services, project, model):
    model.push(
        ScriptedReply(status=503, error_message="loading model"), ScriptedReply(text="ok now")
    )
    outcome, _ = await run(services, project, "hi")
    assert outcome.status == "completed" and outcome.answer == "ok now"
    llm = [
        e.payload for e in await events(services, project, outcome.turn_id) if e.type == "llm_call"
    ]
    assert len(llm) == 2 and llm[0]["willRetry"] is True and "error" in llm[0]
    assert llm[1]["attempt"] == 2


async def test_a_failing_model_gets_three_attempts_then_the_error(services, project, model):
    from orion_lsp.agent.model import ModelError

    model.push(*[ScriptedReply(status=503, error_message="still loading")] * 4)
    with pytest.raises(ModelError):
        await run(services, project, "hi")
    assert len(model.requests) == 3
    evs, _ = await _ledger(services, project)
    llm = [json.loads(p) for _, t, p in evs if t == "llm_call"]
    assert [(e["attempt"], e["willRetry"]) for e in llm] == [(1, True), (2, True), (3, False)]
    assert json.loads(evs[-1][2])["status"] == "error"


async def test_auth_error_is_not_retried(services, project, model):
    from orion_lsp.agent.model import ModelError

    model.push(ScriptedReply(status=401, error_message="bad key"), ScriptedReply(text="never"))
    with pytest.raises(ModelError) as exc:
        await run(services, project, "hi")
    assert str(exc.value).startswith("Orion model error:")
    assert len(model.requests) == 1


async def test_critic_asks_for_one_revision(services, project, model):
    model.push(
        ScriptedReply(text="The function `multiply` in calc.py multiplies."),
        ScriptedReply(text="REVISE: calc.py defines add, not multiply."),
        ScriptedReply(text="calc.py defines `add`, which returns a + b."),
    )
    outcome, _ = await run(services, project, "what is in calc.py?", critic_model=model.model)
    assert outcome.status == "completed"
    assert "Revised after review" in outcome.answer
    assert "Revised after review:*\n\ncalc.py defines `add`, which returns a + b." in outcome.answer
    evs = await events(services, project, outcome.turn_id)
    critic = [e.payload for e in evs if e.type == "llm_call" and e.payload.get("role") == "critic"]
    assert critic and critic[0]["verdict"] == "revise"
    assert evs[-1].payload["critic"]["verdict"] == "revise"
    assert len(model.requests) == 3


async def test_critic_runs_on_its_own_server_through_the_model_client(services, project, model):
    with ScriptedModelServer() as critic_server:
        critic_server.push(ScriptedReply(text="REVISE: calc.py defines add, not multiply."))
        model.push(
            ScriptedReply(text="The function `multiply` in calc.py multiplies."),
            ScriptedReply(text="calc.py defines `add`."),
        )
        outcome, _ = await run(
            services,
            project,
            "what is in calc.py?",
            critic_model=critic_server.model,
            critic_api_base=critic_server.base_url,
        )
        assert len(critic_server.requests) == 1 and len(model.requests) == 2
        critic_request = critic_server.requests[0]
    assert critic_request["temperature"] == 0 and "tools" not in critic_request
    assert "Revised after review:*\n\ncalc.py defines `add`." in outcome.answer
    revision = model.requests[1]
    assert "tools" not in revision and "call a tool" not in revision["messages"][-1]["content"]


async def test_critic_down_does_not_fail_the_turn(services, project, model):
    model.push(
        ScriptedReply(text="An answer."), ScriptedReply(status=500, error_message="critic crashed")
    )
    outcome, _ = await run(services, project, "q", critic_model=model.model)
    assert outcome.status == "completed" and outcome.answer.startswith("An answer.")
    evs = await events(services, project, outcome.turn_id)
    assert evs[-1].payload["critic"]["available"] is False


async def test_small_window_drops_oldest_history_and_records_it(services, project, model):
    assert services.orchestrator is not None
    cache = services.orchestrator._model_cache
    await cache.set(model.model, model.base_url, "contextWindow", 900)
    for i in range(6):
        model.push(ScriptedReply(text=f"answer {i} " + "words " * 60))
        await run(services, project, f"question {i} " + "padding " * 60)
    model.push(ScriptedReply(text="fits"))
    outcome, _ = await run(services, project, "final question")
    sent = model.requests[-1]["messages"]
    assert sent[-1]["content"] == "final question"
    assert len(sent) < 1 + 12 + 1  # some history was dropped
    llm = [
        e.payload for e in await events(services, project, outcome.turn_id) if e.type == "llm_call"
    ]
    assert llm[0]["fit"]["droppedMessages"] > 0 and llm[0]["window"] == 900


# -- how a turn ends: one mapping, one idempotent close --------------------------------


async def _run_with_sink(services: Services, project: Project, prompt: str, sink: Any) -> Any:
    return await services.require_orchestrator().run(
        TurnRequest(project=project, prompt=prompt),
        sink,
        documents=NoDocuments(),
        applier=DiskEditApplier(project.root),
    )


async def _ledger(services: Services, project: Project) -> tuple[list[Any], list[str]]:
    assert services.db is not None
    evs = await services.db.fetchall(
        "SELECT turn_id, type, payload FROM trace_events WHERE project_id=? ORDER BY id",
        (project.project_id,),
    )
    msgs = await services.db.fetchall(
        "SELECT role FROM chat_messages WHERE project_id=? ORDER BY id", (project.project_id,)
    )
    return list(evs), [r[0] for r in msgs]


class _FailWritesAfterToolCall(RecordingSink):
    """Arms a storage fault the moment the first tool starts: its tool_result write fails."""

    def __init__(self, services: Services, onwards: bool) -> None:
        super().__init__()
        self._db = services.db
        self._onwards = onwards

    async def tool_event(
        self, turn_id: str, type: str, name: str, ok: bool | None, summary: str
    ) -> None:
        await super().tool_event(turn_id, type, name, ok, summary)
        if type == "tool_call":
            from orion_lsp.storage.faults import FailNth

            assert self._db is not None
            self._db.fault_hook = FailNth(1, onwards=self._onwards)


READ_THEN_ANSWER = (
    ScriptedReply(
        text="Reading. ", tool_calls=[ScriptedToolCall("read_file", {"path": "calc.py"})]
    ),
    ScriptedReply(text="never asked for"),
)


async def test_storage_error_stops_the_turn_and_the_close_writes_the_end(services, project, model):
    from orion_lsp.storage import StorageError

    model.push(*READ_THEN_ANSWER)
    with pytest.raises(StorageError):
        await _run_with_sink(
            services, project, "what is in calc.py?", _FailWritesAfterToolCall(services, False)
        )
    assert len(model.requests) == 1  # no model call after the failed write
    evs, roles = await _ledger(services, project)
    assert [t for _, t, _ in evs] == ["turn_start", "llm_call", "tool_call", "turn_end"]
    end = json.loads(evs[-1][2])
    assert end["status"] == "error" and end["error"] == "storage error"
    assert roles == ["user", "assistant"]


async def test_storage_failing_for_good_leaves_no_half_end(services, project, model):
    from orion_lsp.storage import StorageError

    model.push(*READ_THEN_ANSWER)
    with pytest.raises(StorageError):
        await _run_with_sink(
            services, project, "what is in calc.py?", _FailWritesAfterToolCall(services, True)
        )
    assert services.db is not None
    services.db.fault_hook = None
    evs, roles = await _ledger(services, project)
    assert [t for _, t, _ in evs] == ["turn_start", "llm_call", "tool_call"]  # marked at restart
    assert roles == ["user"]


class _DieAfterFirstWrite:
    """Once armed, lets one write commit and fails every later one: like a kill
    right after that commit (reads still work)."""

    def __init__(self) -> None:
        self.writes = 0

    def __call__(self, op: str) -> None:
        import sqlite3

        if op == "write":
            self.writes += 1
            if self.writes > 1:
                raise sqlite3.OperationalError("injected: the process is gone")


async def test_the_answer_and_turn_end_commit_together(services, project, model):
    """A process dying after the first write of the turn's close must not leave
    a whole answer under a turn that the next start marks interrupted."""
    from orion_lsp.storage import StorageError
    from orion_lsp.storage.trace import INTERRUPTED_NOTE

    assert services.db is not None and services.traces is not None
    db = services.db

    def arm(event: Any) -> None:
        if event.type == "llm_call":
            db.fault_hook = _DieAfterFirstWrite()

    services.traces.observers.append(arm)
    model.push(ScriptedReply(text="The answer, whole: ünï 🙂."))
    try:
        await _run_with_sink(services, project, "hi", RecordingSink())
    except StorageError:
        pass
    db.fault_hook = None
    services.traces.observers.remove(arm)
    await services.traces.mark_interrupted()  # what the next start does
    evs, roles = await _ledger(services, project)
    assert roles == ["user", "assistant"]
    status = json.loads(evs[-1][2])["status"]
    answer = (await db.fetchall("SELECT content FROM chat_messages WHERE role='assistant'"))[0][0]
    if status == "interrupted":
        assert answer.endswith(INTERRUPTED_NOTE), answer
    else:
        assert status == "completed" and answer == "The answer, whole: ünï 🙂."


class _BrokenSink(RecordingSink):
    async def tool_event(
        self, turn_id: str, type: str, name: str, ok: bool | None, summary: str
    ) -> None:
        raise RuntimeError("sink bug")


async def test_an_unexpected_error_is_raised_and_the_turn_still_closed(services, project, model):
    model.push(*READ_THEN_ANSWER)
    with pytest.raises(RuntimeError, match="sink bug"):
        await _run_with_sink(services, project, "hi", _BrokenSink())
    evs, roles = await _ledger(services, project)
    assert [t for _, t, _ in evs][0] == "turn_start" and evs[-1][1] == "turn_end"
    assert json.loads(evs[-1][2])["status"] == "error"
    assert roles == ["user", "assistant"]


async def test_time_limit_is_a_stored_error_not_an_exception(services, project, model):
    model.push(ScriptedReply(text="too late", delay_s=3.0))
    outcome, _ = await run(services, project, "hi", turn_timeout_s=1)
    assert outcome.status == "error" and "time limit" in (outcome.error or "")
    evs, roles = await _ledger(services, project)
    end = json.loads(evs[-1][2])
    assert evs[-1][1] == "turn_end" and end["status"] == "error" and "time limit" in end["error"]
    assert roles == ["user", "assistant"]


async def test_cut_tool_output_is_marked_truncated_in_the_trace(services, project, model):
    long_lines = "".join(f"value_{i} = 'ünïcødé 🙂 {i}'\r\n" for i in range(4000))
    (project.root / "big.py").write_text(long_lines, encoding="utf-8", newline="")
    model.push(
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "big.py"})]),
        ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "calc.py"})]),
        ScriptedReply(text="read both"),
    )
    outcome, _ = await run(services, project, "read big.py and calc.py")
    results = [e.payload for e in await events(services, project, outcome.turn_id)]
    results = [p for p in results if "truncated" in p]
    assert [r["truncated"] for r in results] == [True, False]
    assert len(results[0]["content"]) <= 20_000 and "startLine=" in results[0]["content"]


async def test_an_unknown_tool_is_one_refusal_the_model_can_act_on(services, project, model):
    model.push(
        ScriptedReply(tool_calls=[ScriptedToolCall("delete_everything", {"path": "."})]),
        ScriptedReply(text="I cannot do that."),
    )
    outcome, sink = await run(services, project, "clean up")
    assert outcome.tool_calls == [{"name": "delete_everything", "ok": False}]
    told = model.requests[1]["messages"][-1]["content"]
    assert "unknown tool 'delete_everything'" in told and "read_file" in told
    evs = [e for e in await events(services, project, outcome.turn_id)]
    assert [e.type for e in evs].count("tool_result") == 1


class _RecordingContext:
    """A ContextProvider that records what each turn asked the repo map for."""

    def __init__(self) -> None:
        self.touched: list[list[str]] = []

    def ensure(self, project: Project, progress: Any = None) -> Any:
        return None

    def index_for(self, root: Path) -> None:
        return None

    async def wait_built(self, root: Path) -> None:
        return None

    async def context_for(self, project: Project, **kw: Any) -> Any:
        from orion_lsp.agent.protocols import ContextBlock

        self.touched.append(list(kw["touched"]))
        return ContextBlock(text="calc.py:\n  def add(a, b)", stats={"mapFiles": 1})

    def stats(self) -> dict[str, Any]:
        return {"files": 0, "symbols": 0, "buildMs": 0}

    async def close(self) -> None:
        return None


async def test_the_map_ranks_toward_files_the_last_turns_read(tmp_path, project, model):
    (project.root / "util.py").write_text("def helper():\n    return 1\n")
    context = _RecordingContext()
    settings = Settings(
        model=model.model, api_base=model.base_url, database_path=str(tmp_path / "t.db")
    )
    services = await open_services(settings, context=context)
    try:
        model.push(
            ScriptedReply(
                tool_calls=[
                    ScriptedToolCall("read_file", {"path": "calc.py"}),
                    ScriptedToolCall("read_file", {"path": "missing.py"}),
                ]
            ),
            ScriptedReply(text="add adds."),
            ScriptedReply(tool_calls=[ScriptedToolCall("read_file", {"path": "util.py"})]),
            ScriptedReply(text="helper helps."),
            ScriptedReply(text="third"),
        )
        await run(services, project, "what does add do?")
        await run(services, project, "and helper?")
        await run(services, project, "and together?")
    finally:
        await services.close()
    # Only what was read with success, most recent turn first.
    assert context.touched == [[], ["calc.py"], ["util.py", "calc.py"]]
