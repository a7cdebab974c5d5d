"""`python -m orion_lsp`: the language server, same as `orion-lsp`."""

from orion_lsp.cli import lsp_main

raise SystemExit(lsp_main())
