"""The `orion` subcommands that need the database or the model."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

from ..agent.model import ModelError
from ..agent.tools.base import NoDocuments
from ..agent.tools.disk_applier import DiskEditApplier
from ..agent.turn import TurnRequest
from ..config import SettingsError, load_settings
from ..project import Project, real_root
from ..services import Services, make_model, open_services
from ..storage import StorageError, ThreadNotFound
from . import EXIT_FAILED, EXIT_OK, EXIT_STORAGE, EXIT_USAGE, print_json
from .verbs import ModelWarmup, Verb


class TerminalSink:
    """Streams the answer to stdout and tool events to stderr."""

    def __init__(self) -> None:
        self._at_line_start = True

    async def delta(self, turn_id: str, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
        self._at_line_start = text.endswith("\n")

    async def tool_event(
        self, turn_id: str, type: str, name: str, ok: bool | None, summary: str
    ) -> None:
        if not self._at_line_start:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._at_line_start = True
        mark = {None: "->", True: "ok", False: "!!"}[ok]
        print(f"  [{mark}] {summary}", file=sys.stderr, flush=True)

    async def progress(self, turn_id: str, message: str) -> None:
        return None


async def run_command(args: Any, verb: Verb, warmup: ModelWarmup | None = None) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"orion: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "doctor":
        from .doctor import run_doctor

        if warmup is not None:
            await warmup.wait()
        return await run_doctor(settings)
    services = await open_services(settings, eager=verb.needs_agent)
    try:
        services.require_db()
        if args.command == "chat":
            return await cmd_chat(services, args, warmup)
        if args.command == "history":
            return await cmd_history(services, args)
        if args.command == "traces":
            return await cmd_traces(services, args)
        if args.command in ("eval", "rate"):
            from .evals import cmd_eval, cmd_rate

            return await (cmd_eval if args.command == "eval" else cmd_rate)(services, args)
        if args.command in ("export", "replay"):
            from .datasets import cmd_export, cmd_replay

            return await (cmd_export if args.command == "export" else cmd_replay)(services, args)
        from . import threads

        return await threads.run(services, args)
    except StorageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_STORAGE
    finally:
        await services.close()


async def cmd_chat(services: Services, args: Any, warmup: ModelWarmup | None = None) -> int:
    root = Path(args.workspace)
    if not root.is_dir():
        print(f"orion: not a directory: {args.workspace}", file=sys.stderr)
        return EXIT_USAGE
    project = Project(args.project_id, real_root(root))
    if args.prompt is not None and not args.prompt.strip():
        print("orion: the prompt is empty", file=sys.stderr)
        return EXIT_USAGE
    try:
        # Chosen once: an interactive session stays in one thread.
        choice = await services.require_threads().choose(
            project.project_id, args.thread, new=args.new
        )
    except ThreadNotFound as exc:
        print(f"orion: {exc}", file=sys.stderr)
        return EXIT_USAGE
    thread_id = choice.thread_id
    if args.prompt is not None:
        tests = TerminalTests(services)
        status = await _one_turn(services, project, args.prompt, thread_id, tests, warmup)
        return await tests.finish(status)
    status = EXIT_OK
    tests = TerminalTests(services)
    print(f"Orion chat on {project.project_id} ({project.root}). Ctrl-D to quit.", file=sys.stderr)
    while True:
        try:
            prompt = await asyncio.get_running_loop().run_in_executor(None, _read_prompt)
        except EOFError:
            break
        if prompt is None or not prompt.strip():
            continue
        status = await _one_turn(services, project, prompt, thread_id, tests, warmup)
        if status == EXIT_STORAGE:
            return status
    return await tests.finish(status)


def _read_prompt() -> str | None:
    sys.stderr.write("\norion> ")
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


class TerminalTests:
    """The `tests` evaluator after each turn (`[eval] on_turn_end`): scores go to stderr,
    and `orion chat` exits only when the runs it started are done. The user's own
    command in their terminal: the workspace counts as trusted."""

    def __init__(self, services: Services) -> None:
        from ..evals.background import BackgroundTests

        self.storage_errors: list[StorageError] = []
        self.runs = BackgroundTests(services.evaluations, self._report, self.storage_errors.append)

    async def _report(self, turn_id: str, scores: list[Any]) -> None:
        for s in scores:
            value = "" if s.value is None else f" (exit {s.value:g})"
            print(f"  [{s.name}] {s.label}{value} turn {turn_id[:8]}", file=sys.stderr)

    def after(self, project: Project, turn_id: str, edits: list[dict[str, Any]]) -> None:
        if self.runs.after_turn(project, turn_id, edits, trusted=True) is not None:
            print("  [tests] running the test command in a scratch copy...", file=sys.stderr)

    async def finish(self, status: int) -> int:
        await self.runs.wait()
        if self.storage_errors:
            print(str(self.storage_errors[0]), file=sys.stderr)
            return EXIT_STORAGE
        return status


async def _one_turn(
    services: Services,
    project: Project,
    prompt: str,
    thread_id: str,
    tests: TerminalTests,
    warmup: ModelWarmup | None = None,
) -> int:
    orchestrator = services.require_orchestrator()
    await _index_briefly(services, project)
    if warmup is not None:
        await warmup.wait()  # the model client, imported meanwhile
    req = TurnRequest(project=project, prompt=prompt, source="cli", thread_id=thread_id)
    task = asyncio.create_task(
        orchestrator.run(
            req, TerminalSink(), documents=NoDocuments(), applier=DiskEditApplier(project.root)
        )
    )
    loop = asyncio.get_running_loop()
    # Ctrl-C cancels the turn (recorded as cancelled), it does not kill the process.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    try:
        outcome = await task
    except ModelError as exc:
        print(f"\n{exc}", file=sys.stderr)
        return EXIT_FAILED
    except StorageError as exc:
        print(f"\n{exc}", file=sys.stderr)
        return EXIT_STORAGE
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
    if services.telemetry is not None:
        await services.telemetry.flush(timeout_s=4)
    if not outcome.answer.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
    for edit in outcome.edits:
        state = "applied" if edit["applied"] else "not applied"
        print(f"  edit {edit['path']}: {state}", file=sys.stderr)
    print(f"[turn {outcome.turn_id} {outcome.status}, thread {thread_id}]", file=sys.stderr)
    tests.after(project, outcome.turn_id, outcome.edits)
    return EXIT_OK if outcome.status == "completed" else EXIT_FAILED


# A one-shot CLI turn has no editor session to index in the background for it:
# give the (cached, usually sub-second) build a moment, then go with what is ready.
CLI_INDEX_WAIT_S = 8.0


async def _index_briefly(services: Services, project: Project) -> None:
    if services.context is None:
        return
    services.context.ensure(project)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(services.context.wait_built(project.root), CLI_INDEX_WAIT_S)


async def cmd_history(services: Services, args: Any) -> int:
    from ..conversations import history_object

    try:
        obj = await history_object(
            services, args.project_id, args.thread, args.limit, args.include_rewound
        )
    except ThreadNotFound as exc:
        print(f"orion: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print_json(obj)
        return EXIT_OK
    if not obj["messages"]:
        print(f"(no messages for {args.project_id})", file=sys.stderr)
    for m in obj["messages"]:
        mark = " (rewound)" if m.get("rewound") else ""
        print(f"--- {m['role']} {m['createdAt']} turn {m['turnId'][:8]}{mark}")
        print(m["content"])
    return EXIT_OK


async def cmd_traces(services: Services, args: Any) -> int:
    assert services.traces is not None
    if args.action == "export":
        from .telemetry import cmd_traces_export

        return await cmd_traces_export(services, args)
    turn_id = args.turn or await services.traces.last_turn_id(args.project_id)
    if turn_id is None:
        print(f"orion: no turns for project {args.project_id}", file=sys.stderr)
        return EXIT_FAILED
    events = await services.traces.events(args.project_id, turn_id)
    if args.turn and not events:
        print(f"orion: no events for turn {turn_id} in project {args.project_id}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        # Each llm_call's request comes back in full: messages, tools and params as sent.
        resolved = await services.traces.resolved_events(args.project_id, turn_id)
        print_json(
            {
                "projectId": args.project_id,
                "turnId": turn_id,
                "events": [
                    {"seq": e.seq, "type": e.type, "payload": e.payload, "createdAt": e.created_at}
                    for e in resolved
                ],
            }
        )
        return EXIT_OK
    print(f"turn {turn_id} ({args.project_id})")
    for e in events:
        print(f"{e.seq:>3} {e.created_at} {e.type:<11} {_event_line(e.type, e.payload)}")
    return EXIT_OK


def _event_line(type: str, p: dict[str, Any]) -> str:
    if type == "turn_start":
        return f"prompt={_short(p.get('prompt'))} model={p.get('model')}"
    if type == "llm_call":
        if p.get("error"):
            return f"step={p.get('step')} error={_short(p.get('error'), 100)}"
        return (
            f"step={p.get('step')} finish={p.get('finishReason')} "
            f"tokens={p.get('tokens')} {p.get('durationMs')}ms"
        )
    if type == "tool_call":
        return f"{p.get('name')} {_short(p.get('arguments'), 80)}"
    if type == "tool_result":
        return f"{p.get('name')} ok={p.get('ok')} {_short(p.get('summary'), 80)}"
    if type == "turn_end":
        parts = [f"status={p.get('status')}"]
        if p.get("steps") is not None:
            parts.append(f"steps={p['steps']}")
        if p.get("durationMs") is not None:
            parts.append(f"{p['durationMs']}ms")
        if p.get("error"):
            parts.append(f"error={_short(p.get('error'), 100)}")
        return " ".join(parts)
    return _short(p, 100)


def _short(value: Any, n: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", " ")
    return text if len(text) <= n else text[: n - 3] + "..."


async def check_model(
    services_settings: Any, redactor: Any, timeout: float = 60.0
) -> tuple[bool, str]:
    """One tiny completion; (ok, what happened)."""
    model = make_model(services_settings, redactor)
    started = time.monotonic()
    pieces: list[str] = []

    async def on_text(t: str) -> None:
        pieces.append(t)

    try:
        async with asyncio.timeout(timeout):
            reply = await model.complete(
                [{"role": "user", "content": "Reply with the single word: ok"}], None, on_text
            )
    except TimeoutError:
        return False, f"no answer within {timeout:.0f} s"
    except ModelError as exc:
        return False, str(exc)
    ms = int((time.monotonic() - started) * 1000)
    return True, f"answered in {ms} ms ({len(reply.text)} chars, finish={reply.finish_reason})"
