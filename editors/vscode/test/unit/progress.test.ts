import assert from "node:assert/strict";
import { test } from "node:test";
import { applyProgress, progressText, type ProgressState } from "../../src/progress";

test("begin, report and end drive the status line", () => {
  let s: ProgressState = new Map();
  s = applyProgress(s, "t1", { kind: "begin", title: "Indexing", percentage: 0 });
  assert.equal(progressText(s), "Indexing 0%");
  s = applyProgress(s, "t1", { kind: "report", message: "120 files", percentage: 40 });
  assert.equal(progressText(s), "Indexing: 120 files 40%");
  s = applyProgress(s, "t1", { kind: "end" });
  assert.equal(progressText(s), undefined);
});

test("the most recent work is shown; ending it reveals the older one", () => {
  let s: ProgressState = new Map();
  s = applyProgress(s, "idx", { kind: "begin", title: "Indexing" });
  s = applyProgress(s, 7 as unknown as string, { kind: "begin", title: "Orion turn", message: "calling the model" });
  assert.equal(progressText(s), "Orion turn: calling the model");
  s = applyProgress(s, 7 as unknown as string, { kind: "end" });
  assert.equal(progressText(s), "Indexing");
});

test("a report for an unknown token is ignored", () => {
  const s = applyProgress(new Map(), "x", { kind: "report", message: "late" });
  assert.equal(progressText(s), undefined);
});
