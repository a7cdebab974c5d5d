"""`orion.feedback` against the real server: a rating is one `user_rating` row per
turn (a second one replaces it), an unknown turn is -32602."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcException

from orion_lsp.testing import ScriptedModelServer, ScriptedReply

from .harness import Session, rows


async def test_feedback_replaces_the_rating_of_a_turn(
    session: Session, model: ScriptedModelServer
) -> None:
    model.push(ScriptedReply(text="Voilà 🚀"))
    turn = (await session.chat("Bonjour?"))["turnId"]
    up = await session.command("orion.feedback", {"turnId": turn, "rating": "up"})
    assert up == {"turnId": turn, "rating": "up"}
    down = await session.command(
        "orion.feedback", {"turnId": turn, "rating": "down", "comment": "pas ça\r\n𝔁"}
    )
    assert down["rating"] == "down"
    assert rows(
        session.db,
        "SELECT turn_id, step, value, label, source, source_id, explanation FROM scores"
        " WHERE name = 'user_rating'",
    ) == [(turn, 0, 0.0, "down", "human", "", "pas ça\r\n𝔁")]


BAD_ARGUMENTS = [
    {"turnId": "no-such-turn", "rating": "up"},
    {"turnId": "x", "rating": "meh"},
    {"rating": "up"},
    {"turnId": "x", "rating": "up", "comment": 5},
]


async def test_feedback_refuses_unknown_turns_and_bad_arguments(session: Session) -> None:
    for arguments in BAD_ARGUMENTS:
        with pytest.raises(JsonRpcException) as exc:
            await session.command("orion.feedback", arguments)
        assert exc.value.code == -32602, arguments
    assert rows(session.db, "SELECT count(*) FROM scores") == [(0,)]
