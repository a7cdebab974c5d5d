"""Holding back streamed text in text tool mode, so the user never sees a raw tool call."""

from __future__ import annotations

_MARKERS = ("```", "<tool_call", "<function")


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
