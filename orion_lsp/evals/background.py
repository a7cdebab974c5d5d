"""The `tests` evaluator after a turn, in the background (`[eval] on_turn_end = true`).

The answer is never delayed by the test run: the front end starts it when
the turn has returned and hears about the scores when they land (the
server sends `orion/turnScores`, `orion chat` prints them and waits for the
run before it exits). It runs only for a turn that applied changes, in a
workspace the user trusts (the client says so; the CLI is the user's own
command), with the command from the workspace's own config file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ..project import Project
from ..storage import Score, StorageError
from .config import EvalConfig, EvalConfigError, load_eval_config
from .runner import Evaluations

log = logging.getLogger(__name__)

OnScores = Callable[[str, list[Score]], Awaitable[None]]
OnStorageError = Callable[[StorageError], None]


class BackgroundTests:
    def __init__(
        self,
        evaluations: Callable[[], Evaluations],
        on_scores: OnScores,
        on_storage_error: OnStorageError,
    ) -> None:
        self._evaluations = evaluations
        self._on_scores = on_scores
        self._on_storage_error = on_storage_error
        self._tasks: set[asyncio.Task[None]] = set()
        self.started = 0  # runs started since start-up (orion.status shows it)

    def after_turn(
        self, project: Project, turn_id: str, edits: list[dict[str, object]], *, trusted: bool
    ) -> asyncio.Task[None] | None:
        """Start the run for a finished turn when everything allows it; else None."""
        if not trusted or not any(e.get("applied") for e in edits):
            return None
        try:
            config = load_eval_config(project.root)
        except EvalConfigError as exc:
            log.warning("tests evaluator skipped: %s", exc)
            return None
        if not config.on_turn_end or config.test_command is None:
            return None
        task = asyncio.create_task(
            self._run(project, turn_id, config), name=f"tests-{turn_id[:12]}"
        )
        self.started += 1
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, project: Project, turn_id: str, config: EvalConfig) -> None:
        try:
            result = await self._evaluations().run_tests(
                project.project_id, turn_id, project.root, config
            )
        except StorageError as exc:
            self._on_storage_error(exc)
            return
        except Exception:  # the scratch copy or the command; never the turn's business
            log.exception("tests evaluator failed for turn %s", turn_id)
            return
        if result.scores:
            await self._on_scores(turn_id, result.scores)

    def status(self) -> dict[str, int]:
        return {"started": self.started, "running": len(self._tasks)}

    async def wait(self) -> None:
        """Until every started run has finished (`orion chat` before it exits)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Stop every run (server shutdown): their process groups are killed."""
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
