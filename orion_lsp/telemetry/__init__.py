"""OpenTelemetry export of finished turns (docs/protocol.md#opentelemetry-export).

SQLite stays the ledger; this package copies each finished turn to an OTLP/HTTP
collector as GenAI spans. `spans` turns ledger events into span descriptions
(pure, no SDK); `exporter` hands them to the OpenTelemetry SDK, off the event
loop, counting what was sent. The SDK is the optional extra `orion-lsp[otel]`;
nothing here imports it unless an endpoint is configured.
"""
