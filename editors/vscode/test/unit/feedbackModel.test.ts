import assert from "node:assert/strict";
import { test } from "node:test";
import { type ChatAction, type ChatState, EMPTY, reduce } from "../../src/chatModel";
import { type FeedbackAction, canRate, isFeedbackAction, reduceFeedback, scoreText } from "../../src/feedbackModel";

const run = (actions: (ChatAction | FeedbackAction)[], from: ChatState = EMPTY) =>
  actions.reduce((s, a) => (isFeedbackAction(a) ? reduceFeedback(s, a) : reduce(s, a)), from);

const finished: (ChatAction | FeedbackAction)[] = [
  { type: "send", localId: "1", prompt: "hi" },
  { type: "delta", turnId: "T1", delta: "Hello" },
];

test("an answer can be rated once it has finished, and a new rating replaces the old", () => {
  const running = run(finished);
  assert.equal(canRate(running.items[1]), false);
  const done = run([{ type: "turnEnd", turnId: "T1", status: "completed", answer: "Hello" }], running);
  assert.equal(canRate(done.items[1]), true);
  assert.equal(canRate(done.items[0]), false); // the user's own line
  const up = run([{ type: "rated", turnId: "T1", rating: "up" }], done);
  assert.equal(up.items[1].rating, "up");
  const down = run([{ type: "rated", turnId: "T1", rating: "down" }], up);
  assert.equal(down.items[1].rating, "down");
  assert.equal(run([{ type: "rated", turnId: "nope", rating: "up" }], done), done);
});

test("history answers carry their turn id and can be rated", () => {
  const s = run([
    { type: "history", messages: [{ role: "user", content: "q", turnId: "H" }, { role: "assistant", content: "a", turnId: "H" }] },
  ]);
  assert.equal(canRate(s.items[1]), true);
});

test("background test scores show as one line under the answer", () => {
  const s = run([
    ...finished,
    { type: "turnEnd", turnId: "T1", status: "completed" },
    { type: "scores", turnId: "T1", scores: [{ name: "tests_before", value: 1, label: "fail" }] },
    { type: "scores", turnId: "T1", scores: [{ name: "tests", value: 0, label: "pass" }] },
  ]);
  assert.equal(scoreText(s.items[1].scores), "tests: pass (before: fail)");
  assert.equal(scoreText(undefined), undefined);
  assert.equal(scoreText([{ name: "tests", value: null, label: "fail" }]), "tests: fail");
});
