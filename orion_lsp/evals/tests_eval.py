"""The `tests` evaluator: the workspace's test command before and after a turn.

For a turn that changed files, two scratch copies of the workspace are made
outside it: one with the turn's files as they were before the turn, one as
the turn left them (the turn's checkpoints give both). The command from
`[eval] test_command` runs once in each; scores `tests_before` and `tests`
say `pass`/`fail` (value: the exit status; past the time limit: `fail`, no
value, explanation `timeout`). The workspace itself is never written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .command import CommandRun, run_test_command
from .config import EvalConfig
from .scratch import copy_workspace, make_scratch, overlay, remove_scratch

TESTS = "tests"
TESTS_BEFORE = "tests_before"
# How much of the command's output a score's explanation keeps (its end).
EXPLANATION_CHARS = 2000


@dataclass(frozen=True)
class TurnFiles:
    """The files a turn changed: relative path -> text (None: the file was absent)."""

    before: Mapping[str, str | None]
    after: Mapping[str, str | None]


@dataclass(frozen=True)
class TestVerdict:
    name: str  # tests | tests_before
    value: float | None
    label: str  # pass | fail
    explanation: str


def verdict(name: str, run: CommandRun, redact: Callable[[str], str]) -> TestVerdict:
    if run.timed_out:
        return TestVerdict(name, None, "fail", "timeout")
    tail = redact(run.output_tail)[-EXPLANATION_CHARS:]
    return TestVerdict(name, float(run.exit_status or 0), "pass" if run.passed else "fail", tail)


async def run_tests(
    root: Path,
    config: EvalConfig,
    files: TurnFiles,
    redact: Callable[[str], str],
) -> list[TestVerdict]:
    """Run the command before and after the turn; [tests_before, tests]."""
    assert config.test_command is not None
    out = []
    for name, state in ((TESTS_BEFORE, files.before), (TESTS, files.after)):
        run = await _run_in_copy(root, config, state, name)
        out.append(verdict(name, run, redact))
    return out


async def _run_in_copy(
    root: Path, config: EvalConfig, state: Mapping[str, str | None], label: str
) -> CommandRun:
    scratch = await asyncio.to_thread(make_scratch, root, label)
    try:
        await asyncio.to_thread(copy_workspace, root, scratch)
        await asyncio.to_thread(overlay, scratch, state)
        assert config.test_command is not None
        return await run_test_command(config.test_command, scratch, config.test_timeout_s)
    finally:
        await asyncio.to_thread(remove_scratch, scratch)
