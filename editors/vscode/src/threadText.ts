/**
 * Texts of the thread list and the rewind confirmation. Pure, so they are
 * unit tested without an editor (test/unit/threadText.test.ts).
 */
export interface ThreadInfo {
  threadId: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  turns: number;
}

/** What `orion.rewind {dryRun: true}` answers (docs/protocol.md#rewind). */
export interface RewindPreview {
  turnId: string;
  threadId: string;
  files: string[];
  conflicts: string[];
  rewoundTurns: string[];
}

export interface RewindResult {
  turnId: string;
  restored: { path: string; applied: boolean; note?: string }[];
  rewoundTurns: string[];
}

/** "3 turns · 5 min ago" (the tree item's description). */
export function threadDescription(t: ThreadInfo, now: number): string {
  const turns = `${t.turns} turn${t.turns === 1 ? "" : "s"}`;
  return `${turns} · ${ago(Date.parse(t.updatedAt), now)}`;
}

export function ago(then: number, now: number): string {
  if (Number.isNaN(then)) return "";
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 60) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} days ago`;
}

function list(paths: string[], max = 8): string {
  const shown = paths.slice(0, max).join(", ");
  return paths.length > max ? `${shown} and ${paths.length - max} more` : shown;
}

/** The modal question before a rewind: names every file and how many turns go. */
export function rewindQuestion(p: RewindPreview): { message: string; detail: string; force: boolean } {
  const turns = p.rewoundTurns.length;
  const turnText = `${turns} turn${turns === 1 ? "" : "s"}`;
  const files = p.files.length ? `Restore ${list(p.files, 20)}` : "No file to restore";
  const force = p.conflicts.length > 0;
  const detail = force
    ? `${list(p.conflicts, 20)} changed since Orion edited ${p.conflicts.length === 1 ? "it" : "them"}: ` +
      "rewinding overwrites those changes (undo in the editor brings them back)."
    : `The rewound ${turnText} stay in Orion's ledger but leave this conversation.`;
  return { message: `Rewind ${turnText}? ${files}.`, detail, force };
}

/** One line after a rewind: what was restored, and what could not be. */
export function rewindSummary(r: RewindResult): string {
  const ok = r.restored.filter((x) => x.applied);
  const notes = r.restored.filter((x) => x.note).map((x) => `${x.path}: ${x.note}`);
  const head = r.rewoundTurns.length
    ? `Orion: rewound ${r.rewoundTurns.length} turn${r.rewoundTurns.length === 1 ? "" : "s"}`
    : "Orion: the turns were not rewound (some files could not be restored)";
  const files = ok.length ? `; restored ${list(ok.map((x) => x.path))}` : "";
  return `${head}${files}${notes.length ? `. ${notes.join("; ")}` : ""}`;
}
