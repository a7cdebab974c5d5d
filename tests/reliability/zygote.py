"""A fork server for `orion-lsp` processes, so crash tests can afford 100 of them.

Every server process pays ~5-12 s on this 2-core machine to import litellm for
its first turn. The zygote imports the server and litellm once, then forks one
child per request; the child dups the pipes it was handed (SCM_RIGHTS) onto
0/1/2, replaces its environment and runs the real `orion_lsp.cli.lsp_main`.
The child is therefore the same code as `python -m orion_lsp`, minus the
imports. Children are reaped automatically (SIGCHLD ignored), so a killed
server's pid disappears at once, as `TraceStore.mark_interrupted` expects.

Run as `python -m tests.reliability.zygote SOCKET`; `ZygoteClient` drives it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _child(env: dict[str, str], argv: list[str], fds: list[int]) -> None:
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
        for fd in fds:
            os.close(fd)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["orion-lsp", *argv]
        from orion_lsp.cli import lsp_main

        code = lsp_main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 70
    os._exit(code)


def serve(path: str) -> None:
    # What a server imports before its first turn, so children start warm.
    import orion_lsp.cli  # noqa: F401
    import orion_lsp.server.server  # noqa: F401
    import orion_lsp.services  # noqa: F401
    from orion_lsp.agent.litellm_setup import import_litellm

    import_litellm()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    sys.stdout.write(f"ready threads={threading.active_count()}\n")
    sys.stdout.flush()
    while True:
        conn, _ = listener.accept()
        with conn:
            msg, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
            if not msg:
                continue
            req = json.loads(msg)
            pid = os.fork()
            if pid == 0:
                listener.close()
                conn.close()
                _child(req["env"], req["argv"], list(fds))
            for fd in fds:
                os.close(fd)
            conn.sendall(json.dumps({"pid": pid}).encode())


class ForkedProcess:
    """The subset of `subprocess.Popen` that `RawServer` uses, for a forked child."""

    def __init__(self, pid: int, stdin: Any, stdout: Any) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0  # reaped by the zygote; the code is not known
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.01)
        return self.returncode or 0


class ZygoteClient:
    def __init__(self, workdir: Path) -> None:
        self.path = str(workdir / "zygote.sock")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.zygote", self.path],
            cwd=str(REPO),
            stdout=subprocess.PIPE,
            stderr=(workdir / "zygote.err").open("ab"),
            env={k: v for k, v in os.environ.items() if not k.startswith(("ORION_", "LITELLM_"))},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready"):
            raise RuntimeError(f"zygote did not start: {line!r}")

    def spawn(self, env: dict[str, str], argv: list[str], stderr_path: Path) -> ForkedProcess:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(self.path)
                socket.send_fds(
                    s, [json.dumps({"env": env, "argv": argv}).encode()], [in_r, out_w, err]
                )
                reply = json.loads(s.recv(4096))
        finally:
            for fd in (in_r, out_w, err):
                os.close(fd)
        return ForkedProcess(reply["pid"], os.fdopen(in_w, "wb"), os.fdopen(out_r, "rb"))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


if __name__ == "__main__":
    serve(sys.argv[1])
