"""A turn's answer for clients without the Orion extension (eglot, Helix, any stock LSP client).

Such a client drops the `orion/*` notifications and ignores a command's
result, so a detached code action ("Explain this") would answer into the
void. Our VS Code and Neovim clients advertise
`capabilities.experimental.orion.turnNotifications: true`; for every other
client, when a turn completes (or stops at maxSteps) with an answer:

- the answer is written to a read-only Markdown file in the user cache dir
  (`<cache>/orion/answers/<turnId>.md`, never inside a workspace folder; the
  newest `KEEP_ANSWERS` are kept);
- a client that supports `window/showDocument` is asked to open it;
- any other client (or one whose showDocument fails) gets `window/showMessage`
  Info: the whole answer when it is short, else its start and the file's path.

Errors need nothing here: they already arrive as showMessage Error.
docs/protocol.md "Stock clients" says what such a client gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from ..agent.turn import COMPLETED, MAX_STEPS
from ..redact import Redactor

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

# An answer this long or shorter is shown whole in a message.
MAX_MESSAGE_CHARS = 1500
KEEP_ANSWERS = 100


def shows_turn_notifications(capabilities: Any) -> bool:
    """Whether the client said it displays `orion/*` turn notifications itself."""
    experimental = getattr(capabilities, "experimental", None)
    orion = experimental.get("orion") if isinstance(experimental, dict) else None
    return isinstance(orion, dict) and orion.get("turnNotifications") is True


def answers_dir() -> Path:
    import platformdirs  # only once a stock client needs it

    return Path(platformdirs.user_cache_dir("orion", appauthor=False)) / "answers"


class StockClientAnswers:
    def __init__(
        self,
        server: LanguageServer,
        redactor: Redactor,
        roots: Callable[[], list[Path]],
        directory: Callable[[], Path] = answers_dir,
    ) -> None:
        self._server = server
        self._redact = redactor
        self._roots = roots
        self._directory = directory
        self._tasks: set[asyncio.Task[None]] = set()

    def turn_ended(self, title: str, end: dict[str, Any]) -> None:
        """Called with each `orion/turnEnd`; shows the answer off the turn's path."""
        answer = end.get("answer") or ""
        if end.get("status") not in (COMPLETED, MAX_STEPS) or not answer.strip():
            return
        if shows_turn_notifications(self._server.client_capabilities):
            return
        task = asyncio.ensure_future(self._show(title, end))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _show(self, title: str, end: dict[str, Any]) -> None:
        title = self._redact(_first_line(title))
        end = {**end, "answer": self._redact(str(end.get("answer", "")))}
        path = self._write(str(end["turnId"]), _document(title, end))
        if path is not None and self._supports_show_document():
            try:
                shown = await self._server.window_show_document_async(
                    lsp.ShowDocumentParams(uri=path.as_uri(), take_focus=True)
                )
                if shown.success:
                    return
                log.info("the client did not show %s", path)
            except Exception as exc:  # the message below still shows the answer
                log.info("window/showDocument failed: %s", exc)
        self._server.window_show_message(
            lsp.ShowMessageParams(type=lsp.MessageType.Info, message=_message(title, end, path))
        )

    def _supports_show_document(self) -> bool:
        window = getattr(self._server.client_capabilities, "window", None)
        show = getattr(window, "show_document", None)
        return bool(show and show.support)

    def _write(self, turn_id: str, text: str) -> Path | None:
        """The read-only answer file, or None when it cannot (or must not) be written."""
        try:
            directory = self._directory()
            real = Path(os.path.realpath(directory))
            if any(real.is_relative_to(root) for root in self._roots()):
                log.warning("not writing answers into a workspace folder (%s)", directory)
                return None
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{turn_id}.md"
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # read-only files cannot be opened for writing
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            _prune(directory)
            return path
        except OSError as exc:
            log.warning("could not write the answer file: %s", exc)
            return None


def _document(title: str, end: dict[str, Any]) -> str:
    lines = [f"# Orion: {title}", "", str(end.get("answer", "")).rstrip(), ""]
    if end.get("status") == MAX_STEPS:
        lines += ["_(stopped: the turn reached maxSteps)_", ""]
    edits = end.get("edits") or []
    if edits:
        done = ", ".join(
            f"{e['path']} ({'applied' if e['applied'] else 'not applied'})" for e in edits
        )
        lines += [f"Edits: {done}", ""]
    lines += [f"<!-- turn {end['turnId']}: a read-only copy; `orion history` keeps it too -->", ""]
    return "\n".join(lines)


def _message(title: str, end: dict[str, Any], path: Path | None) -> str:
    answer = str(end.get("answer", "")).strip()
    if len(answer) <= MAX_MESSAGE_CHARS:
        return f"Orion: {title}\n\n{answer}"
    cut = answer[:MAX_MESSAGE_CHARS].rstrip() + " …"
    where = f"the whole answer is in {path}" if path is not None else "see `orion history`"
    return f"Orion: {title}\n\n{cut}\n\n({where})"


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _prune(directory: Path) -> None:
    files = []
    for p in directory.glob("*.md"):
        with contextlib.suppress(OSError):
            files.append((p.stat().st_mtime_ns, p))
    for _, old in sorted(files, reverse=True)[KEEP_ANSWERS:]:
        with contextlib.suppress(OSError):
            old.unlink()
