/**
 * The chat webview's HTML shell and its Content-Security-Policy.
 *
 * Pure so the policy is unit tested: nothing remote, scripts only with the
 * per-load nonce, styles and fonts only from the extension's own files.
 */
export interface ShellParams {
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    `img-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'none'",
    "frame-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
  ].join("; ");
}

export function makeNonce(random: (n: number) => Uint8Array): string {
  return Buffer.from(random(18)).toString("base64").replace(/[^A-Za-z0-9]/g, "");
}

const escapeAttr = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function chatShell(p: ShellParams): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(p.cspSource, p.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(p.styleUri)}">
<title>Orion Chat</title>
</head>
<body>
<main id="log" aria-live="polite"></main>
<form id="ask">
  <textarea id="prompt" rows="3" placeholder="Ask Orion (Enter to send, Shift+Enter for a new line)"></textarea>
  <div class="buttons">
    <button id="send" type="submit">Send</button>
    <button id="cancel" type="button" disabled>Cancel</button>
  </div>
</form>
<script nonce="${escapeAttr(p.nonce)}" src="${escapeAttr(p.scriptUri)}"></script>
</body>
</html>`;
}
