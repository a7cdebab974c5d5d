"""The critic model: checks an answer's claims against the turn's tool results.

With `criticModel` set, before a turn ends the orchestrator calls `critique`.
The critic gets the question, the answer and what the tools returned, and
must say PASS, or REVISE with the claims it could not find (a file, symbol or
line the answer cites that nothing the tools returned shows). The verdict goes
into the trace (`CriticVerdict.to_trace`) so it can become preference data;
on REVISE the orchestrator asks the main model for one revision
(`revision_prompt`).

The critic can never fail a turn: unreachable, erroring, or answering
nonsense, the verdict is `passed=True` with the reason in `feedback`
(`available=False` when it could not be asked at all). Cancellation is not
swallowed: a cancelled turn stops here too.

The critic is a `Model` like the main one (the same client, its own
`criticModel` and `criticApiBase`), so tests run the real litellm against the
scripted server.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..redact import redact
from .model import Model

log = logging.getLogger(__name__)

__all__ = ["CriticVerdict", "critique", "parse_verdict", "revision_prompt"]

# Bounds on what the critic is shown: small local critics have small windows.
MAX_TOOL_RESULT_CHARS = 4000
MAX_TOTAL_TOOL_CHARS = 16000
MAX_ANSWER_CHARS = 8000

SYSTEM_PROMPT = """You check an assistant's answer about a code base for invented facts.
You get the user's QUESTION, the TOOL RESULTS (everything the assistant read) and the ANSWER.
For every file path, function, class or variable name, and line number the ANSWER states
as a fact about the code, check that it appears in the TOOL RESULTS.
Reply on the first line with exactly one word: PASS if every such claim is supported
(or the answer makes no such claims), REVISE otherwise.
After REVISE, list each unsupported claim on its own line starting with "- ".
Do not judge style or completeness, only whether the cited things exist in the TOOL RESULTS."""


@dataclass(frozen=True)
class CriticVerdict:
    passed: bool
    feedback: str
    raw: str
    # False when the critic could not be asked (down, error): passed is then True.
    available: bool = True
    # "pass", "revise", "unclear" (asked, no verdict found) or "unavailable".
    verdict: str = "pass"
    model: str = ""
    duration_ms: int = 0
    # What the critic was sent (the llm_call's exact request; not part of to_trace).
    request: dict[str, Any] | None = field(default=None, compare=False)

    def to_trace(self) -> dict[str, Any]:
        return {
            "criticModel": self.model,
            "verdict": self.verdict,
            "passed": self.passed,
            "available": self.available,
            "feedback": self.feedback,
            "raw": self.raw,
            "durationMs": self.duration_ms,
        }


_WORD_RE = re.compile(
    r"(?<![A-Za-z])(pass(?:ed|es)?|approved?|ok|revise|revision|fail(?:ed|s)?|reject(?:ed)?)(?![A-Za-z])",
    re.IGNORECASE,
)
_NEGATION_RE = re.compile(r"(\bnot|n't|\bcannot|\bnever)\s*(\w+\s+)?$", re.IGNORECASE)
_PASS = {"pass", "passed", "passes", "approve", "approved", "ok"}


def parse_verdict(raw: str) -> tuple[str, str]:
    """("pass" | "revise" | "unclear", feedback) from a critic's reply.

    The verdict is the first verdict word in the reply, so "PASS", "**Verdict:**
    REVISE", "Result: pass." and "REVISE - app.py:40 not shown" all read; a
    negated pass ("does not pass") is a revise. "ok" only counts on the first
    line by itself, since it is common inside explanations.
    """
    text = raw.strip()
    if not text:
        return "unclear", ""
    first_line = text.splitlines()[0].strip(" *_#`:.!").lower()
    if first_line in ("ok", "okay"):
        return "pass", ""
    for m in _WORD_RE.finditer(text):
        word = m.group(1).lower()
        if word == "ok":
            continue
        # "does not pass", "can't pass", "not yet approved"
        negated = bool(_NEGATION_RE.search(text[max(0, m.start() - 24) : m.start()]))
        verdict = "pass" if (word in _PASS) != negated else "revise"
        feedback = text[m.end() :].strip(" \t\r\n*_:.") if verdict == "revise" else ""
        if verdict == "revise" and not feedback:
            feedback = text
        return verdict, feedback
    return "unclear", text


def _format_tool_results(tool_results: Sequence[str | Mapping[str, Any]]) -> str:
    parts: list[str] = []
    budget = MAX_TOTAL_TOOL_CHARS
    for i, item in enumerate(tool_results, 1):
        if isinstance(item, Mapping):
            name = str(item.get("name", "tool"))
            args = item.get("arguments")
            head = f"{name}({args})" if args else name
            if item.get("ok") is False:
                head += " [failed]"
            body = str(item.get("content", item.get("summary", "")))
        else:
            head, body = "tool", str(item)
        if len(body) > MAX_TOOL_RESULT_CHARS:
            body = body[:MAX_TOOL_RESULT_CHARS] + "\n[... cut for the critic ...]"
        if budget <= 0:
            parts.append(f"### {i}. {head}\n[not shown: critic input limit reached]")
            continue
        body = body[:budget]
        budget -= len(body)
        parts.append(f"### {i}. {head}\n{body}")
    return "\n\n".join(parts) if parts else "(no tools were called)"


def critic_messages(
    question: str, answer: str, tool_results: Sequence[str | Mapping[str, Any]]
) -> list[dict[str, str]]:
    if len(answer) > MAX_ANSWER_CHARS:
        answer = answer[:MAX_ANSWER_CHARS] + "\n[... cut for the critic ...]"
    user = (
        f"QUESTION:\n{question}\n\n"
        f"TOOL RESULTS:\n{_format_tool_results(tool_results)}\n\n"
        f"ANSWER:\n{answer}\n\n"
        "Verdict (PASS or REVISE):"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


async def critique(
    model: Model,
    answer: str,
    tool_results: Sequence[str | Mapping[str, Any]],
    question: str,
    *,
    timeout_s: float = 60.0,
    max_tokens: int = 300,
) -> CriticVerdict:
    """Ask the critic `model` whether `answer`'s claims are in `tool_results`.

    `tool_results` are strings or mappings with `name`, `arguments`, `ok`,
    `content` (what the model saw). One request, no retries: a second opinion
    is not worth a slow turn.
    """
    model.add_params({"temperature": 0, "max_tokens": max_tokens})
    messages = critic_messages(question, answer, tool_results)
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout_s):
            reply = await model.complete(messages, None, _unseen)
        raw = reply.text
    except TimeoutError:
        return _unavailable(model, f"no verdict within {timeout_s:g} s (Timeout)", started)
    except Exception as exc:  # the critic must never fail the turn (ModelError is redacted)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        return _unavailable(model, redact(first), started)
    ms = int((time.monotonic() - started) * 1000)
    verdict, feedback = parse_verdict(raw)
    if verdict == "unclear":
        # Asked, but no verdict: keep the answer, say so in the trace.
        feedback = "critic gave no PASS/REVISE verdict"
    return CriticVerdict(
        passed=verdict != "revise",
        feedback=feedback,
        raw=raw,
        available=True,
        verdict=verdict,
        model=model.name,
        duration_ms=ms,
        request=model.request(messages, None),
    )


async def _unseen(_text: str) -> None:
    return None  # the critic's reply is read whole, never shown to the user


def _unavailable(model: Model, reason: str, started: float) -> CriticVerdict:
    log.warning("critic %s unavailable: %s", model.name, reason)
    return CriticVerdict(
        passed=True,
        feedback=f"critic unavailable: {reason}",
        raw="",
        available=False,
        verdict="unavailable",
        model=model.name,
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def revision_prompt(verdict: CriticVerdict) -> str:
    """The user-role message asking the main model for its one revision."""
    return (
        "A reviewer checked your answer against the tool results and found claims "
        "they could not verify:\n"
        f"{verdict.feedback}\n\n"
        # The revision runs without tools (one more model call, no round-trips).
        "Revise your answer using only what the tool results above show: cite only "
        "files, symbols and lines that appear in them, and where you cannot verify "
        "something from them, say so instead of stating it. Reply with the full "
        "revised answer."
    )
