"""The package's layers import only downwards (docs/architecture.md#layers).

Every `import` and `from ... import` in `orion_lsp/` counts, also the ones
inside functions and under `TYPE_CHECKING`: a lazy import is still a
dependency. A wrong import fails here with the module, the line and the rule.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "orion_lsp"

# Modules directly in the package are base modules (config, project, redact,
# logs, positions, ...): what every layer may use; they import only each other.
# These are not: the composition root, what the front ends build on it, and
# the package's own files.
NOT_BASE = {"__init__", "__main__", "services", "conversations"}
# Services the turn uses or that run beside it; each may use the ledger and the
# agent's seams, and none knows the others. (checkpoints/, evals/ and
# telemetry/ arrive with wave 2; a row for a package not there yet is inert.)
SERVICE_LAYERS = {"context", "checkpoints", "evals", "telemetry"}
FRONT_ENDS = {"server", "acp"}


def allowed_imports(package: Path) -> dict[str, set[str]]:
    """Layer -> the layers it may import (besides itself and the bare `orion_lsp`
    package, whose `__version__` anyone may read). Keep in step with the table
    in docs/architecture.md#who-may-import-whom."""
    base = {p.stem for p in package.glob("*.py")} - NOT_BASE
    # datasets/ builds on the evaluators' labels (evals/), so it sits above them.
    below_front_ends = base | {"storage", "agent"} | SERVICE_LAYERS | {"datasets", "services"}
    return {
        "": base,  # orion_lsp/__init__.py
        **{name: base for name in base},
        "storage": base,
        "agent": base | {"storage"},
        **{name: base | {"storage", "agent"} for name in SERVICE_LAYERS},
        "datasets": base | {"storage", "agent"} | SERVICE_LAYERS,
        # The composition root wires the layers below it together.
        "services": base | {"storage", "agent"} | SERVICE_LAYERS,
        # What every front end returns for the same question (history, threads).
        "conversations": below_front_ends,
        **{name: below_front_ends | {"conversations"} for name in FRONT_ENDS},
        # `orion-lsp` and `orion acp` are entry points of cli/, so cli starts them.
        "cli": below_front_ends | {"conversations"} | FRONT_ENDS,
        # Fakes of the seams, for tests; nothing in the package imports them.
        "testing": base | {"storage", "agent", "checkpoints"},
        "__main__": {"cli"},
    }


def layer_of(module: str) -> str:
    """`orion_lsp.agent.tools.edit` -> `agent`; `orion_lsp` -> `` (the bare package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _submodule_or_self(module: str, name: str) -> str:
    parts = module.split(".")[1:] + [name]
    where = PACKAGE.joinpath(*parts)
    is_module = where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()
    return f"{module}.{name}" if is_module else module


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every orion_lsp import in the file."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            # `from . import x`: x may be a module of that package, or a name in it.
            found += [(node.lineno, _submodule_or_self(name, a.name)) for a in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "orion_lsp"]


def violations() -> list[str]:
    allowed = allowed_imports(PACKAGE)
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = layer_of(module_name(path))
        rel = path.relative_to(PACKAGE.parent)
        if source not in allowed:
            out.append(f"{rel}: package {source!r} has no place in the layer table")
            continue
        for line, target in imported_modules(path):
            dest = layer_of(target)
            if dest not in ("", source) and dest not in allowed[source]:
                out.append(f"{rel}:{line}: {source} may not import {target} ({dest})")
    return out


def test_layers_import_only_downwards() -> None:
    assert violations() == []


def test_nothing_in_the_package_imports_the_test_fakes() -> None:
    users = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in PACKAGE.rglob("*.py")
        if layer_of(module_name(path)) != "testing"
        for line, target in imported_modules(path)
        if layer_of(target) == "testing"
    ]
    assert users == []


@pytest.mark.parametrize(
    ("source", "text", "bad"),
    [
        ("storage/x.py", "from ..agent.turn import TurnRequest\n", "orion_lsp.agent.turn"),
        ("agent/x.py", "def f():\n    from orion_lsp.server import errors\n", "orion_lsp.server"),
        (
            "agent/tools/x.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ...context import rank\n",
            "orion_lsp.context",
        ),
        ("server/x.py", "import orion_lsp.cli.commands\n", "orion_lsp.cli.commands"),
        ("config.py", "from .storage import Database\n", "orion_lsp.storage"),
        ("newbase.py", "from .services import open_services\n", "orion_lsp.services"),
    ],
)
def test_a_wrong_import_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, text: str, bad: str
) -> None:
    # The checker itself can fail: a package holding just one wrong import.
    fake = tmp_path / "orion_lsp" / source
    fake.parent.mkdir(parents=True)
    fake.write_text(text, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "orion_lsp")
    found = violations()
    assert len(found) == 1 and bad in found[0], found
