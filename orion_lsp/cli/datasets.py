"""`orion export` and `orion replay`: the ledger as training data and as a benchmark."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..agent.model import ModelError
from ..datasets.export import ExportOptions, ExportRefused, export_dataset
from ..datasets.replay import ReplayError, replay
from ..project import real_root
from ..services import Services
from . import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_json

MAX_SAMPLES = 50


async def cmd_export(services: Services, args: Any) -> int:
    assert services.traces is not None and services.scores is not None
    opts = ExportOptions(
        kind=args.kind,
        fmt=args.format,
        out=Path(args.out),
        include_unlabeled=args.include_unlabeled,
        exclude=list(args.exclude),
    )
    try:
        manifest = await export_dataset(
            services.traces, services.scores, args.project_id, opts, services.redactor
        )
    except ExportRefused as exc:
        print(f"orion: export refused: {exc}", file=sys.stderr)
        return EXIT_FAILED
    labels = manifest["labels"]
    print(
        f"{manifest['rows']} {args.kind} rows from {len(manifest['turns'])} turns -> "
        f"{opts.out / 'data.jsonl'} (turns: {labels['good']} good, {labels['bad']} bad, "
        f"{labels['unlabeled']} unlabeled; policy {manifest['policy']})",
        file=sys.stderr,
    )
    return EXIT_OK


async def cmd_replay(services: Services, args: Any) -> int:
    assert services.traces is not None and services.scores is not None
    if not 1 <= args.samples <= MAX_SAMPLES:
        print(f"orion: --samples must be between 1 and {MAX_SAMPLES}", file=sys.stderr)
        return EXIT_USAGE
    root = Path(args.workspace)
    if not root.is_dir():
        print(f"orion: not a directory: {args.workspace}", file=sys.stderr)
        return EXIT_USAGE
    settings = services.settings
    try:
        result = await replay(
            services.traces,
            services.scores,
            services.redactor,
            project_id=args.project_id,
            turn_id=args.turn,
            step=args.step,
            model=args.model,
            api_base=args.api_base,
            api_key=settings.api_key,
            samples=args.samples,
            temperature=args.temperature,
            root=real_root(root),
            timeout_s=float(settings.turn_timeout_s),
        )
    except ReplayError as exc:
        print(f"orion: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ModelError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print_json(result)
    else:
        _print_side_by_side(result)
    failed = [s for s in result["samples"] if s["status"] != "completed"]
    return EXIT_FAILED if failed else EXIT_OK


def _print_side_by_side(result: dict[str, Any]) -> None:
    o = result["original"]
    rows = [("original", o["model"], o["label"], o["scores"], o["text"], o["toolCalls"])]
    for i, s in enumerate(result["samples"], start=1):
        rows.append((f"sample {i}", s["model"], s["label"], s["scores"], s["text"], s["toolCalls"]))
    print(f"replay of turn {o['turnId']} step {o['step']} ({result['projectId']})")
    print(f"{'':10} {'model':28} {'label':10} scores")
    for name, model, label, scores, _text, _calls in rows:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(scores.items()))
        print(f"{name:10} {model[:28]:28} {label:10} {shown}")
    for name, _model, _label, _scores, text, calls in rows:
        print(f"\n--- {name}")
        print(text.rstrip() or "(no text)")
        for c in calls:
            fn = c.get("function") or c
            print(f"  [tool call] {fn.get('name')} {fn.get('arguments')}")
