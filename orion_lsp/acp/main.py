"""`orion acp`: build the services, then serve ACP on stdio until stdin closes.

stdout is the protocol channel and nothing else may reach it: before the
connection starts, the real stdout is duplicated for the SDK and file
descriptor 1 is pointed at stderr, so a stray `print` or a library's banner
(or a C extension writing to fd 1) lands in the log, not in the client's JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
import threading
from typing import cast

from ..config import Settings, SettingsError, load_settings
from ..services import Services, open_services
from .agent import OrionAcpAgent
from .bridge import SessionRegistry, wrap_tools

log = logging.getLogger(__name__)


MAX_MESSAGE_BYTES = 50 * 1024 * 1024


def run_acp() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.stderr.write(f"orion acp: {exc}\n")
        return 2
    protocol_in = _pipe_end(0, reading=True)
    protocol_out = _pipe_end(os.dup(1), reading=False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    loop = asyncio.new_event_loop()
    code = loop.run_until_complete(_serve(settings, protocol_in, protocol_out))
    # The client closed stdin and the database is closed: exit now, without
    # waiting for a background import of litellm that may still be running
    # (clients kill an agent that lingers, and warn about it).
    sys.stderr.flush()
    os._exit(code)


async def _serve(settings: Settings, protocol_in: int, protocol_out: int) -> int:
    from acp import Agent, run_agent

    registry = SessionRegistry()
    services = await open_services(
        settings, eager=False, tool_wrapper=lambda tools: wrap_tools(tools, registry)
    )
    warm: asyncio.Future[None] | None = None
    try:
        agent = OrionAcpAgent(services, registry)
        loop = asyncio.get_running_loop()
        raw = asyncio.StreamReader(limit=MAX_MESSAGE_BYTES)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(raw), os.fdopen(protocol_in, "rb", 0)
        )
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(protocol_out, "wb", 0)
        )
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        reader = asyncio.StreamReader(limit=MAX_MESSAGE_BYTES)
        gate = asyncio.ensure_future(gate_messages(raw, reader, writer))
        # litellm takes seconds to import: warm it (and build the agent) in the background.
        warm = asyncio.ensure_future(_warm(services))
        try:
            # The SDK routes each ACP method to the agent's method of that name when
            # it has one; Orion offers a subset (the others answer -32601): a cast.
            await run_agent(cast(Agent, agent), writer, reader)
        finally:
            gate.cancel()
    finally:
        if warm is not None:
            warm.cancel()
        await services.close()
    return 0


async def gate_messages(
    raw: asyncio.StreamReader, sdk: asyncio.StreamReader, out: asyncio.StreamWriter
) -> None:
    """Pass on only JSON objects; answer anything else as JSON-RPC says.

    The SDK's reader stops for good on a line that is valid JSON but not an
    object (`[]`, `null`), which would leave the client without answers. A
    line that does not parse gets -32700, a non-object or an oversized line
    -32600, both with `id: null`; the connection goes on.
    """
    while True:
        try:
            line = await raw.readline()
        except (asyncio.LimitOverrunError, ValueError):
            await _skip_line(raw)
            _reject(out, -32600, "Invalid request: message too large")
            continue
        if not line:
            sdk.feed_eof()
            return
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            _reject(out, -32700, "Parse error")
            continue
        if not isinstance(message, dict):
            _reject(out, -32600, "Invalid request: a message is a JSON object")
            continue
        sdk.feed_data(line if line.endswith(b"\n") else line + b"\n")


async def _skip_line(raw: asyncio.StreamReader) -> None:
    while True:
        try:
            await raw.readuntil(b"\n")
            return
        except asyncio.LimitOverrunError as exc:
            await raw.readexactly(exc.consumed)
        except asyncio.IncompleteReadError:
            return


def _reject(out: asyncio.StreamWriter, code: int, message: str) -> None:
    error = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    out.write(json.dumps(error).encode() + b"\n")


def _pipe_end(fd: int, *, reading: bool) -> int:
    """`fd` itself when asyncio can watch it (a pipe, socket or tty, as editors give);
    for a regular file (`orion acp < requests.jsonl > out`), a pipe fed by a thread."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        return fd
    r, w = os.pipe()

    def copy(src: int, dst: int) -> None:
        while chunk := os.read(src, 65536):
            os.write(dst, chunk)
        os.close(dst)

    args = (fd, w) if reading else (r, fd)
    threading.Thread(target=copy, args=args, daemon=True).start()
    return r if reading else w


async def _warm(services: Services) -> None:
    from ..agent.litellm_setup import import_litellm

    try:
        await asyncio.to_thread(import_litellm)
        await services.build_agent()
    except Exception:
        log.exception("warming the agent failed")
