/**
 * The "Orion Chat" webview view: shows the chat controller's state and sends
 * the prompt box, Cancel and link clicks back. Strict CSP (src/chatHtml.ts);
 * links open only after a click and only for http(s)/mailto targets.
 */
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";
import type { ChatController } from "./chatController";
import { chatShell, makeNonce } from "./chatHtml";
import { isSafeLink } from "./markdown";

export const VIEW_ID = "orion.chatView";

type FromView =
  | { type: "ready" }
  | { type: "ask"; prompt: string }
  | { type: "cancel" }
  | { type: "rewind"; turnId: string }
  | { type: "rate"; turnId: string; rating: "up" | "down" }
  | { type: "openLink"; href: string };

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private title = "";

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly chat: ChatController,
    private readonly onReady: () => void,
  ) {
    this.disposables.push(
      chat.onDidChange(({ items }) => {
        if (items.length) this.post({ type: "upsert", items: chat.renderItems(items), ...this.busy() });
        else this.post({ type: "upsert", items: [], ...this.busy() });
      }),
    );
  }

  get visible(): boolean {
    return this.view?.visible ?? false;
  }

  private busy(): { running: boolean; progress?: string } {
    return { running: this.chat.current.running !== undefined, progress: this.chat.progressText };
  }

  private post(message: object): void {
    void this.view?.webview.postMessage(message);
  }

  /** The view's header names the thread shown (src/threads.ts). */
  setThreadTitle(title: string): void {
    this.title = title;
    if (this.view) this.view.description = title;
  }

  /** Redraws everything (after history loads or the view is shown again). */
  reset(): void {
    this.post({ type: "reset", items: this.chat.rendered(), ...this.busy() });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.description = this.title;
    const media = vscode.Uri.joinPath(this.extensionUri, "media");
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    view.webview.html = chatShell({
      cspSource: view.webview.cspSource,
      nonce: makeNonce((n) => randomBytes(n)),
      scriptUri: view.webview.asWebviewUri(vscode.Uri.joinPath(media, "chat.js")).toString(),
      styleUri: view.webview.asWebviewUri(vscode.Uri.joinPath(media, "chat.css")).toString(),
    });
    this.disposables.push(
      view.webview.onDidReceiveMessage((msg: FromView) => this.receive(msg)),
      view.onDidDispose(() => {
        if (this.view === view) this.view = undefined;
      }),
    );
  }

  private receive(msg: FromView): void {
    switch (msg.type) {
      case "ready":
        this.reset();
        this.onReady();
        break;
      case "ask":
        if (typeof msg.prompt === "string" && msg.prompt.trim()) void this.chat.ask(msg.prompt.trim());
        break;
      case "cancel":
        void this.chat.cancel();
        break;
      case "rewind":
        if (typeof msg.turnId === "string") void vscode.commands.executeCommand("orion.rewindTurn", msg.turnId);
        break;
      case "rate":
        if (typeof msg.turnId === "string" && (msg.rating === "up" || msg.rating === "down")) {
          void this.chat.rate(msg.turnId, msg.rating).then((r) => {
            // The server shows storage errors itself (window/showMessage).
            if (r.error && !r.error.startsWith("Orion storage error:")) void vscode.window.showErrorMessage(r.error);
          });
        }
        break;
      case "openLink":
        if (typeof msg.href === "string" && isSafeLink(msg.href)) {
          void vscode.env.openExternal(vscode.Uri.parse(msg.href, true));
        }
        break;
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
