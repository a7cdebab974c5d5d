/**
 * Runs chat turns against the server and keeps the chat view's model.
 *
 * One place turns notifications (`orion/chatDelta`, `orion/toolEvent`,
 * `orion/turnEnd`) and `orion.chat` / `orion.history` / `orion.cancel`
 * requests into reducer actions (src/chatModel.ts); the webview and the tests
 * read the resulting state. Errors are shown in place in the view; the server
 * itself sends the matching `window/showMessage` Error notification.
 */
import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient, ResponseError } from "vscode-languageclient/node";
import {
  type ChatAction,
  type ChatItem,
  type ChatState,
  EMPTY,
  type HistoryMessage,
  canRewind,
  changedItems,
  reduce,
  toolLineText,
} from "./chatModel";
import { type FeedbackAction, type Rating, type ScoreLine, canRate, isFeedbackAction, reduceFeedback, scoreText } from "./feedbackModel";
import { renderMarkdown } from "./markdown";

/** What the webview receives for one item: HTML already sanitized. */
export interface RenderedItem {
  id: string;
  role: "user" | "assistant";
  status: string;
  html: string;
  tools: { text: string; ok?: boolean }[];
  error?: string;
  turnId?: string;
  /** Rating buttons are shown (a finished answer the server knows). */
  canRate: boolean;
  rating?: Rating;
  /** e.g. "tests: pass (before: fail)" once the background test run reported. */
  scoreText?: string;
  /** Set when the turn changed files: the rewind button's tooltip names them. */
  rewind?: { turnId: string; files: string[] };
}

export interface ChatResult {
  projectId?: string;
  turnId?: string;
  threadId?: string;
  status: string;
  answer?: string;
  toolCalls?: { name: string; ok: boolean }[];
  edits?: { path: string; applied: boolean }[];
}

export interface AskOutcome {
  result?: ChatResult;
  error?: string;
}

const REQUEST_CANCELLED = -32800;

function render(item: ChatItem): RenderedItem {
  return {
    id: item.id,
    role: item.role,
    status: item.status,
    html: renderMarkdown(item.content),
    tools: item.tools.map((t) => ({ text: toolLineText(t), ok: t.ok })),
    error: item.error,
    turnId: item.turnId,
    canRate: canRate(item),
    rating: item.rating,
    scoreText: scoreText(item.scores),
    ...(canRewind(item) ? { rewind: { turnId: item.turnId!, files: item.changedFiles! } } : {}),
  };
}

export class ChatController implements vscode.Disposable {
  private state: ChatState = EMPTY;
  private client: LanguageClient | undefined;
  private subscriptions: vscode.Disposable[] = [];
  private inflight: vscode.CancellationTokenSource | undefined;
  private nextId = 1;
  private readonly changed = new vscode.EventEmitter<{ state: ChatState; items: ChatItem[] }>();
  /** Fires after every action with the items that changed. */
  readonly onDidChange = this.changed.event;
  private readonly threadChanged = new vscode.EventEmitter<string | undefined>();
  /** Fires with the new thread id when the view shows another thread (undefined: a new chat). */
  readonly onDidChangeThread = this.threadChanged.event;
  /** "New chat" was chosen: the next turn starts a thread (`newThread: true`). */
  private newChat = false;
  progressText: string | undefined;

  /**
   * @param ready resolves when a (re)starting server is up: requests made while
   *   the server restarts (e.g. right after "Set API Key") wait for the new one
   *   instead of reaching the one that is shutting down.
   */
  constructor(
    private readonly historyLimit: () => number,
    private readonly ready: () => Promise<void> = () => Promise.resolve(),
  ) {}

  get current(): ChatState {
    return this.state;
  }

  rendered(): RenderedItem[] {
    return this.state.items.map(render);
  }

  renderItems(items: ChatItem[]): RenderedItem[] {
    return items.map(render);
  }

  /** Called for each (re)started client: notifications are per connection. */
  setClient(client: LanguageClient | undefined): void {
    for (const d of this.subscriptions) d.dispose();
    this.subscriptions = [];
    this.client = client;
    if (!client) return;
    this.subscriptions.push(
      client.onNotification("orion/chatDelta", (p: { turnId: string; delta: string }) =>
        this.dispatch({ type: "delta", turnId: p.turnId, delta: p.delta }),
      ),
      client.onNotification(
        "orion/toolEvent",
        (p: { turnId: string; type: "tool_call" | "tool_result"; name: string; ok?: boolean; summary?: string }) =>
          this.dispatch({
            type: "tool",
            turnId: p.turnId,
            event: { type: p.type, name: p.name, ok: p.ok, summary: p.summary ?? "" },
          }),
      ),
      client.onNotification(
        "orion/turnEnd",
        (p: { turnId: string; status: "completed" | "cancelled" | "max_steps" | "error"; answer?: string; error?: string }) =>
          this.dispatch({ type: "turnEnd", turnId: p.turnId, status: p.status, answer: p.answer, error: p.error }),
      ),
      client.onNotification("orion/turnScores", (p: { turnId: string; scores: ScoreLine[] }) =>
        this.dispatch({ type: "scores", turnId: p.turnId, scores: p.scores ?? [] }),
      ),
    );
  }

