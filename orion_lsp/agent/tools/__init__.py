"""The tools the model may call, confined to the project root.

``default_tools`` builds them, ``tool_specs`` describes them to the model and
``run_tool`` runs one call safely. See ``paths`` for workspace confinement.
"""

from __future__ import annotations

from .disk_applier import DiskEditApplier
from .paths import PathMissing, PathRefused, resolve_in_workspace
from .registry import default_tools, run_tool, tool_specs, validate_arguments
from .symbols import SymbolProvider, regex_symbols

__all__ = [
    "DiskEditApplier",
    "PathMissing",
    "PathRefused",
    "SymbolProvider",
    "default_tools",
    "regex_symbols",
    "resolve_in_workspace",
    "run_tool",
    "tool_specs",
    "validate_arguments",
]
