"""LSP base-protocol framing over raw pipes, for the benchmarks that time a
server process from outside (spawn, exit): no client library, so both sides
of a comparison pay the same."""

from __future__ import annotations

import json
from typing import IO, Any


def frame(payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream: IO[bytes]) -> dict[str, Any]:
    """The next message; EOFError when the server closed its stdout first."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            raise EOFError("server closed stdout before answering")
        line = line.strip()
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    if length is None:
        raise ValueError("message without Content-Length")
    message: dict[str, Any] = json.loads(stream.read(length))
    return message
