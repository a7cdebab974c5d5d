/**
 * Ratings and scores on the chat view's answers: the part of the view's
 * model that `orion.feedback` and `orion/turnScores` change
 * (docs/protocol.md#scores). Pure, like src/chatModel.ts, and kept beside it so
 * the turn reducer stays about turns.
 */
import type { ChatItem, ChatState } from "./chatModel";

export type Rating = "up" | "down";

export interface ScoreLine {
  name: string;
  value?: number | null;
  label?: string | null;
}

export type FeedbackAction =
  | { type: "rated"; turnId: string; rating: Rating }
  | { type: "scores"; turnId: string; scores: ScoreLine[] };

export function isFeedbackAction(action: { type: string }): action is FeedbackAction {
  return action.type === "rated" || action.type === "scores";
}

function updateAnswer(state: ChatState, turnId: string, change: (item: ChatItem) => ChatItem): ChatState {
  const idx = state.items.findIndex((i) => i.role === "assistant" && i.turnId === turnId);
  if (idx < 0) return state;
  const items = state.items.slice();
  items[idx] = change(items[idx]);
  return { ...state, items };
}

export function reduceFeedback(state: ChatState, action: FeedbackAction): ChatState {
  switch (action.type) {
    case "rated":
      return updateAnswer(state, action.turnId, (item) => ({ ...item, rating: action.rating }));
    case "scores":
      return updateAnswer(state, action.turnId, (item) => {
        const byName = new Map((item.scores ?? []).map((s) => [s.name, s]));
        for (const s of action.scores) byName.set(s.name, s);
        return { ...item, scores: [...byName.values()] };
      });
  }
}

/** An answer can be rated once the server knows it as a finished turn. */
export function canRate(item: ChatItem): boolean {
  return item.role === "assistant" && item.turnId !== undefined && item.status !== "running";
}

/** The line under an answer for the test run after it, e.g. "tests: pass (before: fail)". */
export function scoreText(scores: ScoreLine[] | undefined): string | undefined {
  const after = scores?.find((s) => s.name === "tests");
  if (!after) return undefined;
  const before = scores?.find((s) => s.name === "tests_before");
  const label = (s: ScoreLine) => s.label ?? (s.value === 0 ? "pass" : "fail");
  return `tests: ${label(after)}${before ? ` (before: ${label(before)})` : ""}`;
}
