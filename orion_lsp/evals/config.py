"""The `[eval]` table of `<root>/.orion/config.toml`: the workspace's test command.

The command comes from this file only, never from the model or a setting a
client could send: it is the workspace owner's own instruction. The file
must be the workspace's own (a `.orion` or `config.toml` that resolves
outside the root is ignored), and a broken file is reported, not guessed at.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TEST_TIMEOUT_S = 300.0
MAX_TEST_TIMEOUT_S = 24 * 3600.0


class EvalConfigError(ValueError):
    """`[eval]` is present but unusable; str() names the file and the key."""


@dataclass(frozen=True)
class EvalConfig:
    test_command: str | None = None
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S
    on_turn_end: bool = False


def config_path(root: Path) -> Path:
    return root / ".orion" / "config.toml"


def load_eval_config(root: Path) -> EvalConfig:
    """The workspace's `[eval]` settings; defaults when there is no config file."""
    path = config_path(root)
    if not path.is_file():
        return EvalConfig()
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        raise EvalConfigError(f"{path} resolves outside the workspace; its [eval] is ignored")
    try:
        with open(real, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EvalConfigError(f"cannot read {path}: {exc}") from None
    table = data.get("eval", {})
    if not isinstance(table, dict):
        raise EvalConfigError(f"{path}: [eval] must be a table")
    command = table.get("test_command")
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise EvalConfigError(f"{path}: eval.test_command must be a non-empty string")
    timeout = table.get("test_timeout_seconds", DEFAULT_TEST_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise EvalConfigError(f"{path}: eval.test_timeout_seconds must be a number")
    if not 0 < timeout <= MAX_TEST_TIMEOUT_S:
        raise EvalConfigError(
            f"{path}: eval.test_timeout_seconds must be above 0 and at most {MAX_TEST_TIMEOUT_S:.0f}"
        )
    on_turn_end = table.get("on_turn_end", False)
    if not isinstance(on_turn_end, bool):
        raise EvalConfigError(f"{path}: eval.on_turn_end must be true or false")
    return EvalConfig(command.strip() if command else None, float(timeout), on_turn_end)
