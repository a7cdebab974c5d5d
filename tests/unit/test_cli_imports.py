"""`orion` verbs that do not need the agent never import litellm or tree-sitter.

Checked from outside, as a user runs them: each verb runs in a subprocess
under `-X importtime`, whose stderr names every module imported. Not a
timing test: the property is which modules load, whatever the machine load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orion_lsp.cli import build_parser
from orion_lsp.cli.verbs import VERBS

MODEL_PACKAGES = {"litellm", "openai", "tiktoken", "tokenizers"}
GRAMMAR_PACKAGES = {"tree_sitter", "tree_sitter_python"}


def parser_verbs() -> set[str]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("the orion parser has no subcommands")


def imported(argv: list[str], env: dict[str, str]) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "orion_lsp.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return proc.returncode, modules


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def argv_for(verb: str, tmp: Path) -> list[str]:
    if verb in ("project-id", "repomap"):
        return [verb, str(tmp)]
    if verb == "rate":
        return [verb, "--project-id", "p-imports", "--turn", "no-such-turn", "up"]
    if verb == "replay":
        return [verb, "--project-id", "p-imports", "--turn", "no-such-turn", "--model", "openai/x"]
    if verb == "forget":
        return [verb, "--project-id", "p-imports", "--thread", "no-such-thread"]
    if verb == "rewind":
        return [
            verb,
            "--project-id",
            "p-imports",
            "--turn",
            "no-such-turn",
            "--workspace",
            str(tmp),
        ]
    if verb == "export":
        return [verb, "sft", "--project-id", "p-imports", "--out", str(tmp / "export")]
    return [verb, "--project-id", "p-imports"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    out["ORION_DB"] = str(tmp_path / "db" / "orion.db")
    return out


def test_every_verb_declares_what_it_needs() -> None:
    assert parser_verbs() <= set(VERBS), parser_verbs() - set(VERBS)


@pytest.mark.parametrize("verb", sorted(v for v, d in VERBS.items() if not d.needs_agent))
def test_a_verb_without_the_agent_imports_neither_litellm_nor_tree_sitter(
    verb: str, tmp_path: Path, env: dict[str, str]
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def main():\n    return 'héllo 🌍'\n", encoding="utf-8")
    code, modules = imported(argv_for(verb, ws), env)
    # 1: `traces` with no turn yet; 2: `rate` of an unknown turn (after opening
    # the database: checked below).
    assert code in (0, 1, 2), f"{verb} exited {code}"
    assert "orion_lsp.cli" in modules  # the importtime lines were read
    found = top_level(modules)
    assert not found & MODEL_PACKAGES, sorted(found & MODEL_PACKAGES)
    if VERBS[verb].needs_grammars:
        # The repo map parses with tree-sitter: proof this check sees such imports.
        assert "tree_sitter" in found
    else:
        assert not found & GRAMMAR_PACKAGES, sorted(found & GRAMMAR_PACKAGES)
    if VERBS[verb].needs_db:
        assert (tmp_path / "db" / "orion.db").exists()
