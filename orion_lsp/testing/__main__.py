"""``python -m orion_lsp.testing serve``: the scripted model for tests outside Python.

Neovim and VS Code tests start it as a process, read the base URL from its
stdout or ``--port-file``, and check what the model was sent in ``--requests-file``
(one JSON request body per line). SIGTERM or SIGINT stop it with exit code 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from orion_lsp.testing.model_server import ScriptedModelServer
from orion_lsp.testing.script import load_script


def _write_atomic(path: Path, text: str) -> None:
    # A watcher polling for the file must never read half of it.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orion_lsp.testing")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the scripted model server until killed")
    serve.add_argument("--script", help="JSON file: {replies: [...], default: {...}}")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--port-file", type=Path, help="write the base URL here once listening")
    serve.add_argument("--requests-file", type=Path, help="append each request body as a JSON line")
    args = parser.parse_args(argv)

    try:
        replies, default = load_script(args.script) if args.script else ([], None)
    except (OSError, ValueError, TypeError) as exc:
        parser.error(f"bad script {args.script}: {exc}")  # exit code 2, like the orion CLI
    lock = threading.Lock()

    def record(body: dict[str, Any]) -> None:
        if args.requests_file is not None:
            with lock, args.requests_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(body) + "\n")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = ScriptedModelServer(
        replies, default=default, host=args.host, port=args.port, on_request=record
    )
    with server:
        # The file first: whoever reads the URL on stdout may open the file next.
        if args.port_file is not None:
            _write_atomic(args.port_file, server.base_url + "\n")
        sys.stdout.write(server.base_url + "\n")
        sys.stdout.flush()
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
