"""The OpenTelemetry SDK side of the export (imported only when an endpoint is set).

This module imports the SDK at the top: it is the one place that needs the
`otel` extra, and `exporter.Telemetry` imports it lazily, on the first export,
from a worker thread (the SDK costs a few hundred ms to import).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from .. import __version__
from ..redact import Redactor
from .config import TelemetryConfig
from .spans import CLIENT, SpanSpec

EXPORT_TIMEOUT_S = 3
QUEUE_SIZE = 4096


class OtelSdk:
    """The tracer provider, its batch processor and the OTLP/HTTP exporter."""

    def __init__(self, config: TelemetryConfig, on_export: Callable[[set[str], bool], None]):
        # The exporter logs every retry and failure itself; we log once (above).
        for name in ("opentelemetry.exporter.otlp.proto.http", "opentelemetry.sdk.trace.export"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self._random = RandomIdGenerator()
        self.ids = _PresetIds(self._random)
        resource = Resource.create(
            {"service.name": config.service_name, "service.version": __version__}
        )
        self.provider = TracerProvider(resource=resource, id_generator=self.ids)
        exporter = OTLPSpanExporter(
            endpoint=config.endpoint, headers=dict(config.headers), timeout=EXPORT_TIMEOUT_S
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(
                _CountingExporter(exporter, on_export),
                max_queue_size=QUEUE_SIZE,
                schedule_delay_millis=200,
            )
        )
        self.tracer = self.provider.get_tracer("orion_lsp.telemetry", __version__)
        self.emit_lock = threading.Lock()

    def start(
        self, spec: SpanSpec, trace_id: int, span_id: int, parent: Any, redact: Redactor
    ) -> Any:
        ctx = trace.set_span_in_context(parent) if parent is not None else context.Context()
        self.ids.preset(trace_id, span_id)
        span = self.tracer.start_span(
            spec.name,
            context=ctx,
            kind=SpanKind.CLIENT if spec.kind == CLIENT else SpanKind.INTERNAL,
            attributes=_redacted(spec.attributes, redact),
            start_time=spec.start_ns,
        )
        for event in spec.events:
            span.add_event(event.name, _redacted(event.attributes, redact), event.time_ns)
        if spec.error:
            span.set_status(Status(StatusCode.ERROR, redact(spec.error)[:500]))
        return span

    def remote_parent(self, trace_id: int, span_id: int) -> Any:
        return NonRecordingSpan(
            SpanContext(
                trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
            )
        )


class _PresetIds(IdGenerator):
    """Hands the tracer the ids we chose for the next span (under `emit_lock`)."""

    def __init__(self, fallback: IdGenerator) -> None:
        self._fallback = fallback
        self._trace: int | None = None
        self._span: int | None = None

    def preset(self, trace_id: int, span_id: int) -> None:
        self._trace, self._span = trace_id, span_id

    def generate_trace_id(self) -> int:
        value, self._trace = self._trace, None
        return value or int(self._fallback.generate_trace_id())

    def generate_span_id(self) -> int:
        value, self._span = self._span, None
        return value or int(self._fallback.generate_span_id())

    def is_trace_id_random(self) -> bool:
        # Derived from uuid4 turn ids (random) or their sha256: random enough for
        # samplers that read the trace id's randomness flag.
        return True


class _CountingExporter(SpanExporter):
    """Wraps the OTLP exporter to count turns per batch result."""

    def __init__(self, inner: SpanExporter, on_export: Callable[[set[str], bool], None]) -> None:
        self._inner = inner
        self._on_export = on_export

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        turns = {str(t) for s in spans if (t := (s.attributes or {}).get("orion.turn_id"))}
        self._on_export(turns, result == SpanExportResult.SUCCESS)
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self._inner.force_flush(timeout_millis))


def _redacted(attrs: dict[str, Any], redact: Redactor) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, str):
            out[key] = redact(value)
        elif isinstance(value, list):
            out[key] = [redact(v) if isinstance(v, str) else v for v in value]
        else:
            out[key] = value
    return out
