"""`orion doctor`: database, model reachability, tree-sitter languages."""

from __future__ import annotations

import sqlite3
import sys

from ..config import Settings
from ..redact import Redactor
from ..storage import Database, StorageError
from . import EXIT_FAILED, EXIT_OK, EXIT_STORAGE


def _line(ok: bool | None, label: str, detail: str) -> None:
    mark = {True: "ok  ", False: "FAIL", None: "info"}[ok]
    print(f"[{mark}] {label}: {detail}")


async def run_doctor(settings: Settings) -> int:
    from .commands import check_model

    redactor = Redactor.from_environment()
    redactor.add_secret(settings.api_key)
    status = EXIT_OK
    _line(None, "orion", f"python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    try:
        db = await Database.open(settings.database_path, redactor=redactor)
    except StorageError as exc:
        _line(False, "database", str(exc))
        status = EXIT_STORAGE
    else:
        _line(
            True,
            "database",
            f"{db.path} (schema version {db.schema_version}, SQLite {db.sqlite_version})",
        )
        await db.close()
    ok, detail = await check_model(settings, redactor)
    base = settings.api_base or "provider default URL"
    _line(ok, "model", f"{settings.model} at {base}: {detail}")
    if ok:
        await _model_details(settings, redactor)
    if settings.critic_model:
        critic = settings.for_critic()  # its own endpoint when criticApiBase is set
        cok, cdetail = await check_model(critic, redactor)
        _line(
            cok,
            "critic model",
            f"{critic.model} at {critic.api_base or 'provider default URL'}: {cdetail}",
        )
        ok = ok and cok
    if not ok and status == EXIT_OK:
        status = EXIT_FAILED
    langs = _languages()
    _line(bool(langs) or None, "tree-sitter", ", ".join(langs) if langs else "no languages found")
    _telemetry_line(settings)
    return status


def _telemetry_line(settings: Settings) -> None:
    """Where finished turns are exported (OTLP), and whether the extra is there to do it."""
    import importlib.util
    import os

    from ..telemetry.config import TelemetryConfig
    from ..telemetry.exporter import EXTRA_MISSING

    config = TelemetryConfig.resolve(settings.otlp_endpoint, os.environ)
    if not config.enabled:
        _line(None, "telemetry", "off (set OTEL_EXPORTER_OTLP_ENDPOINT to export turns)")
    elif importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http") is None:
        _line(False, "telemetry", EXTRA_MISSING)
    else:
        what = "with" if config.capture_content else "without"
        _line(True, "telemetry", f"OTLP/HTTP to {config.public_endpoint} ({what} message content)")


async def _model_details(settings: Settings, redactor: Redactor) -> None:
    """Context window and tool mode, as a turn would use them (and cached for it)."""
    from ..agent.model_cache import ModelInfoCache
    from ..agent.toolmode import CACHE_KEY
    from ..agent.toolmode.probe import probe_tool_mode
    from ..agent.window.discover import context_window_info

    info = await context_window_info(settings.model, settings.api_base, api_key=settings.api_key)
    if info is None:
        _line(None, "context window", "unknown (no fitting; the server may truncate long prompts)")
    else:
        _line(True, "context window", f"{info.tokens} tokens ({info.source})")
    if settings.tool_mode != "auto":
        _line(None, "tool mode", f"{settings.tool_mode} (set by toolMode)")
        return
    try:
        mode, why = await probe_tool_mode(settings.model, settings.api_base, settings.api_key)
    except Exception as exc:
        _line(False, "tool mode", redactor(f"probe failed: {type(exc).__name__}: {exc}")[:300])
        return
    try:
        db = await Database.open(settings.database_path)
    except StorageError:
        db = None
    await ModelInfoCache(db).set(settings.model, settings.api_base, CACHE_KEY, mode)
    if db is not None:
        await db.close()
    _line(True, "tool mode", f"{mode} ({why}; cached for toolMode auto)")


def _languages() -> list[str]:
    try:
        from ..context.languages import available_languages
    except ImportError:
        return []
    try:
        status = available_languages()
    except Exception as exc:  # a broken grammar should show, not crash doctor
        return [f"error: {exc}"]
    return sorted(lang if ok else f"{lang} (FAILED)" for lang, ok in status.items())
