"""User feedback on a turn: score `user_rating` (`orion.feedback`, `orion rate`).

A rating is label `up` or `down`, value 1 or 0, source `human`, the comment
as explanation. The score key has no source id, so a second rating of the
same turn replaces the first. A turn that is not in the ledger (or not in
the given project) is refused: a rating must point at a real datapoint.
"""

from __future__ import annotations

from ..storage import Database, Score, ScoreStore

USER_RATING = "user_rating"
RATINGS = {"up": 1.0, "down": 0.0}
MAX_COMMENT_CHARS = 4000


class UnknownTurn(ValueError):
    pass


async def turn_project(db: Database, turn_id: str) -> str | None:
    row = await db.fetchone(
        "SELECT project_id FROM trace_events WHERE turn_id = ? AND type = 'turn_start' LIMIT 1",
        (turn_id,),
    )
    return None if row is None else str(row[0])


async def rate_turn(
    db: Database,
    scores: ScoreStore,
    turn_id: str,
    rating: str,
    comment: str | None = None,
    *,
    project_id: str | None = None,
) -> Score:
    if rating not in RATINGS:
        raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
    owner = await turn_project(db, turn_id)
    if owner is None or (project_id is not None and owner != project_id):
        where = f" in project {project_id}" if project_id else ""
        raise UnknownTurn(f"unknown turn {turn_id[:64]!r}{where}")
    text = (comment or "").strip()[:MAX_COMMENT_CHARS] or None
    score = Score(
        owner, turn_id, USER_RATING, "human", value=RATINGS[rating], label=rating, explanation=text
    )
    await scores.put(score)
    return score
