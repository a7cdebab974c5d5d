"""A raw JSON-RPC client over the server's real stdio pipes.

pytest-lsp's client refuses to send malformed frames and hides the bytes on the
wire; the reliability tests need both: they write arbitrary bytes, keep the
whole transcript (to search it for secrets and tracebacks), and answer the
server's own requests (configuration, progress, applyEdit) like an editor.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

CAPABILITIES: dict[str, Any] = {
    "workspace": {
        "applyEdit": True,
        "configuration": True,
        "workspaceEdit": {"documentChanges": True},
        "workspaceFolders": True,
    },
    "window": {"workDoneProgress": True, "showMessage": {}},
    "textDocument": {"synchronization": {"didSave": True}},
}


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = str(error.get("message"))
        self.data = error.get("data")


@dataclass
class Frame:
    t: float
    body: dict[str, Any] | list[Any] | None
    raw: bytes


def frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class RawServer:
    """One `python -m orion_lsp` subprocess driven over raw stdio."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        log_file: Path,
        stderr_file: Path,
        argv: list[str] | None = None,
        apply_edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        spawn: Callable[[dict[str, str], list[str], Path], Any] | None = None,
    ) -> None:
        self._stderr = stderr_file.open("ab")
        self.log_file = log_file
        self.stderr_file = stderr_file
        args = ["--log-file", str(log_file)]
        self.proc: Any
        if spawn is not None:  # a zygote child (tests/reliability/zygote.py)
            self.proc = spawn(env, args, stderr_file)
        else:
            self.proc = subprocess.Popen(
                argv or [sys.executable, "-m", "orion_lsp", *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                cwd=str(REPO),
            )
        self.sent = bytearray()
        self.received = bytearray()
        self.frames: list[Frame] = []
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._apply_edit = apply_edit or (lambda _p: {"applied": True})
        self.closed = False
        # Answers to other server->client requests (e.g. window/showMessageRequest);
        # anything else is answered null, like a dismissed dialog.
        self.answers: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- wire ------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.sent += data
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, obj: Any) -> None:
        self.send_raw(frame(obj))

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers: dict[str, str] = {}
            raw = bytearray()
            while True:
                line = out.readline()
                if not line:
                    self._eof()
                    return
                raw += line
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii", "replace").partition(":")
                headers[name.strip().lower()] = value.strip()
            n = int(headers.get("content-length", "0"))
            body = out.read(n)
            raw += body
            self.received += raw
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            with self._cond:
                self.frames.append(Frame(time.monotonic(), parsed, bytes(raw)))
                self._cond.notify_all()
            if isinstance(parsed, dict) and "method" in parsed and "id" in parsed:
                self._answer_server_request(parsed)

    def _eof(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def _answer_server_request(self, msg: dict[str, Any]) -> None:
        method = msg["method"]
        result: Any = None
        if method == "workspace/configuration":
            result = [None for _ in (msg.get("params") or {}).get("items", [])]
        elif method == "workspace/applyEdit":
            result = self._apply_edit(msg.get("params") or {})
        elif method in self.answers:
            result = self.answers[method](msg.get("params") or {})
        try:
            self.send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
        except (BrokenPipeError, ValueError, OSError):
            pass

    # -- messages ----------------------------------------------------------------
    def messages(self) -> list[dict[str, Any]]:
        with self._cond:
            return [f.body for f in self.frames if isinstance(f.body, dict)]

    def responses(self, msg_id: Any) -> list[dict[str, Any]]:
        return [
            m
            for m in self.messages()
            if m.get("id") == msg_id and "method" not in m and ("result" in m or "error" in m)
        ]

    def notifications(self, method: str) -> list[dict[str, Any]]:
        return [
            m.get("params") or {}
            for m in self.messages()
            if m.get("method") == method and "id" not in m
        ]

    def wait_for(self, pred: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = pred()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0 or (self.closed and not value):
                    return value
                self._cond.wait(min(left, 0.1))

    def wait_response(self, msg_id: Any, timeout: float = 30) -> dict[str, Any]:
        got = self.wait_for(lambda: self._first_response(msg_id), timeout)
        if not got:
            raise TimeoutError(f"no response to {msg_id!r} in {timeout}s (eof={self.closed})")
        return got

    def _first_response(self, msg_id: Any) -> dict[str, Any] | None:
        for f in self.frames:
            m = f.body
            if isinstance(m, dict) and m.get("id") == msg_id and "method" not in m:
                return m
        return None

    def request_async(self, method: str, params: Any = None, msg_id: Any = None) -> Any:
        msg_id = next(self._ids) if msg_id is None else msg_id
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return msg_id

    def request(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        resp = self.wait_response(self.request_async(method, params), timeout)
        if "error" in resp:
            raise RpcError(resp["error"])
        return resp.get("result")

    def notify(self, method: str, params: Any = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def command(self, name: str, *arguments: Any, timeout: float = 60) -> Any:
        return self.request(
            "workspace/executeCommand",
            {"command": name, "arguments": list(arguments)},
            timeout=timeout,
        )

    # -- lifecycle -------------------------------------------------------------------
    def initialize(
        self,
        workspace: Path,
        *,
        process_id: int | None = None,
        init_options: dict[str, Any] | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        result = self.request(
            "initialize",
            {
                "processId": process_id,
                "rootUri": workspace.as_uri(),
                "capabilities": CAPABILITIES,
                "workspaceFolders": [{"uri": workspace.as_uri(), "name": workspace.name}],
                "initializationOptions": init_options,
            },
            timeout=timeout,
        )
        self.notify("initialized", {})
        return result

    def shutdown(self, timeout: float = 15) -> int | None:
        """The polite way out: shutdown, exit, wait."""
        if self.proc.poll() is None:
            try:
                self.request("shutdown", None, timeout=timeout)
                self.notify("exit")
                self.proc.stdin.close()  # type: ignore[union-attr]
            except (OSError, ValueError, TimeoutError, RpcError):
                pass
        return self.wait(timeout)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def close(self) -> None:
        """Always called by fixtures: leaves no process behind."""
        self.kill()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        self._stderr.close()

    def transcript(self) -> bytes:
        return bytes(self.sent) + bytes(self.received)
