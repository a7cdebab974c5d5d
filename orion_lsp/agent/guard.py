"""Sensitive paths: files an edit must never change without the user saying yes.

Some files are not code but configuration that *runs* code or grants trust:
editor settings and tasks (`.vscode/`, `.nvim.lua`, `.nvimrc`, `.exrc`),
git internals and hooks (`.git/`), CI workflows (`.github/workflows/`),
Orion's own config (`.orion/`, which names the project and so its history),
environment files (`.env*`, direnv's `.envrc`) and shell start-up files. A
model steered by text it read (prompt injection) would aim exactly there, so
edits to them are never applied silently:

- in the editor, `LspEditApplier` asks first (a `needsConfirmation` change
  annotation, or `window/showMessageRequest` Allow/Deny);
- in the terminal, `DiskEditApplier` refuses them unless the user opted in
  with `ORION_ALLOW_SENSITIVE_EDITS=1`.

Anything outside the workspace is sensitive too (the path tools refuse it
before an edit is ever computed; this is the second lock).

Matching is on the path relative to the project root, after symlinks are
resolved (the tools hand over the real path), component by component and
case-insensitively, so `.Git/config` on a case-insensitive filesystem and
`sub/.git/hooks/x` in a nested repository are both caught.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import PurePosixPath

ALLOW_ENV = "ORION_ALLOW_SENSITIVE_EDITS"

# Any path component equal to one of these makes the path sensitive.
_DIRS: dict[str, str] = {
    ".git": "git internals and hooks run code",
    ".vscode": "VS Code settings and tasks can run code",
    ".orion": "Orion's own configuration",
}

# File names (last component), anywhere in the tree.
_FILES: dict[str, str] = {
    ".nvim.lua": "Neovim runs it as a local config (exrc)",
    ".nvimrc": "Neovim runs it as a local config (exrc)",
    ".exrc": "Vim/Neovim run it as a local config",
    ".gitmodules": "git configuration",
    ".bashrc": "a shell start-up file",
    ".bash_profile": "a shell start-up file",
    ".bash_login": "a shell start-up file",
    ".bash_logout": "a shell start-up file",
    ".profile": "a shell start-up file",
    ".zshrc": "a shell start-up file",
    ".zshenv": "a shell start-up file",
    ".zprofile": "a shell start-up file",
    ".zlogin": "a shell start-up file",
    ".zlogout": "a shell start-up file",
    ".kshrc": "a shell start-up file",
    ".cshrc": "a shell start-up file",
    ".tcshrc": "a shell start-up file",
    ".login": "a shell start-up file",
    ".logout": "a shell start-up file",
    "config.fish": "a shell start-up file",
}

_TRUE = frozenset({"1", "true", "yes", "on"})


class EditRefused(Exception):
    """An applier refuses an edit for a reason the model should read.

    `edit_file`/`create_file` turn it into a tool error with this text, so the
    model learns *why* (denied by the user, sensitive path, buffer changed)
    instead of a bare "not applied".
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sensitive_reason(rel_path: str) -> str | None:
    """Why the POSIX path `rel_path` (relative to the root) is sensitive, or None."""
    if rel_path == "" or os.path.isabs(rel_path) or rel_path.startswith("/"):
        return "it is outside the workspace"
    parts = [p for p in PurePosixPath(rel_path).parts if p not in ("", ".")]
    if not parts or parts[0] == ".." or ".." in parts:
        return "it is outside the workspace"
    lowered = [p.lower() for p in parts]
    for part in lowered[:-1]:
        if part in _DIRS:
            return f"{part}/ is protected: {_DIRS[part]}"
    name = lowered[-1]
    if name in _DIRS:  # the folder itself (or a file named like it, e.g. a .git file)
        return f"{name} is protected: {_DIRS[name]}"
    for i in range(len(lowered) - 2):
        if lowered[i] == ".github" and lowered[i + 1] == "workflows":
            return ".github/workflows/ is protected: CI workflows run code with repository secrets"
    if name in _FILES:
        return f"{name} is protected: {_FILES[name]}"
    if name.startswith(".env"):
        return f"{name} is protected: environment files hold secrets or run code (direnv)"
    return None


def allow_sensitive_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """The terminal's opt-in: `ORION_ALLOW_SENSITIVE_EDITS=1` (or true/yes/on)."""
    env = os.environ if environ is None else environ
    return env.get(ALLOW_ENV, "").strip().lower() in _TRUE
