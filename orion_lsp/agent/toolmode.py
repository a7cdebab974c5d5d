"""Tool calls as text, for models without native tool calling (`toolMode`).

- `native`: tools go in the request's `tools`; calls come back as `tool_calls`.
- `text`: the system prompt describes a ```tool_call block; calls are parsed
  from the reply (`textcalls.parse_text_tool_calls`), and streamed text is
  held back from the first fence so the user never sees the raw call.
- `auto`: native, unless this model was seen writing tool calls as text; that
  observation (or `orion doctor`'s probe) is cached per model in the database.
"""

from __future__ import annotations

from .model_cache import ModelInfoCache

NATIVE, TEXT, AUTO = "native", "text", "auto"
CACHE_KEY = "toolMode"
_MARKERS = ("```", "<tool_call", "<function")


async def resolve(setting: str, model: str, api_base: str | None, cache: ModelInfoCache) -> str:
    if setting in (NATIVE, TEXT):
        return setting
    cached = await cache.get(model, api_base, CACHE_KEY)
    return cached if cached in (NATIVE, TEXT) else NATIVE


class TextCallGate:
    """Passes streamed text through until something that may be a tool call starts."""

    def __init__(self) -> None:
        self.emitted = ""
        self._held = ""
        self._closed = False

    def feed(self, text: str) -> str:
        if self._closed:
            self._held += text
            return ""
        buf = self._held + text
        cut = min((i for i in (buf.find(m) for m in _MARKERS) if i >= 0), default=-1)
        if cut >= 0:
            emit, self._held, self._closed = buf[:cut], buf[cut:], True
        else:
            keep = _partial_marker(buf)
            emit, self._held = buf[: len(buf) - keep], buf[len(buf) - keep :]
        self.emitted += emit
        return emit

    def rest(self, full_text: str, visible: str, had_calls: bool) -> str:
        """What is still to be shown once the whole reply is known."""
        target = visible if had_calls else full_text
        if target.startswith(self.emitted):
            return target[len(self.emitted) :]
        return ""


def _partial_marker(buf: str) -> int:
    best = 0
    for m in _MARKERS:
        for n in range(min(len(m) - 1, len(buf)), best, -1):
            if buf.endswith(m[:n]):
                best = n
                break
    return best
