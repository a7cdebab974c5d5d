/**
 * Starting orion-lsp over stdio with vscode-languageclient.
 *
 * The settings go as `initializationOptions` and answer the server's
 * `workspace/configuration` requests for section `orion` (the same flat object,
 * docs/protocol.md#settings); the API key goes only into the process environment.
 * Turn commands that VS Code runs from a code action are routed through the
 * chat controller so the chat view shows them like any other turn.
 */
import * as vscode from "vscode";
import {
  type ClientCapabilities,
  type FeatureState,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions as LcServerOptions,
  type StaticFeature,
  TransportKind,
} from "vscode-languageclient/node";
import { readSettings, serverCommand, serverEnv, toServerOptions } from "./settings";

export const SECRET_KEY = "orion.apiKey";

/** Commands that run a turn: `orion.chat` and the command the server's code actions carry. */
export const TURN_COMMANDS = new Set(["orion.chat", "orion.codeAction"]);

/** Tells the server that this client shows the `orion/*` turn notifications. */
const ORION_CAPABILITY: StaticFeature = {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    const experimental = (capabilities.experimental ?? {}) as Record<string, unknown>;
    capabilities.experimental = { ...experimental, orion: { turnNotifications: true } };
  },
  initialize(): void {},
  getState(): FeatureState {
    return { kind: "static" };
  },
  clear(): void {},
};

export interface ClientHooks {
  /** Called for turn commands executed through VS Code (code actions); returns the result. */
  runTurnCommand(command: string, args: Record<string, unknown>): Promise<unknown>;
  output: vscode.OutputChannel;
}

export async function createClient(
  context: vscode.ExtensionContext,
  hooks: ClientHooks,
): Promise<LanguageClient> {
  const settings = readSettings(vscode.workspace.getConfiguration("orion"));
  const apiKey = await context.secrets.get(SECRET_KEY);
  const cmd = serverCommand(settings);
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const run = {
    command: cmd.command,
    args: cmd.args,
    transport: TransportKind.stdio,
    options: { env: serverEnv(process.env, apiKey), cwd },
  };
  const serverOptions: LcServerOptions = { run, debug: run };
  const clientOptions: LanguageClientOptions = {
    // Code actions apply to any file on disk; the server decides what it offers.
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    initializationOptions: toServerOptions(settings, vscode.workspace.isTrusted),
    outputChannel: hooks.output,
    synchronize: { configurationSection: "orion" },
    middleware: {
      workspace: {
        // Answer `orion` with the mapped flat object, not VS Code's raw section
        // (which would carry client-only keys and empty strings).
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) return result;
          const fresh = toServerOptions(
            readSettings(vscode.workspace.getConfiguration("orion")),
            vscode.workspace.isTrusted,
          );
          return result.map((value, i) => (params.items[i]?.section === "orion" ? fresh : value));
        },
      },
      executeCommand: (command, args, next) => {
        if (TURN_COMMANDS.has(command) && args.length === 1 && typeof args[0] === "object" && args[0]) {
          // Code actions run detached by default (for clients that block on the
          // request). VS Code does not block, and the chat view follows the turn
          // through this request (cancel, the final status, the edits it
          // returns to whoever ran the action): ask for the synchronous form.
          const turnArgs = { ...(args[0] as Record<string, unknown>) };
          if (command === "orion.codeAction" && turnArgs.detach === undefined) turnArgs.detach = false;
          return hooks.runTurnCommand(command, turnArgs);
        }
        return next(command, args);
      },
    },
  };
  hooks.output.appendLine(`[orion] starting ${cmd.command} ${cmd.args.join(" ")}`.trimEnd());
  const client = new LanguageClient("orion", "Orion", serverOptions, clientOptions);
  client.registerFeature(ORION_CAPABILITY);
  return client;
}
