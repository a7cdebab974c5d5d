// UI smoke test: the packaged extension in code-server, driven like a person
// would through Chromium: set the API key, ask in the Orion Chat view and watch
// the answer stream in, apply a code action's edit, and see a storage error.
// Captures screenshots (into a temp dir; ORION_SCREENSHOTS_DIR=docs/images refreshes the docs' ones).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const KEY = "sk-orion-ui-test-key";

async function command(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor();
  await page.keyboard.press("Enter");
}

async function openWorkbench(page, base, folder) {
  await page.goto(`${base}/?folder=${encodeURIComponent(folder)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: 30000 });
  // The status bar item appears once the extension has activated.
  await page.locator(".statusbar-item", { hasText: "Orion" }).first().waitFor({ timeout: 30000 });
}

function chatFrame(page) {
  return page.frameLocator("iframe.webview").first().frameLocator("iframe#active-frame");
}

async function openChat(page) {
  await command(page, "Focus on Orion Chat View");
  const frame = chatFrame(page);
  await frame.locator("#prompt").waitFor({ timeout: 20000 });
  return frame;
}

async function ask(frame, text) {
  await frame.locator("#prompt").fill(text);
  await frame.locator("#prompt").press("Enter");
}

async function step(name, ctx, failures, fn) {
  try {
    await fn();
    ctx.log(`ok   ui: ${name}`);
  } catch (err) {
    failures.push(`${name}: ${err.message}`);
    const shot = path.join(ctx.debugDir, `ui-failure-${failures.length}.png`);
    await ctx.page.screenshot({ path: shot }).catch(() => undefined);
    ctx.log(`FAIL ui: ${name}: ${err.message}\n  screenshot: ${shot}`);
  }
}

/** The `user_rating` rows of the database, read as another process would. */
function ratings(python, db) {
  const code = "import json,sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(json.dumps(c.execute(\"SELECT turn_id, label, source FROM scores WHERE name='user_rating'\").fetchall()))";
  const r = spawnSync(python, ["-c", code, db], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`reading ${db}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export async function runUi({ page, base, ws, broken, garbageDb, db, python, images, log, debugDir }) {
  const ctx = { page, log, debugDir };
  fs.mkdirSync(images, { recursive: true });
  const failures = [];
  const shot = (name) => page.screenshot({ path: path.join(images, `vscode-${name}.png`) });

  await openWorkbench(page, base, ws);
  await step("set the API key through the command palette", ctx, failures, async () => {
    await command(page, "Orion: Set API Key");
    const input = page.locator(".quick-input-widget input");
    await page.locator(".quick-input-widget", { hasText: "secret storage" }).waitFor();
    if ((await input.getAttribute("type")) !== "password") throw new Error("the key input is not a password box");
    await input.fill(KEY);
    await page.keyboard.press("Enter");
    await page.locator(".statusbar-item", { hasText: "openai/scripted" }).first().waitFor({ timeout: 20000 });
  });

  await step("ask and see the answer stream in as Markdown with tool lines", ctx, failures, async () => {
    const frame = await openChat(page);
    await ask(frame, "What does a.py do?");
    const answer = frame.locator(".item.assistant").last();
    // Seen while still running: the answer arrives in pieces, not at the end.
    await frame.locator(".item.assistant.status-running .body", { hasText: "Here is" }).waitFor({ timeout: 30000 });
    await frame.locator(".item.assistant.status-completed", { hasText: "add(2, 3)" }).waitFor({ timeout: 30000 });
    const tools = await answer.locator(".tools li").allTextContents();
    if (!tools.some((t) => t.startsWith("→ read_file")) || !tools.some((t) => t.startsWith("✓ read_file"))) {
      throw new Error(`tool lines: ${JSON.stringify(tools)}`);
    }
    if ((await answer.locator(".body strong").count()) < 1 || (await answer.locator(".body pre code").count()) !== 1) {
      throw new Error("the answer was not rendered as Markdown");
    }
    await frame.locator(".item.user", { hasText: "What does a.py do?" }).waitFor();
    await shot("chat");
  });

  await step("rate the answer with its thumbs-up button and see the row", ctx, failures, async () => {
    const answer = chatFrame(page).locator(".item.assistant.status-completed").last();
    await answer.locator("button.rate-up").click();
    await answer.locator('button.rate-up[aria-pressed="true"]').waitFor({ timeout: 15000 });
    let rows = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      rows = ratings(python, db);
      if (!rows.length) await new Promise((r) => setTimeout(r, 100));
    }
    if (rows.length !== 1 || rows[0][1] !== "up" || rows[0][2] !== "human") throw new Error(`rows: ${JSON.stringify(rows)}`);
    // A second click of the other button replaces the rating: still one row.
    await answer.locator("button.rate-down").click();
    await answer.locator('button.rate-down[aria-pressed="true"]').waitFor({ timeout: 15000 });
    rows = ratings(python, db);
    if (rows.length !== 1 || rows[0][1] !== "down") throw new Error(`after the second click: ${JSON.stringify(rows)}`);
    await shot("rating");
  });

  await step("apply the edit of a server code action", ctx, failures, async () => {
    await page.keyboard.press("Control+P");
    const input = page.locator(".quick-input-widget input");
    await input.waitFor({ state: "visible" });
    await input.fill("a.py");
    await page.locator(".quick-input-list .monaco-list-row", { hasText: "a.py" }).first().waitFor();
    await page.keyboard.press("Enter");
    const editor = page.locator(".editor-instance .monaco-editor").first();
    await editor.locator(".view-lines", { hasText: "def add" }).waitFor();
    await page.keyboard.press("Control+G");
    await input.fill(":2:5");
    await page.keyboard.press("Enter");
    await page.keyboard.press("Control+.");
    const item = page.locator(".action-widget .monaco-list-row", { hasText: "Orion: Add docstring" });
    await item.waitFor({ timeout: 15000 });
    // The widget's rows re-render under the mouse; choose with the keyboard.
    const focused = page.locator(".action-widget .monaco-list-row.focused");
    for (let i = 0; i < 6 && !(await focused.innerText().catch(() => "")).includes("Orion: Add docstring"); i++) {
      await page.keyboard.press("ArrowDown");
    }
    await page.keyboard.press("Enter");
    await editor.locator(".view-lines", { hasText: "Return the sum of a and b." }).waitFor({ timeout: 30000 });
    // The chat view shows the code action's turn like any other.
    await chatFrame(page).locator(".item.assistant.status-completed", { hasText: "Added a docstring to add." }).waitFor();
    await shot("code-action");
  });

  await step("see a storage error as a notification and in the chat view", ctx, failures, async () => {
    await openWorkbench(page, base, broken);
    const toast = page.locator(".notifications-toasts .notification-toast", { hasText: "Orion storage error" }).first();
    await toast.waitFor({ timeout: 30000 });
    const text = await toast.innerText();
    if (!text.includes(garbageDb)) throw new Error(`the notification does not name ${garbageDb}: ${text}`);
    const frame = await openChat(page);
    await ask(frame, "Does this work?");
    await frame.locator(".item.assistant .error", { hasText: "Orion storage error:" }).waitFor({ timeout: 20000 });
    await shot("storage-error");
  });

  if (failures.length) throw new Error(failures.join("\n"));
}
