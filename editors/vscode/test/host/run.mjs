// Runs the extension's tests in real VS Code: code-server 4.100 (from npm)
// driven by Debian's Chromium through playwright-core, against the real
// orion-lsp server and the scripted model. Phases:
//   integration  extension-host mocha tests (test/integration) via a ?payload= URL
//   ui           the packaged .vsix installed, driven through the UI (test/host/ui.mjs)
// Usage: node test/host/run.mjs [integration] [ui]   (default: both)
// Exit code 0 only when every selected phase passed.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { A_PY, GARBAGE, INTEGRATION_SCRIPT, UI_SCRIPT } from "./fixtures.mjs";
import { runUi } from "./ui.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const REPO = path.resolve(ROOT, "../..");
const PYTHON = process.env.ORION_PYTHON || path.join(REPO, ".venv/bin/python");
const CS_ENTRY = path.join(ROOT, "test-host/node_modules/code-server/out/node/entry.js");
const VSIX = path.join(ROOT, "dist/orion-vscode.vsix");
const RESULTS = path.join(ROOT, "test-results");
const { chromium } = createRequire(path.join(ROOT, "test-host/package.json"))("playwright-core");

const phases = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const selected = phases.length ? phases : ["integration", "ui"];
const children = [];
const t0 = Date.now();
const log = (msg) => process.stderr.write(`[vscode-test +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function waitFor(what, probe, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function start(name, cmd, args, opts) {
  const out = fs.openSync(path.join(opts.logDir, `${name}.log`), "w");
  const child = spawn(cmd, args, { ...opts, stdio: ["ignore", out, out], detached: true });
  children.push(child);
  return child;
}

/** The scripted OpenAI-compatible model; returns its base URL and request log. */
async function startModel(tmp, name, script) {
  const scriptFile = path.join(tmp, `${name}-script.json`);
  const portFile = path.join(tmp, `${name}-url`);
  const requestsFile = path.join(tmp, `${name}-requests.jsonl`);
  fs.writeFileSync(scriptFile, JSON.stringify(script));
  start(`model-${name}`, PYTHON, ["-m", "orion_lsp.testing", "serve", "--script", scriptFile, "--port-file", portFile, "--requests-file", requestsFile], { logDir: tmp, cwd: REPO });
  const url = await waitFor(`the ${name} model server`, () => fs.existsSync(portFile) && fs.readFileSync(portFile, "utf8").trim(), 20000);
  return { url, requestsFile };
}

function makeWorkspace(tmp, name, settings) {
  const ws = path.join(tmp, name);
  // The server's own log, kept with the other logs of a failed run.
  settings = { "orion.serverArgs": ["--log-file", path.join(tmp, `server-${name}.log`)], ...settings };
  fs.mkdirSync(path.join(ws, ".vscode"), { recursive: true });
  fs.writeFileSync(path.join(ws, "a.py"), A_PY);
  fs.writeFileSync(path.join(ws, ".vscode/settings.json"), JSON.stringify(settings, null, 2));
  return ws;
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "orion-vscode-"));
  fs.rmSync(RESULTS, { recursive: true, force: true });
  fs.mkdirSync(RESULTS, { recursive: true });
  log(`temp dir ${tmp}`);
  const userData = path.join(tmp, "user-data");
  const extDir = path.join(tmp, "extensions");
  fs.mkdirSync(path.join(userData, "User"), { recursive: true });
  fs.writeFileSync(
    path.join(userData, "User/settings.json"),
    JSON.stringify({
      "orion.pythonPath": PYTHON,
      "orion.model": "openai/scripted",
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "workbench.welcomePage.walkthroughs.openOnInstall": false,
      "security.workspace.trust.enabled": false,
      "telemetry.telemetryLevel": "off",
      "extensions.autoUpdate": false,
      "extensions.autoCheckUpdates": false,
      "update.mode": "none",
      "chat.commandCenter.enabled": false,
      "workbench.secondarySideBar.defaultVisibility": "hidden",
      "files.autoSave": "off",
    }),
  );
  // Nothing of the user's own Orion setup may leak into the tests.
  const env = { ...process.env, EXTENSIONS_GALLERY: '{"serviceUrl":""}', XDG_CONFIG_HOME: path.join(tmp, "xdg-config"), XDG_DATA_HOME: path.join(tmp, "xdg-data") };
  for (const k of ["ORION_API_KEY", "ORION_DB", "ORION_MODEL", "ORION_API_BASE", "ORION_CRITIC_MODEL", "OPENAI_API_KEY"]) delete env[k];
  const csArgs = ["--config", path.join(tmp, "code-server.yaml"), "--user-data-dir", userData, "--extensions-dir", extDir];

  if (selected.includes("ui")) {
    const r = spawnSync(process.execPath, [CS_ENTRY, ...csArgs, "--install-extension", VSIX], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`installing ${VSIX} failed:\n${r.stdout}\n${r.stderr}`);
    log("installed the .vsix");
  }

  const port = await freePort();
  start("code-server", process.execPath, [CS_ENTRY, ...csArgs, "--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override", "--disable-proxy"], { env, logDir: tmp });
  const base = `http://127.0.0.1:${port}`;
  await waitFor("code-server", async () => {
    try {
      return (await fetch(`${base}/healthz`)).ok;
    } catch {
      return false;
    }
  }, 30000);
  log(`code-server at ${base}`);

  const browser = await chromium.launchPersistentContext(path.join(tmp, "chromium-profile"), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
    viewport: { width: 1280, height: 800 },
  });
  let failed = 0;
  try {
    if (selected.includes("integration")) failed += await integration(tmp, base, browser);
    if (selected.includes("ui")) failed += await ui(tmp, base, browser);
  } finally {
    await browser.close();
  }
  log(failed ? `${failed} failure(s); logs in ${tmp}` : "all passed");
  if (!failed && !process.argv.includes("--keep")) fs.rmSync(tmp, { recursive: true, force: true });
  return failed;
}

