"""`Telemetry`: finished turns copied to an OTLP/HTTP collector, never in the way.

- After a turn's `turn_end` is committed, `turn_finished` schedules a
  background task that reads the turn back from the ledger, builds its spans
  (`spans.turn_spans`) and hands them to the SDK in a worker thread. The
  SDK's `BatchSpanProcessor` exports from its own thread through a bounded
  queue, so a slow or dead collector costs the turn nothing.
- Span and trace ids are derived from the turn id, so a score that arrives
  after the export (the background `tests` evaluator, a rating, a rewind)
  becomes an `evaluation orion` span in the same trace, child of the turn's
  `invoke_agent` span, and a re-export (`orion traces export --otlp`) sends
  the same ids again instead of a second copy under new ones.
- `status()` counts turns exported and failed (a turn is failed when any batch
  carrying its spans failed); the first failure is logged once, with the
  collector's URL and nothing else (no headers).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..redact import Redactor
from .config import TelemetryConfig
from .spans import SpanSpec, evaluation_event, turn_spans

if TYPE_CHECKING:
    from .sdk import OtelSdk

log = logging.getLogger(__name__)

DONE_KEPT = 4096

EXTRA_MISSING = (
    "OpenTelemetry export is configured but the extra is not installed: "
    "pip install 'orion-lsp[otel]'"
)

EventsReader = Callable[[str, str], Awaitable[Sequence[Any]]]
ScoresReader = Callable[[str], Awaitable[Sequence[Any]]]


def trace_id_for(turn_id: str) -> int:
    if len(turn_id) == 32:
        try:
            value = int(turn_id, 16)
        except ValueError:
            value = 0
        if value:
            return value
    return int(hashlib.sha256(turn_id.encode()).hexdigest()[:32], 16) or 1


def span_id_for(turn_id: str, key: str) -> int:
    return int(hashlib.sha256(f"{turn_id}:{key}".encode()).hexdigest()[:16], 16) or 1


class Telemetry:
    def __init__(
        self,
        config: TelemetryConfig,
        redactor: Redactor,
        read_events: EventsReader,
        read_scores: ScoresReader,
    ) -> None:
        self.config = config
        self._redact = redactor
        for value in config.headers.values():
            redactor.add_secret(value)
        self._read_events = read_events
        self._read_scores = read_scores
        self._sdk: OtelSdk | None = None
        self._sdk_lock = threading.Lock()
        self.error: str | None = None
        self._exported: set[str] = set()
        self._failed: set[str] = set()
        self._counts_lock = threading.Lock()
        self._warned = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # turn -> (project, thread) of the last DONE_KEPT exported turns: a score
        # that arrives later for one of them is sent live (an older turn's
        # goes with `orion traces export --otlp`); bounded for a server that runs for weeks.
        self._done: OrderedDict[str, tuple[str, str | None]] = OrderedDict()

    # -- what the rest of Orion calls ------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._counts_lock:
            out: dict[str, Any] = {
                "endpoint": self.config.public_endpoint,
                "exported": len(self._exported - self._failed),
                "failed": len(self._failed),
            }
        if self.error:
            out["error"] = self.error
        return out

    def turn_finished(self, project_id: str, turn_id: str) -> None:
        """Schedule the export of a finished turn (from the event loop; never raises)."""
        try:
            task = asyncio.get_running_loop().create_task(self.export_turn(project_id, turn_id))
        except RuntimeError:
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def scores_written(self, scores: Sequence[Any]) -> None:
        """Scores that arrive after their turn was exported go out as a span of their own."""
        late = [s for s in scores if s.turn_id in self._done]
        if not late:
            return
        try:
            task = asyncio.get_running_loop().create_task(self._export_late(late))
        except RuntimeError:
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def export_turn(self, project_id: str, turn_id: str) -> bool:
        """Read one turn from the ledger and queue its spans; False when nothing was queued."""
        try:
            events = await self._read_events(project_id, turn_id)
            scores = await self._read_scores(turn_id)
            specs = turn_spans(
                turn_id,
                project_id,
                events,
                scores,
                capture_content=self.config.capture_content,
            )
            if not specs:
                return False
            thread = specs[0].attributes.get("gen_ai.conversation.id")
            self._done[turn_id] = (project_id, thread if isinstance(thread, str) else None)
            self._done.move_to_end(turn_id)
            while len(self._done) > DONE_KEPT:
                self._done.popitem(last=False)
            return await asyncio.to_thread(self._emit, turn_id, specs)
        except Exception as exc:  # export never fails a turn; the ledger has it all
            log.debug("telemetry export of %s failed", turn_id, exc_info=True)
            self._note_failure({turn_id}, f"could not build the spans: {type(exc).__name__}")
            return False

    async def flush(self, timeout_s: float = 10.0) -> None:
        """Wait for scheduled exports, then for the SDK to send what it holds."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
        sdk = self._sdk
        if sdk is not None:
            await asyncio.to_thread(sdk.provider.force_flush, int(timeout_s * 1000))

    async def close(self, timeout_s: float = 0.5) -> None:
        """Stop without holding up an exit: what is not sent by then stays in the ledger."""
        for task in list(self._tasks):
            task.cancel()
        sdk, self._sdk = self._sdk, None
        if sdk is None:
            return
        stopper = threading.Thread(target=sdk.provider.shutdown, daemon=True)
        stopper.start()
        await asyncio.to_thread(stopper.join, timeout_s)

    # -- the SDK side (worker threads) -------------------------------------------------

    def _emit(self, turn_id: str, specs: list[SpanSpec]) -> bool:
        sdk = self._load_sdk()
        if sdk is None:
            return False
        with sdk.emit_lock:
            made: dict[str, Any] = {}
            for spec in specs:
                parent = made.get(spec.parent) if spec.parent else None
                made[spec.key] = sdk.start(
                    spec,
                    trace_id_for(turn_id),
                    span_id_for(turn_id, spec.key),
                    parent,
                    self._redact,
                )
            for spec in reversed(specs):
                made[spec.key].end(end_time=spec.end_ns)
        return True

    async def _export_late(self, scores: Sequence[Any]) -> None:
        await asyncio.to_thread(self._emit_late, scores)

    def _emit_late(self, scores: Sequence[Any]) -> None:
        sdk = self._load_sdk()
        if sdk is None:
            return
        for score in scores:
            known = self._done.get(score.turn_id)
            if known is None:  # dropped from the bounded map meanwhile
                continue
            project_id, thread = known
            event = evaluation_event(score, 0, capture_content=self.config.capture_content)
            key = f"score:{score.name}:{score.source_id}:{score.step}:{event.time_ns}"
            attrs: dict[str, Any] = {
                "orion.project_id": project_id,
                "orion.turn_id": score.turn_id,
            }
            if thread:
                attrs["gen_ai.conversation.id"] = thread
            spec = SpanSpec(
                key, "evaluation orion", "internal", event.time_ns, event.time_ns, attrs
            )
            spec.events.append(event)
            turn_ctx = sdk.remote_parent(
                trace_id_for(score.turn_id), span_id_for(score.turn_id, "turn")
            )
            with sdk.emit_lock:
                span = sdk.start(
                    spec, trace_id_for(score.turn_id), span_id_for(score.turn_id, key),
                    turn_ctx, self._redact,
                )  # fmt: skip
                span.end(end_time=spec.end_ns)

    def _load_sdk(self) -> OtelSdk | None:
        with self._sdk_lock:
            if self._sdk is None and self.error is None:
                try:
                    from .sdk import OtelSdk

                    self._sdk = OtelSdk(self.config, self._on_export)
                except ImportError:
                    self.error = EXTRA_MISSING
                    log.warning("%s", EXTRA_MISSING)
            return self._sdk

    def _on_export(self, turn_ids: set[str], ok: bool) -> None:
        with self._counts_lock:
            if ok:
                self._exported |= turn_ids
                return
        self._note_failure(turn_ids, "the collector did not accept the spans")

    def _note_failure(self, turn_ids: set[str], why: str) -> None:
        with self._counts_lock:
            self._failed |= turn_ids
            first = not self._warned
            self._warned = True
        if first:
            log.warning(
                "telemetry: %s (%s); turns stay in the ledger and `orion traces export --otlp`"
                " sends them again (logged once)",
                why,
                self.config.public_endpoint,
            )
