/**
 * Extension-host tests: the real extension in code-server's VS Code 1.100,
 * talking to the real orion-lsp server, which talks to the scripted model
 * (python -m orion_lsp.testing serve). The harness (test/host/run.mjs) writes
 * the workspace, the model script and test-results/integration-env.json.
 *
 * The model script's replies are consumed in order, so the tests run in order.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import type { ChatItem } from "../../src/chatModel";
import type { AskOutcome, ChatResult } from "../../src/chatController";
import type { OrionApi } from "../../src/extension";

interface Env {
  workspace: string;
  databasePath: string;
  garbageDb: string;
  requestsFile: string;
  apiKey: string;
  python: string;
}

const env: Env = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, "../../../test-results/integration-env.json"), "utf8"),
);

async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 15000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const modelRequests = (): number =>
  fs.existsSync(env.requestsFile) ? fs.readFileSync(env.requestsFile, "utf8").split("\n").filter(Boolean).length : 0;

/** Rows of the server's database, read by another process (as `orion` would). */
const dbRows = (sql: string): unknown[][] =>
  JSON.parse(
    execFileSync(
      env.python,
      ["-c", "import json,sqlite3,sys; print(json.dumps(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchall()))", env.databasePath, sql],
      { encoding: "utf8" },
    ),
  );

const lastAssistant = (api: OrionApi): ChatItem => {
  const items = api.chat.current.items.filter((i) => i.role === "assistant");
  return items[items.length - 1];
};

