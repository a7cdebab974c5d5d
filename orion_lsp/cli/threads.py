"""`orion threads`, `orion forget` and `orion rewind`: threads and checkpoints from a terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..checkpoints.disk import DiskRestoreTarget
from ..checkpoints.rewind import NotRewindable, RewindConflict
from ..conversations import threads_object
from ..services import Services
from ..storage import ThreadBusy, ThreadNotFound
from . import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_json


async def run(services: Services, args: Any) -> int:
    try:
        if args.command == "threads":
            return await cmd_threads(services, args)
        if args.command == "forget":
            return await cmd_forget(services, args)
        if args.command == "rewind":
            return await cmd_rewind(services, args)
    except (ThreadNotFound, NotRewindable) as exc:
        print(f"orion: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ThreadBusy, RewindConflict) as exc:
        print(f"orion: {exc}" if isinstance(exc, ThreadBusy) else str(exc), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_USAGE


async def cmd_threads(services: Services, args: Any) -> int:
    obj = await threads_object(services, args.project_id, args.limit)
    if args.json:
        print_json(obj)
        return EXIT_OK
    if not obj["threads"]:
        print(f"(no threads for {args.project_id})", file=sys.stderr)
    for t in obj["threads"]:
        turns = f"{t['turns']} turn{'s' if t['turns'] != 1 else ''}"
        print(f"{t['threadId']}  {t['updatedAt']}  {turns:>9}  {t['title']}")
    return EXIT_OK


async def cmd_forget(services: Services, args: Any) -> int:
    counts = await services.require_threads().delete(args.project_id, args.thread)
    print(
        f"forgot thread {args.thread}: {counts['turns']} turns, {counts['messages']} messages,"
        f" {counts['events']} trace events, {counts['checkpoints']} checkpoints,"
        f" {counts['scores']} scores",
        file=sys.stderr,
    )
    return EXIT_OK


async def cmd_rewind(services: Services, args: Any) -> int:
    root = Path(args.workspace)
    if not root.is_dir():
        print(f"orion: not a directory: {args.workspace}", file=sys.stderr)
        return EXIT_USAGE
    result = await services.rewinder().run(
        args.project_id,
        args.turn,
        DiskRestoreTarget(root),
        force=args.force,
        dry_run=args.dry_run,
    )
    if args.json:
        print_json(result)
        return EXIT_OK if result.get("dryRun") or result["rewoundTurns"] else EXIT_FAILED
    if result.get("dryRun"):
        for path in result["files"]:
            mark = " (changed since: a conflict)" if path in result["conflicts"] else ""
            print(f"would restore {path}{mark}")
        print(f"would rewind {len(result['rewoundTurns'])} turn(s)", file=sys.stderr)
        return EXIT_OK
    for r in result["restored"]:
        state = "restored" if r["applied"] else "NOT restored"
        print(f"{state} {r['path']}{': ' + r['note'] if r.get('note') else ''}")
    if not result["rewoundTurns"]:
        print("orion: some files were not restored; the turns are not rewound", file=sys.stderr)
        return EXIT_FAILED
    print(f"rewound {len(result['rewoundTurns'])} turn(s)", file=sys.stderr)
    return EXIT_OK
