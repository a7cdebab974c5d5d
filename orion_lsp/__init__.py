"""orion-lsp: a coding agent that lives in the editor and remembers."""

__version__ = "0.1.0"
