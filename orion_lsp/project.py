"""Workspace folder -> project id (docs/protocol.md#project-identity).

The id must be the same for every editor and the CLI on the same folder, and
through any symlink to it, so history is shared: derive it from the real path.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Project:
    project_id: str
    root: Path  # absolute real path


def real_root(path: str | os.PathLike[str]) -> Path:
    return Path(os.path.realpath(os.path.abspath(os.fspath(path))))


def derive_project_id(root: str | os.PathLike[str]) -> str:
    real = real_root(root)
    configured = _configured_id(real)
    if configured:
        return configured
    digest = hashlib.sha256(str(real).encode("utf-8")).hexdigest()[:12]
    name = real.name or "root"
    return f"{name}-{digest}"


def _configured_id(real: Path) -> str | None:
    cfg = real / ".orion" / "config.toml"
    if not cfg.is_file():
        return None
    import tomllib  # only when a config exists: keeps start-up lean

    try:
        with cfg.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        # A broken config must not silently split history: say so, fall back.
        log.warning("ignoring %s: %s", cfg, exc)
        return None
    value = data.get("project_id")
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def project_for(root: str | os.PathLike[str]) -> Project:
    real = real_root(root)
    return Project(derive_project_id(real), real)


def uri_to_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


class ProjectSet:
    """The open workspace folders; a document belongs to the deepest one containing it."""

    def __init__(self, projects: list[Project] | None = None) -> None:
        self._projects: list[Project] = []
        for p in projects or []:
            self.add(p)

    def add(self, project: Project) -> None:
        if all(p.root != project.root for p in self._projects):
            self._projects.append(project)

    def remove_root(self, root: str | os.PathLike[str]) -> None:
        real = real_root(root)
        self._projects = [p for p in self._projects if p.root != real]

    @property
    def projects(self) -> list[Project]:
        return list(self._projects)

    def first(self) -> Project | None:
        return self._projects[0] if self._projects else None

    def for_path(self, path: str | os.PathLike[str]) -> Project | None:
        real = real_root(path)
        best: Project | None = None
        for p in self._projects:
            if real == p.root or real.is_relative_to(p.root):
                if best is None or len(p.root.parts) > len(best.root.parts):
                    best = p
        return best
