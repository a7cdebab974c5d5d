"""The turn loop: model -> tools -> model ... until an answer.

One turn through it, step by step: docs/architecture.md#one-turn-from-the-editor-to-turn_end.

Every step is written to the ledger before the turn goes on: `turn_start`
first, one `llm_call` per model call, `tool_call`/`tool_result` around each
tool, `turn_end` last. A `StorageError` stops the turn at once: no further
model call or tool runs after a failed write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..config import Settings
from ..redact import Redactor
from ..storage import ChatStore, HistoryLoader, StorageError, TraceStore
from . import toolmode
from .messages import (
    assistant_tool_message,
    build_messages,
    cap_output,
    tool_message,
)
from .model import Model, ModelError, parse_arguments
from .model_cache import ModelInfoCache
from .model_info import FitReport, ollama_extra_params
from .model_step import StepRequest, StepResult, StepTimeout, call_model
from .prompt_budget import WindowFinder, map_budget
from .protocols import ContextBlock, ContextProvider, TurnEndCheck, TurnSink
from .toolmode import TEXT
from .tools.base import DocumentSource, EditApplier, Tool, ToolContext, ToolResult
from .tools.registry import run_tool, tool_specs
from .turn import CANCELLED, COMPLETED, ERROR, MAX_STEPS, TurnOutcome, TurnRequest
from .turn_plan import PromptTooLarge, TurnPlan

log = logging.getLogger(__name__)

LENGTH_NOTE = (
    "\n\n*[Orion: the model stopped at its output length limit; this answer may be incomplete.]*"
)
REVISION_HEADER = "\n\n---\n*Revised after review:*\n\n"


class TurnTimeout(Exception):
    pass


class _Turn:
    """Mutable state of one running turn."""

    def __init__(self, req: TurnRequest) -> None:
        self.req = req
        self.answer: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.tool_results: list[dict[str, Any]] = []
        self.steps = 0
        self.started = time.monotonic()
        self.critic: dict[str, Any] | None = None
        self.user_stored = False
        self.assistant_stored = False

    @property
    def text(self) -> str:
        return "".join(self.answer)


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
        redactor: Redactor,
        context: ContextProvider | None = None,
        end_checks: Sequence[TurnEndCheck] = (),
        model_cache: ModelInfoCache | None = None,
    ) -> None:
        self._settings = settings
        self._model_factory = model_factory
        self._tools = {t.name: t for t in tools}
        self._chats = chats
        self._traces = traces
        self._history = history
        self._redact = redactor
        self._context = context
        self._end_checks = list(end_checks)
        self._model_cache = model_cache or ModelInfoCache(None)
        self._windows = WindowFinder(self._model_cache)

    async def run(
        self,
        req: TurnRequest,
        sink: TurnSink,
        *,
        documents: DocumentSource,
        applier: EditApplier,
    ) -> TurnOutcome:
        """Run one turn. Raises StorageError and ModelError (after recording them)."""
        settings = self._settings()
        turn = _Turn(req)
        pid, tid = req.project.project_id, req.turn_id
        model = self._model_factory(settings)
        ctx = ToolContext(root=req.project.root, turn_id=tid, documents=documents, applier=applier)
        status, error = ERROR, None
        end_extra: dict[str, Any] = {}
        storage_failed = False
        raise_after: BaseException | None = None
        try:
            await sink.progress(tid, "Loading history")
            history = await self._history.last(pid, settings.history_limit)
            plan = await self._plan(req, model, settings)
            messages = build_messages(req, history, plan.context, settings, plan.extra_system)
            await self._event(
                req,
                "turn_start",
                {
                    "prompt": req.prompt,
                    "source": req.source,
                    "model": model.name,
                    "apiBase": model.api_base,
                    "activeFile": req.active_file,
                    "selection": _selection_payload(req),
                    "task": req.task,
                    "historyMessages": len(history),
                    "systemPrompt": messages[0]["content"],
                    "context": plan.context.stats,
                    "toolMode": plan.mode,
                    "window": plan.window,
                    "settings": {k: v for k, v in settings.public().items() if k != "databasePath"},
                },
            )
            await self._chats.add(pid, tid, "user", req.prompt)
            turn.user_stored = True
            status = await self._loop(turn, model, messages, ctx, sink, settings, plan)
            if status == COMPLETED:
                end_extra = await self._run_end_checks(turn, ctx, sink)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            status = CANCELLED
        except StorageError:
            storage_failed = True
            raise
        except ModelError as exc:
            error = str(exc)
            raise_after = exc
        except TurnTimeout as exc:
            error = str(exc)
        finally:
            outcome = TurnOutcome(
                turn_id=tid,
                project_id=pid,
                status=status,
                answer=turn.text,
                tool_calls=turn.tool_calls,
                edits=list(ctx.edits),
                error=error,
            )
            outcome.extra = end_extra
            if storage_failed:
                await self._record_end_after_storage_error(req, turn, outcome)
        try:
            await self._finish(req, turn, outcome)
        except StorageError:
            await self._record_end_after_storage_error(req, turn, outcome)
            raise
        if raise_after is not None:
            raise raise_after
        return outcome

    async def _loop(
        self,
        turn: _Turn,
        model: Model,
        messages: list[dict[str, Any]],
        ctx: ToolContext,
        sink: TurnSink,
        settings: Settings,
        plan: TurnPlan,
    ) -> str:
        tid = turn.req.turn_id
        deadline = turn.started + settings.turn_timeout_s
        current = len(messages) - 1  # this turn's user message
        while True:
            if turn.steps >= settings.max_steps:
                return MAX_STEPS
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TurnTimeout(f"Orion turn time limit reached ({settings.turn_timeout_s} s)")
            await sink.progress(tid, f"Asking {model.name} (step {turn.steps + 1})")
            try:
                sent, fit = plan.fit(messages, current)
            except PromptTooLarge as exc:
                await self._event(
                    turn.req,
                    "llm_call",
                    {
                        "model": model.name,
                        "step": turn.steps + 1,
                        "error": str(exc),
                        "fit": exc.report.to_trace(),
                        "errorKind": "context_window",
                        "willRetry": False,
                    },
                )
                raise model.error(str(exc), kind="context_window") from None
            result = await self._step(turn, model, sent, sink, remaining, plan, fit)
            reply = result.reply
            if result.text_calls_seen and plan.mode != TEXT:
                # `auto`: this model writes tool calls as text; describe the format from now on.
                await self._model_cache.set(model.name, model.api_base, toolmode.CACHE_KEY, TEXT)
            if reply.finish_reason == "length" and not reply.tool_calls:
                await self._say(turn, sink, LENGTH_NOTE)
            if not reply.tool_calls:
                if plan.critic and settings.critic_model:
                    await self._review(turn, model, messages, sink, settings, plan, deadline)
                return COMPLETED
            messages.append(assistant_tool_message(reply, text_mode=plan.mode == TEXT))
            for call in reply.tool_calls:
                await sink.progress(tid, f"Running {call.name}")
                result_ = await self._run_tool(turn, call.id, call.name, call.arguments, ctx, sink)
                messages.append(
                    tool_message(call.id, call.name, result_.content, text_mode=plan.mode == TEXT)
                )

    async def _step(
        self,
        turn: _Turn,
        model: Model,
        sent: list[dict[str, Any]],
        sink: TurnSink,
        remaining: float,
        plan: TurnPlan,
        fit: FitReport | None,
        *,
        mode: str | None = None,
    ) -> StepResult:
        turn.steps += 1
        request = StepRequest(
            model=model,
            messages=sent,
            tool_specs=plan.specs,
            tool_names=list(self._tools),
            mode=mode or plan.mode,
            step=turn.steps,
            remaining_s=remaining,
            trace_base={
                "mapChars": len(plan.context.text) if plan.map_in_prompt else 0,
                "map": plan.context.stats,
                "window": plan.window,
            },
            fit=fit,
        )
        try:
            return await call_model(
                request,
                self._redact,
                lambda text: self._say(turn, sink, text),
                lambda payload: self._event(turn.req, "llm_call", payload),
            )
        except StepTimeout as exc:
            raise TurnTimeout(str(exc)) from None

    async def _say(self, turn: _Turn, sink: TurnSink, text: str) -> None:
        if text:
            turn.answer.append(text)
            await sink.delta(turn.req.turn_id, text)

    async def _review(
        self,
        turn: _Turn,
        model: Model,
        messages: list[dict[str, Any]],
        sink: TurnSink,
        settings: Settings,
        plan: TurnPlan,
        deadline: float,
    ) -> None:
        """The critic model checks the answer against the tool results; one revision at most."""
        from .critic import critique, revision_prompt
        from .litellm_setup import NO_RETRY_KWARGS, import_litellm

        assert settings.critic_model is not None
        await sink.progress(turn.req.turn_id, f"Review by {settings.critic_model}")
        verdict = await critique(
            import_litellm().acompletion,
            settings.critic_model,
            settings.api_base,
            turn.text,
            turn.tool_results,
            turn.req.prompt,
            api_key=settings.api_key,
            extra=NO_RETRY_KWARGS,
        )
        await self._event(turn.req, "llm_call", {"role": "critic", **verdict.to_trace()})
        turn.critic = verdict.to_trace()
        remaining = deadline - time.monotonic()
        if (
            verdict.passed
            or not verdict.available
            or turn.steps >= settings.max_steps
            or remaining <= 0
        ):
            return
        messages.append({"role": "assistant", "content": turn.text})
        messages.append({"role": "user", "content": revision_prompt(verdict)})
        await self._say(turn, sink, REVISION_HEADER)
        sent, fit = plan.fit(messages, len(messages) - 1)
        # The revision answers in text: no further tool round-trips.
        await self._step(turn, model, sent, sink, remaining, plan.without_tools(), fit)

    async def _run_tool(
        self,
        turn: _Turn,
        call_id: str,
        name: str,
        raw_args: str,
        ctx: ToolContext,
        sink: TurnSink,
    ) -> ToolResult:
        tid = turn.req.turn_id
        args = parse_arguments(raw_args)
        await self._event(
            turn.req,
            "tool_call",
            {
                "name": name,
                "id": call_id,
                "arguments": args if isinstance(args, dict) else raw_args,
            },
        )
        await sink.tool_event(tid, "tool_call", name, None, _call_summary(name, args))
        if name not in self._tools:
            known = ", ".join(sorted(self._tools))
            result = ToolResult(
                False, f"Unknown tool {name!r}. Tools: {known}.", f"unknown tool {name}"
            )
        else:
            result = await run_tool(self._tools, name, raw_args, ctx)
        content, truncated = cap_output(result.content, ctx.max_output_chars)
        result = ToolResult(result.ok, content, result.summary, result.data)
        turn.tool_calls.append({"name": name, "ok": result.ok})
        turn.tool_results.append(
            {"name": name, "arguments": args, "ok": result.ok, "content": content}
        )
        await self._event(
            turn.req,
            "tool_result",
            {
                "name": name,
                "id": call_id,
                "ok": result.ok,
                "summary": result.summary,
                "content": content,
                "truncated": truncated,
                "data": result.data,
            },
        )
        await sink.tool_event(tid, "tool_result", name, result.ok, result.summary)
        return result

    async def _run_end_checks(
        self, turn: _Turn, ctx: ToolContext, sink: TurnSink
    ) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        for check in self._end_checks:
            try:
                result = await check(turn.text, ctx.root, dict(ctx.read_files))
            except StorageError:
                raise
            except Exception:  # a check is advisory: log it, never fail the turn for it
                log.exception("turn-end check failed")
                continue
            extra.update(result.payload)
            if result.note:
                turn.answer.append(result.note)
                await sink.delta(turn.req.turn_id, result.note)
        return extra

    async def _plan(self, req: TurnRequest, model: Model, settings: Settings) -> TurnPlan:
        mode = await toolmode.resolve(
            settings.tool_mode, model.name, model.api_base, self._model_cache
        )
        window = await self._windows.window(model.name, model.api_base, settings.api_key)
        if window:
            # Ollama silently truncates to its default num_ctx unless told the window.
            model.add_params(ollama_extra_params(model.name, window))
        context = await self._build_context(req, map_budget(settings.context_tokens, window))
        return TurnPlan.build(req, mode, window, context, tool_specs(list(self._tools.values())))

    async def _build_context(self, req: TurnRequest, budget_tokens: int) -> ContextBlock:
        if self._context is None or budget_tokens <= 0:
            return ContextBlock(text="", stats={"repoMap": "off"})
        try:
            return await self._context.context_for(
                req.project,
                prompt=req.prompt,
                active_file=req.active_file,
                touched=[],
                budget_tokens=budget_tokens,
            )
        except StorageError:
            raise
        except Exception:
            # The repo map is a cache-like aid: a broken map must not stop a turn.
            log.exception("repo map failed; continuing without it")
            return ContextBlock(text="", stats={"repoMap": "failed"})

    async def _finish(self, req: TurnRequest, turn: _Turn, outcome: TurnOutcome) -> None:
        if not turn.assistant_stored:
            await self._chats.add(req.project.project_id, req.turn_id, "assistant", outcome.answer)
            turn.assistant_stored = True
        await self._event(req, "turn_end", _end_payload(turn, outcome))

    async def _record_end_after_storage_error(
        self, req: TurnRequest, turn: _Turn, outcome: TurnOutcome
    ) -> None:
        # The turn already failed loudly (the StorageError goes on to the user). Try
        # once to close it in the ledger: the assistant row that pairs the stored
        # user row, and a turn_end that says it did not complete. If the database
        # is still failing, the next start marks the turn interrupted instead.
        outcome.status = ERROR
        outcome.error = "storage error"
        try:
            if turn.user_stored and not turn.assistant_stored:
                await self._chats.add(
                    req.project.project_id, req.turn_id, "assistant", outcome.answer
                )
                turn.assistant_stored = True
            await self._event(req, "turn_end", _end_payload(turn, outcome))
        except StorageError:
            pass

    async def _event(self, req: TurnRequest, type: str, payload: dict[str, Any]) -> None:
        await self._traces.append(req.project.project_id, req.turn_id, type, payload)


def _end_payload(turn: _Turn, outcome: TurnOutcome) -> dict[str, Any]:
    return {
        **outcome.extra,
        "critic": turn.critic,
        "status": outcome.status,
        "error": outcome.error,
        "steps": turn.steps,
        "durationMs": int((time.monotonic() - turn.started) * 1000),
        "answerChars": len(outcome.answer),
        "toolCalls": outcome.tool_calls,
        "edits": outcome.edits,
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