describe("Orion extension", function () {
  let api: OrionApi;

  before(async function () {
    this.timeout(60000);
    const ext = vscode.extensions.getExtension<OrionApi>("orion-lsp.orion-vscode");
    assert.ok(ext, "extension is installed");
    api = await ext.activate();
    await api.ready();
  });

  it("declares limited Workspace Trust with the model, endpoint and server path restricted", () => {
    const pkg = vscode.extensions.getExtension("orion-lsp.orion-vscode")!.packageJSON;
    const trust = pkg.capabilities.untrustedWorkspaces;
    assert.equal(trust.supported, "limited");
    for (const key of ["orion.model", "orion.apiBase", "orion.serverPath", "orion.pythonPath", "orion.serverArgs"]) {
      assert.ok(trust.restrictedConfigurations.includes(key), key);
    }
  });

  it("stores the API key in SecretStorage and restarts the server with it", async function () {
    this.timeout(30000);
    const ok = await vscode.commands.executeCommand<boolean>("orion.setApiKey", env.apiKey);
    assert.equal(ok, true);
    await api.ready();
    assert.ok(api.client()?.isRunning(), "server running after restart");
    const cfg = JSON.stringify(vscode.workspace.getConfiguration("orion"));
    assert.equal(cfg.includes(env.apiKey), false, "the key is not in settings");
  });

  it("shows the status: model, project root and database", async () => {
    const status = await vscode.commands.executeCommand<{
      model: string;
      databasePath: string;
      projects: { projectId: string; root: string }[];
    }>("orion.showStatus");
    assert.equal(status.model, "openai/scripted");
    assert.equal(status.databasePath, env.databasePath);
    assert.equal(status.projects[0].root, fs.realpathSync(env.workspace));
    // Indexing progress may show first; the model shows once it ends.
    await waitFor("the model in the status bar", () => /openai\/scripted/.test(api.statusBar.text));
  });

  it("streams an answer into the chat view (the key reached the model through the env)", async function () {
    this.timeout(30000);
    const seen = new Set<string>();
    const sub = api.chat.onDidChange(() => {
      const a = lastAssistant(api);
      if (a?.status === "running") seen.add(a.content);
    });
    const before = modelRequests();
    const outcome = await vscode.commands.executeCommand<AskOutcome>("orion.ask", "Say hello");
    sub.dispose();
    assert.equal(outcome.error, undefined, outcome.error);
    const result = outcome.result as ChatResult;
    assert.equal(result.status, "completed");
    assert.equal(result.answer, "Hello from the scripted model: **streamed** in pieces.");
    const a = lastAssistant(api);
    assert.equal(a.content, result.answer);
    assert.equal(a.turnId, result.turnId);
    assert.equal(a.status, "completed");
    assert.ok(seen.size >= 3, `saw ${seen.size} partial answers`);
    assert.equal(modelRequests(), before + 1);
    assert.equal(api.chat.current.running, undefined);
  });

  it("shows tool events as lines of the answer", async function () {
    this.timeout(30000);
    const outcome = await vscode.commands.executeCommand<AskOutcome>("orion.ask", "What does a.py define?");
    assert.equal(outcome.error, undefined, outcome.error);
    const a = lastAssistant(api);
    assert.deepEqual(
      a.tools.map((t) => [t.type, t.name, t.ok ?? null]),
      [
        ["tool_call", "read_file", null],
        ["tool_result", "read_file", true],
      ],
    );
    assert.equal(a.content, "a.py defines add(a, b).");
  });

  it("rates an answer: one user_rating row per turn, the second rating replaces the first", async function () {
    this.timeout(30000);
    const a = lastAssistant(api);
    assert.ok(a.turnId);
    assert.deepEqual(await api.chat.rate(a.turnId, "up"), {});
    assert.equal(lastAssistant(api).rating, "up");
    assert.deepEqual(await api.chat.rate(a.turnId, "down", "wrong function 🚀"), {});
    assert.deepEqual(dbRows("SELECT turn_id, label, source, explanation FROM scores WHERE name = 'user_rating'"), [
      [a.turnId, "down", "human", "wrong function 🚀"],
    ]);
    const unknown = await api.chat.rate("no-such-turn", "up");
    assert.match(unknown.error ?? "", /unknown turn/);
  });

  it("shows the turn's $/progress in the status bar and cancels the running turn", async function () {
    this.timeout(30000);
    const pending = vscode.commands.executeCommand<AskOutcome>("orion.ask", "Take your time");
    await waitFor("the turn to start streaming", () => api.chat.current.running?.turnId);
    const line = await waitFor("work-done progress of the turn", () => api.statusBar.progressLine);
    assert.ok(api.statusBar.text.includes(line), `status bar: ${api.statusBar.text}`);
    const cancelled = await vscode.commands.executeCommand<boolean>("orion.cancelTurn");
    assert.equal(cancelled, true);
    const outcome = await pending;
    assert.equal(outcome.error, undefined, outcome.error);
    assert.equal(outcome.result?.status, "cancelled");
    await waitFor("the item to show cancelled", () => lastAssistant(api).status === "cancelled");
    assert.equal(api.chat.current.running, undefined);
    // The server always ends its progress, also on cancel.
    await waitFor("the progress to end", () => api.statusBar.progressLine === undefined).catch((err) => {
      throw new Error(`${err.message}; still showing: ${api.statusBar.progressLine}; seen: ${api.statusBar.recent.join(", ")}`);
    });
    assert.match(api.statusBar.text, /openai\/scripted/);
  });

  it("applies the edit of a server code action to the open document", async function () {
    this.timeout(30000);
    const uri = vscode.Uri.file(path.join(env.workspace, "a.py"));
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const range = new vscode.Range(1, 4, 1, 4);
    const actions = await vscode.commands.executeCommand<(vscode.CodeAction | vscode.Command)[]>(
      "vscode.executeCodeActionProvider",
      uri,
      range,
    );
    const titles = actions.map((a) => a.title);
    const doc1 = actions.find((a) => a.title === "Orion: Add docstring");
    assert.ok(doc1, `code actions: ${JSON.stringify(titles)}`);
    const cmd = "command" in doc1 && typeof doc1.command === "object" ? doc1.command : (doc1 as vscode.Command);
    const result = await vscode.commands.executeCommand<ChatResult>(cmd.command, ...(cmd.arguments ?? []));
    assert.equal(result.status, "completed");
    assert.deepEqual(result.edits, [{ path: "a.py", applied: true }]);
    assert.match(doc.getText(), /def add\(a, b\):\n {4}"""Return the sum of a and b\."""\n/);
    // The server never writes the file itself: the edit is in the buffer, undoable.
    assert.equal(fs.readFileSync(uri.fsPath, "utf8").includes("Return the sum"), false);
    assert.equal(lastAssistant(api).content, "Added a docstring to add.");
    const items = api.chat.current.items;
    assert.equal(items[items.length - 2].content, "Add docstring", "the view shows what was asked");
  });

  it("loads the workspace's history after a server restart", async function () {
    this.timeout(30000);
    await api.restart();
    const state = await vscode.commands.executeCommand<{ items: ChatItem[] }>("orion.showHistory");
    const users = state.items.filter((i) => i.role === "user").map((i) => i.content);
    assert.deepEqual(users.slice(0, 2), ["Say hello", "What does a.py define?"]);
    assert.ok(state.items.every((i) => i.status === "history"));
    // The harness compares this with `orion history --json` on the same database.
    fs.writeFileSync(
      path.resolve(__dirname, "../../../test-results/vscode-history.json"),
      JSON.stringify({
        projectId: api.chat.current.projectId,
        threadId: api.chat.current.threadId,
        messages: state.items.map((i) => ({ role: i.role, content: i.content, turnId: i.turnId })),
      }),
    );
    const hello = state.items.findIndex((i) => i.content === "Say hello");
    assert.equal(state.items[hello + 1].content, "Hello from the scripted model: **streamed** in pieces.");
  });

  it("shows a storage error in place and never touches the broken database", async function () {
    this.timeout(30000);
    const garbage = fs.readFileSync(env.garbageDb);
    const old = api.client();
    const cfg = vscode.workspace.getConfiguration("orion");
    await cfg.update("databasePath", env.garbageDb, vscode.ConfigurationTarget.Workspace);
    try {
      await waitFor("a new server", () => api.client() !== undefined && api.client() !== old);
      await api.ready();
      const before = modelRequests();
      const outcome = await vscode.commands.executeCommand<AskOutcome>("orion.ask", "Anything");
      assert.ok(outcome.error?.startsWith("Orion storage error:"), outcome.error);
      assert.ok(outcome.error?.includes(env.garbageDb), "names the database path");
      const a = lastAssistant(api);
      assert.equal(a.status, "error");
      assert.equal(a.error, outcome.error);
      assert.equal(modelRequests(), before, "no model call after a storage error");
      assert.deepEqual(fs.readFileSync(env.garbageDb), garbage, "file never overwritten");
    } finally {
      const prev = api.client();
      await cfg.update("databasePath", env.databasePath, vscode.ConfigurationTarget.Workspace);
      await waitFor("the restored server", () => api.client() !== undefined && api.client() !== prev).catch(() => undefined);
      await api.ready();
    }
  });

  it("starts a second thread that never sees the first, and switches back", async function () {
    this.timeout(60000);
    const first = api.chat.current.threadId;
    assert.ok(first, "the chat shows a thread");
    await vscode.commands.executeCommand("orion.newChat");
    assert.equal(api.chat.current.items.length, 0, "a new chat starts empty");
    assert.equal(api.threads.currentTitle, "New chat");
    const outcome = await vscode.commands.executeCommand<AskOutcome>("orion.ask", "Beta question");
    assert.equal(outcome.error, undefined, outcome.error);
    const second = outcome.result?.threadId;
    assert.ok(second && second !== first, `a new thread: ${second}`);
    const lines = fs.readFileSync(env.requestsFile, "utf8").split("\n").filter(Boolean);
    const sent = JSON.stringify(JSON.parse(lines[lines.length - 1]).messages);
    assert.ok(sent.includes("Beta question"), sent);
    assert.equal(sent.includes("Say hello"), false, "no message of the first thread reached the model");
    const threads = await api.threads.refresh();
    assert.deepEqual(threads.map((t) => t.title).slice(0, 1), ["Beta question"]);
    assert.ok(threads.some((t) => t.threadId === first));
    await waitFor("the view to name the thread", () => api.threads.currentTitle === "Beta question");
    await vscode.commands.executeCommand("orion.switchThread", first);
    assert.equal(api.chat.current.threadId, first);
    const users = api.chat.current.items.filter((i) => i.role === "user").map((i) => i.content);
    assert.ok(users.includes("Say hello") && !users.includes("Beta question"), JSON.stringify(users));
  });

  it("rewinds the turn that edited a.py: the buffer is restored and the turn leaves the thread", async function () {
    this.timeout(60000);
    const uri = vscode.Uri.file(path.join(env.workspace, "a.py"));
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.match(doc.getText(), /Return the sum of a and b/, "the code action's edit is in the buffer");
    const turn = api.chat.current.items.find((i) => i.role === "assistant" && i.changedFiles?.includes("a.py"));
    assert.ok(turn?.turnId, `a turn that changed a.py: ${JSON.stringify(api.chat.current.items.map((i) => i.changedFiles))}`);
    const asked: string[] = [];
    api.threads.confirm = async (message, detail, yes) => {
      asked.push(`${message} | ${detail} | ${yes}`);
      return true;
    };
    const result = await vscode.commands.executeCommand<{ restored: { path: string; applied: boolean }[]; rewoundTurns: string[] }>(
      "orion.rewindTurn",
      turn.turnId,
    );
    assert.deepEqual(result?.restored, [{ path: "a.py", applied: true }]);
    assert.deepEqual(result?.rewoundTurns, [turn.turnId]);
    assert.equal(asked.length, 1);
    assert.match(asked[0], /Restore a\.py/, "the confirmation names the file");
    assert.equal(doc.getText(), fs.readFileSync(uri.fsPath, "utf8"), "the buffer is back to the file's content");
    assert.equal(doc.getText().includes("Return the sum"), false);
    assert.equal(api.chat.current.items.some((i) => i.turnId === turn.turnId), false, "the rewound turn left the view");
    // Undo in the editor brings the turn's version back: the restore was an ordinary edit.
    await vscode.window.showTextDocument(doc);
    await vscode.commands.executeCommand("undo");
    assert.match(doc.getText(), /Return the sum of a and b/);
  });
});
