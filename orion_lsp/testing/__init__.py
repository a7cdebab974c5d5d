"""A scripted OpenAI-compatible model server: the fake model every test talks to.

Tests do not mock litellm. They start this real HTTP server on 127.0.0.1 and call
it through the real litellm (``model="openai/scripted"``, ``api_base=base_url``),
so the whole path (litellm -> OpenAI SDK -> httpx -> HTTP -> SSE parsing) runs
exactly as it does against llama.cpp or Ollama. Each POST to
``/v1/chat/completions`` (or ``/chat/completions``) takes the next
``ScriptedReply``; ``requests`` records every request body, in order, before it
is answered.

Retries: the OpenAI SDK under litellm retries a failed request twice by default
(a 500 becomes 3 requests). Pass ``orion_lsp.agent.litellm_setup.NO_RETRY_KWARGS``
(``num_retries=0, max_retries=0``) to ``litellm.acompletion`` and every call is
exactly one HTTP request; tests assert this.

Streaming follows OpenAI's wire format: a role chunk, the text in small pieces of
varying length (litellm aborts a stream that repeats one identical chunk ~100
times), tool calls as indexed deltas (id, type and name first, then argument
fragments), a chunk with ``finish_reason``, a usage chunk with no choices when
``stream_options.include_usage`` is set, then ``data: [DONE]``. Streams use
chunked transfer encoding, so a stream cut short (``hang`` then ``stop()``) is a
protocol error for the client, never a silently truncated answer. Every
response closes its connection: a stopped server never answers again through a
kept-alive socket.

Outside Python (Neovim, VS Code tests) run it as a process::

    python -m orion_lsp.testing serve --script script.json [--port 0] \
        [--port-file F] [--requests-file R]

``script.json`` is ``{"replies": [...], "default": {...}}`` with the
``ScriptedReply`` field names (``tool_calls`` as ``[{"name": ..., "arguments": {...}}]``).
It prints the base URL on stdout (and writes it to ``--port-file``), appends each
request body as one JSON line to ``--requests-file``, and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

from orion_lsp.testing.model_server import ScriptedModelServer
from orion_lsp.testing.script import ScriptedReply, ScriptedToolCall, load_script

__all__ = ["ScriptedModelServer", "ScriptedReply", "ScriptedToolCall", "load_script"]
