"""The scripted model's HTTP side: OpenAI ``/v1/chat/completions`` over a real socket.

See the package docstring for the wire format and why it is shaped this way.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from orion_lsp.testing.script import ScriptedReply

log = logging.getLogger(__name__)

_MODEL_NAME = "scripted"
# Piece lengths for streamed text: consecutive pieces never have the same length,
# so they are never identical (litellm's repeated-chunk guard) whatever the text.
_PIECE_LENGTHS = (3, 5, 2, 7, 4, 6, 1, 8)
_ARG_PIECE_LENGTHS = (7, 11, 5, 13, 9)
_POLL_S = 0.05
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def _split(text: str, lengths: tuple[int, ...]) -> Iterator[str]:
    pos, i = 0, 0
    while pos < len(text):
        n = lengths[i % len(lengths)]
        yield text[pos : pos + n]
        pos += n
        i += 1


def _estimate_usage(body: dict[str, Any], reply: ScriptedReply) -> dict[str, int]:
    # Characters / 4, like the repo map's budget; only needs to be plausible and > 0.
    prompt_chars = len(json.dumps(body.get("messages", [])))
    completion_chars = len(reply.text) + sum(
        len(tc.name) + len(tc.arguments_json()) for tc in reply.tool_calls
    )
    prompt = max(1, prompt_chars // 4)
    completion = max(1, completion_chars // 4)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class _ClientGone(Exception):
    """The client closed the connection; stop answering it quietly."""


class _Stopping(Exception):
    """stop() was called: drop the answer in progress (the client sees a closed connection)."""


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 for chunked streams; every response still closes the connection.
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        # The stdlib writes access logs to stderr; keep them in logging instead.
        log.debug("scripted model: " + format, *args)

    # -- routing ---------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path.split("?")[0].rstrip("/") in ("/v1/models", "/models"):
            model = {"id": _MODEL_NAME, "object": "model", "created": 0, "owned_by": "orion-tests"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(404, f"no route for GET {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.split("?")[0].rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_error(404, f"no route for POST {self.path}")
            return
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
        except ValueError as exc:
            self._send_error(400, f"invalid JSON body: {exc}")
            return
        reply = self.server.owner._take(body, {k.lower(): v for k, v in self.headers.items()})
        try:
            self._answer(body, reply)
        except _Stopping:
            self.close_connection = True
        except (_ClientGone, ConnectionError) as exc:
            log.debug("scripted model: client went away: %r", exc)
            self.close_connection = True
            self.server.owner._client_left()

    # -- answers ---------------------------------------------------------------
    def _answer(self, body: dict[str, Any], reply: ScriptedReply | None) -> None:
        if reply is None:
            self._send_error(500, "scripted model: script exhausted")
            return
        self._wait(reply.delay_s)
        if reply.status != 200:
            self._send_error(reply.status, reply.error_message)
        elif body.get("stream"):
            self._stream(body, reply)
        else:
            if reply.hang:
                self._wait(float("inf"))  # until stop() or the client leaves: both raise
            self._send_json(200, self._completion(body, reply))

    def _completion(self, body: dict[str, Any], reply: ScriptedReply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            # OpenAI sends null content beside tool calls when there is no text.
            message["content"] = reply.text or None
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:12]}",
                    "type": "function",
                    "function": {"name": tc.name, "arguments": tc.arguments_json()},
                }
                for tc in reply.tool_calls
            ]
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", _MODEL_NAME),
            "choices": [
                {"index": 0, "message": message, "finish_reason": reply.effective_finish_reason()}
            ],
            "usage": reply.usage or _estimate_usage(body, reply),
        }

    def _stream(self, body: dict[str, Any], reply: ScriptedReply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        ident = f"chatcmpl-{uuid.uuid4().hex[:16]}"
        created = int(time.time())
        model = body.get("model", _MODEL_NAME)

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> None:
            payload: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": []
                if delta is None
                else [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            self._write_event(json.dumps(payload))
            self._wait(reply.chunk_delay_s)

        chunk({"role": "assistant", "content": ""})
        for piece in _split(reply.text, _PIECE_LENGTHS):
            chunk({"content": piece})
        for index, tc in enumerate(reply.tool_calls):
            head = {
                "index": index,
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": tc.name, "arguments": ""},
            }
            chunk({"tool_calls": [head]})
            for frag in _split(tc.arguments_json(), _ARG_PIECE_LENGTHS):
                chunk({"tool_calls": [{"index": index, "function": {"arguments": frag}}]})
        if reply.hang:
            # Until stop() or the client leaves; both raise, so the stream is cut without
            # its last chunk and the client sees an error, never a clean finish.
            self._wait(float("inf"))
        chunk({}, reply.effective_finish_reason())
        if (body.get("stream_options") or {}).get("include_usage"):
            chunk(None, usage=reply.usage or _estimate_usage(body, reply))
        self._write_event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- plumbing --------------------------------------------------------------
    def _write_event(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def _wait(self, seconds: float) -> None:
        """Sleep; raise _Stopping when the server stops, _ClientGone when the client leaves."""
        stopping = self.server.owner._stopping
        deadline = time.monotonic() + seconds
        while True:
            if stopping.is_set():
                raise _Stopping()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._client_gone():
                raise _ClientGone()
            stopping.wait(min(_POLL_S, remaining))

    def _client_gone(self) -> bool:
        # While we answer, the client sends nothing more: readable means EOF or reset.
        sock = self.connection
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            peeked: bytes = sock.recv(1, socket.MSG_PEEK)
        except OSError:
            return True
        return peeked == b""

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, status: int, message: str) -> None:
        kind = _ERROR_TYPES.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
        self._send_json(status, {"error": {"message": message, "type": kind, "code": str(status)}})


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 makes the 6th simultaneous connect wait for
    # a SYN retransmit (~1 s): parallel turns in a test would look slow.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], owner: ScriptedModelServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints tracebacks to stderr; use logging (pytest shows it on failure).
        log.warning("scripted model: error answering %s", client_address, exc_info=True)


class ScriptedModelServer:
    """A real OpenAI-compatible HTTP server that answers from a script."""

    model = f"openai/{_MODEL_NAME}"

    def __init__(
        self,
        replies: Iterable[ScriptedReply] = (),
        *,
        default: ScriptedReply | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        on_request: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._script: deque[ScriptedReply] = deque(replies)
        self.default = default
        self._address = (host, port)
        self._on_request = on_request
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        # Answers the client abandoned mid-way (a cancelled turn must close its stream).
        self.disconnects = 0
        self.base_url = ""
        self.port = 0

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> ScriptedModelServer:
        if self._httpd is not None:
            raise RuntimeError("scripted model server already started")
        self._stopping.clear()
        self._httpd = _HTTPServer(self._address, self)
        self.port = port = int(self._httpd.server_address[1])
        self.base_url = f"http://{self._address[0]}:{port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_S},
            name=f"scripted-model-{port}",
            daemon=True,
        )
        self._thread.start()
        log.debug("scripted model server listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving; hanging and delayed answers end at once. Idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- script ----------------------------------------------------------------
    def push(self, *replies: ScriptedReply) -> None:
        with self._cond:
            self._script.extend(replies)

    @property
    def remaining(self) -> int:
        """Scripted replies not used yet (the default is not counted)."""
        with self._cond:
            return len(self._script)

    def wait_for_requests(self, n: int, timeout: float = 5) -> list[dict[str, Any]]:
        """Block until at least ``n`` requests arrived; return a copy of all of them."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= n, timeout=timeout):
                raise TimeoutError(
                    f"scripted model: expected {n} requests, got {len(self.requests)} in {timeout}s"
                )
            return list(self.requests)

    def wait_for_disconnects(self, n: int = 1, timeout: float = 5) -> int:
        """Block until ``n`` answers were abandoned by their client (e.g. a cancelled stream)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.disconnects >= n, timeout=timeout):
                raise TimeoutError(
                    f"scripted model: expected {n} disconnects, got {self.disconnects} in {timeout}s"
                )
            return self.disconnects

    def _client_left(self) -> None:
        with self._cond:
            self.disconnects += 1
            self._cond.notify_all()

    def _take(self, body: dict[str, Any], headers: dict[str, str]) -> ScriptedReply | None:
        # Record before answering, so a test sees the request even if the answer hangs.
        with self._cond:
            self.requests.append(body)
            self.request_headers.append(headers)
            reply = self._script.popleft() if self._script else self.default
            if self._on_request is not None:  # under the lock: keeps the log in arrival order
                self._on_request(body)
            self._cond.notify_all()
        return reply
