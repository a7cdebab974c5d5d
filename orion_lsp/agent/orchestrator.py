"""The turn loop: model -> tools -> model ... until an answer (HOUSE_STYLE habit 4).

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
from ..redact import Redactor, StreamRedactor
from ..storage import ChatStore, HistoryLoader, StorageError, TraceStore
from .messages import assistant_tool_message, build_messages, cap_output, tool_message
from .model import Model, ModelError, ModelReply, parse_arguments
from .protocols import ContextBlock, ContextProvider, TurnEndCheck, TurnSink
from .tools.base import DocumentSource, EditApplier, Tool, ToolContext, ToolResult
from .tools.registry import run_tool, tool_specs
from .turn import CANCELLED, COMPLETED, ERROR, MAX_STEPS, TurnOutcome, TurnRequest

log = logging.getLogger(__name__)

# Model calls that fail before any text streamed are retried this many times in all.
MAX_ATTEMPTS = 3
RETRY_DELAYS = (0.5, 2.0)


class TurnTimeout(Exception):
    pass


class _Turn:
    """Mutable state of one running turn."""

    def __init__(self, req: TurnRequest) -> None:
        self.req = req
        self.answer: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.steps = 0
        self.started = time.monotonic()

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
            context = await self._build_context(req, settings)
            messages = build_messages(req, history, context, settings)
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
                    "context": context.stats,
                    "settings": {k: v for k, v in settings.public().items() if k != "databasePath"},
                },
            )
            await self._chats.add(pid, tid, "user", req.prompt)
            status = await self._loop(turn, model, messages, ctx, sink, settings, context)
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
        await self._finish(req, turn, outcome)
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
        context: ContextBlock,
    ) -> str:
        specs = tool_specs(list(self._tools.values()))
        tid = turn.req.turn_id
        deadline = turn.started + settings.turn_timeout_s
        while True:
            if turn.steps >= settings.max_steps:
                return MAX_STEPS
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TurnTimeout(f"Orion turn time limit reached ({settings.turn_timeout_s} s)")
            await sink.progress(tid, f"Asking {model.name} (step {turn.steps + 1})")
            reply = await self._call_model(turn, model, messages, specs, sink, remaining, context)
            if not reply.tool_calls:
                return COMPLETED
            messages.append(assistant_tool_message(reply))
            for call in reply.tool_calls:
                await sink.progress(tid, f"Running {call.name}")
                result = await self._run_tool(turn, call.id, call.name, call.arguments, ctx, sink)
                messages.append(tool_message(call.id, call.name, result.content))

    async def _call_model(
        self,
        turn: _Turn,
        model: Model,
        messages: list[dict[str, Any]],
        specs: list[dict[str, Any]],
        sink: TurnSink,
        remaining: float,
        context: ContextBlock,
    ) -> ModelReply:
        tid = turn.req.turn_id
        streamed = False
        # Secrets may be split across chunks: redact the stream, not each chunk.
        redacting = StreamRedactor(self._redact)

        async def emit(text: str) -> None:
            if text:
                turn.answer.append(text)
                await sink.delta(tid, text)

        async def on_text(text: str) -> None:
            nonlocal streamed
            streamed = True
            await emit(redacting.feed(text))

        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            base = {
                "model": model.name,
                "step": turn.steps + 1,
                "attempt": attempt,
                "messages": len(messages),
                "promptChars": sum(len(str(m.get("content") or "")) for m in messages),
                "mapChars": len(context.text),
                "map": context.stats,
            }
            try:
                try:
                    async with asyncio.timeout(remaining):
                        reply = await model.complete(messages, specs, on_text)
                finally:
                    await emit(redacting.flush())
            except TimeoutError:
                raise TurnTimeout(
                    "Orion turn time limit reached while waiting for the model"
                ) from None
            except ModelError as exc:
                duration = int((time.monotonic() - started) * 1000)
                retry = exc.retryable and not streamed and attempt < MAX_ATTEMPTS
                await self._event(
                    turn.req,
                    "llm_call",
                    {**base, "durationMs": duration, "error": str(exc), "willRetry": retry},
                )
                if not retry:
                    turn.steps += 1
                    raise
                await asyncio.sleep(RETRY_DELAYS[min(attempt - 1, len(RETRY_DELAYS) - 1)])
                continue
            turn.steps += 1
            await self._event(
                turn.req,
                "llm_call",
                {
                    **base,
                    "durationMs": reply.duration_ms,
                    "firstTokenMs": reply.first_token_ms,
                    "finishReason": reply.finish_reason,
                    "tokens": reply.usage or None,
                    "text": reply.text,
                    "toolCalls": [
                        {"id": c.id, "name": c.name, "arguments": c.arguments}
                        for c in reply.tool_calls
                    ],
                },
            )
            return reply

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

    async def _build_context(self, req: TurnRequest, settings: Settings) -> ContextBlock:
        if self._context is None or settings.context_tokens <= 0:
            return ContextBlock(text="", stats={"repoMap": "off"})
        try:
            return await self._context.context_for(
                req.project,
                prompt=req.prompt,
                active_file=req.active_file,
                touched=[],
                budget_tokens=settings.context_tokens,
            )
        except StorageError:
            raise
        except Exception:
            # The repo map is a cache-like aid: a broken map must not stop a turn.
            log.exception("repo map failed; continuing without it")
            return ContextBlock(text="", stats={"repoMap": "failed"})

    async def _finish(self, req: TurnRequest, turn: _Turn, outcome: TurnOutcome) -> None:
        await self._chats.add(req.project.project_id, req.turn_id, "assistant", outcome.answer)
        await self._event(req, "turn_end", _end_payload(turn, outcome))

    async def _record_end_after_storage_error(
        self, req: TurnRequest, turn: _Turn, outcome: TurnOutcome
    ) -> None:
        # The turn already failed loudly; try once to leave a turn_end so the ledger
        # shows the turn did not complete. A second failure changes nothing.
        outcome.status = ERROR
        outcome.error = "storage error"
        try:
            await self._event(req, "turn_end", _end_payload(turn, outcome))
        except StorageError:
            pass

    async def _event(self, req: TurnRequest, type: str, payload: dict[str, Any]) -> None:
        await self._traces.append(req.project.project_id, req.turn_id, type, payload)


def _end_payload(turn: _Turn, outcome: TurnOutcome) -> dict[str, Any]:
    return {
        **outcome.extra,
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
