"""orion export (SFT, DPO, KTO in TRL and OpenAI formats) and orion replay, over a
ledger made by real turns (the real orchestrator, litellm and the scripted model
over HTTP, a real SQLite file): row keys, labels by policy v1, order and ids of
tool calls, replay samples as DPO pairs, secrets and rewound turns kept out."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from orion_lsp.agent.protocols import NullSink
from orion_lsp.agent.tools.base import NoDocuments
from orion_lsp.agent.tools.disk_applier import DiskEditApplier
from orion_lsp.agent.turn import TurnRequest
from orion_lsp.config import load_settings
from orion_lsp.datasets.export import ExportOptions, ExportRefused, export_dataset
from orion_lsp.datasets.replay import replay
from orion_lsp.evals.policy import BAD, GOOD, UNLABELED, label_turn
from orion_lsp.project import project_for
from orion_lsp.services import Services, open_services
from orion_lsp.storage import Score
from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

SECRET = "sk-datasets-CANARY-9f8e7d6c5b4a"
SFT_KEYS = {"messages", "tools"}
DPO_KEYS = {"prompt", "chosen", "rejected", "tools"}
KTO_KEYS = {"prompt", "completion", "label"}


class Ledger:
    def __init__(self, services: Services, model: ScriptedModelServer, ws: Path) -> None:
        self.services, self.model, self.ws = services, model, ws
        self.project = project_for(ws)

    async def turn(self, prompt: str, *replies: ScriptedReply) -> str:
        self.model.push(*replies)
        req = TurnRequest(project=self.project, prompt=prompt, source="cli")
        await self.services.require_orchestrator().run(
            req, NullSink(), documents=NoDocuments(), applier=DiskEditApplier(self.ws)
        )
        return req.turn_id

    async def score(self, turn_id: str, name: str, source: str, **kw: Any) -> None:
        assert self.services.scores is not None
        await self.services.scores.put(Score(self.project.project_id, turn_id, name, source, **kw))

    async def export(self, kind: str, out: Path, fmt: str = "trl", **kw: Any) -> dict[str, Any]:
        assert self.services.traces and self.services.scores
        return await export_dataset(
            self.services.traces, self.services.scores, self.project.project_id,
            ExportOptions(kind, fmt, out, **kw), self.services.redactor,
        )  # fmt: skip


def read_rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def greet(name):\n    return f'Grüß dich, {name} 🙂'\n")
    (ws / "config.env").write_text(f"API_KEY={SECRET}\n")
    with ScriptedModelServer() as model:
        settings = load_settings(environ={
            "ORION_MODEL": model.model, "ORION_API_BASE": model.base_url,
            "ORION_DB": str(tmp_path / "orion.db"), "ORION_API_KEY": SECRET,
        })  # fmt: skip
        services = await open_services(settings, with_repo_map=False)
        try:
            yield Ledger(services, model, ws)
        finally:
            await services.close()


def read_call(path: str) -> ScriptedReply:
    return ScriptedReply(
        text="Je lis. ", tool_calls=[ScriptedToolCall("read_file", {"path": path})]
    )


async def make_history(ledger: Ledger) -> dict[str, str]:
    good = await ledger.turn("Que fait greet? ✨", read_call("app.py"),
                             ScriptedReply(text="greet greets in app.py 🙂."))  # fmt: skip
    await ledger.score(good, "user_rating", "human", label="up")
    bad = await ledger.turn("Where is it?", ScriptedReply(text="It is in missing_module.py."))
    plain = await ledger.turn("Hello", ScriptedReply(text="Hello to you."))
    secret = await ledger.turn("Read the config", read_call("config.env"),
                               ScriptedReply(text="It holds a key."))  # fmt: skip
    await ledger.score(secret, "user_rating", "human", label="up")
    # Last: a rewind also takes every later turn of the thread out of history.
    rewound = await ledger.turn("Change it", ScriptedReply(text="Changed in app.py."))
    await ledger.score(rewound, "user_rating", "human", label="up")
    await ledger.score(rewound, "rewound", "human", value=1)
    return {"good": good, "bad": bad, "plain": plain, "rewound": rewound, "secret": secret}


async def test_sft_rows_are_good_turns_in_trl_format(ledger: Ledger, tmp_path: Path) -> None:
    turns = await make_history(ledger)
    manifest = await ledger.export("sft", tmp_path / "sft")
    rows = read_rows(tmp_path / "sft")
    assert manifest["rows"] == len(rows) == 2
    assert manifest["turns"] == [turns["good"], turns["secret"]]  # never bad, rewound, unlabeled
    assert manifest["labels"] == {GOOD: 2, BAD: 2, UNLABELED: 1}
    assert manifest["policy"] == "v1" and manifest["kind"] == "sft"
    assert manifest["models"] == [ledger.model.model]
    for row in rows:
        assert set(row) == SFT_KEYS
        assert row["messages"][-1]["role"] == "assistant"
        assert row["messages"][0]["role"] == "system"
        assert {t["function"]["name"] for t in row["tools"]} >= {"read_file", "edit_file"}
    first = rows[0]["messages"]
    roles = [m["role"] for m in first]
    assert roles[-4:] == ["user", "assistant", "tool", "assistant"]
    call = first[-3]["tool_calls"][0]
    assert call["function"] == {"name": "read_file", "arguments": {"path": "app.py"}}  # TRL: dict
    assert first[-2]["name"] == "read_file" and "Grüß dich" in first[-2]["content"]
    assert first[-4]["content"].endswith("Que fait greet? ✨")
    assert first[-1]["content"] == "greet greets in app.py 🙂."
    # Exactly what the model received: the last request's messages, in order.
    sent = ledger.model.requests[1]["messages"]
    assert [m["role"] for m in sent] == roles[:-1]
    # The secret in the tool result was redacted when stored; the file never has it.
    text = (tmp_path / "sft" / "data.jsonl").read_text()
    assert SECRET not in text and "[REDACTED]" in text
    assert manifest["redactions"] >= 1
    card = (tmp_path / "sft" / "README.md").read_text()
    assert "policy `v1`" in card and "load_dataset" in card
    everything = text + (tmp_path / "sft" / "manifest.json").read_text()
    assert "Changed in app.py" not in everything  # the rewound turn is not a good example


async def test_openai_format_keeps_call_ids_and_json_arguments(
    ledger: Ledger, tmp_path: Path
) -> None:
    await make_history(ledger)
    await ledger.export("sft", tmp_path / "oa", fmt="openai")
    row = read_rows(tmp_path / "oa")[0]
    calls = [c for m in row["messages"] for c in m.get("tool_calls", [])]
    replies = [m for m in row["messages"] if m["role"] == "tool"]
    assert [c["id"] for c in calls] == [r["tool_call_id"] for r in replies]
    assert all(isinstance(c["function"]["arguments"], str) for c in calls)
    assert json.loads(calls[0]["function"]["arguments"]) == {"path": "app.py"}


async def test_kto_labels_every_step_of_labelled_turns(ledger: Ledger, tmp_path: Path) -> None:
    turns = await make_history(ledger)
    manifest = await ledger.export("kto", tmp_path / "kto")
    rows = read_rows(tmp_path / "kto")
    assert all(set(r) == KTO_KEYS and isinstance(r["label"], bool) for r in rows)
    assert [r["label"] for r in rows] == [True, True, False, True, True, False]
    assert turns["plain"] not in manifest["turns"]
    assert all(r["completion"][0]["role"] == "assistant" for r in rows)


async def test_replay_samples_pair_up_as_dpo(ledger: Ledger, tmp_path: Path) -> None:
    turns = await make_history(ledger)
    assert ledger.services.traces and ledger.services.scores
    ledger.model.push(ScriptedReply(text="See nowhere.py for greet."),
                      ScriptedReply(text="greet returns a greeting."))  # fmt: skip
    result = await replay(
        ledger.services.traces, ledger.services.scores, ledger.services.redactor,
        project_id=ledger.project.project_id, turn_id=turns["good"], step=None,
        model=ledger.model.model, api_base=ledger.model.base_url, api_key=SECRET,
        samples=2, temperature=1.0, root=ledger.ws, timeout_s=60,
    )  # fmt: skip
    assert result["original"]["step"] == 2 and result["original"]["label"] == GOOD
    labels = [s["label"] for s in result["samples"]]
    assert labels == [BAD, UNLABELED]  # claims_unknown for the missing file
    # The same request went out again, with the new temperature; no tool ran.
    original_body, *replayed = ledger.model.requests[1], *ledger.model.requests[-2:]
    for body in replayed:
        assert body["messages"] == original_body["messages"]
        assert body["tools"] == original_body["tools"]
        assert body["temperature"] == 1.0
    manifest = await ledger.export("dpo", tmp_path / "dpo")
    rows = read_rows(tmp_path / "dpo")
    assert manifest["rows"] == len(rows) == 3  # good>bad, good>unlabeled, unlabeled>bad
    assert manifest["labels"] == {GOOD: 2, BAD: 2, UNLABELED: 1}  # samples not counted
    for row in rows:
        assert set(row) == DPO_KEYS
        assert row["prompt"] == rows[0]["prompt"]
        assert row["chosen"] != row["rejected"]
        assert row["prompt"][-1]["role"] in ("user", "tool")
    chosen = [r["chosen"][0]["content"] for r in rows]
    rejected = [r["rejected"][0]["content"] for r in rows]
    assert chosen.count("greet greets in app.py 🙂.") == 2
    assert rejected.count("See nowhere.py for greet.") == 2


async def test_a_secret_left_in_the_ledger_refuses_the_export(
    ledger: Ledger, tmp_path: Path
) -> None:
    turns = await make_history(ledger)
    # A row that somehow escaped redaction (e.g. written by an old release).
    db = ledger.services.require_db()

    async def plant(conn: Any) -> None:
        await conn.execute_fetchall(
            "UPDATE trace_events SET payload = json_set(payload, '$.text', ?)"
            " WHERE turn_id = ? AND type = 'llm_call'",
            (f"the key is {SECRET}", turns["good"]),
        )

    await db.write(plant)
    with pytest.raises(ExportRefused):
        await ledger.export("sft", tmp_path / "refused")
    assert not (tmp_path / "refused" / "data.jsonl").exists()
    assert list((tmp_path / "refused").iterdir()) == []


async def test_exclude_drops_rows_that_read_matching_paths(ledger: Ledger, tmp_path: Path) -> None:
    turns = await make_history(ledger)
    manifest = await ledger.export("sft", tmp_path / "ex", exclude=["*.env"])
    assert manifest["turns"] == [turns["good"]] and manifest["excludedRows"] == 1


def test_policy_v1() -> None:
    s = lambda name, **kw: Score("p", "t", name, "code", **kw)  # noqa: E731
    assert label_turn("completed", [s("user_rating", label="up")]).label == GOOD
    assert label_turn("completed", [s("tests", label="pass")]).label == GOOD
    assert label_turn("completed", [s("critic", label="pass")]).label == GOOD
    assert label_turn("completed", []).label == UNLABELED
    assert label_turn("cancelled", [s("user_rating", label="up")]).label == UNLABELED
    assert label_turn("error", []).label == BAD
    assert label_turn("max_steps", []).label == BAD
    assert (
        label_turn("completed", [s("user_rating", label="up"), s("rewound", value=1)]).label == BAD
    )
    assert (
        label_turn("completed", [s("claims_unknown", value=2), s("tests", label="pass")]).label
        == BAD
    )
    broke = [s("tests", label="fail", value=1), s("tests_before", label="pass", value=0)]
    assert label_turn("completed", broke).label == BAD
    assert label_turn("completed", [s("tests", label="fail", value=1)]).label == UNLABELED
    a = label_turn("completed", [s("claims_unknown", value=0), s("tool_errors", value=1)])
    b = label_turn("completed", [s("claims_unknown", value=0), s("tool_errors", value=2)])
    assert a.better_than(b) is True and b.better_than(a) is False and a.better_than(a) is None


def test_cli_export_and_replay_usage(tmp_path: Path) -> None:
    run = lambda *a: subprocess.run([sys.executable, "-m", "orion_lsp.cli", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=120,
                                    env={"ORION_DB": str(tmp_path / "o.db"), "PATH": "/usr/bin"})  # fmt: skip
    done = run("export", "sft", "--project-id", "nobody", "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["rows"] == 0
    bad = run("replay", "--project-id", "nobody", "--turn", "t", "--model", "openai/x")
    assert bad.returncode == 2 and "no stored model request" in bad.stderr
    assert run("export", "xyz", "--project-id", "p", "--out", "o").returncode == 2


def test_the_final_scan_remembers_clean_strings_not_dirty_ones(tmp_path: Path) -> None:
    """Strings repeated from row to row are scanned once; a new string with a
    secret in a later row still refuses, and every mask in the output counts."""
    from orion_lsp.datasets.export import _Writer
    from orion_lsp.redact import MASK, Redactor

    class Counting(Redactor):
        calls = 0

        def redact(self, text: str) -> str:
            Counting.calls += 1
            return super().redact(text)

    w = _Writer(tmp_path / "rows.jsonl", Counting())
    history = [{"role": "user", "content": f"question {k} ünï 🙂 {MASK}"} for k in range(50)]
    w.write({"messages": history}, [], [])
    first = Counting.calls
    w.write({"messages": history}, [], [])
    assert Counting.calls == first  # nothing new to scan
    assert w.redactions == 100
    leak = [*history, {"role": "user", "content": "key sk-proj-" + "a1B2" * 12}]
    with pytest.raises(ExportRefused):
        w.write({"messages": leak}, [_turn_stub()], [])
    w.close()


def _turn_stub() -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(turn_id="t-leak")
