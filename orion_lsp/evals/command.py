"""Running the workspace's test command once: time limit, whole process group killed.

The command runs through `/bin/sh -c` in its own session (a new process
group), so on timeout, and after it exits, every process it started is
killed with it: a test runner's orphaned server must not outlive the run or
keep the output pipe open. Its environment is Orion's minus Orion's own
variables and anything secret-looking (the API key never reaches a test).
The output kept is the tail, redacted by the caller before it is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

OUTPUT_TAIL_BYTES = 16 * 1024
_SECRET_NAME = re.compile(r"(?i)(key|token|secret|password|passwd|credential|auth)")


@dataclass(frozen=True)
class CommandRun:
    exit_status: int | None  # None: killed at the time limit
    timed_out: bool
    output_tail: str
    duration_ms: int

    @property
    def passed(self) -> bool:
        return not self.timed_out and self.exit_status == 0


def command_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    return {
        k: v for k, v in env.items() if not k.startswith("ORION_") and not _SECRET_NAME.search(k)
    }


async def run_test_command(
    command: str, cwd: Path, timeout_s: float, env: Mapping[str, str] | None = None
) -> CommandRun:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        command,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=dict(command_environment() if env is None else env),
        start_new_session=True,
    )
    assert proc.stdout is not None
    reader = asyncio.create_task(_tail(proc.stdout))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            timed_out = True
    finally:
        # Also on success and on cancel: children left behind die with the group.
        _kill_group(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            await proc.wait()
        # The group is dead, so the pipe closes; the bound is for a process
        # that escaped the group (setsid) and still holds it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), 5)
    if not reader.done():
        reader.cancel()
    output = reader.result() if reader.done() and not reader.cancelled() else b""
    return CommandRun(
        exit_status=None if timed_out else proc.returncode,
        timed_out=timed_out,
        output_tail=output.decode("utf-8", errors="replace"),
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def _tail(stream: asyncio.StreamReader) -> bytes:
    kept = bytearray()
    while True:
        block = await stream.read(65536)
        if not block:
            return bytes(kept)
        kept += block
        if len(kept) > OUTPUT_TAIL_BYTES:
            del kept[: len(kept) - OUTPUT_TAIL_BYTES]