  dispatch(action: ChatAction | FeedbackAction): void {
    const before = this.state;
    this.state = isFeedbackAction(action) ? reduceFeedback(before, action) : reduce(before, action);
    const items = changedItems(before, this.state);
    this.changed.fire({ state: this.state, items });
    if (before.threadId !== this.state.threadId) this.threadChanged.fire(this.state.threadId);
  }

  get threadId(): string | undefined {
    return this.state.threadId;
  }

  get isNewChat(): boolean {
    return this.newChat;
  }

  /** Empties the view; the next turn starts a new thread. */
  startNewChat(): void {
    this.newChat = true;
    const had = this.state.threadId;
    this.dispatch({ type: "thread", threadId: undefined });
    if (had === undefined) this.threadChanged.fire(undefined); // dispatch saw no change

  }

  /** Shows another thread (its history) and sends the next turns to it. */
  async showThread(threadId: string): Promise<ChatState> {
    this.newChat = false;
    this.dispatch({ type: "thread", threadId });
    return this.loadHistory();
  }

  /** The thread keys every turn command carries (docs/protocol.md#threads). */
  private threadArgs(): Record<string, unknown> {
    if (this.newChat) return { newThread: true };
    return this.state.threadId ? { threadId: this.state.threadId } : {};
  }

  private requireClient(): LanguageClient {
    if (!this.client) throw new Error("Orion: the language server is not running.");
    return this.client;
  }

  /**
   * `workspace/executeCommand` with its single-object argument (docs/protocol.md#commands).
   * `wait: false` is for calls made while the server starts (they would
   * otherwise wait for themselves).
   */
  async execute<T>(command: string, args: object, token?: vscode.CancellationToken, wait = true): Promise<T> {
    if (wait) await this.ready();
    const client = this.requireClient();
    return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] }, token)) as T;
  }

  /** Runs one turn; the view shows the prompt, the streamed answer and any error. */
  ask(prompt: string, extra: Record<string, unknown> = {}): Promise<AskOutcome> {
    return this.run("orion.chat", { ...extra, prompt }, prompt);
  }

  /**
   * Runs a turn-starting command (`orion.chat`, or the command a code action
   * carries) with `label` shown as the user's line.
   */
  async run(command: string, args: Record<string, unknown>, label: string): Promise<AskOutcome> {
    if (this.state.running) {
      return { error: "Orion: a turn is already running; cancel it first." };
    }
    const localId = String(this.nextId++);
    this.dispatch({ type: "send", localId, prompt: label });
    const source = new vscode.CancellationTokenSource();
    this.inflight = source;
    try {
      const result = await this.execute<ChatResult>(command, { ...args, ...this.threadArgs() }, source.token);
      if (result?.threadId) this.newChat = false;
      this.dispatch({
        type: "result",
        localId,
        turnId: result?.turnId,
        status: result?.status ?? "completed",
        answer: result?.answer,
        threadId: result?.threadId,
        edits: result?.edits,
      });
      return { result };
    } catch (err) {
      if (err instanceof ResponseError && err.code === REQUEST_CANCELLED) {
        this.dispatch({ type: "result", localId, status: "cancelled" });
        return { result: { status: "cancelled" } };
      }
      const message = err instanceof Error ? err.message : String(err);
      this.dispatch({ type: "failed", localId, message });
      return { error: message };
    } finally {
      if (this.inflight === source) this.inflight = undefined;
      source.dispose();
    }
  }

  /** Rates an answer (`orion.feedback`); a second rating of the turn replaces the first. */
  async rate(turnId: string, rating: Rating, comment?: string): Promise<{ error?: string }> {
    try {
      const args: Record<string, unknown> = { turnId, rating };
      if (comment) args.comment = comment;
      await this.execute<{ turnId: string; rating: Rating }>("orion.feedback", args);
      this.dispatch({ type: "rated", turnId, rating });
      return {};
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Stops the running turn: by turn id when known, else by cancelling the request. */
  async cancel(): Promise<boolean> {
    const running = this.state.running;
    if (!running) return false;
    if (running.turnId) {
      const r = await this.execute<{ cancelled: boolean }>("orion.cancel", { turnId: running.turnId });
      if (r?.cancelled) return true;
    }
    this.inflight?.cancel();
    return this.inflight !== undefined;
  }

  /** The current thread's history (the latest thread when none is chosen yet). */
  async loadHistory(wait = true): Promise<ChatState> {
    if (this.newChat) {
      this.dispatch({ type: "history", projectId: this.state.projectId, messages: [] });
      return this.state;
    }
    const folder = vscode.workspace.workspaceFolders?.[0];
    const args: Record<string, unknown> = { limit: this.historyLimit() };
    if (folder) args.uri = folder.uri.toString();
    if (this.state.threadId) args.threadId = this.state.threadId;
    const r = await this.execute<{ projectId?: string; threadId?: string | null; messages: HistoryMessage[] }>(
      "orion.history",
      args,
      undefined,
      wait,
    );
    this.dispatch({ type: "history", projectId: r?.projectId, threadId: r?.threadId ?? undefined, messages: r?.messages ?? [] });
    return this.state;
  }

  /** The status bar's progress line, mirrored in the view next to Cancel. */
  setProgress(line: string | undefined): void {
    this.progressText = line;
    this.changed.fire({ state: this.state, items: [] });
  }

  dispose(): void {
    this.setClient(undefined);
    this.changed.dispose();
    this.threadChanged.dispose();
  }
}
