"""Replay against real local models: a real SmolLM2 turn replayed against Gemma 3
270M and against SmolLM2 at temperature 1.0 (2 samples); the replays run no tool
and write no chat message, and the DPO export then holds a pair built from real
replies to the very same stored request."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from orion_lsp.evals.policy import Label
from tests.e2e.test_realmodel import gemma, smollm2  # noqa: F401  (module-scoped servers)

pytestmark = pytest.mark.realmodel


def orion(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orion_lsp.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def test_replay_a_real_turn_on_two_models_then_export_dpo(smollm2, gemma, tmp_path: Path):  # noqa: F811
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "cart.py").write_text(
        'def total(prices):\n    """Sum of the prices."""\n    return sum(prices)\n'
    )
    db = tmp_path / "orion.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORION_", "OTEL_"))}
    env.update(ORION_MODEL="openai/smollm2", ORION_API_BASE=smollm2, ORION_DB=str(db),
               ORION_TOOL_MODE="text")  # fmt: skip
    project = orion(env, "project-id", str(ws)).stdout.strip()
    done = orion(env, "chat", "--project-id", project, "--workspace", str(ws),
                 "In one sentence: what is a Python function?")  # fmt: skip
    assert done.returncode == 0, done.stderr
    turn = json.loads(orion(env, "traces", "--project-id", project, "--json").stdout)["turnId"]
    assert orion(env, "rate", "--project-id", project, "--turn", turn, "up").returncode == 0
    runs = [
        ("openai/gemma", gemma, ["--samples", "1"]),
        ("openai/smollm2", smollm2, ["--samples", "2", "--temperature", "1.0"]),
    ]
    samples = []
    for model, base, extra in runs:
        done = orion(env, "replay", "--project-id", project, "--turn", turn, "--model", model,
                     "--api-base", base, "--workspace", str(ws), "--json", *extra)  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["original"]["turnId"] == turn
        result_original = result["original"]
        samples += result["samples"]
    assert len(samples) == 3 and all(s["status"] == "completed" for s in samples)
    con = sqlite3.connect(db)
    try:
        ids = [s["turnId"] for s in samples]
        marks = ",".join("?" * len(ids))
        assert con.execute(
            f"SELECT COUNT(*) FROM chat_messages WHERE turn_id IN ({marks})", ids
        ).fetchone() == (0,)
        kinds = con.execute(
            f"SELECT DISTINCT type FROM trace_events WHERE turn_id IN ({marks})", ids
        ).fetchall()
        assert {k for (k,) in kinds} == {"turn_start", "llm_call", "turn_end"}  # no tool ran
    finally:
        con.close()
    out = tmp_path / "dpo"
    assert orion(env, "export", "dpo", "--project-id", project, "--out", str(out)).returncode == 0
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]

    # Which pairs policy v1 must make from these real replies (the same rule, computed here).
    def label(item: dict) -> Label:
        sc = item["scores"]
        return Label(
            item["label"],
            (),
            float(sc.get("claims_unknown") or 0),
            float(sc.get("tool_errors") or 0),
        )

    items = [label(result_original), *(label(s) for s in samples)]
    expected = sum(1 for i in range(len(items)) for j in range(i + 1, len(items))
                   if items[i].better_than(items[j]) is not None)  # fmt: skip
    assert len(rows) == expected
    texts = {s["text"] for s in samples}
    for row in rows:
        assert row["chosen"] != row["rejected"]
        assert {row["chosen"][0]["content"], row["rejected"][0]["content"]} & texts
