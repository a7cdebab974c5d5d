import assert from "node:assert/strict";
import { test } from "node:test";
import { type ChatAction, type ChatState, EMPTY, canRewind, reduce } from "../../src/chatModel";
import { ago, rewindQuestion, rewindSummary, threadDescription } from "../../src/threadText";

const run = (actions: ChatAction[], from: ChatState = EMPTY) => actions.reduce(reduce, from);

test("a thread's description counts its turns and says when it moved", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  const t = { threadId: "a", title: "Fix it", createdAt: "", updatedAt: "2026-12-01T11:55:00.000Z", turns: 1 };
  assert.equal(threadDescription(t, now), "1 turn · 5 min ago");
  assert.equal(threadDescription({ ...t, turns: 3, updatedAt: "2026-11-28T12:00:00.000Z" }, now), "3 turns · 3 days ago");
  assert.equal(ago(now - 10_000, now), "just now");
});

test("the rewind question names every file and asks for force only on conflicts", () => {
  const q = rewindQuestion({ turnId: "T", threadId: "th", files: ["a.py", "docs/ü.md"], conflicts: [], rewoundTurns: ["T", "U"] });
  assert.equal(q.message, "Rewind 2 turns? Restore a.py, docs/ü.md.");
  assert.equal(q.force, false);
  const c = rewindQuestion({ turnId: "T", threadId: "th", files: ["a.py", "b.py"], conflicts: ["b.py"], rewoundTurns: ["T"] });
  assert.equal(c.force, true);
  assert.match(c.detail, /^b\.py changed since Orion edited it/);
  assert.equal(rewindQuestion({ turnId: "T", threadId: "th", files: [], conflicts: [], rewoundTurns: ["T"] }).message, "Rewind 1 turn? No file to restore.");
});

test("the rewind summary says what was restored and what was only emptied", () => {
  const s = rewindSummary({
    turnId: "T",
    rewoundTurns: ["T"],
    restored: [
      { path: "a.py", applied: true },
      { path: "new.py", applied: true, note: "emptied: this editor cannot delete files" },
    ],
  });
  assert.equal(s, "Orion: rewound 1 turn; restored a.py, new.py. new.py: emptied: this editor cannot delete files");
  assert.match(rewindSummary({ turnId: "T", rewoundTurns: [], restored: [{ path: "a.py", applied: false }] }), /not rewound/);
});

test("a turn that applied edits gets a rewind button; the result names its thread", () => {
  const s = run([
    { type: "send", localId: "1", prompt: "add a docstring" },
    {
      type: "result",
      localId: "1",
      turnId: "T",
      status: "completed",
      threadId: "th-1",
      edits: [
        { path: "a.py", applied: true },
        { path: "a.py", applied: true },
        { path: "b.py", applied: false },
      ],
    },
  ]);
  assert.equal(s.threadId, "th-1");
  assert.deepEqual(s.items[1].changedFiles, ["a.py"]);
  assert.equal(canRewind(s.items[1]), true);
  assert.equal(canRewind(s.items[0]), false);
  const plain = run([
    { type: "send", localId: "1", prompt: "hi" },
    { type: "result", localId: "1", turnId: "U", status: "completed", edits: [{ path: "b.py", applied: false }] },
  ]);
  assert.equal(canRewind(plain.items[1]), false);
});

test("switching thread empties the view; history fills it with the thread's files", () => {
  const before = run([
    { type: "history", projectId: "p", threadId: "a", messages: [{ role: "user", content: "q", turnId: "A" }] },
  ]);
  assert.equal(before.threadId, "a");
  const switched = reduce(before, { type: "thread", threadId: "b" });
  assert.deepEqual(switched.items, []);
  assert.equal(switched.threadId, "b");
  const loaded = reduce(switched, {
    type: "history",
    projectId: "p",
    threadId: "b",
    messages: [
      { role: "user", content: "edit", turnId: "B" },
      { role: "assistant", content: "done", turnId: "B", changedFiles: ["x.py"] },
    ],
  });
  assert.deepEqual(loaded.items[1].changedFiles, ["x.py"]);
  assert.equal(canRewind(loaded.items[1]), true);
  const newChat = reduce(loaded, { type: "thread", threadId: undefined });
  assert.equal(newChat.threadId, undefined);
  assert.deepEqual(newChat.items, []);
});
