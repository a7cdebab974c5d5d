"""Typed, validated arguments of the `orion.*` commands.

Commands take one JSON object with camelCase keys (docs/protocol.md#commands).
Anything else is a -32602 with a message that says what was wrong; unknown
keys are ignored so newer clients keep working with older servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import InvalidArguments

MAX_PROMPT_CHARS = 200_000


@dataclass(frozen=True)
class Range:
    start_line: int
    start_character: int
    end_line: int
    end_character: int

    @property
    def empty(self) -> bool:
        return (self.start_line, self.start_character) == (self.end_line, self.end_character)


@dataclass(frozen=True)
class ThreadKeys:
    """Which thread a turn goes to (docs/protocol.md#threads): given, new, or the latest."""

    thread_id: str | None = None
    new_thread: bool = False


@dataclass(frozen=True)
class ChatArgs:
    prompt: str
    uri: str | None = None
    range: Range | None = None
    detach: bool = False
    thread: ThreadKeys = ThreadKeys()


@dataclass(frozen=True)
class HistoryArgs:
    uri: str | None = None
    limit: int | None = None
    thread_id: str | None = None
    include_rewound: bool = False


@dataclass(frozen=True)
class ThreadsArgs:
    uri: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class RenameThreadArgs:
    thread_id: str
    title: str


@dataclass(frozen=True)
class DeleteThreadArgs:
    thread_id: str


@dataclass(frozen=True)
class RewindArgs:
    turn_id: str
    force: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class CancelArgs:
    turn_id: str


@dataclass(frozen=True)
class FeedbackArgs:
    turn_id: str
    rating: str  # up | down
    comment: str | None = None


def single_object(arguments: Any, command: str, *, required: bool = True) -> dict[str, Any]:
    if isinstance(arguments, tuple):  # lsprotocol structures the array as a tuple
        arguments = list(arguments)
    if arguments is None or arguments == []:
        if required:
            raise InvalidArguments(f"{command} takes one object argument")
        return {}
    if not isinstance(arguments, list) or len(arguments) != 1:
        raise InvalidArguments(f"{command} takes exactly one object argument")
    obj = arguments[0]
    if obj is None and not required:
        return {}
    if not isinstance(obj, dict):
        raise InvalidArguments(f"{command} takes one object argument, got {type(obj).__name__}")
    return obj


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArguments(f"'{key}' must be a string")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArguments(f"'{what}' must be an integer")
    if value < 0:
        raise InvalidArguments(f"'{what}' must not be negative")
    return value


def parse_range(value: Any) -> Range | None:
    if value is None:
        return None
    try:
        start, end = value["start"], value["end"]
        r = Range(
            _int(start["line"], "range.start.line"),
            _int(start["character"], "range.start.character"),
            _int(end["line"], "range.end.line"),
            _int(end["character"], "range.end.character"),
        )
    except (KeyError, TypeError):
        raise InvalidArguments(
            "'range' must be an LSP range {start: {line, character}, end: {line, character}}"
        ) from None
    if (r.end_line, r.end_character) < (r.start_line, r.start_character):
        raise InvalidArguments("'range' ends before it starts")
    return r


def parse_chat(arguments: Any) -> ChatArgs:
    obj = single_object(arguments, "orion.chat")
    prompt = obj.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidArguments("'prompt' must be a non-empty string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidArguments(f"'prompt' is longer than {MAX_PROMPT_CHARS} characters")
    detach = optional_bool(obj, "detach")
    return ChatArgs(
        prompt, _opt_str(obj, "uri"), parse_range(obj.get("range")), detach, parse_thread_keys(obj)
    )


def optional_bool(obj: dict[str, Any], key: str, default: bool = False) -> bool:
    """An optional boolean key: absent or null is the default (docs/protocol.md#commands)."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidArguments(f"'{key}' must be a boolean")
    return value


def _id(obj: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidArguments(f"'{key}' must be a non-empty string")
    return value


def _limit(obj: dict[str, Any], default: int | None) -> int | None:
    limit = obj.get("limit")
    if limit is None:
        return default
    limit = _int(limit, "limit")
    if not 1 <= limit <= 1000:
        raise InvalidArguments("'limit' must be between 1 and 1000")
    return limit


def parse_thread_keys(obj: dict[str, Any]) -> ThreadKeys:
    """`threadId` / `newThread` of a turn command (orion.chat, orion.codeAction)."""
    keys = ThreadKeys(_id(obj, "threadId", required=False), optional_bool(obj, "newThread"))
    if keys.thread_id is not None and keys.new_thread:
        raise InvalidArguments("give 'threadId' or 'newThread: true', not both")
    return keys


def parse_history(arguments: Any) -> HistoryArgs:
    obj = single_object(arguments, "orion.history", required=False)
    return HistoryArgs(
        _opt_str(obj, "uri"),
        _limit(obj, None),
        _id(obj, "threadId", required=False),
        optional_bool(obj, "includeRewound"),
    )


def parse_threads(arguments: Any) -> ThreadsArgs:
    obj = single_object(arguments, "orion.threads", required=False)
    return ThreadsArgs(_opt_str(obj, "uri"), _limit(obj, 50) or 50)


def parse_rename_thread(arguments: Any) -> RenameThreadArgs:
    obj = single_object(arguments, "orion.renameThread")
    title = obj.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InvalidArguments("'title' must be a non-empty string")
    if len(title) > 1000:
        raise InvalidArguments("'title' is longer than 1000 characters")
    thread_id = _id(obj, "threadId", required=True)
    assert thread_id is not None
    return RenameThreadArgs(thread_id, title)


def parse_delete_thread(arguments: Any) -> DeleteThreadArgs:
    obj = single_object(arguments, "orion.deleteThread")
    thread_id = _id(obj, "threadId", required=True)
    assert thread_id is not None
    return DeleteThreadArgs(thread_id)


def parse_rewind(arguments: Any) -> RewindArgs:
    obj = single_object(arguments, "orion.rewind")
    turn_id = _id(obj, "turnId", required=True)
    assert turn_id is not None
    return RewindArgs(turn_id, optional_bool(obj, "force"), optional_bool(obj, "dryRun"))


def parse_cancel(arguments: Any) -> CancelArgs:
    obj = single_object(arguments, "orion.cancel")
    turn_id = obj.get("turnId")
    if not isinstance(turn_id, str) or not turn_id:
        raise InvalidArguments("'turnId' must be a non-empty string")
    return CancelArgs(turn_id)


def parse_status(arguments: Any) -> None:
    single_object(arguments, "orion.status", required=False)


def parse_feedback(arguments: Any) -> FeedbackArgs:
    obj = single_object(arguments, "orion.feedback")
    turn_id = obj.get("turnId")
    if not isinstance(turn_id, str) or not turn_id:
        raise InvalidArguments("'turnId' must be a non-empty string")
    rating = obj.get("rating")
    if rating not in ("up", "down"):
        raise InvalidArguments("'rating' must be 'up' or 'down'")
    return FeedbackArgs(turn_id, rating, _opt_str(obj, "comment"))
