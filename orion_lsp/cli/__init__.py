"""Entry points: `orion-lsp` (the server) and `orion` (chat, history, traces, ...).

The `orion` commands use the same composition root, orchestrator and
database as the editor, so a terminal can continue an editor's conversation.
Exit codes (docs/protocol.md#exit-codes): 0 ok, 1 the turn or check failed,
2 usage, 3 storage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..logs import setup_logging
from .verbs import ModelWarmup, verb_of

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORAGE = 0, 1, 2, 3

log = logging.getLogger("orion_lsp.cli")


# -- orion-lsp -------------------------------------------------------------------------


def lsp_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orion-lsp", description="The Orion language server.")
    parser.add_argument("--stdio", action="store_true", help="use stdio (the default)")
    parser.add_argument("--tcp", action="store_true", help="listen on a TCP socket")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2087)
    parser.add_argument("--log-file", help="write the server log to this file")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument("--version", action="version", version=f"orion-lsp {__version__}")
    args = parser.parse_args(argv)
    setup_logging(args.log_file, args.log_level)
    from ..server.server import create_language_server

    server = create_language_server()
    if args.tcp:
        server.start_tcp(args.host, args.port)
    else:
        # Our own stdio loop: capped message size, answers to malformed requests,
        # exit at once when stdin closes (orion_lsp/server/stdio.py says why).
        from ..server.stdio import exit_now, serve_stdio

        exit_now(serve_stdio(server))
    return 0


# -- orion -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orion", description="Orion from the terminal.")
    parser.add_argument("--version", action="version", version=f"orion {__version__}")
    parser.add_argument(
        "--log-file", help="write the log to this file (default: stderr, warnings only)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", help="one turn (PROMPT given) or an interactive session")
    # Not required by argparse: without it, main() prints the command that works.
    chat.add_argument("--project-id")
    chat.add_argument("--workspace", default=".", help="project root (default: cwd)")
    which = chat.add_mutually_exclusive_group()
    which.add_argument("--thread", help="continue this thread (default: the latest one)")
    which.add_argument("--new", action="store_true", help="start a new thread")
    chat.add_argument("prompt", nargs="?")

    hist = sub.add_parser("history", help="the last messages of a thread, oldest first")
    hist.add_argument("--project-id", required=True)
    hist.add_argument("--thread", help="this thread (default: the most recently updated)")
    hist.add_argument("--limit", type=int, default=20)
    hist.add_argument("--include-rewound", action="store_true", help="also rewound turns")
    hist.add_argument("--json", action="store_true")

    th = sub.add_parser("threads", help="the threads of a project, most recently updated first")
    th.add_argument("--project-id", required=True)
    th.add_argument("--limit", type=int, default=50)
    th.add_argument("--json", action="store_true")

    fg = sub.add_parser("forget", help="delete a thread: its messages, traces and checkpoints")
    fg.add_argument("--project-id", required=True)
    fg.add_argument("--thread", required=True)

    rw = sub.add_parser(
        "rewind", help="files and conversation back to before a turn (and its thread's later turns)"
    )
    rw.add_argument("--project-id", required=True)
    rw.add_argument("--turn", required=True)
    rw.add_argument("--workspace", default=".", help="project root (default: cwd)")
    rw.add_argument("--force", action="store_true", help="restore files changed since, too")
    rw.add_argument("--dry-run", action="store_true", help="only say what would be restored")
    rw.add_argument("--json", action="store_true")

    tr = sub.add_parser(
        "traces",
        help="the trace events of the last turn or of one turn; `traces export --otlp` re-sends",
    )
    tr.add_argument("action", nargs="?", choices=["export"], help="export: send turns over OTLP")
    tr.add_argument("--project-id", required=True)
    tr.add_argument("--turn")
    tr.add_argument("--json", action="store_true")
    tr.add_argument("--otlp", action="store_true", help="with export: to the OTLP endpoint")
    tr.add_argument("--all", action="store_true", help="with export: every turn of the project")

    ev = sub.add_parser("eval", help="run evaluators over stored turns and print their scores")
    ev.add_argument("--project-id", required=True)
    ev.add_argument("--workspace", default=".", help="project root (default: cwd)")
    which = ev.add_mutually_exclusive_group()
    which.add_argument("--turn", help="one turn (default: the last one)")
    which.add_argument("--all", action="store_true", help="every turn of the project")
    which.add_argument("--report", action="store_true", help="per-model capability profile")
    ev.add_argument("--evaluator", action="append", metavar="NAME", help="only these (repeat)")
    ev.add_argument("--json", action="store_true")

    rate = sub.add_parser("rate", help="rate a turn up or down (score user_rating)")
    rate.add_argument("--project-id", required=True)
    rate.add_argument("--turn", required=True)
    rate.add_argument("rating", choices=["up", "down"])
    rate.add_argument("--comment")

    ex = sub.add_parser(
        "export", help="a training dataset (SFT, DPO, KTO) from the project's turns"
    )
    ex.add_argument("kind", choices=["sft", "dpo", "kto"])
    ex.add_argument("--project-id", required=True)
    ex.add_argument(
        "--out", required=True, help="directory for data.jsonl, manifest.json, README.md"
    )
    ex.add_argument("--format", default="trl", choices=["trl", "openai"])
    ex.add_argument("--include-unlabeled", action="store_true", help="sft: unlabeled turns too")
    ex.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                    help="drop rows whose tools touched a matching path (repeatable)")  # fmt: skip

    rp = sub.add_parser("replay", help="send a stored request again to another model, K times")
    rp.add_argument("--project-id", required=True)
    rp.add_argument("--turn", required=True)
    rp.add_argument("--step", type=int, help="model call of the turn (default: its last)")
    rp.add_argument("--model", required=True, help="litellm model string")
    rp.add_argument("--api-base")
    rp.add_argument("--samples", type=int, default=1)
    rp.add_argument("--temperature", type=float)
    rp.add_argument("--workspace", default=".", help="project root, to check cited paths")
    rp.add_argument("--json", action="store_true")

    pid = sub.add_parser("project-id", help="the project id the server derives for DIR")
    pid.add_argument("dir", nargs="?", default=".")

    rm = sub.add_parser("repomap", help="the ranked repo map the model would get", add_help=False)
    rm.add_argument("rest", nargs=argparse.REMAINDER)

    sub.add_parser("doctor", help="check database, model and tree-sitter languages")
    sub.add_parser("acp", help="serve the Agent Client Protocol on stdio (Zed, JetBrains, ...)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "repomap":
        # The repo map has its own parser (orion_lsp.context.cli).
        setup_logging(None, "WARNING")
        from ..context.cli import repomap_main

        return repomap_main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and EXIT_USAGE
    setup_logging(args.log_file, "INFO" if args.log_file else "WARNING")
    if args.command == "project-id":
        return cmd_project_id(args)
    if args.command == "chat" and not args.project_id:
        print(chat_without_project_id(argv, args.workspace), file=sys.stderr)
        return EXIT_USAGE
    if args.command == "acp":
        from ..acp.main import run_acp

        return run_acp()
    if args.command in ("history", "threads") and args.limit < 1:
        print("orion: --limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    verb = verb_of(args.command)
    # The model client's import (seconds) runs while the database, the repo
    # map and the history load (orion_lsp/cli/verbs.py).
    warmup = ModelWarmup().start() if verb.needs_agent else None
    import asyncio

    from .commands import run_command

    try:
        return asyncio.run(run_command(args, verb, warmup))
    except KeyboardInterrupt:
        return EXIT_FAILED
    finally:
        if warmup is not None:
            warmup.join()


def cmd_project_id(args: Any) -> int:
    from ..project import derive_project_id

    path = Path(args.dir)
    if not path.is_dir():
        print(f"orion: not a directory: {args.dir}", file=sys.stderr)
        return EXIT_USAGE
    print(derive_project_id(path))
    return EXIT_OK


def chat_without_project_id(argv: list[str], workspace: str) -> str:
    """The error for `orion chat` without --project-id: the same command, made to work."""
    import shlex

    at = argv.index("chat") + 1
    derive = f'"$(orion project-id {shlex.quote(workspace)})"'
    fixed = ["orion", *map(shlex.quote, argv[:at]), "--project-id", derive]
    fixed += map(shlex.quote, argv[at:])
    where = "this folder" if workspace == "." else workspace
    return (
        "orion: chat needs --project-id (which project's conversation to continue). "
        f"For {where}, as the editor has it:\n  " + " ".join(fixed)
    )


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
