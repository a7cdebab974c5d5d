import assert from "node:assert/strict";
import { test } from "node:test";
import { type ChatAction, type ChatState, EMPTY, changedItems, reduce, toolLineText, turnLabel } from "../../src/chatModel";

const run = (actions: ChatAction[], from: ChatState = EMPTY) => actions.reduce(reduce, from);

test("a streamed turn binds its turn id and concatenates deltas", () => {
  const s = run([
    { type: "send", localId: "1", prompt: "hi" },
    { type: "delta", turnId: "T1", delta: "Hel" },
    { type: "delta", turnId: "T1", delta: "lo" },
  ]);
  assert.equal(s.items.length, 2);
  assert.deepEqual(s.running, { localId: "1", turnId: "T1" });
  assert.equal(s.items[1].content, "Hello");
  assert.equal(s.items[1].turnId, "T1");
  assert.equal(s.items[1].status, "running");
});

test("tool events show as lines and turnEnd finishes the turn", () => {
  const s = run([
    { type: "send", localId: "1", prompt: "read a.py" },
    { type: "tool", turnId: "T", event: { type: "tool_call", name: "read_file", summary: "a.py" } },
    { type: "tool", turnId: "T", event: { type: "tool_result", name: "read_file", ok: false, summary: "no such file" } },
    { type: "delta", turnId: "T", delta: "Done" },
    { type: "turnEnd", turnId: "T", status: "completed", answer: "Done" },
  ]);
  const a = s.items[1];
  assert.equal(s.running, undefined);
  assert.equal(a.status, "completed");
  assert.deepEqual(a.tools.map(toolLineText), ["→ read_file a.py", "✗ read_file: no such file"]);
});

test("a tool summary that repeats the name is not doubled", () => {
  assert.equal(toolLineText({ type: "tool_call", name: "read_file", summary: "read_file a.py" }), "→ read_file a.py");
  assert.equal(toolLineText({ type: "tool_result", name: "search", ok: true, summary: "" }), "✓ search");
});

test("the final answer repairs a missed delta", () => {
  const s = run([
    { type: "send", localId: "1", prompt: "x" },
    { type: "delta", turnId: "T", delta: "ab" },
    { type: "turnEnd", turnId: "T", status: "completed", answer: "abc" },
  ]);
  assert.equal(s.items[1].content, "abc");
});

test("a failed request shows its error in place and frees the prompt", () => {
  const msg = "Orion storage error: cannot write /tmp/x.db";
  const s = run([
    { type: "send", localId: "1", prompt: "x" },
    { type: "failed", localId: "1", message: msg },
  ]);
  assert.equal(s.running, undefined);
  assert.equal(s.items[1].status, "error");
  assert.equal(s.items[1].error, msg);
});

test("a result without notifications still records status and answer", () => {
  const s = run([
    { type: "send", localId: "1", prompt: "x" },
    { type: "result", localId: "1", turnId: "T9", status: "max_steps", answer: "partial" },
  ]);
  assert.equal(s.items[1].status, "max_steps");
  assert.equal(s.items[1].turnId, "T9");
  assert.equal(s.items[1].content, "partial");
  assert.equal(s.running, undefined);
});

test("notifications of a turn this view did not start get their own item", () => {
  const s = run([{ type: "delta", turnId: "X", delta: "hello" }]);
  assert.equal(s.items.length, 1);
  assert.equal(s.items[0].role, "assistant");
  assert.equal(s.items[0].content, "hello");
});

test("history replaces the list but keeps a running turn", () => {
  const mid = run([
    { type: "send", localId: "1", prompt: "now" },
    { type: "delta", turnId: "T", delta: "..." },
  ]);
  const s = reduce(mid, {
    type: "history",
    projectId: "p-1",
    messages: [
      { role: "user", content: "old q", turnId: "A" },
      { role: "assistant", content: "old a", turnId: "A" },
    ],
  });
  assert.equal(s.projectId, "p-1");
  assert.deepEqual(s.items.map((i) => i.content), ["old q", "old a", "now", "..."]);
  assert.equal(s.items[0].status, "history");
});

test("changedItems lists exactly the redrawn items", () => {
  const a = run([{ type: "send", localId: "1", prompt: "x" }]);
  const b = reduce(a, { type: "delta", turnId: "T", delta: "y" });
  const changed = changedItems(a, b);
  assert.equal(changed.length, 1);
  assert.equal(changed[0].content, "y");
});

test("turns started from code actions get a readable label", () => {
  assert.equal(turnLabel("orion.chat", { prompt: "hi" }), "hi");
  assert.equal(turnLabel("orion.codeAction", { action: "docstring" }), "Add docstring");
  assert.equal(turnLabel("orion.codeAction", { action: "fix", diagnostic: { message: "x is unused" } }), "Fix: x is unused");
  assert.equal(turnLabel("orion.codeAction", { action: "explain" }), "Explain this");
});
