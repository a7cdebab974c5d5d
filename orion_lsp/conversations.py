"""The objects `orion.threads` and `orion.history` return (docs/protocol.md#threads).

Built here once for both front ends, so `orion threads --json` and
`orion history --json` print exactly what the editor gets.
"""

from __future__ import annotations

from typing import Any

from .services import Services


async def threads_object(services: Services, project_id: str, limit: int) -> dict[str, Any]:
    threads = await services.require_threads().list(project_id, limit)
    return {"projectId": project_id, "threads": [t.to_wire() for t in threads]}


async def history_object(
    services: Services,
    project_id: str,
    thread_id: str | None,
    limit: int,
    include_rewound: bool = False,
) -> dict[str, Any]:
    """A thread's last `limit` messages, oldest first (default: the latest thread).

    Each assistant message of a turn that changed files names them in
    `changedFiles` (what a rewind of that turn would restore, at least).
    Raises ThreadNotFound for an unknown or another project's thread.
    """
    store = services.require_threads()
    if thread_id is not None:
        await store.get(project_id, thread_id)
    else:
        latest = await store.latest(project_id)
        thread_id = latest.id if latest is not None else None
    if thread_id is None:
        return {"projectId": project_id, "threadId": None, "messages": []}
    assert services.history is not None and services.checkpoints is not None
    messages = await services.history.thread(thread_id, limit, include_rewound=include_rewound)
    changed = await services.checkpoints.changed_paths(
        list(dict.fromkeys(m.turn_id for m in messages))
    )
    wire = []
    for m in messages:
        item = m.to_wire()
        if m.role == "assistant" and m.turn_id in changed:
            item["changedFiles"] = changed[m.turn_id]
        wire.append(item)
    return {"projectId": project_id, "threadId": thread_id, "messages": wire}
