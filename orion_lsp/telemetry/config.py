"""Where telemetry goes: the standard OTEL_* variables, then the `otlpEndpoint` setting.

Precedence follows the OpenTelemetry exporter specification:
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is the full traces URL;
`OTEL_EXPORTER_OTLP_ENDPOINT` (and the setting) is a base URL to which
`/v1/traces` is appended. Header values (`OTEL_EXPORTER_OTLP_HEADERS`,
`..._TRACES_HEADERS`, `k=v` pairs, URL-encoded) often carry a backend's API
key, so they are secrets for the redactor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

TRACES_PATH = "/v1/traces"
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@dataclass(frozen=True)
class TelemetryConfig:
    endpoint: str | None = None  # the full traces URL, None when export is off
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    service_name: str = "orion"
    capture_content: bool = False

    @property
    def enabled(self) -> bool:
        return self.endpoint is not None

    @property
    def public_endpoint(self) -> str | None:
        """The URL without user:password, query or fragment (safe to show and log)."""
        if self.endpoint is None:
            return None
        parts = urlsplit(self.endpoint)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))

    @classmethod
    def resolve(cls, setting: str | None, environ: Mapping[str, str]) -> TelemetryConfig:
        traces = (environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or "").strip()
        base = (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "").strip() or (setting or "").strip()
        endpoint = traces or (_traces_url(base) if base else None)
        headers = parse_headers(environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
        headers.update(parse_headers(environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "")))
        capture = (environ.get(CAPTURE_ENV) or "").strip().lower() == "true"
        service = (environ.get("OTEL_SERVICE_NAME") or "").strip() or "orion"
        return cls(endpoint or None, headers, service, capture)


def _traces_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def parse_headers(text: str) -> dict[str, str]:
    """`k1=v1,k2=v2` (values URL-encoded) as the OTLP exporter spec defines it."""
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[unquote(key.strip())] = unquote(value.strip())
    return out
