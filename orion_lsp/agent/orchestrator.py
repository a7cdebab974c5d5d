"""The turn loop: model -> tools -> model ... until an answer.

One turn through it, step by step: docs/architecture.md#one-turn-from-the-editor-to-turn_end.

Every step is written to the ledger before the turn goes on: `turn_start`
first, one `llm_call` per model call, `tool_call`/`tool_result` around each
tool, `turn_end` last. A `StorageError` stops the turn at once: no further
model call or tool runs after a failed write.

The running turn's state lives in one `RunningTurn` (`running_turn.py`); how
it ended is mapped in one place (`ending_of`), and one idempotent close
(`_close`) writes its end, on the normal path and after a storage error alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..config import Settings
from ..redact import Redactor
from ..storage import (
    ChatMessage,
    ChatStore,
    HistoryLoader,
    PendingMessage,
    Score,
    StorageError,
    ThreadStore,
    TraceStore,
)
from . import toolmode
from .messages import (
    assistant_tool_message,
    build_messages,
    tool_message,
)
from .model import Model, ToolCallRequest, parse_arguments
from .model_cache import ModelInfoCache
from .model_step import StepRequest, StepResult, call_model
from .protocols import ContextBlock, ContextProvider, TurnEndCheck, TurnEvaluator, TurnSink
from .running_turn import Ending, RunningTurn, ending_of
from .toolmode import TEXT
from .tools.base import DocumentSource, EditApplier, Tool, ToolContext
from .tools.registry import run_tool, tool_specs
from .turn import COMPLETED, MAX_STEPS, TurnOutcome, TurnRequest, TurnTimeout
from .turn_plan import TurnPlan
from .window.discover import WindowFinder, ollama_extra_params
from .window.fit import PromptTooLarge, map_budget

log = logging.getLogger(__name__)

LENGTH_NOTE = (
    "\n\n*[Orion: the model stopped at its output length limit; this answer may be incomplete.]*"
)
REVISION_HEADER = "\n\n---\n*Revised after review:*\n\n"
# The repo map ranks toward files these tools touched in the last RECENT_TURNS turns.
FILE_TOOLS = frozenset({"read_file", "edit_file", "create_file"})
RECENT_TURNS = 3


class ToolOrchestrator:
    def __init__(
        self,
        *,
        settings: Callable[[], Settings],
        model_factory: Callable[[Settings], Model],
        tools: Sequence[Tool],
        chats: ChatStore,
        traces: TraceStore,
        history: HistoryLoader,
        threads: ThreadStore,
        record_edits: Callable[[EditApplier, TurnRequest], EditApplier],
        redactor: Redactor,
        context: ContextProvider | None = None,
        end_checks: Sequence[TurnEndCheck] = (),
        model_cache: ModelInfoCache | None = None,
        evaluator: TurnEvaluator | None = None,
    ) -> None:
        self._settings = settings
        self._model_factory = model_factory
        self._tools = {t.name: t for t in tools}
        self._chats = chats
        self._traces = traces
        self._history = history
        self._threads = threads
        # Wraps each turn's applier so every edit is checkpointed first
        # (orion_lsp/checkpoints, wired by the composition root).
        self._record_edits = record_edits
        self._redact = redactor
        self._context = context
        self._end_checks = list(end_checks)
        self._model_cache = model_cache or ModelInfoCache(None)
        self._windows = WindowFinder(self._model_cache)
        self._evaluator = evaluator

    async def run(
        self,
        req: TurnRequest,
        sink: TurnSink,
        *,
        documents: DocumentSource,
        applier: EditApplier,
    ) -> TurnOutcome:
        """Run one turn. Raises StorageError and ModelError (after recording them).

        The turn goes to `req.thread_id` (chosen and checked by the front end);
        without one, to the project's latest thread, or a new one. Every edit
        passes the checkpoint recorder first (orion_lsp/checkpoints), so the
        turn can be rewound.
        """
        settings = self._settings()
        if req.thread_id is None:
            choice = await self._threads.choose(req.project.project_id)
            req.thread_id, req.new_thread = choice.thread_id, choice.new
        recorder = self._record_edits(applier, req)
        turn = RunningTurn(
            req=req,
            model=self._model_factory(settings),
            ctx=ToolContext(
                root=req.project.root, turn_id=req.turn_id, documents=documents, applier=recorder
            ),
            sink=sink,
            settings=settings,
        )
        try:
            ending = Ending(await self._drive(turn))
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError):
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()  # the turn is closed below; the caller gets its outcome
            ending = ending_of(exc)
        ending = await self._close(turn, ending)
        if ending.reraise is not None:
            raise ending.reraise
        return turn.outcome(ending)

    async def _drive(self, turn: RunningTurn) -> str:
        """The turn from history to its last step; returns its status or raises."""
        req, settings = turn.req, turn.settings
        await turn.sink.progress(turn.turn_id, "Loading history")
        # Only this thread's history, never a rewound turn or an empty (failed) answer.
        assert req.thread_id is not None
        history = await self._history.for_model(req.thread_id, settings.history_limit)
        turn.plan = await self._plan(turn, history)
        turn.messages = build_messages(
            req, history, turn.plan.context, settings, turn.plan.extra_system
        )
        turn.current = len(turn.messages) - 1
        # The prompt's history row commits with its turn_start: both or neither.
        prompt = self._chats.prepare(
            req.project.project_id, turn.turn_id, "user", req.prompt, thread_id=req.thread_id
        )
        await self._event(
            turn, "turn_start", _start_payload(turn, len(history)), messages=(prompt,)
        )
        turn.in_ledger = True
        if self._evaluator is not None:
            await self._evaluator.turn_started(req, turn.ctx.documents)
        status = await self._loop(turn)
        if status == COMPLETED:
            turn.end_extra = await self._run_end_checks(turn)
        return status

    async def _loop(self, turn: RunningTurn) -> str:
        plan, settings = turn.plan, turn.settings
        while True:
            if turn.steps >= settings.max_steps:
                return MAX_STEPS
            if turn.remaining_s() <= 0:
                raise TurnTimeout(f"Orion turn time limit reached ({settings.turn_timeout_s} s)")
            await turn.sink.progress(
                turn.turn_id, f"Asking {turn.model.name} (step {turn.steps + 1})"
            )
            result = await self._step(turn, plan, turn.current)
            reply = result.reply
            if result.text_calls_seen and plan.mode != TEXT:
                # `auto`: this model writes tool calls as text; describe the format from now on.
                await self._model_cache.set(
                    turn.model.name, turn.model.api_base, toolmode.CACHE_KEY, TEXT
                )
            if reply.finish_reason == "length" and not reply.tool_calls:
                await turn.say(LENGTH_NOTE)
            if not reply.tool_calls:
                if plan.critic and settings.critic_model:
                    await self._review(turn)
                return COMPLETED
            text_mode = plan.mode == TEXT
            turn.messages.append(assistant_tool_message(reply, text_mode=text_mode))
            for call in reply.tool_calls:
                await turn.sink.progress(turn.turn_id, f"Running {call.name}")
                content = await self._run_tool(turn, call)
                turn.messages.append(tool_message(call.id, call.name, content, text_mode=text_mode))

    async def _step(self, turn: RunningTurn, plan: TurnPlan, current: int) -> StepResult:
        """One model call: fit the messages into the window (everything from `current` on is
        kept), then stream, retry and record it."""
        try:
            sent, fit = plan.fit(turn.messages, current)
        except PromptTooLarge as exc:
            await self._event(
                turn,
                "llm_call",
                {
                    "model": turn.model.name,
                    "step": turn.steps + 1,
                    "error": str(exc),
                    "fit": exc.report.to_trace(),
                    "errorKind": "context_window",
                    "willRetry": False,
                },
            )
            raise turn.model.error(str(exc), kind="context_window") from None
        turn.steps += 1
        request = StepRequest(
            model=turn.model,
            messages=sent,
            tool_specs=plan.specs,
            tool_names=list(self._tools),
            mode=plan.mode,
            step=turn.steps,
            remaining_s=turn.remaining_s(),
            trace_base={
                "mapChars": len(plan.context.text) if plan.map_in_prompt else 0,
                "map": plan.context.stats,
                "window": plan.window,
            },
            fit=fit,
        )
        return await call_model(
            request,
            self._redact,
            turn.say,
            lambda payload: self._event(turn, "llm_call", payload),
        )

    async def _review(self, turn: RunningTurn) -> None:
        """The critic model checks the answer against the tool results; one revision at most."""
        from .critic import critique, revision_prompt

        settings = turn.settings
        critic = self._model_factory(settings.for_critic())
        await turn.sink.progress(turn.turn_id, f"Review by {critic.name}")
        verdict = await critique(critic, turn.text, turn.tool_results, turn.req.prompt)
        call: dict[str, Any] = {"role": "critic", **verdict.to_trace()}
        if verdict.request is not None:
            call["request"] = verdict.request
        await self._event(turn, "llm_call", call)
        turn.critic = verdict.to_trace()
        if (
            verdict.passed
            or not verdict.available
            or turn.steps >= settings.max_steps
            or turn.remaining_s() <= 0
        ):
            return
        turn.messages.append({"role": "assistant", "content": turn.text})
        turn.messages.append({"role": "user", "content": revision_prompt(verdict)})
        await turn.say(REVISION_HEADER)
        # The revision answers in text: no further tool round-trips.
        await self._step(turn, turn.plan.without_tools(), len(turn.messages) - 1)

    async def _run_tool(self, turn: RunningTurn, call: ToolCallRequest) -> str:
        """Run one tool call, recorded and reported; returns what the model gets back."""
        name, args = call.name, parse_arguments(call.arguments)
        await self._event(
            turn,
            "tool_call",
            {
                "name": name,
                "id": call.id,
                "arguments": args if isinstance(args, dict) else call.arguments,
            },
        )
        await turn.sink.tool_event(turn.turn_id, "tool_call", name, None, _call_summary(name, args))
        result = await run_tool(self._tools, name, call.arguments, turn.ctx)
        turn.tool_calls.append({"name": name, "ok": result.ok})
        turn.tool_results.append(
            {"name": name, "arguments": args, "ok": result.ok, "content": result.content}
        )
        await self._event(
            turn,
            "tool_result",
            {
                "name": name,
                "id": call.id,
                "ok": result.ok,
                "summary": result.summary,
                "content": result.content,
                "truncated": result.truncated,
                "data": result.data,
            },
        )
        await turn.sink.tool_event(turn.turn_id, "tool_result", name, result.ok, result.summary)
        return result.content

    async def _run_end_checks(self, turn: RunningTurn) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        for check in self._end_checks:
            try:
                result = await check(turn.text, turn.ctx.root, dict(turn.ctx.read_files))
            except StorageError:
                raise
            except Exception:  # a check is advisory: log it, never fail the turn for it
                log.exception("turn-end check failed")
                continue
            extra.update(result.payload)
            await turn.say(result.note or "")
        return extra

    async def _plan(self, turn: RunningTurn, history: list[ChatMessage]) -> TurnPlan:
        req, model, settings = turn.req, turn.model, turn.settings
        mode = await toolmode.resolve(
            settings.tool_mode, model.name, model.api_base, self._model_cache
        )
        window = await self._windows.window(model.name, model.api_base, settings.api_key)
        if window:
            # Ollama silently truncates to its default num_ctx unless told the window.
            model.add_params(ollama_extra_params(model.name, window))
        budget = map_budget(settings.context_tokens, window)
        context = await self._build_context(req, history, budget)
        return TurnPlan.build(req, mode, window, context, tool_specs(list(self._tools.values())))

    async def _build_context(
        self, req: TurnRequest, history: list[ChatMessage], budget_tokens: int
    ) -> ContextBlock:
        if self._context is None or budget_tokens <= 0:
            return ContextBlock(text="", stats={"repoMap": "off"})
        # Ranked toward the files the conversation's last turns read or edited: a
        # follow-up is usually about the same code. (This turn has touched nothing
        # yet: the map is built once, before its first model call.)
        touched = await self._recent_files(req.project.project_id, history)
        try:
            return await self._context.context_for(
                req.project,
                prompt=req.prompt,
                active_file=req.active_file,
                touched=touched,
                budget_tokens=budget_tokens,
            )
        except StorageError:
            raise
        except Exception:
            # The repo map is a cache-like aid: a broken map must not stop a turn.
            log.exception("repo map failed; continuing without it")
            return ContextBlock(text="", stats={"repoMap": "failed"})

    async def _recent_files(self, project_id: str, history: list[ChatMessage]) -> list[str]:
        """Files read, edited or created with success in the last turns of `history`,
        most recent turn first (from the ledger's `tool_result` events)."""
        turn_ids = list(dict.fromkeys(m.turn_id for m in reversed(history)))
        files: list[str] = []
        for turn_id in turn_ids[:RECENT_TURNS]:
            for event in await self._traces.events(project_id, turn_id):
                p = event.payload
                if (
                    event.type != "tool_result"
                    or not p.get("ok")
                    or p.get("name") not in FILE_TOOLS
                ):
                    continue
                path = (p.get("data") or {}).get("path")
                if isinstance(path, str) and path not in files:
                    files.append(path)
        return files

    async def _close(self, turn: RunningTurn, ending: Ending) -> Ending:
        """Write the turn's end; returns the ending as stored (a failed write makes it one)."""
        if not isinstance(ending.reraise, StorageError):
            try:
                await self._write_end(turn, ending)
                return ending
            except StorageError as exc:
                ending = ending_of(exc)
        # The turn already failed loudly (the StorageError goes on to the user). Try
        # once to close it in the ledger as an error; if the database is still
        # failing, the next start marks the turn interrupted instead.
        with contextlib.suppress(StorageError):
            await self._write_end(turn, ending)
        return ending

    async def _write_end(self, turn: RunningTurn, ending: Ending) -> None:
        """Idempotent: the `turn_end` of a stored `turn_start`, with the assistant
        row that pairs the user row committed beside it, in one transaction and
        at most once (a kill between two commits would store a whole answer
        under a turn the next start marks interrupted)."""
        if not turn.in_ledger or turn.closed:
            return
        answer = self._chats.prepare(
            turn.req.project.project_id,
            turn.turn_id,
            "assistant",
            turn.text,
            thread_id=turn.req.thread_id,
        )
        payload = turn.end_payload(ending)
        scores: list[Score] = []
        if self._evaluator is not None:
            # The built-in scores are part of the turn's ledger: committed with its
            # turn_end (so before `orion/turnEnd`), or neither is.
            scores = self._evaluator.end_scores(
                turn.req.project.project_id, turn.turn_id, turn.events, payload
            )
        await self._event(turn, "turn_end", payload, scores=scores, messages=(answer,))
        turn.closed = True

    async def _event(
        self,
        turn: RunningTurn,
        type: str,
        payload: dict[str, Any],
        scores: Sequence[Score] = (),
        messages: Sequence[PendingMessage] = (),
    ) -> None:
        event = await self._traces.append(
            turn.req.project.project_id,
            turn.turn_id,
            type,
            payload,
            thread_id=turn.req.thread_id,
            scores=scores,
            messages=messages,
        )
        turn.events.append(event)


def _start_payload(turn: RunningTurn, history_messages: int) -> dict[str, Any]:
    req, plan, model = turn.req, turn.plan, turn.model
    return {
        "prompt": req.prompt,
        "source": req.source,
        "threadId": req.thread_id,
        "root": str(req.project.root),
        "model": model.name,
        "apiBase": model.api_base,
        "activeFile": req.active_file,
        "selection": _selection_payload(req),
        "task": req.task,
        "historyMessages": history_messages,
        "systemPrompt": turn.messages[0]["content"],
        "context": plan.context.stats,
        "toolMode": plan.mode,
        "window": plan.window,
        "settings": {k: v for k, v in turn.settings.public().items() if k != "databasePath"},
    }


def _selection_payload(req: TurnRequest) -> dict[str, Any] | None:
    s = req.selection
    if s is None:
        return None
    return {"start": [s.start_line, s.start_character], "end": [s.end_line, s.end_character]}


def _call_summary(name: str, args: dict[str, Any] | str) -> str:
    if not isinstance(args, dict):
        return f"{name}(invalid arguments)"
    for key in ("path", "pattern", "name", "glob"):
        if isinstance(args.get(key), str):
            return f"{name} {args[key][:120]}"
    return name
