/**
 * The chat view's model: a reducer from the server's turn notifications
 * (`orion/chatDelta`, `orion/toolEvent`, `orion/turnEnd`,
 * docs/protocol.md#notifications) and from our own requests to the list of items the webview
 * shows. Pure, so the ordering rules are unit tested without an editor.
 *
 * A request's turn id is only known from its first notification or its
 * result, so a sent prompt owns a local id and binds the first turn id that
 * arrives while it runs.
 */
export type TurnStatus = "completed" | "cancelled" | "max_steps" | "error";
export type ItemStatus = TurnStatus | "running" | "history";

export interface ToolLine {
  type: "tool_call" | "tool_result";
  name: string;
  ok?: boolean;
  summary: string;
}

export interface ChatItem {
  id: string;
  role: "user" | "assistant";
  content: string;
  turnId?: string;
  status: ItemStatus;
  tools: ToolLine[];
  error?: string;
  /** Files the turn changed (an assistant item): what its rewind button restores. */
  changedFiles?: string[];
  /** The user's rating of this answer (src/feedbackModel.ts). */
  rating?: "up" | "down";
  /** Scores that arrived for this turn (`orion/turnScores`). */
  scores?: { name: string; value?: number | null; label?: string | null }[];
}

export interface ChatState {
  items: ChatItem[];
  /** Local id of the prompt whose turn is running, and its turn id once known. */
  running?: { localId: string; turnId?: string };
  projectId?: string;
  /** The thread shown; undefined for a new chat not yet stored (src/threads.ts). */
  threadId?: string;
}

export interface HistoryMessage {
  role: "user" | "assistant";
  content: string;
  turnId?: string;
  createdAt?: string;
  threadId?: string;
  changedFiles?: string[];
}

export type ChatAction =
  | { type: "history"; projectId?: string; threadId?: string; messages: HistoryMessage[] }
  | { type: "thread"; threadId?: string }
  | { type: "send"; localId: string; prompt: string }
  | { type: "delta"; turnId: string; delta: string }
  | { type: "tool"; turnId: string; event: ToolLine }
  | { type: "turnEnd"; turnId: string; status: TurnStatus; answer?: string; error?: string }
  | {
      type: "result";
      localId: string;
      turnId?: string;
      status: string;
      answer?: string;
      threadId?: string;
      edits?: { path: string; applied: boolean }[];
    }
  | { type: "failed"; localId: string; message: string };

export const EMPTY: ChatState = { items: [] };

const assistantId = (localId: string): string => `a-${localId}`;

function replaceItem(state: ChatState, index: number, item: ChatItem): ChatState {
  const items = state.items.slice();
  items[index] = item;
  return { ...state, items };
}

/**
 * The assistant item a notification for `turnId` belongs to: the one already
 * bound to it, else the running prompt's (binding it now), else a new item for
 * a turn this view did not start.
 */
function locate(state: ChatState, turnId: string): [ChatState, number] {
  const bound = state.items.findIndex((i) => i.role === "assistant" && i.turnId === turnId);
  if (bound >= 0) return [state, bound];
  if (state.running && state.running.turnId === undefined) {
    const idx = state.items.findIndex((i) => i.id === assistantId(state.running!.localId));
    if (idx >= 0) {
      const next = replaceItem(state, idx, { ...state.items[idx], turnId });
      return [{ ...next, running: { ...state.running, turnId } }, idx];
    }
  }
  const item: ChatItem = { id: `t-${turnId}`, role: "assistant", content: "", turnId, status: "running", tools: [] };
  return [{ ...state, items: [...state.items, item] }, state.items.length];
}

function isTurnStatus(s: string): s is TurnStatus {
  return s === "completed" || s === "cancelled" || s === "max_steps" || s === "error";
}

