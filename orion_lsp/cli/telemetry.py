"""`orion traces export --otlp`: send stored turns to the OTLP collector again
(turns made before the endpoint was set, or while the collector was down)."""

from __future__ import annotations

import sys
from typing import Any

from ..services import Services
from . import EXIT_FAILED, EXIT_OK, EXIT_USAGE

ALL_TURNS = 1_000_000


async def cmd_traces_export(services: Services, args: Any) -> int:
    if not args.otlp:
        print("orion: traces export needs a target: --otlp", file=sys.stderr)
        return EXIT_USAGE
    telemetry = services.telemetry
    if telemetry is None:
        print(
            "orion: no OTLP endpoint: set OTEL_EXPORTER_OTLP_ENDPOINT (or "
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or the otlpEndpoint setting)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    assert services.traces is not None
    if args.turn:
        turns = [args.turn]
    elif args.all:
        turns = list(reversed(await services.traces.turn_ids(args.project_id, ALL_TURNS)))
    else:
        last = await services.traces.last_turn_id(args.project_id)
        turns = [last] if last else []
    if not turns:
        print(f"orion: no turns for project {args.project_id}", file=sys.stderr)
        return EXIT_FAILED
    queued = 0
    for turn_id in turns:
        if await telemetry.export_turn(args.project_id, turn_id):
            queued += 1
        elif telemetry.error:
            print(f"orion: {telemetry.error}", file=sys.stderr)
            return EXIT_FAILED
        else:
            print(f"orion: no events for turn {turn_id}", file=sys.stderr)
    await telemetry.flush(timeout_s=30)
    status = telemetry.status()
    print(
        f"exported {status['exported']} of {len(turns)} turn(s) to {status['endpoint']}"
        + (f"; {status['failed']} failed" if status["failed"] else ""),
        file=sys.stderr,
    )
    return EXIT_OK if status["failed"] == 0 and queued == len(turns) else EXIT_FAILED
