"""Labelling policy v1: which turns are good, bad or unlabeled.

A turn is **bad** when any of these holds:
- the user rated it down (`user_rating` label `down`),
- it was rewound (score `rewound`),
- the answer cites paths or symbols that do not exist (`claims_unknown > 0`),
- the tests failed after the turn but passed before it (`tests` fail,
  `tests_before` pass),
- it ended with status `error` or `max_steps`.

A turn is **good** when it completed, is not bad, and has a positive signal:
rated up, tests pass after it, or the critic said `pass`.

Every other turn is **unlabeled** (cancelled, interrupted, or completed with
no signal either way). The policy reads only the turn's status and scores, so
the same ledger always gives the same labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

POLICY = "v1"
GOOD, BAD, UNLABELED = "good", "bad", "unlabeled"
_RANK = {GOOD: 2, UNLABELED: 1, BAD: 0}


class ScoreLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float | None: ...
    @property
    def label(self) -> str | None: ...


@dataclass(frozen=True)
class Label:
    label: str
    reasons: tuple[str, ...] = ()
    claims_unknown: float = 0.0
    tool_errors: float = 0.0

    @property
    def rank(self) -> int:
        return _RANK[self.label]

    def better_than(self, other: Label) -> bool | None:
        """Strictly better (True), strictly worse (False) or a tie (None), as DPO needs:
        good over unlabeled over bad; then fewer claims_unknown; then fewer tool_errors."""
        mine = (self.rank, -self.claims_unknown, -self.tool_errors)
        theirs = (other.rank, -other.claims_unknown, -other.tool_errors)
        if mine == theirs:
            return None
        return mine > theirs


@dataclass
class _Signals:
    by_name: dict[str, list[Any]] = field(default_factory=dict)

    def labels(self, name: str) -> set[str]:
        return {str(s.label) for s in self.by_name.get(name, []) if s.label is not None}

    def total(self, name: str) -> float:
        return float(sum(s.value or 0 for s in self.by_name.get(name, [])))

    def has(self, name: str) -> bool:
        return name in self.by_name


def label_turn(status: str | None, scores: Iterable[ScoreLike]) -> Label:
    signals = _Signals()
    for s in scores:
        signals.by_name.setdefault(s.name, []).append(s)
    bad: list[str] = []
    if "down" in signals.labels("user_rating"):
        bad.append("rated down")
    if signals.has("rewound"):
        bad.append("rewound")
    claims = signals.total("claims_unknown")
    if claims > 0:
        bad.append(f"claims_unknown={claims:g}")
    if "fail" in signals.labels("tests") and "pass" in signals.labels("tests_before"):
        bad.append("tests broke")
    if status in ("error", "max_steps"):
        bad.append(f"status {status}")
    errors = signals.total("tool_errors")
    if bad:
        return Label(BAD, tuple(bad), claims, errors)
    good: list[str] = []
    if status == "completed":
        if "up" in signals.labels("user_rating"):
            good.append("rated up")
        if "pass" in signals.labels("tests"):
            good.append("tests pass")
        if "pass" in signals.labels("critic"):
            good.append("critic pass")
    if good:
        return Label(GOOD, tuple(good), claims, errors)
    return Label(UNLABELED, (), claims, errors)