export function reduce(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case "history": {
      const items: ChatItem[] = action.messages.map((m, n) => ({
        id: `h-${m.turnId ?? "x"}-${m.role}-${n}`,
        role: m.role,
        content: m.content,
        turnId: m.turnId,
        status: "history",
        tools: [],
        ...(m.changedFiles?.length ? { changedFiles: m.changedFiles } : {}),
      }));
      // A running turn keeps its items: history may be reloaded mid-turn.
      const live = state.running
        ? state.items.filter(
            (i) => i.id === `u-${state.running!.localId}` || i.id === assistantId(state.running!.localId),
          )
        : [];
      return { ...state, projectId: action.projectId, threadId: action.threadId ?? state.threadId, items: [...items, ...live] };
    }
    case "thread": {
      // Another thread (or a new chat): its history replaces the list when it loads.
      if (state.running) return { ...state, threadId: action.threadId };
      return { ...state, threadId: action.threadId, items: [] };
    }
    case "send": {
      const user: ChatItem = { id: `u-${action.localId}`, role: "user", content: action.prompt, status: "completed", tools: [] };
      const answer: ChatItem = { id: assistantId(action.localId), role: "assistant", content: "", status: "running", tools: [] };
      return { ...state, items: [...state.items, user, answer], running: { localId: action.localId } };
    }
    case "delta": {
      const [s, idx] = locate(state, action.turnId);
      const item = s.items[idx];
      return replaceItem(s, idx, { ...item, content: item.content + action.delta });
    }
    case "tool": {
      const [s, idx] = locate(state, action.turnId);
      const item = s.items[idx];
      return replaceItem(s, idx, { ...item, tools: [...item.tools, action.event] });
    }
    case "turnEnd": {
      const [s, idx] = locate(state, action.turnId);
      const item = s.items[idx];
      // The server's answer is the concatenation of the deltas; prefer it when
      // given so a dropped notification cannot leave a truncated answer.
      const content = action.answer !== undefined && action.answer.length >= item.content.length ? action.answer : item.content;
      const next = replaceItem(s, idx, {
        ...item,
        content,
        status: action.status,
        error: action.error ?? item.error,
      });
      const done = s.running?.turnId === action.turnId;
      return done ? { ...next, running: undefined } : next;
    }
    case "result": {
      const idx = state.items.findIndex((i) => i.id === assistantId(action.localId));
      const running = state.running?.localId === action.localId ? undefined : state.running;
      if (idx < 0) return { ...state, running };
      const item = state.items[idx];
      const status: ItemStatus = isTurnStatus(action.status) ? action.status : item.status;
      const content = action.answer !== undefined && action.answer.length >= item.content.length ? action.answer : item.content;
      const changed = (action.edits ?? []).filter((e) => e.applied).map((e) => e.path);
      const next = replaceItem(state, idx, {
        ...item,
        turnId: item.turnId ?? action.turnId,
        status,
        content,
        ...(changed.length ? { changedFiles: [...new Set(changed)] } : {}),
      });
      return { ...next, running, threadId: action.threadId ?? state.threadId };
    }
    case "failed": {
      const idx = state.items.findIndex((i) => i.id === assistantId(action.localId));
      const running = state.running?.localId === action.localId ? undefined : state.running;
      if (idx < 0) return { ...state, running };
      const item = state.items[idx];
      return { ...replaceItem(state, idx, { ...item, status: "error", error: action.message }), running };
    }
  }
}

/** Items whose object changed between two states (what the webview must redraw). */
export function changedItems(before: ChatState, after: ChatState): ChatItem[] {
  const old = new Set(before.items);
  return after.items.filter((i) => !old.has(i));
}

/** One compact line per tool event, as the view prints it. */
export function toolLineText(t: ToolLine): string {
  if (t.type === "tool_call") {
    // Servers may already start the summary with the tool's name ("read_file a.py").
    const rest = t.summary.startsWith(t.name) ? t.summary.slice(t.name.length).trim() : t.summary;
    return `→ ${t.name}${rest ? ` ${rest}` : ""}`;
  }
  const mark = t.ok === false ? "✗" : "✓";
  return `${mark} ${t.name}${t.summary ? `: ${t.summary}` : ""}`;
}

/** The user's line in the chat view for a turn started from a code action. */
export function turnLabel(command: string, args: Record<string, unknown>): string {
  if (command === "orion.chat") return String(args.prompt ?? "");
  const diagnostic = args.diagnostic as { message?: string } | undefined;
  switch (args.action) {
    case "explain":
      return "Explain this";
    case "docstring":
      return "Add docstring";
    case "tests":
      return "Write tests for this";
    case "fix":
      return `Fix: ${diagnostic?.message ?? "this problem"}`;
    default:
      return `Orion: ${String(args.action ?? command)}`;
  }
}

/** Whether an item shows a rewind button: a finished turn that changed files. */
export function canRewind(item: ChatItem): boolean {
  return item.role === "assistant" && item.turnId !== undefined && item.status !== "running" && (item.changedFiles?.length ?? 0) > 0;
}
