"""`orion replay`: a stored request sent again, to another model or the same one.

The exact request of step N of a turn (messages and tool specs as stored;
sampling parameters as stored, with `--temperature` replacing the
temperature) goes to model M, K times. Nothing else happens: no tool runs,
no file is touched (tool calls a sample asks for stay in its `llm_call`),
and no chat message is written. Each sample is stored as a turn of its own,
in no thread, whose `turn_start` says `source: "replay"` and
`replayOf: {turnId, step}`; the built-in evaluators score it like any turn.
Samples of the same request then pair up as DPO data (export.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..agent.claims import ClaimCheck
from ..agent.model import LiteLLMModel, ModelError
from ..agent.model_step import StepRequest, call_model
from ..agent.toolmode import TEXT
from ..agent.turn import COMPLETED, ERROR, new_turn_id
from ..evals.builtin import builtin_scores
from ..evals.policy import label_turn
from ..redact import Redactor
from ..storage import ScoreStore, TraceStore
from .ledger import load_turn

# Sampling parameters a replay keeps from the stored request; provider options
# (an Ollama num_ctx, say) belong to the original endpoint, not to model M.
SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "seed", "stop")


class ReplayError(ValueError):
    """The turn or step cannot be replayed (unknown, or it made no model call)."""


@dataclass
class Sample:
    turn_id: str
    model: str
    text: str
    tool_calls: list[dict[str, Any]]
    status: str
    error: str | None = None
    scores: dict[str, Any] = field(default_factory=dict)
    label: str = "unlabeled"

    def to_wire(self) -> dict[str, Any]:
        return {
            "turnId": self.turn_id,
            "model": self.model,
            "status": self.status,
            "error": self.error,
            "text": self.text,
            "toolCalls": self.tool_calls,
            "scores": self.scores,
            "label": self.label,
        }


async def replay(
    traces: TraceStore,
    scores: ScoreStore,
    redactor: Redactor,
    *,
    project_id: str,
    turn_id: str,
    step: int | None,
    model: str,
    api_base: str | None,
    api_key: str | None,
    samples: int,
    temperature: float | None,
    root: Path,
    timeout_s: float,
) -> dict[str, Any]:
    original = await load_turn(traces, scores, project_id, turn_id)
    if not original.steps:
        raise ReplayError(f"turn {turn_id} has no stored model request in project {project_id}")
    chosen = original.step(step) if step is not None else original.steps[-1]
    if chosen is None:
        known = ", ".join(str(s.step) for s in original.steps)
        raise ReplayError(f"turn {turn_id} has no step {step} (steps: {known})")
    request = await chosen.request()
    params = {k: v for k, v in (request.get("params") or {}).items() if k in SAMPLING_KEYS}
    if temperature is not None:
        params["temperature"] = temperature
    tools = request.get("tools") or []
    tool_names = [str((t.get("function") or {}).get("name")) for t in tools if isinstance(t, dict)]
    out: list[Sample] = []
    for _ in range(samples):
        sample_model = LiteLLMModel(model, api_base, api_key, redactor)
        sample_model.add_params(params)
        out.append(
            await _one_sample(
                traces,
                scores,
                redactor,
                project_id,
                original.turn_id,
                chosen.step,
                sample_model,
                request["messages"],
                tools,
                tool_names,
                TEXT if chosen.text_mode else "native",
                root,
                timeout_s,
            )  # fmt: skip
        )
    return {
        "projectId": project_id,
        "original": {
            "turnId": original.turn_id,
            "step": chosen.step,
            "model": chosen.model,
            "text": chosen.reply.get("content") or "",
            "toolCalls": chosen.reply.get("tool_calls") or [],
            "scores": {s.name: s.label or s.value for s in original.scores},
            "label": original.label.label,
        },
        "samples": [s.to_wire() for s in out],
    }


async def _one_sample(
    traces: TraceStore,
    scores: ScoreStore,
    redactor: Redactor,
    project_id: str,
    of_turn: str,
    of_step: int,
    model: LiteLLMModel,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    tool_names: list[str],
    mode: str,
    root: Path,
    timeout_s: float,
) -> Sample:
    tid = new_turn_id()
    started = time.monotonic()
    replay_of = {"turnId": of_turn, "step": of_step}
    await traces.append(
        project_id, tid, "turn_start",
        {"source": "replay", "replayOf": replay_of, "model": model.name,
         "apiBase": model.api_base, "toolMode": mode, "root": str(root)},
    )  # fmt: skip
    text: list[str] = []

    async def emit(piece: str) -> None:
        text.append(piece)

    async def record(payload: dict[str, Any]) -> None:
        await traces.append(project_id, tid, "llm_call", payload)

    status, error, calls = COMPLETED, None, []
    end: dict[str, Any] = {}
    try:
        result = await call_model(
            StepRequest(model, list(messages), tools, tool_names, mode, 1, timeout_s,
                        trace_base={"replayOf": replay_of}),
            redactor, emit, record,
        )  # fmt: skip
        calls = [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in result.reply.tool_calls
        ]
        answer = result.reply.text
        if not calls:
            end.update((await ClaimCheck(None)(answer, root, {})).payload)
    except ModelError as exc:
        status, error, answer = ERROR, str(exc), "".join(text)
    await traces.append(
        project_id, tid, "turn_end",
        {**end, "status": status, "error": error, "steps": 1,
         "durationMs": int((time.monotonic() - started) * 1000), "toolCalls": [], "edits": []},
    )  # fmt: skip
    events = await traces.events(project_id, tid)
    turn_scores = builtin_scores(project_id, tid, events)
    await scores.put(*turn_scores)
    return Sample(
        turn_id=tid,
        model=model.name,
        text=answer,
        tool_calls=calls,
        status=status,
        error=error,
        scores={s.name: s.label or s.value for s in turn_scores},
        label=label_turn(status, turn_scores).label,
    )
