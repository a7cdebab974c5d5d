/**
 * Entry point VS Code loads as `extensionTestsPath` inside code-server's
 * extension host: runs the mocha suites and writes a JSON summary the harness
 * (test/host/run.mjs) waits for, since a browser-hosted VS Code has no exit
 * code to hand back.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Mocha from "mocha";

export const RESULTS = path.resolve(__dirname, "../../../test-results/integration.json");

interface Outcome {
  title: string;
  state: "passed" | "failed";
  error?: string;
  durationMs?: number;
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: "bdd", timeout: 30000, reporter: "spec" });
  mocha.addFile(path.join(__dirname, "extension.test.js"));
  const outcomes: Outcome[] = [];
  return new Promise((resolve) => {
    const runner = mocha.run((failures) => {
      fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
      fs.writeFileSync(RESULTS, JSON.stringify({ failures, outcomes }, null, 2));
      resolve();
    });
    runner.on("pass", (t) => outcomes.push({ title: t.fullTitle(), state: "passed", durationMs: t.duration }));
    runner.on("fail", (t, err: Error) =>
      outcomes.push({ title: t.fullTitle(), state: "failed", error: `${err.message}\n${err.stack ?? ""}` }),
    );
  });
}
