"""Exact model requests in `llm_call` events, each message stored once.

An `llm_call` payload may carry `request: {messages, tools, params}`: what
was sent to the model, after history selection and window fitting. The
system prompt and the growing history are resent at every step, so storing
each request whole would store a 12-step turn's history 12 times. Instead
each message (and the tool-spec list) is redacted, encoded as compact JSON
and stored in the content-addressed blob store (storage/blobs.py); the
stored payload keeps `request: {messageRefs: [hash, ...], toolsRef: hash |
null, params}`. The blobs and the event commit in one transaction.

`resolve_request` gives the request back in full (`orion traces --turn T
--json`, replay, exports): the same JSON, key order and text as sent, after
redaction.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from orion_lsp.storage.blobs import Fetch, put_text, read_texts, text_hash
from orion_lsp.storage.payload import encode_payload

Redactor = Callable[[str], str]


@dataclass(frozen=True)
class PackedRequest:
    """A request split into blob texts and the small stored form that points at them."""

    texts: list[str]  # every blob text to store (messages, then the tool specs)
    stored: dict[str, Any]  # what the payload keeps under `request`


# Redacting a message walks its structure through every pattern; the same
# messages (system prompt, history, tool specs) come back at every step.
CACHE_CHARS = 4_000_000  # raw + redacted text kept, about 8 MB at most


class RequestPacker:
    """Packs requests, remembering each message's redacted text and hash.

    The cache keys on the message's own JSON text and on the redactor's
    `generation` (a secret added later must apply to what is packed later).
    """

    def __init__(self, redactor: Redactor | None) -> None:
        self._redactor = redactor
        self._cache: OrderedDict[tuple[int, str], tuple[str, str]] = OrderedDict()
        self._chars = 0

    def _encoded(self, value: dict[str, Any]) -> tuple[str, str]:
        key = (getattr(self._redactor, "generation", 0), encode_payload(value, None))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        text = encode_payload(value, self._redactor)
        entry = (text, text_hash(text))
        if getattr(self._redactor, "generation", None) is not None or self._redactor is None:
            self._cache[key] = entry
            self._chars += len(key[1]) + len(text)
            while self._chars > CACHE_CHARS and self._cache:
                (_, raw), (old, _) = self._cache.popitem(last=False)
                self._chars -= len(raw) + len(old)
        return entry

    def pack(self, request: dict[str, Any]) -> PackedRequest:
        messages = [self._encoded(m) for m in request.get("messages") or []]
        tools = request.get("tools")
        tools_entry = self._encoded({"tools": tools}) if tools else None
        texts = [t for t, _ in messages]
        if tools_entry is not None:
            texts.append(tools_entry[0])
        stored: dict[str, Any] = {
            "messageRefs": [h for _, h in messages],
            "toolsRef": tools_entry[1] if tools_entry is not None else None,
            "params": request.get("params") or {},
        }
        return PackedRequest(texts, stored)


async def store_request_blobs(
    conn: aiosqlite.Connection, packed: PackedRequest, turn_id: str
) -> None:
    """Inside the event's transaction: each distinct text once."""
    for text in dict.fromkeys(packed.texts):
        await put_text(conn, text, turn_id)


class MissingBlob(LookupError):
    pass


async def resolve_request(fetch: Fetch, stored: dict[str, Any]) -> dict[str, Any]:
    """`{messages, tools, params}` from the stored form (a full request passes through)."""
    if "messageRefs" not in stored:
        return stored
    refs = list(stored["messageRefs"])
    if stored.get("toolsRef"):
        refs.append(stored["toolsRef"])
    texts = await read_texts(fetch, refs)  # one query for the whole request

    async def load(digest: str) -> Any:
        if digest not in texts:
            raise MissingBlob(f"request blob {digest[:12]} is missing")
        return json.loads(texts[digest])  # a fresh object for each place it is used

    messages = [await load(h) for h in stored["messageRefs"]]
    tools_ref = stored.get("toolsRef")
    tools = (await load(tools_ref))["tools"] if tools_ref else None
    return {"messages": messages, "tools": tools, "params": stored.get("params") or {}}
