/**
 * The "Threads" tree view: the workspace's conversations, most recently
 * updated first. Clicking one shows it in the chat view; the view's title
 * has New Chat and Refresh, each item Rename and Delete (package.json menus).
 */
import * as vscode from "vscode";
import type { Threads } from "./threads";
import { type ThreadInfo, threadDescription } from "./threadText";

export const THREADS_VIEW_ID = "orion.threadsView";

export class ThreadsViewProvider implements vscode.TreeDataProvider<ThreadInfo>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly threads: Threads) {
    this.subscription = threads.onDidChange(() => this.changed.fire());
  }

  getChildren(element?: ThreadInfo): ThreadInfo[] {
    return element ? [] : this.threads.threads;
  }

  getTreeItem(t: ThreadInfo): vscode.TreeItem {
    const item = new vscode.TreeItem(t.title, vscode.TreeItemCollapsibleState.None);
    item.id = t.threadId;
    item.description = threadDescription(t, Date.now());
    item.tooltip = `${t.title}\n${t.turns} turns, started ${t.createdAt}, last turn ${t.updatedAt}`;
    item.contextValue = "orion.thread";
    const current = t.threadId === this.threads.current;
    item.iconPath = new vscode.ThemeIcon(current ? "comment-discussion" : "comment");
    if (current) item.description = `● ${item.description}`;
    item.command = { command: "orion.switchThread", title: "Show thread", arguments: [t.threadId] };
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
