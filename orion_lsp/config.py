"""Settings: one dataclass, and where each value comes from.

Order, weakest first (docs/protocol.md#settings): defaults, `initializationOptions`,
`workspace/configuration` section `orion`, environment. The API key is read
from the environment only: it never travels through settings, so it cannot
land in a settings file, a trace or an editor's configuration dump.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "ollama_chat/qwen2.5-coder:7b"

# camelCase setting key -> (dataclass field, env var or None, type)
_SETTINGS: dict[str, tuple[str, str | None, type]] = {
    "model": ("model", "ORION_MODEL", str),
    "apiBase": ("api_base", "ORION_API_BASE", str),
    "criticModel": ("critic_model", "ORION_CRITIC_MODEL", str),
    "criticApiBase": ("critic_api_base", "ORION_CRITIC_API_BASE", str),
    "databasePath": ("database_path", "ORION_DB", str),
    "historyLimit": ("history_limit", None, int),
    "maxSteps": ("max_steps", None, int),
    "contextTokens": ("context_tokens", None, int),
    "toolMode": ("tool_mode", "ORION_TOOL_MODE", str),
    "turnTimeoutSeconds": ("turn_timeout_s", None, int),
    # Sampling temperature of the turn's model calls; unset: the provider's default.
    # 0 makes a local model's replies repeatable (replaying a stored request).
    "temperature": ("temperature", "ORION_TEMPERATURE", float),
    # The client's word that this workspace is trusted (VS Code Workspace Trust,
    # Neovim's once-per-workspace question): only then may a turn's end run the
    # workspace's own test command. Never from the environment.
    "workspaceTrusted": ("workspace_trusted", None, bool),
    # The OTEL_EXPORTER_OTLP_* variables override it (telemetry/config.py).
    "otlpEndpoint": ("otlp_endpoint", None, str),
}

_LIMITS = {
    "history_limit": (0, 1000),
    "max_steps": (1, 100),
    "context_tokens": (0, 200_000),
    "turn_timeout_s": (1, 24 * 3600),
}


class SettingsError(ValueError):
    """A setting has the wrong type or is out of range."""


def default_database_path() -> str:
    import platformdirs  # only when no path is configured

    return str(Path(platformdirs.user_data_dir("orion", appauthor=False)) / "orion.db")


@dataclass(frozen=True)
class Settings:
    model: str = DEFAULT_MODEL
    api_base: str | None = None
    critic_model: str | None = None
    # The critic's server; unset: the same as `api_base` (one local server for both).
    critic_api_base: str | None = None
    database_path: str = field(default_factory=default_database_path)
    history_limit: int = 20
    max_steps: int = 12
    context_tokens: int = 4096
    # native | text | auto: how tool calls travel (text for models without native calling)
    tool_mode: str = "auto"
    turn_timeout_s: int = 600
    temperature: float | None = None
    workspace_trusted: bool = False
    # Base URL of an OTLP/HTTP collector; None: no export unless OTEL_* says so
    otlp_endpoint: str | None = None
    # Never a setting: environment only (ORION_API_KEY). Excluded from repr.
    api_key: str | None = field(default=None, repr=False)

    def merged(self, options: Mapping[str, Any] | None) -> Settings:
        """Overlay a flat camelCase settings object (initializationOptions / configuration)."""
        if not options:
            return self
        if not isinstance(options, Mapping):
            raise SettingsError("Orion settings must be an object")
        changes: dict[str, Any] = {}
        for key, value in options.items():
            spec = _SETTINGS.get(key)
            if spec is None or value is None:
                continue  # unknown keys are ignored (forward compatible); null means unset
            name, _env, typ = spec
            changes[name] = _coerce(key, value, typ)
        return _checked(replace(self, **changes))

    def with_environment(self, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        changes: dict[str, Any] = {}
        for key, (name, var, typ) in _SETTINGS.items():
            if var and env.get(var):
                changes[name] = _coerce(key, env[var], typ)
        changes["api_key"] = env.get("ORION_API_KEY") or None
        return _checked(replace(self, **changes))

    def for_critic(self) -> Settings:
        """The settings the critic's model client is built from (same key, own endpoint)."""
        if self.critic_model is None:
            raise SettingsError("no criticModel is set")
        return replace(
            self, model=self.critic_model, api_base=self.critic_api_base or self.api_base
        )

    def public(self) -> dict[str, Any]:
        """What may be shown to a client (no key)."""
        return {
            "model": self.model,
            "apiBase": self.api_base,
            "criticModel": self.critic_model,
            "criticApiBase": self.critic_api_base,
            "databasePath": self.database_path,
            "historyLimit": self.history_limit,
            "maxSteps": self.max_steps,
            "contextTokens": self.context_tokens,
            "toolMode": self.tool_mode,
            "temperature": self.temperature,
        }


def _coerce(key: str, value: Any, typ: type) -> Any:
    if typ is float:
        if isinstance(value, bool):
            raise SettingsError(f"setting {key!r} must be a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"setting {key!r} must be a number") from None
    if typ is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"setting {key!r} must be true or false")
        return value
    if typ is int:
        if isinstance(value, bool):
            raise SettingsError(f"setting {key!r} must be an integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"setting {key!r} must be an integer") from None
    if not isinstance(value, str):
        raise SettingsError(f"setting {key!r} must be a string")
    return value.strip() or None


def _checked(s: Settings) -> Settings:
    for name, (lo, hi) in _LIMITS.items():
        v = getattr(s, name)
        if not lo <= v <= hi:
            raise SettingsError(f"setting {name} must be between {lo} and {hi}, got {v}")
    if s.temperature is not None and not 0 <= s.temperature <= 2:
        raise SettingsError(f"setting temperature must be between 0 and 2, got {s.temperature}")
    if s.tool_mode not in ("native", "text", "auto"):
        raise SettingsError("setting toolMode must be one of native, text, auto")
    if not s.model:
        raise SettingsError("setting model must not be empty")
    if not s.database_path:
        return replace(s, database_path=default_database_path())
    return s


def load_settings(
    init_options: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    return Settings().merged(init_options).merged(configuration).with_environment(environ)
