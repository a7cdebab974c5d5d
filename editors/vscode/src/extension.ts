/**
 * Orion for VS Code: the composition root.
 *
 * Builds output channel -> status bar -> chat controller -> threads -> chat
 * view and thread list -> language client, registers the commands, and restarts the server when a
 * setting that fixes its command line or environment changes (or the API key,
 * or workspace trust). Returns a small API used by the extension-host tests.
 */
import * as vscode from "vscode";
import { type LanguageClient, State } from "vscode-languageclient/node";
import { ChatController } from "./chatController";
import { turnLabel } from "./chatModel";
import { ChatViewProvider, VIEW_ID } from "./chatView";
import { SECRET_KEY, createClient } from "./client";
import { RESTART_KEYS, readSettings } from "./settings";
import { OrionStatusBar } from "./statusBar";
import { Threads } from "./threads";
import { THREADS_VIEW_ID, ThreadsViewProvider } from "./threadsView";
import type { ThreadInfo } from "./threadText";

export interface OrionApi {
  chat: ChatController;
  threads: Threads;
  statusBar: OrionStatusBar;
  client(): LanguageClient | undefined;
  /** Resolves when the current server is running (or has failed to start). */
  ready(): Promise<void>;
  restart(): Promise<void>;
}

interface StatusResult {
  projects?: { projectId: string; root: string }[];
  databasePath?: string;
  schemaVersion?: number;
  model?: string;
  criticModel?: string | null;
  repoMap?: { files?: number; symbols?: number; buildMs?: number };
}

const settings = () => readSettings(vscode.workspace.getConfiguration("orion"));

