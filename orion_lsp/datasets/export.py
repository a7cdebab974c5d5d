"""`orion export sft|dpo|kto`: a project's turns as a training dataset.

Writes `DIR/data.jsonl` (one row a line), `DIR/manifest.json` and a short
dataset card `DIR/README.md`. Rows are built from the exact stored requests
(ledger.py) and labelled by policy v1 (policy.py):

- sft: one row per good turn (and unlabeled ones with `--include-unlabeled`;
  never a bad one): the turn's last request followed by its reply.
- kto: one row per step of every good (true) or bad (false) turn.
- dpo: pairs of replies to the very same stored request: a turn's step and
  its replay samples (`orion replay`), and an answer with its critic revision
  (the revision is chosen only when the critic asked for it and the turn is
  not bad). Chosen is strictly better by the policy; a tie gives no pair.

Privacy: the ledger holds only redacted text; before anything is written,
every string of every row is passed through the redactor once more, and if
that would change anything the export is refused and no file is left
(ExportRefused). `--exclude GLOB` drops rows whose tools touched a matching
path (vendored code, third-party files).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..evals.policy import BAD, GOOD, POLICY, UNLABELED
from ..redact import MASK, Redactor
from ..storage import ScoreStore, TraceStore
from .ledger import Step, TurnRecord, iter_turn_starts, iter_turns, load_turn
from .rows import dpo_row, kto_row, sft_row

KINDS = ("sft", "dpo", "kto")
# Strings remembered as already scanned (16 bytes each; cleared when full).
_CLEAN_KEPT = 500_000


class ExportRefused(Exception):
    """A row still matches a secret pattern: nothing was written."""


@dataclass
class ExportOptions:
    kind: str
    fmt: str
    out: Path
    include_unlabeled: bool = False
    exclude: list[str] = field(default_factory=list)


@dataclass
class _Writer:
    path: Path
    redactor: Redactor
    rows: int = 0
    turns: list[str] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    tool_modes: set[str] = field(default_factory=set)
    redactions: int = 0
    excluded: int = 0

    def __post_init__(self) -> None:
        self._file = self.path.open("w", encoding="utf-8")
        # Digests of strings the final scan already passed. Every row repeats
        # its thread's history and the system prompt, so most strings recur
        # from row to row: a 10k-turn export ran the redactor on each again
        # (40% of its time). A digest, not the string, so the memo stays small.
        self._clean: set[bytes] = set()

    def write(self, row: dict[str, Any], turns: list[TurnRecord], steps: list[Step]) -> None:
        clean = self._clean
        for text in _strings(row):
            key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            if key not in clean:
                if self.redactor(text) != text:
                    raise ExportRefused(
                        f"a row from turn {turns[0].turn_id} still matches a secret pattern;"
                        " nothing was written"
                    )
                if len(clean) >= _CLEAN_KEPT:
                    clean.clear()
                clean.add(key)
            self.redactions += text.count(MASK)
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows += 1
        for t in turns:
            if t.turn_id not in self.turns:
                self.turns.append(t.turn_id)
        for s in steps:
            self.models.add(s.model)
            self.tool_modes.add("text" if s.text_mode else "native")

    def close(self) -> None:
        self._file.close()


async def export_dataset(
    traces: TraceStore,
    scores: ScoreStore,
    project_id: str,
    opts: ExportOptions,
    redactor: Redactor,
) -> dict[str, Any]:
    """Write the dataset; returns the manifest. Raises ExportRefused (no files left)."""
    if opts.kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    opts.out.mkdir(parents=True, exist_ok=True)
    data = opts.out / "data.jsonl"
    tmp = opts.out / ".data.jsonl.partial"
    writer = _Writer(tmp, redactor)
    labels = {GOOD: 0, BAD: 0, UNLABELED: 0}
    try:
        if opts.kind == "dpo":
            await _dpo(traces, scores, project_id, opts, writer, labels)
        else:
            async for turn in iter_turns(traces, scores, project_id):
                if not turn.is_replay:
                    labels[turn.label.label] += 1
                await _rows_of(turn, opts, writer)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    os.replace(tmp, data)
    manifest = {
        "kind": opts.kind,
        "format": opts.fmt,
        "rows": writer.rows,
        "turns": writer.turns,
        "labels": labels,
        "policy": POLICY,
        "models": sorted(writer.models),
        "toolModes": sorted(writer.tool_modes),
        "redactions": writer.redactions,
        "excludedRows": writer.excluded,
        "projectId": project_id,
        "createdAt": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    (opts.out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (opts.out / "README.md").write_text(dataset_card(manifest), encoding="utf-8")
    return manifest


def _excluded(turns: list[TurnRecord], opts: ExportOptions) -> bool:
    return any(
        fnmatch.fnmatch(path, pattern)
        for t in turns
        for path in t.read_paths
        for pattern in opts.exclude
    )


async def _rows_of(turn: TurnRecord, opts: ExportOptions, writer: _Writer) -> None:
    if not turn.steps:
        return
    if _excluded([turn], opts):
        writer.excluded += 1
        return
    label = turn.label.label
    if opts.kind == "sft":
        if turn.is_replay or label == BAD or (label == UNLABELED and not opts.include_unlabeled):
            return
        last = turn.steps[-1]
        writer.write(sft_row(await last.request(), last.reply, opts.fmt), [turn], [last])
    elif opts.kind == "kto":
        if label == UNLABELED:
            return  # KTO needs a yes or a no
        for step in turn.steps:
            row = kto_row(await step.request(), step.reply, label == GOOD, opts.fmt)
            writer.write(row, [turn], [step])


async def _dpo(
    traces: TraceStore,
    scores: ScoreStore,
    project_id: str,
    opts: ExportOptions,
    writer: _Writer,
    labels: dict[str, int],
) -> None:
    # Replay samples point at their original (turnId, step): collect those ids
    # first (small: original turn id -> step -> sample ids), then load each
    # original with its samples.
    samples: dict[str, dict[int, list[str]]] = {}
    async for start in iter_turn_starts(traces, project_id):
        of = start.payload.get("replayOf")
        if start.payload.get("source") == "replay" and isinstance(of, dict):
            steps = samples.setdefault(str(of.get("turnId")), {})
            steps.setdefault(int(of.get("step") or 0), []).append(start.turn_id)
    async for turn in iter_turns(traces, scores, project_id):
        if turn.is_replay:
            continue
        labels[turn.label.label] += 1
        for step_no, sample_ids in samples.get(turn.turn_id, {}).items():
            original = turn.step(step_no) or (turn.steps[-1] if turn.steps else None)
            if original is None:
                continue
            candidates: list[tuple[TurnRecord, Step]] = [(turn, original)]
            for sid in sample_ids:
                sample = await load_turn(traces, scores, project_id, sid)
                if sample.steps and sample.steps[0].key == original.key:
                    candidates.append((sample, sample.steps[0]))
            for a, b in _pairs(candidates):
                await _write_pair(a, b, original, opts, writer)
        critic_pair = _critic_pair(turn)
        if critic_pair is not None:
            rejected, chosen = critic_pair
            if _excluded([turn], opts):
                writer.excluded += 1
                continue
            writer.write(
                dpo_row(await rejected.request(), chosen.reply, rejected.reply, opts.fmt),
                [turn],
                [rejected, chosen],
            )


def _pairs(items: list[tuple[TurnRecord, Step]]) -> Iterator[tuple[tuple[TurnRecord, Step], ...]]:
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            yield items[i], items[j]


async def _write_pair(
    a: tuple[TurnRecord, Step],
    b: tuple[TurnRecord, Step],
    original: Step,
    opts: ExportOptions,
    writer: _Writer,
) -> None:
    better = a[0].label.better_than(b[0].label)
    if better is None:
        return  # a tie: no preference to learn
    chosen, rejected = (a, b) if better else (b, a)
    turns = [chosen[0], rejected[0]]
    if _excluded(turns, opts):
        writer.excluded += 1
        return
    writer.write(
        dpo_row(await original.request(), chosen[1].reply, rejected[1].reply, opts.fmt),
        turns,
        [chosen[1], rejected[1]],
    )


def _critic_pair(turn: TurnRecord) -> tuple[Step, Step] | None:
    """(the reviewed answer, its revision) when the critic asked for one and the turn is not bad."""
    if turn.revision_step is None or not turn.critic or turn.critic.get("verdict") != "revise":
        return None
    if turn.label.label == BAD:
        return None
    revised = turn.step(turn.revision_step)
    reviewed = turn.step(turn.revision_step - 1)
    if revised is None or reviewed is None or reviewed.reply.get("tool_calls"):
        return None
    return reviewed, revised


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def dataset_card(m: dict[str, Any]) -> str:
    kinds = {
        "sft": "supervised fine-tuning (`messages`, `tools`)",
        "dpo": "preference pairs (`prompt`, `chosen`, `rejected`, `tools`)",
        "kto": "binary feedback (`prompt`, `completion`, `label`)",
    }
    fmt = "Hugging Face TRL conversational" if m["format"] == "trl" else "OpenAI fine-tuning chat"
    labels = m["labels"]
    return f"""# Orion {m["kind"].upper()} dataset: {m["projectId"]}

Exported by `orion export {m["kind"]}` from the Orion ledger of project
`{m["projectId"]}` on {m["createdAt"]}: {m["rows"]} rows from {len(m["turns"])} turns,
{kinds[m["kind"]]}, in the {fmt} format.

- Labelling policy `{m["policy"]}`: of the project's turns, {labels["good"]} good,
  {labels["bad"]} bad, {labels["unlabeled"]} unlabeled (replay samples not counted).
- Models: {", ".join(m["models"]) or "none"}; tool modes: {", ".join(m["toolModes"]) or "none"}.
- Secrets were redacted when the turns were stored ({m["redactions"]} masks in
  this file), and every string was checked again before writing.
- `manifest.json` lists the turn ids every row comes from.

Load it with `datasets.load_dataset("json", data_files="data.jsonl")`.
This dataset stays on the machine that exported it unless you move it.
"""
