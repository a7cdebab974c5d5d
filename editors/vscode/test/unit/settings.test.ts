import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULTS, readSettings, serverCommand, serverEnv, toServerOptions } from "../../src/settings";

const config = (values: Record<string, unknown>) => ({ get: <T>(k: string) => values[k] as T | undefined });

test("initializationOptions carry the server's setting keys and drop empty strings", () => {
  const s = readSettings(
    config({ model: "openai/scripted", apiBase: "  ", criticModel: "", databasePath: "/tmp/o.db", historyLimit: 5 }),
  );
  assert.deepEqual(toServerOptions(s), {
    workspaceTrusted: false,
    model: "openai/scripted",
    databasePath: "/tmp/o.db",
    historyLimit: 5,
    maxSteps: 12,
    contextTokens: 4096,
  });
});

test("client-only settings never reach the server", () => {
  const opts = toServerOptions(readSettings(config({ serverPath: "/bin/x", pythonPath: "/usr/bin/python3" })));
  assert.equal("serverPath" in opts, false);
  assert.equal("pythonPath" in opts, false);
});

test("invalid numbers fall back to the defaults", () => {
  const s = readSettings(config({ historyLimit: -3, maxSteps: 2.5, contextTokens: "9" }));
  assert.equal(s.historyLimit, DEFAULTS.historyLimit);
  assert.equal(s.maxSteps, DEFAULTS.maxSteps);
  assert.equal(s.contextTokens, DEFAULTS.contextTokens);
});

test("server path wins over the interpreter, which wins over PATH", () => {
  assert.deepEqual(serverCommand({ ...DEFAULTS, serverPath: "/opt/orion-lsp", pythonPath: "/py" }), {
    command: "/opt/orion-lsp",
    args: [],
  });
  assert.deepEqual(serverCommand({ ...DEFAULTS, pythonPath: "/venv/bin/python" }), {
    command: "/venv/bin/python",
    args: ["-m", "orion_lsp"],
  });
  assert.deepEqual(serverCommand(DEFAULTS), { command: "orion-lsp", args: [] });
  const s = readSettings(config({ pythonPath: "/py", serverArgs: ["--log-file", "/tmp/l", 3] }));
  assert.deepEqual(serverCommand(s), { command: "/py", args: ["-m", "orion_lsp", "--log-file", "/tmp/l"] });
  assert.equal("serverArgs" in toServerOptions(s), false);
});

test("the API key goes to the environment only", () => {
  const secret = "sk-test-0123456789";
  const env = serverEnv({ PATH: "/usr/bin", UNSET: undefined }, secret);
  assert.equal(env.ORION_API_KEY, secret);
  assert.equal(env.PATH, "/usr/bin");
  assert.equal("UNSET" in env, false);
  const opts = toServerOptions(readSettings(config({ model: "m" })));
  assert.equal(JSON.stringify(opts).includes(secret), false);
});

test("an exported ORION_API_KEY survives when no secret is stored", () => {
  assert.equal(serverEnv({ ORION_API_KEY: "from-shell" }, undefined).ORION_API_KEY, "from-shell");
  assert.equal(serverEnv({ ORION_API_KEY: "from-shell" }, "stored").ORION_API_KEY, "stored");
});

test("Workspace Trust goes to the server; untrusted unless VS Code says trusted", () => {
  const s = readSettings(config({}));
  assert.equal(toServerOptions(s).workspaceTrusted, false);
  assert.equal(toServerOptions(s, true).workspaceTrusted, true);
});