export function activate(context: vscode.ExtensionContext): OrionApi {
  const output = vscode.window.createOutputChannel("Orion");
  const statusBar = new OrionStatusBar();
  let client: LanguageClient | undefined;
  let starting: Promise<void> = Promise.resolve();
  const chat = new ChatController(
    () => settings().historyLimit,
    () => starting,
  );
  const threads = new Threads(chat, output);
  let viewReady = false;

  const refreshHistory = async (wait: boolean): Promise<void> => {
    if (!client || client.state !== State.Running || !viewReady) return;
    try {
      await chat.loadHistory(wait);
      view.reset();
      // Not awaited: it waits for the server to be ready, which may be us starting it.
      void threads.refresh();
    } catch (err) {
      // Storage errors also arrive as the server's own showMessage Error.
      output.appendLine(`[orion] history: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  const view = new ChatViewProvider(context.extensionUri, chat, () => {
    viewReady = true;
    void refreshHistory(true);
  });

  const refreshModel = async (wait = true): Promise<StatusResult | undefined> => {
    try {
      const status = await chat.execute<StatusResult>("orion.status", {}, undefined, wait);
      statusBar.setModel(status?.model ?? settings().model);
      return status;
    } catch (err) {
      statusBar.setModel(settings().model);
      output.appendLine(`[orion] status: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  };

  const start = async (): Promise<void> => {
    statusBar.setState("starting");
    const next = await createClient(context, {
      output,
      runTurnCommand: async (command, args) => {
        void vscode.commands.executeCommand(`${VIEW_ID}.focus`);
        const outcome = await chat.run(command, args, turnLabel(command, args));
        return outcome.result;
      },
    });
    client = next;
    next.onDidChangeState((e) => {
      if (client !== next) return;
      if (e.newState === State.Running) statusBar.setState("running");
      else if (e.newState === State.Stopped) statusBar.setState("stopped");
    });
    try {
      await next.start();
    } catch (err) {
      statusBar.setState("error");
      const message = err instanceof Error ? err.message : String(err);
      output.appendLine(`[orion] server failed to start: ${message}`);
      void vscode.window.showErrorMessage(`Orion: the language server failed to start (${message}). See the Orion output.`);
      return;
    }
    statusBar.attach(next);
    chat.setClient(next);
    statusBar.setState("running");
    await refreshModel(false);
    await refreshHistory(false);
  };

  const stop = async (): Promise<void> => {
    const old = client;
    client = undefined;
    chat.setClient(undefined);
    if (old) {
      try {
        await old.stop(3000);
      } catch (err) {
        output.appendLine(`[orion] stop: ${err instanceof Error ? err.message : String(err)}`);
      }
      await old.dispose();
    }
  };

  const restart = (): Promise<void> => {
    starting = starting.then(stop).then(start);
    return starting;
  };

  const ask = async (prompt?: string) => {
    let text = prompt;
    if (typeof text !== "string") {
      text = await vscode.window.showInputBox({ prompt: "Ask Orion", placeHolder: "Explain this function" });
    }
    if (!text?.trim()) return undefined;
    const extra: Record<string, unknown> = {};
    const editor = vscode.window.activeTextEditor;
    if (editor && editor.document.uri.scheme === "file") {
      extra.uri = editor.document.uri.toString();
      const sel = editor.selection;
      // The selection becomes context; an empty one only says which file is active.
      if (!sel.isEmpty) {
        extra.range = {
          start: { line: sel.start.line, character: sel.start.character },
          end: { line: sel.end.line, character: sel.end.character },
        };
      }
    }
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
    return chat.ask(text.trim(), extra);
  };

  const threadsView = new ThreadsViewProvider(threads);
  const threadIdOf = (arg?: string | ThreadInfo): string | undefined => (typeof arg === "string" ? arg : arg?.threadId);

  context.subscriptions.push(
    output,
    statusBar,
    chat,
    threads,
    threadsView,
    view,
    vscode.window.registerTreeDataProvider(THREADS_VIEW_ID, threadsView),
    threads.onDidChange(() => view.setThreadTitle(threads.currentTitle)),
    // A turn ended: the list's order and turn counts moved (and a new chat got its thread).
    chat.onDidChange(({ items }) => {
      if (items.some((i) => i.role === "assistant" && i.status !== "running" && i.status !== "history")) void threads.refresh();
    }),
    // Not the server's command names (orion.renameThread, ...): the language
    // client registers those itself to forward them to the server.
    vscode.commands.registerCommand("orion.newChat", () => threads.newChat()),
    vscode.commands.registerCommand("orion.switchThread", (arg?: string | ThreadInfo) => threads.switchTo(threadIdOf(arg))),
    vscode.commands.registerCommand("orion.thread.rename", (arg?: string | ThreadInfo, title?: string) =>
      threads.rename(threadIdOf(arg), title),
    ),
    vscode.commands.registerCommand("orion.thread.delete", (arg?: string | ThreadInfo) => threads.delete(threadIdOf(arg))),
    vscode.commands.registerCommand("orion.refreshThreads", () => threads.refresh()),
    vscode.commands.registerCommand("orion.rewindTurn", async (turnId?: string) => {
      const id = turnId ?? (await pickRewindableTurn(chat));
      return id ? threads.rewind(id) : undefined;
    }),
    vscode.window.registerWebviewViewProvider(VIEW_ID, view, { webviewOptions: { retainContextWhenHidden: true } }),
    statusBar.onDidChangeProgress((line) => chat.setProgress(line)),
    vscode.commands.registerCommand("orion.ask", ask),
    vscode.commands.registerCommand("orion.showHistory", async () => {
      await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
      const state = await chat.loadHistory();
      view.reset();
      return state;
    }),
    vscode.commands.registerCommand("orion.cancelTurn", () => chat.cancel()),
    vscode.commands.registerCommand("orion.showStatus", async () => {
      const status = await refreshModel();
      if (!status) {
        void vscode.window.showErrorMessage("Orion: no status from the server. See the Orion output.");
        return undefined;
      }
      output.appendLine(`[orion] status ${JSON.stringify(status, null, 2)}`);
      const map = status.repoMap ?? {};
      void vscode.window.showInformationMessage(
        `Orion: ${status.model ?? "?"} | ${status.projects?.map((p) => p.projectId).join(", ") || "no project"} | ` +
          `database ${status.databasePath ?? "?"} (schema ${status.schemaVersion ?? "?"}) | ` +
          `repo map ${map.files ?? 0} files, ${map.symbols ?? 0} symbols`,
      );
      return status;
    }),
    vscode.commands.registerCommand("orion.setApiKey", async (value?: string) => {
      const key =
        typeof value === "string"
          ? value
          : await vscode.window.showInputBox({
              prompt: "API key for the Orion model endpoint (stored in VS Code's secret storage; empty clears it)",
              password: true,
              ignoreFocusOut: true,
            });
      if (key === undefined) return false;
      if (key) await context.secrets.store(SECRET_KEY, key);
      else await context.secrets.delete(SECRET_KEY);
      // The key reaches the server only through its environment: restart it.
      await restart();
      return true;
    }),
    vscode.commands.registerCommand("orion.restartServer", () => restart()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (RESTART_KEYS.some((k) => e.affectsConfiguration(`orion.${k}`))) void restart();
      else if (e.affectsConfiguration("orion.model")) void refreshModel();
    }),
    // Restricted settings take their workspace values only once trusted.
    vscode.workspace.onDidGrantWorkspaceTrust(() => void restart()),
  );
  // VS Code awaits deactivate(): stop the server there so it never outlives us.
  stopOnDeactivate = stop;

  starting = start();
  return {
    chat,
    threads,
    statusBar,
    client: () => client,
    ready: () => starting,
    restart,
  };
}

/** "Orion: Rewind Turn" from the palette: choose among the shown turns that changed files. */
async function pickRewindableTurn(chat: ChatController): Promise<string | undefined> {
  const items = chat.current.items;
  const choices = items
    .map((item, i) => ({ item, prompt: items[i - 1]?.role === "user" ? items[i - 1].content : "" }))
    .filter(({ item }) => item.role === "assistant" && item.turnId && item.changedFiles?.length)
    .map(({ item, prompt }) => ({ label: prompt.split("\n")[0] || item.turnId!, description: item.changedFiles!.join(", "), id: item.turnId! }));
  if (!choices.length) {
    void vscode.window.showInformationMessage("Orion: no turn shown in this thread changed files.");
    return undefined;
  }
  return (await vscode.window.showQuickPick(choices.reverse(), { placeHolder: "Rewind which turn?" }))?.id;
}

let stopOnDeactivate: (() => Promise<void>) | undefined;

export function deactivate(): Promise<void> | undefined {
  return stopOnDeactivate?.();
}