async function integration(tmp, base, browser) {
  const model = await startModel(tmp, "integration", INTEGRATION_SCRIPT);
  const databasePath = path.join(tmp, "integration.db");
  const garbageDb = path.join(tmp, "not-a-database.db");
  fs.writeFileSync(garbageDb, GARBAGE);
  const ws = makeWorkspace(tmp, "ws-integration", { "orion.apiBase": model.url, "orion.databasePath": databasePath });
  fs.writeFileSync(
    path.join(RESULTS, "integration-env.json"),
    JSON.stringify({ workspace: ws, databasePath, garbageDb, requestsFile: model.requestsFile, apiKey: "sk-orion-test-key", python: PYTHON }),
  );
  // In the browser these are URIs of the remote (code-server) side.
  const remote = (p) => `vscode-remote://${new URL(base).host}${p}`;
  const payload = JSON.stringify([
    ["extensionDevelopmentPath", remote(ROOT)],
    ["extensionTestsPath", remote(path.join(ROOT, "out/test/integration/index.js"))],
  ]);
  const page = await browser.newPage();
  await page.goto(`${base}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(payload)}`);
  const file = path.join(RESULTS, "integration.json");
  try {
    await waitFor("the extension-host tests", () => fs.existsSync(file), 150000);
  } finally {
    await page.close();
  }
  const { failures, outcomes } = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const o of outcomes) {
    log(`${o.state === "passed" ? "ok  " : "FAIL"} ${o.title}${o.durationMs ? ` (${o.durationMs} ms)` : ""}`);
    if (o.error) process.stderr.write(`${o.error}\n`);
  }
  if (!outcomes.length) return 1;
  return failures + sameHistoryAsCli(ws, databasePath);
}

/** The history VS Code showed is the one `orion history` prints for the same project. */
function sameHistoryAsCli(ws, databasePath) {
  const file = path.join(RESULTS, "vscode-history.json");
  if (!fs.existsSync(file)) {
    log("FAIL history vs CLI: the extension did not record its history");
    return 1;
  }
  const shown = JSON.parse(fs.readFileSync(file, "utf8"));
  const env = { ...process.env, ORION_DB: databasePath };
  const cli = (...args) => {
    const r = spawnSync(PYTHON, ["-c", "from orion_lsp.cli import main; raise SystemExit(main())", ...args], { env, encoding: "utf8", cwd: ws });
    if (r.status !== 0) throw new Error(`orion ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const projectId = cli("project-id", ws).trim();
  // The thread shown then, rewound turns included: later tests add threads and rewind a turn.
  const printed = JSON.parse(
    cli("history", "--project-id", projectId, "--thread", shown.threadId, "--include-rewound", "--limit", String(shown.messages.length), "--json"),
  );
  const pick = (m) => ({ role: m.role, content: m.content, turnId: m.turnId });
  const same = projectId === shown.projectId && JSON.stringify(printed.messages.map(pick)) === JSON.stringify(shown.messages.map(pick));
  log(`${same ? "ok  " : "FAIL"} history shown in VS Code == \`orion history --json\` (${shown.messages.length} messages, project ${projectId})`);
  if (!same) process.stderr.write(`vscode: ${JSON.stringify(shown)}\ncli: ${JSON.stringify(printed)}\n`);
  return same ? 0 : 1;
}

async function ui(tmp, base, browser) {
  const model = await startModel(tmp, "ui", UI_SCRIPT);
  const uiDb = path.join(tmp, "ui.db");
  const ws = makeWorkspace(tmp, "ws-ui", { "orion.apiBase": model.url, "orion.databasePath": uiDb });
  const garbageDb = path.join(tmp, "ui-not-a-database.db");
  fs.writeFileSync(garbageDb, GARBAGE);
  const broken = makeWorkspace(tmp, "ws-broken-db", { "orion.apiBase": model.url, "orion.databasePath": garbageDb });
  const page = await browser.newPage();
  try {
    await runUi({ page, base, ws, broken, garbageDb, db: uiDb, python: PYTHON, images: process.env.ORION_SCREENSHOTS_DIR || path.join(tmp, "screenshots"), log, debugDir: tmp });
    log("ok   UI smoke test");
    return 0;
  } catch (err) {
    log(`FAIL UI smoke test: ${err.stack ?? err}`);
    return 1;
  } finally {
    await page.close();
  }
}

function cleanup() {
  for (const c of children) {
    try {
      process.kill(-c.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

main().then(
  (failed) => process.exit(failed ? 1 : 0),
  (err) => {
    log(`error: ${err.stack ?? err}`);
    process.exit(1);
  },
);
