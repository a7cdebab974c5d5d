/**
 * The status bar item (model, server state, work-done progress) and the
 * `$/progress` plumbing behind it.
 *
 * vscode-languageclient already answers `window/workDoneProgress/create` with
 * its own generic progress UI; we take the request over so turn and indexing
 * progress appear in one place, our item (turns are cancelled from the chat
 * view or "Orion: Cancel", which know the turn id).
 */
import * as vscode from "vscode";
import {
  type LanguageClient,
  WorkDoneProgress,
  WorkDoneProgressCreateRequest,
  type ProgressToken,
} from "vscode-languageclient/node";
import { type ProgressState, type ProgressValue, applyProgress, progressText } from "./progress";

export type ServerState = "starting" | "running" | "stopped" | "error";

export class OrionStatusBar implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private progress: ProgressState = new Map();
  private state: ServerState = "starting";
  private model = "";
  private readonly changed = new vscode.EventEmitter<string | undefined>();
  /** Fires with the progress line (undefined when idle). */
  readonly onDidChangeProgress = this.changed.event;
  private connection: vscode.Disposable[] = [];
  private owner: LanguageClient | undefined;
  /** The last progress events seen ("token kind"), for diagnostics and tests. */
  readonly recent: string[] = [];

  constructor() {
    this.item = vscode.window.createStatusBarItem("orion.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "Orion";
    this.item.command = "orion.showStatus";
    this.update();
    this.item.show();
  }

  setModel(model: string): void {
    this.model = model;
    this.update();
  }

  setState(state: ServerState): void {
    this.state = state;
    if (state !== "running") this.progress = new Map();
    this.update();
  }

  get text(): string {
    return this.item.text;
  }

  get progressLine(): string | undefined {
    return progressText(this.progress);
  }

  /** Takes over work-done progress for a (re)started client. */
  attach(client: LanguageClient): void {
    for (const d of this.connection) d.dispose();
    // Work begun by a server that has since been replaced never ends: drop it.
    this.owner = client;
    this.progress = new Map();
    this.update();
    this.connection = [
      client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
        this.track(client, token);
        return null;
      }),
    ];
  }

  private track(client: LanguageClient, token: ProgressToken): void {
    const key = String(token);
    const sub = client.onProgress(WorkDoneProgress.type, token, (value: ProgressValue) => {
      if (this.owner !== client) return;
      this.recent.push(`${key} ${value.kind}`);
      if (this.recent.length > 20) this.recent.shift();
      this.progress = applyProgress(this.progress, key, value);
      this.update();
      this.changed.fire(this.progressLine);
      if (value.kind === "end") sub.dispose();
    });
    this.connection.push(sub);
  }

  private update(): void {
    const line = progressText(this.progress);
    const model = this.model || "default model";
    if (this.state === "error" || this.state === "stopped") {
      this.item.text = `$(error) Orion`;
      this.item.tooltip = `Orion server ${this.state}. Click for status; see the Orion output.`;
      this.item.backgroundColor = new vscode.ThemeColor("statusBarItem.errorBackground");
      return;
    }
    this.item.backgroundColor = undefined;
    if (this.state === "starting") {
      this.item.text = `$(loading~spin) Orion`;
      this.item.tooltip = "Orion server starting";
    } else if (line) {
      this.item.text = `$(sync~spin) Orion: ${line}`;
      this.item.tooltip = `${model}: ${line}`;
    } else {
      this.item.text = `$(sparkle) Orion: ${model}`;
      this.item.tooltip = `Orion using ${model}. Click for status.`;
    }
  }

  dispose(): void {
    for (const d of this.connection) d.dispose();
    this.changed.dispose();
    this.item.dispose();
  }
}
