"""The one place that turns a command's `{prompt?, uri?, range?}` into a `TurnRequest`.

`uri` is resolved once per command into a `Target`: the project it belongs to
(the deepest workspace folder containing it, docs/protocol.md#project-identity),
its path relative to that root, and the text the editor sees (the
open buffer, else the file on disk when it is small). `orion.chat`,
`orion.history` and `orion.codeAction` all go through here, so a URI means the
same project and the same text to each of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..agent.turn import Selection, TurnRequest
from ..positions import slice_range
from ..project import Project, ProjectSet, uri_to_path
from .arguments import Range
from .errors import InvalidArguments

if TYPE_CHECKING:
    from .editor_io import WorkspaceDocuments

# The active file is added as context only up to this size (read_file serves the rest).
MAX_ACTIVE_FILE_BYTES = 512 * 1024


@dataclass(frozen=True)
class Target:
    """What a command's `uri` points at (everything but `project` is None without one)."""

    project: Project
    active_file: str | None = None  # relative to the project root, POSIX separators
    text: str | None = None  # the open buffer, else the small file on disk


class TurnRequests:
    def __init__(self, projects: ProjectSet, documents: WorkspaceDocuments) -> None:
        self._projects = projects
        self._documents = documents

    @property
    def position_encoding(self) -> str:
        """How the client counts `character` in every range it sends (positions.py)."""
        return self._documents.position_encoding

    def project(self, uri: str | None) -> Project:
        """The project of `uri`, or the first workspace folder without one."""
        if uri is None:
            project = self._projects.first()
            if project is None:
                raise InvalidArguments("no workspace folder is open; open a folder or pass 'uri'")
            return project
        path = uri_to_path(uri)
        if path is None:
            raise InvalidArguments(f"'uri' must be a file: URI, got {uri[:80]!r}")
        project = self._projects.for_path(path)
        if project is None:
            raise InvalidArguments("'uri' is not inside an open workspace folder")
        return project

    def target(self, uri: str | None) -> Target:
        project = self.project(uri)
        path = uri_to_path(uri) if uri is not None else None
        if path is None:
            return Target(project)
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(project.root):
            return Target(project)  # a symlink out of the folder: no file context
        doc = self._documents.get(real)
        text = doc.text if doc is not None else _read_small(real)
        return Target(project, real.relative_to(project.root).as_posix(), text)

    def request(
        self,
        target: Target,
        prompt: str,
        *,
        source: str,
        selection: Range | None = None,
        task: str | None = None,
    ) -> TurnRequest:
        req = TurnRequest(project=target.project, prompt=prompt, source=source, task=task)
        req.active_file = target.active_file
        req.active_text = target.text
        if selection is not None and not selection.empty and target.text is not None:
            req.selection = Selection(
                selection.start_line,
                selection.start_character,
                selection.end_line,
                selection.end_character,
                slice_range(
                    target.text,
                    (selection.start_line, selection.start_character),
                    (selection.end_line, selection.end_character),
                    self.position_encoding,
                ),
            )
        return req


def _read_small(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_ACTIVE_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")
