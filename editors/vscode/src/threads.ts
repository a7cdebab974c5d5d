/**
 * Threads and rewind in VS Code: new chat, switch, rename, delete (with a
 * confirmation), and rewinding a turn (a confirmation that names every file,
 * then the server restores them through `workspace/applyEdit`, undoable).
 *
 * Talks to the server through the chat controller (`orion.threads`,
 * `orion.renameThread`, `orion.deleteThread`, `orion.rewind`); the thread
 * list view (src/threadsView.ts) and the chat view's rewind buttons call in.
 */
import * as vscode from "vscode";
import type { ChatController } from "./chatController";
import { type RewindPreview, type RewindResult, type ThreadInfo, rewindQuestion, rewindSummary } from "./threadText";

/** Asks the user; resolves true for yes. Replaced in the extension-host tests. */
export type Confirm = (message: string, detail: string, yes: string) => Promise<boolean>;

export const modalConfirm: Confirm = async (message, detail, yes) =>
  (await vscode.window.showWarningMessage(message, { modal: true, detail }, yes)) === yes;

export class Threads implements vscode.Disposable {
  private list: ThreadInfo[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the list or the current thread changed. */
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly chat: ChatController,
    private readonly output: vscode.OutputChannel,
    public confirm: Confirm = modalConfirm,
  ) {
    this.subscription = chat.onDidChangeThread(() => this.changed.fire());
  }

  get threads(): ThreadInfo[] {
    return this.list;
  }

  get current(): string | undefined {
    return this.chat.threadId;
  }

  /** The shown thread's title ("New chat" before its first turn). */
  get currentTitle(): string {
    if (this.chat.isNewChat || !this.chat.threadId) return "New chat";
    return this.list.find((t) => t.threadId === this.chat.threadId)?.title ?? "";
  }

  private uri(): Record<string, unknown> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    return folder ? { uri: folder.uri.toString() } : {};
  }

  async refresh(): Promise<ThreadInfo[]> {
    try {
      const r = await this.chat.execute<{ threads: ThreadInfo[] }>("orion.threads", this.uri());
      this.list = r?.threads ?? [];
    } catch (err) {
      this.output.appendLine(`[orion] threads: ${message(err)}`);
    }
    this.changed.fire();
    return this.list;
  }

  newChat(): void {
    this.chat.startNewChat();
    void vscode.commands.executeCommand("orion.chatView.focus");
  }

  async switchTo(threadId?: string): Promise<string | undefined> {
    const id = threadId ?? (await this.pick("Switch to thread"));
    if (!id) return undefined;
    await this.chat.showThread(id);
    await this.refresh();
    return id;
  }

  async rename(threadId?: string, title?: string): Promise<string | undefined> {
    const id = threadId ?? this.chat.threadId ?? (await this.pick("Rename thread"));
    if (!id) return undefined;
    const old = this.list.find((t) => t.threadId === id)?.title ?? "";
    const next = title ?? (await vscode.window.showInputBox({ prompt: "Thread title", value: old }));
    if (!next?.trim()) return undefined;
    const r = await this.chat.execute<{ title: string }>("orion.renameThread", { threadId: id, title: next.trim() });
    await this.refresh();
    return r?.title;
  }

  /** Deletes a thread after a confirmation: its messages, traces and checkpoints go. */
  async delete(threadId?: string): Promise<boolean> {
    const id = threadId ?? this.chat.threadId ?? (await this.pick("Delete thread"));
    if (!id) return false;
    const title = this.list.find((t) => t.threadId === id)?.title ?? id;
    const yes = await this.confirm(
      `Delete the thread “${title}”?`,
      "Its messages, traces, scores and file checkpoints are removed from Orion's database. This cannot be undone.",
      "Delete",
    );
    if (!yes) return false;
    await this.chat.execute("orion.deleteThread", { threadId: id });
    const rest = await this.refresh();
    if (this.chat.threadId === id) {
      if (rest.length) await this.chat.showThread(rest[0].threadId);
      else this.chat.startNewChat();
    }
    return true;
  }

  /**
   * Rewinds a turn and the later turns of its thread: asks first (naming
   * every file, and the ones changed since, which only `force` overwrites).
   */
  async rewind(turnId: string): Promise<RewindResult | undefined> {
    const preview = await this.chat.execute<RewindPreview>("orion.rewind", { turnId, dryRun: true });
    const q = rewindQuestion(preview);
    if (!(await this.confirm(q.message, q.detail, q.force ? "Rewind anyway" : "Rewind"))) return undefined;
    let result: RewindResult;
    try {
      result = await this.chat.execute<RewindResult>("orion.rewind", { turnId, force: q.force });
    } catch (err) {
      void vscode.window.showErrorMessage(message(err));
      return undefined;
    }
    const summary = rewindSummary(result);
    this.output.appendLine(`[orion] ${summary}`);
    if (result.rewoundTurns.length) void vscode.window.showInformationMessage(summary);
    else void vscode.window.showWarningMessage(summary);
    await this.chat.loadHistory();
    await this.refresh();
    return result;
  }

  private async pick(placeHolder: string): Promise<string | undefined> {
    const threads = await this.refresh();
    const item = await vscode.window.showQuickPick(
      threads.map((t) => ({ label: t.title, description: `${t.turns} turns`, id: t.threadId })),
      { placeHolder },
    );
    return item?.id;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
