"""The files a turn changed, before and after it, from its checkpoints.

A checkpoint row holds a file as the turn first saw it (`before_hash`, NULL
when the turn created it) and as the turn left it (`after_hash`, NULL while
no change was applied). Both texts live in the blob store. Only files with
an applied change count: a refused edit changed nothing.
"""

from __future__ import annotations

from ..storage import Database, StorageError
from ..storage.blobs import read_text
from .tests_eval import TurnFiles


async def turn_files(db: Database, turn_id: str) -> TurnFiles:
    rows = await db.fetchall(
        "SELECT path, before_hash, after_hash FROM checkpoints"
        " WHERE turn_id = ? AND after_hash IS NOT NULL ORDER BY id",
        (turn_id,),
    )
    before: dict[str, str | None] = {}
    after: dict[str, str | None] = {}
    for path, before_hash, after_hash in rows:
        before[path] = None if before_hash is None else await _text(db, before_hash)
        after[path] = await _text(db, after_hash)
    return TurnFiles(before, after)


async def _text(db: Database, digest: str) -> str:
    try:
        text = await read_text(db.fetchall, digest)
    except LookupError as exc:
        raise StorageError(str(db.path), f"checkpoint blob: {exc}") from None
    if text is None:
        raise StorageError(str(db.path), f"checkpoint blob {digest[:12]} is missing")
    return text
