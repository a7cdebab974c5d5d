"""`python -m orion_lsp.cli ...`: the `orion` command."""

from orion_lsp.cli import main

raise SystemExit(main())
