"""The settings this issue adds: `temperature` (a number, env ORION_TEMPERATURE) and
`workspaceTrusted` (a boolean from the client only, never the environment)."""

from __future__ import annotations

import pytest

from orion_lsp.config import SettingsError, load_settings


def test_temperature_from_options_or_environment() -> None:
    assert load_settings(environ={}).temperature is None
    assert load_settings({"temperature": 0}, environ={}).temperature == 0.0
    assert load_settings({"temperature": 0.7}, environ={"ORION_TEMPERATURE": "0"}).temperature == 0
    assert load_settings(environ={}).public()["temperature"] is None
    for bad in ("hot", True, 3, -1):
        with pytest.raises(SettingsError, match="temperature"):
            load_settings({"temperature": bad}, environ={})


def test_workspace_trust_comes_from_the_client_only() -> None:
    assert load_settings(environ={}).workspace_trusted is False
    assert load_settings({"workspaceTrusted": True}, environ={}).workspace_trusted is True
    # No environment variable can turn it on (a cloned repo's .envrc must not).
    assert (
        load_settings(
            environ={"ORION_WORKSPACE_TRUSTED": "1", "workspaceTrusted": "true"}
        ).workspace_trusted
        is False
    )
    with pytest.raises(SettingsError, match="workspaceTrusted"):
        load_settings({"workspaceTrusted": "yes"}, environ={})
