import assert from "node:assert/strict";
import { test } from "node:test";
import { contentSecurityPolicy, chatShell, makeNonce } from "../../src/chatHtml";
import { isSafeLink, renderMarkdown } from "../../src/markdown";

test("markdown renders code blocks and emphasis", () => {
  const html = renderMarkdown("**bold** and `x`\n\n```py\nprint(1)\n```");
  assert.match(html, /<strong>bold<\/strong>/);
  assert.match(html, /<code>x<\/code>/);
  assert.match(html, /<pre><code class="language-py">print\(1\)\n<\/code><\/pre>/);
});

test("raw HTML from the model is escaped, not interpreted", () => {
  const html = renderMarkdown('hi <script>alert(1)</script> <img src=x onerror="alert(2)">');
  assert.equal(html.includes("<script>"), false);
  assert.equal(html.includes("<img"), false);
  assert.match(html, /&lt;script&gt;/);
});

test("dangerous link targets are not linked", () => {
  for (const href of ["javascript:alert(1)", "command:workbench.action.terminal.new", "file:///etc/passwd", "data:text/html,x", "vscode://x"]) {
    const html = renderMarkdown(`[click](${href})`);
    assert.equal(html.includes("<a "), false, href);
  }
  const ok = renderMarkdown("[docs](https://example.com/a)");
  assert.match(ok, /<a href="https:\/\/example.com\/a" data-orion-link="1" rel="noopener noreferrer">docs<\/a>/);
});

test("file names are not turned into web links, explicit URLs are", () => {
  assert.equal(renderMarkdown("What does a.py do?").includes("<a "), false);
  assert.match(renderMarkdown("see https://example.com/x"), /<a href="https:\/\/example.com\/x"/);
});

test("images become their alt text so nothing is fetched", () => {
  const html = renderMarkdown("![diagram](https://example.com/x.png)");
  assert.equal(html.includes("<img"), false);
  assert.match(html, /\[image: diagram\]/);
});

test("only http(s) and mailto links may be opened", () => {
  assert.equal(isSafeLink("https://x.org"), true);
  assert.equal(isSafeLink("mailto:a@b.c"), true);
  assert.equal(isSafeLink("command:foo"), false);
  assert.equal(isSafeLink("javascript:x"), false);
});

test("the CSP allows nothing remote and scripts only with the nonce", () => {
  const csp = contentSecurityPolicy("https://webview.src", "abc123");
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-abc123'(;|$)/);
  assert.equal(csp.includes("unsafe-inline"), false);
  assert.equal(csp.includes("unsafe-eval"), false);
  assert.equal(/https?:\/\/(?!webview\.src)/.test(csp), false);
  const html = chatShell({ cspSource: "https://webview.src", nonce: "abc123", scriptUri: "https://webview.src/chat.js", styleUri: "https://webview.src/chat.css" });
  const scripts = html.match(/<script[^>]*>/g) ?? [];
  assert.equal(scripts.length, 1);
  assert.match(scripts[0], /nonce="abc123"/);
  assert.equal(/ on[a-z]+=/.test(html), false, "no inline event handlers");
});

test("nonces differ and are alphanumeric", () => {
  let n = 0;
  const a = makeNonce((k) => Uint8Array.from({ length: k }, () => n++ % 256));
  const b = makeNonce((k) => Uint8Array.from({ length: k }, () => (n += 7) % 256));
  assert.notEqual(a, b);
  assert.match(a, /^[A-Za-z0-9]{16,}$/);
});
