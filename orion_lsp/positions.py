"""LSP positions <-> offsets into Python strings, in the negotiated position encoding.

An LSP `Position` is a line and a `character` counted in code units of the
encoding the server advertised in `initialize` (pygls takes the client's first
preference: Neovim 0.11 gets utf-8, eglot 1.12+ utf-32, VS Code, which offers
none, utf-16). Python strings index code points, so one emoji earlier on a line
is 4, 2 or 1 units depending on the encoding: every position Orion sends or
reads is converted here, never by hand.

Lines end at "\\n", "\\r\\n" or "\\r", as LSP defines them; the other breaks
`str.splitlines` knows (form feed, U+2028, ...) are characters inside a line
for editors. A `character` past the end of its line means the end of the line
(before its break); a line past the last one means the end of the text; a
`character` inside a character's code units means that character's start.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"
ENCODINGS = (UTF8, UTF16, UTF32)

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def encoding_of(value: object) -> str:
    """The encoding named by a `PositionEncodingKind` (or its string); LSP's default utf-16."""
    name = str(getattr(value, "value", value) or "").lower()
    return name if name in ENCODINGS else UTF16


def line_starts(text: str) -> list[int]:
    """Offsets where each line begins; a text ending in a break has an empty last line."""
    if text.count("\r") == text.count("\r\n"):
        # No lone "\r": every line ends in "\n", and str.split finds those at C
        # speed (the regex costs ~5x more; code actions ask on every cursor move).
        return list(accumulate((len(line) + 1 for line in text.split("\n")[:-1]), initial=0))
    return [0] + [m.end() for m in LINE_BREAK.finditer(text)]


def line_of_offset(starts: list[int], offset: int) -> int:
    """0-based index of the line containing ``offset``."""
    return bisect_right(starts, offset) - 1


def units(text: str, encoding: str) -> int:
    """Length of ``text`` in code units of ``encoding``."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF16:
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    return len(text.encode("utf-8", "surrogatepass"))


def index_in_line(line: str, character: int, encoding: str) -> int:
    """Code-point index in ``line`` (without its break) of ``character`` code units."""
    if encoding == UTF32 or line.isascii():
        return min(character, len(line))
    if encoding == UTF16:
        data = line.encode("utf-16-le", "surrogatepass")
        cut = 2 * character
        if cut >= len(data):
            return len(line)
        if 0xDC00 <= int.from_bytes(data[cut : cut + 2], "little") <= 0xDFFF:
            cut -= 2  # between the two halves of a surrogate pair
        return len(data[:cut].decode("utf-16-le", "surrogatepass"))
    data = line.encode("utf-8", "surrogatepass")
    cut = character
    if cut >= len(data):
        return len(line)
    while cut > 0 and data[cut] & 0xC0 == 0x80:  # a continuation byte: back to the lead
        cut -= 1
    return len(data[:cut].decode("utf-8", "surrogatepass"))


class TextPositions:
    """Offsets <-> positions in one text, with its line starts computed once."""

    def __init__(self, text: str, encoding: str, starts: list[int] | None = None) -> None:
        self.text = text
        self.encoding = encoding
        self.starts = starts if starts is not None else line_starts(text)

    def line_bounds(self, line: int) -> tuple[int, int]:
        """Start and end (before the line break) offsets of an existing line."""
        start = self.starts[line]
        if line + 1 < len(self.starts):
            end = self.starts[line + 1] - 1
            if self.text[end] == "\n" and end > start and self.text[end - 1] == "\r":
                end -= 1
        else:
            end = len(self.text)
        return start, end

    def offset(self, line: int, character: int) -> int:
        if line >= len(self.starts):
            return len(self.text)
        start, end = self.line_bounds(line)
        return start + index_in_line(self.text[start:end], character, self.encoding)

    def position(self, offset: int) -> tuple[int, int]:
        line = line_of_offset(self.starts, offset)
        start = self.starts[line]
        return line, units(self.text[start:offset], self.encoding)


def slice_range(text: str, start: tuple[int, int], end: tuple[int, int], encoding: str) -> str:
    """The text between two (line, character) positions."""
    at = TextPositions(text, encoding)
    a, b = at.offset(*start), at.offset(*end)
    return text[min(a, b) : max(a, b)]


def addressable(text: str, start: int, end: int, new_text: str) -> tuple[int, int, str]:
    """The same replacement with both ends at positions LSP can name.

    No position lies between the "\r" and the "\n" of a CRLF (a column past
    the line's end means before its break), yet an ``oldText`` may begin at
    such a "\n" or end at such a "\r": the span then takes in the other half
    and ``new_text`` carries it, so the resulting text is the same.
    """
    if 0 < start < len(text) and text[start - 1 : start + 1] == "\r\n":
        start -= 1
        new_text = "\r" + new_text
    if 0 < end < len(text) and text[end - 1 : end + 1] == "\r\n":
        end += 1
        new_text += "\n"
    return start, end, new_text
