"""The stdio transport of `orion-lsp`: bounded framing, answers to malformed requests, exit on EOF.

pygls 2.1's stdio loop (`pygls.io_.run_async`) trusts the client: it reads a
header line of any length, allocates whatever `Content-Length` says, sends no
response at all to a request whose params fail to deserialize (the client then
waits forever), and when stdin closes it returns into `asyncio.run`, which
waits for executor threads (a litellm import in progress) and the process then
waits for non-daemon threads (aiosqlite connections): it lingered for more than
10 s here. This module replaces that loop only; dispatch stays pygls':

- framing runs in one daemon thread; header lines are capped at
  `MAX_HEADER_LINE` bytes and bodies at `max_message_bytes()` (64 MiB, env
  `ORION_MAX_MESSAGE_BYTES`). An oversized body is read and dropped in small
  chunks (memory stays flat) and, when its first bytes name an `id`, that
  request is answered `-32600` so the editor does not wait for it;
- a request that cannot be deserialized is answered with its id and no
  traceback: `-32602` (bad params of a known method), `-32601` (unknown
  method), `-32600` (not JSON-RPC 2.0, or a second `initialize`);
- when stdin reaches EOF (the editor died or closed the pipe), or `exit`
  comes without `shutdown`, running turns are cancelled (they record
  `turn_end` cancelled), the database is closed, and the process exits at once
  (within ~1.5 s), whatever threads are still busy;
- after `shutdown` + `exit` the process is gone within milliseconds: it waits
  for no thread and no task (editors kill a server that lingers; eglot after
  0.1 s). bench/bench_exit.py measures it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

from lsprotocol.types import ResponseError

if TYPE_CHECKING:
    from .server import OrionLanguageServer

log = logging.getLogger(__name__)

ENV_MAX_MESSAGE = "ORION_MAX_MESSAGE_BYTES"
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a 10 MB document, JSON-escaped, fits
MAX_HEADER_LINE = 8 * 1024
_DISCARD_CHUNK = 64 * 1024
_SNIFF_BYTES = 4096
# How long cleanup may take after EOF before the process exits anyway.
EOF_CLEANUP_SECONDS = 1.5

INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601

_CONTENT_LENGTH = re.compile(rb"content-length\s*:\s*(\d{1,20})\s*", re.IGNORECASE)
# The id of a request, as clients serialize it (top-level "id" near the start).
_SNIFF_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\]|\\.){0,200}")')


def max_message_bytes(environ: dict[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get(ENV_MAX_MESSAGE, "")
    try:
        value = int(raw) if raw else DEFAULT_MAX_MESSAGE_BYTES
    except ValueError:
        log.warning(
            "%s=%r is not a number; using %d", ENV_MAX_MESSAGE, raw, DEFAULT_MAX_MESSAGE_BYTES
        )
        return DEFAULT_MAX_MESSAGE_BYTES
    return max(1024, value)


class _Frames:
    """Reads frames from a blocking binary stream in a daemon thread.

    Each item put on the queue is ("message", body), ("oversized", (length,
    head)) or ("eof", None). A daemon thread never keeps the process alive.
    """

    def __init__(self, stream: BinaryIO, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._stream = stream
        self._loop = loop
        self._limit = limit
        self._thread = threading.Thread(target=self._run, name="orion-stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _put(self, kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing: nobody listens
            self._loop.call_soon_threadsafe(self.queue.put_nowait, (kind, value))

    def _run(self) -> None:
        try:
            while self._one():
                pass
        except Exception:  # a broken stdin is EOF to us; say why in the log
            log.exception("reading stdin failed")
        self._put("eof", None)

    def _one(self) -> bool:
        length = self._headers()
        if length is None:
            return False
        if length > self._limit:
            head = self._stream.read(min(length, _SNIFF_BYTES))
            self._put("oversized", (length, head))
            left = length - len(head)
            while left > 0 and head:
                chunk = self._stream.read(min(left, _DISCARD_CHUNK))
                if not chunk:
                    return False
                left -= len(chunk)
            return bool(head)
        body = self._stream.read(length)
        if len(body) < length:
            return False
        self._put("message", body)
        return True

    def _headers(self) -> int | None:
        """The Content-Length of the next frame, or None at EOF."""
        length: int | None = None
        while True:
            line = self._stream.readline(MAX_HEADER_LINE)
            if not line:
                return None
            if not line.endswith(b"\n"):
                # Longer than any real header: drop the rest of it, bounded.
                while line and not line.endswith(b"\n"):
                    line = self._stream.readline(MAX_HEADER_LINE)
                if not line:
                    return None
                log.warning("dropped a header line longer than %d bytes", MAX_HEADER_LINE)
                continue
            if not line.strip():
                if length is not None:
                    return length
                continue  # a blank line before any Content-Length: skip, like pygls
            m = _CONTENT_LENGTH.fullmatch(line.strip())
            if m is not None:
                length = int(m.group(1))


def _sniff_id(head: bytes) -> int | str | None:
    m = _SNIFF_ID.search(head)
    if m is None:
        return None
    try:
        value = json.loads(m.group(1))
    except ValueError:
        return None
    return value if isinstance(value, (int, str)) else None


class StdioTransport:
    def __init__(self, server: OrionLanguageServer, limit: int) -> None:
        self._server = server
        self._protocol: Any = server.protocol
        self._limit = limit
        self._initialized = False

    def _knows(self, method: str) -> bool:
        fm = self._protocol.fm
        return (
            self._protocol.get_message_type(method) is not None
            or method in fm.builtin_features
            or method in fm.features
        )

    def _reply_error(self, msg_id: Any, code: int, message: str) -> None:
        # pygls has no public "answer this id with an error" outside a handler.
        self._protocol._send_response(msg_id, error=ResponseError(code=code, message=message))

    def handle_body(self, body: bytes) -> None:
        try:
            raw = json.loads(body)
        except ValueError:
            # No id can be known; JSON-RPC's id-null parse error confuses editors more
            # than it helps, so this is only logged.
            log.warning("dropped a message that is not JSON (%d bytes)", len(body))
            return
        msg_id = raw.get("id") if isinstance(raw, dict) else None
        is_request = (
            isinstance(raw, dict)
            and isinstance(msg_id, (int, str))
            and not isinstance(msg_id, bool)
            and isinstance(raw.get("method"), str)
        )
        if not isinstance(raw, dict) or raw.get("jsonrpc") != "2.0":
            if is_request:
                self._reply_error(msg_id, INVALID_REQUEST, "Invalid request: not JSON-RPC 2.0")
            else:
                log.warning("dropped a message that is not a JSON-RPC 2.0 object")
            return
        try:
            message = self._protocol.structure_message(raw)
        except Exception as exc:
            if is_request:
                method = str(raw.get("method"))[:80]
                if self._knows(method):
                    self._reply_error(msg_id, INVALID_PARAMS, f"Invalid params for {method!r}")
                else:
                    self._reply_error(msg_id, METHOD_NOT_FOUND, f"Method not found: {method!r}")
            else:
                log.warning("dropped a malformed message (%s)", type(exc).__name__)
            return
        if is_request and raw.get("method") == "initialize":
            # LSP: initialize is sent once. A second one would open a second set of
            # services (database connection, indexer) and leak the first.
            if self._initialized:
                self._reply_error(msg_id, INVALID_REQUEST, "Invalid request: already initialized")
                return
            self._initialized = True
        try:
            self._protocol.handle_message(message)
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            log.error("could not handle a message: %s", type(exc).__name__)
            if is_request and not self._protocol._shutdown:
                self._reply_error(msg_id, INVALID_REQUEST, "Invalid request")

    def handle_oversized(self, length: int, head: bytes) -> None:
        msg_id = _sniff_id(head)
        log.error(
            "refused a %d-byte message (limit %d bytes, %s)", length, self._limit, ENV_MAX_MESSAGE
        )
        if msg_id is not None:
            self._reply_error(
                msg_id,
                INVALID_REQUEST,
                f"Orion: message of {length} bytes refused (limit {self._limit} bytes)",
            )

    async def serve(self, stdin: BinaryIO) -> None:
        frames = _Frames(stdin, asyncio.get_running_loop(), self._limit)
        frames.start()
        while True:
            kind, value = await frames.queue.get()
            if kind == "eof":
                return
            if kind == "oversized":
                self.handle_oversized(*value)
            else:
                self.handle_body(value)

    async def close_without_shutdown(self, why: str) -> None:
        """The client left (stdin EOF, or `exit` with no `shutdown`): stop turns, close the ledger."""
        if self._protocol._shutdown:
            return
        log.warning("%s without shutdown; exiting", why)
        try:
            async with asyncio.timeout(EOF_CLEANUP_SECONDS):
                await self._server.on_shutdown()
        except TimeoutError:
            log.error("cleanup took over %.1f s; exiting anyway", EOF_CLEANUP_SECONDS)
        except Exception as exc:
            log.error("cleanup failed: %s", type(exc).__name__)


def serve_stdio(
    server: OrionLanguageServer, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> int:
    """Run the server on stdio until `exit` or EOF; returns the LSP exit code.

    The caller must end the process next (`exit_now`). The event loop is left
    as it is: closing it, as `asyncio.run` does, waits for every cancelled task
    and for the executor's threads, and the litellm warm-up thread imports for
    seconds after start-up. `shutdown` has already stopped the turns and
    closed the database, so nothing is left that must finish.
    """
    from pygls.io_ import StdoutWriter

    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    transport = StdioTransport(server, max_message_bytes())

    async def main() -> None:
        try:
            await transport.serve(stdin or sys.stdin.buffer)
        except SystemExit:  # the `exit` notification (pygls raises it in the handler)
            await transport.close_without_shutdown("exit")
            raise
        await transport.close_without_shutdown("stdin closed")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    code = 0
    try:
        loop.run_until_complete(main())
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        code = 1
    finally:
        code = code or (0 if server.protocol._shutdown else 1)
    _log_left_behind(loop)
    return code


def _log_left_behind(loop: asyncio.AbstractEventLoop) -> None:
    """Say what the exit does not wait for (a post-mortem of a slow or odd exit)."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    threads = [t.name for t in threading.enumerate() if t.is_alive() and not t.daemon]
    threads = [name for name in threads if name != threading.main_thread().name]
    log.info(
        "exit: not waiting for %d task(s) and %d thread(s)%s",
        len(tasks),
        len(threads),
        f" ({', '.join(threads)})" if threads else "",
    )


def exit_now(code: int) -> None:
    """Leave without waiting for busy threads (a litellm import, a blocked stdin read)."""
    logging.shutdown()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(code)
