"""What each `orion` verb needs before it runs, declared once per verb.

A verb that `needs_agent` (the orchestrator with its model client, tools and
repo map) starts importing litellm in a thread as soon as its arguments are
parsed, so the import (seconds) overlaps opening the database, building the
repo map and loading the history; the agent is built with the services. A
verb that does not need the agent never imports litellm or tree-sitter
(`tests/unit/test_cli_imports.py` runs each such verb in a subprocess and
checks), and one that does not `needs_db` opens no database.

A new verb adds its line here; one missing is treated as needing the agent
(it works, it is only slower to start), and the test above fails until it
is declared.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verb:
    needs_agent: bool
    needs_db: bool = True
    needs_grammars: bool = False  # imports tree-sitter itself (the repo map verb)


VERBS: dict[str, Verb] = {
    "chat": Verb(needs_agent=True),
    "history": Verb(needs_agent=False),
    "traces": Verb(needs_agent=False),
    # These read and write the ledger; no repo map, no tools. replay calls a
    # model without the agent (it imports litellm itself, when it runs).
    "eval": Verb(needs_agent=False),
    "rate": Verb(needs_agent=False),
    "export": Verb(needs_agent=False),
    "replay": Verb(needs_agent=False),
    # Threads and rewind: the ledger and, for rewind, the workspace's files.
    "threads": Verb(needs_agent=False),
    "forget": Verb(needs_agent=False),
    "rewind": Verb(needs_agent=False),
    # The doctor loads what the agent would (litellm for the model check, every
    # tree-sitter grammar) and opens the database itself.
    "doctor": Verb(needs_agent=True, needs_db=False),
    "project-id": Verb(needs_agent=False, needs_db=False),
    # Its own parser (orion_lsp.context.cli): tree-sitter, no model.
    "repomap": Verb(needs_agent=False, needs_grammars=True),
    # A server like orion-lsp: it runs turns, and warms litellm itself after
    # starting (orion_lsp/acp/main.py), so `initialize` is answered first.
    "acp": Verb(needs_agent=True, needs_db=False),
}
UNDECLARED = Verb(needs_agent=True)


def verb_of(name: str) -> Verb:
    return VERBS.get(name, UNDECLARED)


class ModelWarmup:
    """litellm's import and its first completion, in a thread, started early.

    Importing litellm costs seconds, and its first completion seconds more
    (it imports its logging, proxy types and tokenizer on first use). Both
    happen here while the command opens the database and builds the repo map:
    one offline completion (`mock_response`: no network, no key) warms the path
    the turn's real call takes. The turn `wait()`s for it before its first
    model call, so the two never run at the same time. Daemon, so a failing
    command does not wait; `main` joins it before the interpreter shuts down
    (an import cut short at shutdown can crash it).
    """

    def __init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="orion-model-warmup", daemon=True)

    def start(self) -> ModelWarmup:
        self._thread.start()
        return self

    def _run(self) -> None:
        from orion_lsp.agent.litellm_setup import import_litellm

        litellm = import_litellm()
        try:
            reply = litellm.completion(
                model="openai/orion-warmup",
                messages=[{"role": "user", "content": "warm-up"}],
                mock_response="ok",
                stream=True,
            )
            for _ in reply:
                pass
        except Exception as exc:  # a failed warm-up only costs the turn some time
            log.debug("model client warm-up failed: %s", exc)

    async def wait(self) -> None:
        import asyncio

        await asyncio.to_thread(self._thread.join)

    def join(self) -> None:
        self._thread.join()
