"""`orion eval` (evaluators over stored turns, `--report`) and `orion rate` (feedback)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..evals.config import EvalConfigError, load_eval_config
from ..evals.feedback import UnknownTurn, rate_turn
from ..evals.report import REPORT_COLUMNS, capability_report
from ..evals.runner import UnknownEvaluator, select
from ..project import real_root
from ..services import Services
from . import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_json

ALL_TURNS = 1_000_000_000


async def cmd_rate(services: Services, args: Any) -> int:
    assert services.scores is not None
    try:
        score = await rate_turn(
            services.require_db(),
            services.scores,
            args.turn,
            args.rating,
            args.comment,
            project_id=args.project_id,
        )
    except UnknownTurn as exc:
        print(f"orion: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"turn {score.turn_id}: rated {score.label}", file=sys.stderr)
    return EXIT_OK


async def cmd_eval(services: Services, args: Any) -> int:
    if args.report:
        return await _report(services, args)
    try:
        evaluators = select(args.evaluator)
    except UnknownEvaluator as exc:
        print(f"orion: {exc}", file=sys.stderr)
        return EXIT_USAGE
    root = Path(args.workspace)
    if not root.is_dir():
        print(f"orion: not a directory: {args.workspace}", file=sys.stderr)
        return EXIT_USAGE
    try:
        # The test command comes from this workspace's own config file only.
        config = load_eval_config(real_root(root))
    except EvalConfigError as exc:
        print(f"orion: {exc}", file=sys.stderr)
        return EXIT_USAGE
    assert services.traces is not None
    if args.turn:
        turns = [args.turn]
        if not await services.traces.events(args.project_id, args.turn):
            print(f"orion: no turn {args.turn} in project {args.project_id}", file=sys.stderr)
            return EXIT_FAILED
    else:
        limit = ALL_TURNS if args.all else 1
        turns = list(reversed(await services.traces.turn_ids(args.project_id, limit)))
    if not turns:
        print(f"orion: no turns for project {args.project_id}", file=sys.stderr)
        return EXIT_FAILED
    results = await services.evaluations().evaluate(
        args.project_id, turns, evaluators, root=real_root(root), config=config
    )
    if args.json:
        print_json(
            {
                "projectId": args.project_id,
                "turns": [
                    {
                        "turnId": r.turn_id,
                        "scores": [s.to_wire() for s in r.scores],
                        "notes": r.notes,
                    }
                    for r in results
                ],
            }
        )
        return EXIT_OK
    for r in results:
        print(f"turn {r.turn_id}")
        for s in r.scores:
            value = "" if s.value is None else f"{s.value:g}"
            why = _short(s.explanation or "")
            print(f"  {s.name:<15} {value:>6} {s.label or '':<7} {s.source:<5} {why}")
        for note in r.notes:
            print(f"  ({note})")
    return EXIT_OK


async def _report(services: Services, args: Any) -> int:
    rows = await capability_report(services.require_db(), args.project_id)
    if args.json:
        print_json({"projectId": args.project_id, "models": rows})
        return EXIT_OK
    if not rows:
        print(f"orion: no turns for project {args.project_id}", file=sys.stderr)
        return EXIT_FAILED
    table = [[title for _key, title in REPORT_COLUMNS]]
    for row in rows:
        table.append([_cell(row[key]) for key, _title in REPORT_COLUMNS])
    widths = [max(len(r[i]) for r in table) for i in range(len(REPORT_COLUMNS))]
    for r in table:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                        enumerate(zip(r, widths, strict=True))).rstrip())  # fmt: skip
    return EXIT_OK


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):  # labels: good/bad/unlabeled
        return "/".join(str(value.get(k, 0)) for k in ("good", "bad", "unlabeled"))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _short(text: str, n: int = 70) -> str:
    text = text.replace("\n", " ").strip()
    return text if len(text) <= n else text[: n - 3] + "..."
