// `orion acp` through the official TypeScript ACP SDK (@agentclientprotocol/sdk),
// the client side an editor built on it would use: initialize, a new session,
// a prompt whose turn reads and edits a file (permission asked, the edit written
// through fs/write_text_file), the session listed and loaded again from a second
// process, and the turn visible in Orion's own history (`orion history --json`).
// Exits non-zero on the first failed check.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import assert from "node:assert/strict";
import * as acp from "@agentclientprotocol/sdk";

const python = process.env.ORION_PYTHON || "python3";
const tmp = mkdtempSync(join(tmpdir(), "orion-acp-ts-"));
const ws = join(tmp, "ws");
mkdirSync(ws);
const source = "def greet(name):\n    return f'Grüß dich, {name} 🙂'\n";
writeFileSync(join(ws, "app.py"), source);
const script = {
  replies: [
    { text: "Je lis. ", tool_calls: [{ name: "read_file", arguments: { path: "app.py" } }] },
    { text: "", tool_calls: [{ name: "edit_file", arguments: { path: "app.py", oldText: "Grüß dich", newText: "Servus" } }] },
    { text: "Changed the greeting to Servus 🙂." },
  ],
};
writeFileSync(join(tmp, "script.json"), JSON.stringify(script));

const model = spawn(python, ["-m", "orion_lsp.testing", "serve", "--script", join(tmp, "script.json")], {
  stdio: ["ignore", "pipe", "inherit"],
});
const baseUrl = await new Promise((resolve, reject) => {
  model.stdout.once("data", (d) => resolve(d.toString().trim().split("\n")[0]));
  model.once("exit", (code) => reject(new Error(`scripted model exited ${code}`)));
});
const env = { ...process.env, ORION_MODEL: "openai/scripted", ORION_API_BASE: baseUrl, ORION_DB: join(tmp, "orion.db") };
for (const k of Object.keys(env)) if (k.startsWith("OTEL_")) delete env[k];

function startAgent() {
  const child = spawn(python, ["-m", "orion_lsp.cli", "acp"], { env, cwd: ws, stdio: ["pipe", "pipe", "inherit"] });
  const stream = acp.ndJsonStream(Writable.toWeb(child.stdin), Readable.toWeb(child.stdout));
  return { child, stream };
}

const updates = [];
const writes = [];
const permissions = [];
function clientApp() {
  return acp
    .client({ name: "orion-ts-test" })
    .onNotification(acp.methods.client.session.update, (ctx) => {
      updates.push(ctx.params.update);
    })
    .onRequest(acp.methods.client.session.requestPermission, (ctx) => {
      permissions.push(ctx.params);
      return { outcome: { outcome: "selected", optionId: "allow_once" } };
    })
    .onRequest(acp.methods.client.fs.readTextFile, (ctx) => ({ content: readFileSync(ctx.params.path, "utf8") }))
    .onRequest(acp.methods.client.fs.writeTextFile, (ctx) => {
      writes.push(ctx.params.path);
      writeFileSync(ctx.params.path, ctx.params.content);
      return {};
    });
}

let sessionId;
let failed = false;
try {
  const first = startAgent();
  await clientApp().connectWith(first.stream, async (agent) => {
    const init = await agent.request(acp.methods.agent.initialize, {
      protocolVersion: acp.PROTOCOL_VERSION,
      clientCapabilities: { fs: { readTextFile: true, writeTextFile: true } },
    });
    assert.equal(init.agentCapabilities.loadSession, true);
    const session = await agent.request(acp.methods.agent.session.new, { cwd: ws, mcpServers: [] });
    sessionId = session.sessionId;
    const result = await agent.request(acp.methods.agent.session.prompt, {
      sessionId,
      prompt: [{ type: "text", text: "Change the greeting ✨" }],
    });
    assert.equal(result.stopReason, "end_turn");
    const text = updates.filter((u) => u.sessionUpdate === "agent_message_chunk").map((u) => u.content.text).join("");
    assert.equal(text, "Je lis. Changed the greeting to Servus 🙂.");
    const kinds = updates.filter((u) => u.sessionUpdate === "tool_call").map((u) => u.kind);
    assert.deepEqual(kinds, ["read", "edit"]);
    const diffs = updates.flatMap((u) => (u.sessionUpdate === "tool_call_update" ? u.content || [] : [])).filter((c) => c.type === "diff");
    assert.equal(diffs.length, 1);
    assert.equal(diffs[0].path, join(ws, "app.py"));
    assert.equal(permissions.length, 1);
    assert.deepEqual(writes, [join(ws, "app.py")]);
    assert.equal(readFileSync(join(ws, "app.py"), "utf8"), source.replace("Grüß dich", "Servus"));
    const list = await agent.request(acp.methods.agent.session.list, { cwd: ws });
    assert.deepEqual(list.sessions.map((s) => s.sessionId), [sessionId]);
  });
  first.child.stdin.end();
  // A second agent process loads the session: the thread comes back.
  updates.length = 0;
  const second = startAgent();
  await clientApp().connectWith(second.stream, async (agent) => {
    await agent.request(acp.methods.agent.initialize, { protocolVersion: acp.PROTOCOL_VERSION, clientCapabilities: {} });
    await agent.request(acp.methods.agent.session.load, { sessionId, cwd: ws, mcpServers: [] });
    const replay = updates.map((u) => u.sessionUpdate);
    assert.deepEqual(replay, ["user_message_chunk", "agent_message_chunk"]);
    assert.equal(updates[0].content.text, "Change the greeting ✨");
  });
  second.child.stdin.end();
  // The same turn in Orion's own history, as the editors and the CLI see it.
  const projectId = execFileSync(python, ["-m", "orion_lsp.cli", "project-id", ws], { env }).toString().trim();
  const history = JSON.parse(execFileSync(python, ["-m", "orion_lsp.cli", "history", "--project-id", projectId, "--json"], { env }).toString());
  assert.deepEqual(history.messages.map((m) => m.role), ["user", "assistant"]);
  assert.equal(history.messages[0].content, "Change the greeting ✨");
  console.error("acp-ts: all checks passed");
} catch (err) {
  failed = true;
  console.error("acp-ts: FAILED:", err);
} finally {
  model.kill();
}
process.exit(failed ? 1 : 0);
