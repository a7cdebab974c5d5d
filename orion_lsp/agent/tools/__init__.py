"""The tools the model may call, confined to the project root.

``default_tools`` builds them, ``tool_specs`` describes them to the model and
``run_tool`` runs one call safely. See ``paths`` for workspace confinement.

The names below load on first use (PEP 562): importing ``tools.base`` (the
seam the server needs at start-up) must not import every tool.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DiskEditApplier": "disk_applier",
    "PathMissing": "paths",
    "PathRefused": "paths",
    "resolve_in_workspace": "paths",
    "default_tools": "registry",
    "run_tool": "registry",
    "tool_specs": "registry",
    "validate_arguments": "registry",
    "SymbolProvider": "symbols",
    "regex_symbols": "symbols",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
