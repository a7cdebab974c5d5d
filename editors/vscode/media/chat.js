// Orion Chat webview script. Receives finished, sanitized HTML from the
// extension (see src/markdown.ts) and only arranges it; user text goes back as
// messages. Tool lines and errors are set with textContent, never as HTML.
// @ts-check
(function () {
  // eslint-disable-next-line no-undef
  const vscode = acquireVsCodeApi();
  const log = /** @type {HTMLElement} */ (document.getElementById("log"));
  const form = /** @type {HTMLFormElement} */ (document.getElementById("ask"));
  const prompt = /** @type {HTMLTextAreaElement} */ (document.getElementById("prompt"));
  const send = /** @type {HTMLButtonElement} */ (document.getElementById("send"));
  const cancel = /** @type {HTMLButtonElement} */ (document.getElementById("cancel"));

  const STATUS_LABEL = { cancelled: "cancelled", max_steps: "stopped: step limit reached", error: "failed" };

  function render(item) {
    let el = document.querySelector(`[data-id="${CSS.escape(item.id)}"]`);
    if (!el) {
      el = document.createElement("section");
      el.setAttribute("data-id", item.id);
      log.appendChild(el);
    }
    el.className = `item ${item.role} status-${item.status}`;
    el.replaceChildren();
    const who = document.createElement("div");
    who.className = "who";
    who.textContent = item.role === "user" ? "You" : "Orion";
    el.appendChild(who);
    if (item.tools.length) {
      const ul = document.createElement("ul");
      ul.className = "tools";
      for (const line of item.tools) {
        const li = document.createElement("li");
        li.className = line.ok === false ? "tool failed" : "tool";
        li.textContent = line.text;
        ul.appendChild(li);
      }
      el.appendChild(ul);
    }
    const body = document.createElement("div");
    body.className = "body";
    body.innerHTML = item.html; // sanitized by the extension host
    el.appendChild(body);
    if (item.status === "running" && !item.html) {
      const dots = document.createElement("div");
      dots.className = "thinking";
      dots.textContent = "…";
      el.appendChild(dots);
    }
    if (STATUS_LABEL[item.status] && !item.error) {
      const s = document.createElement("div");
      s.className = "status";
      s.textContent = STATUS_LABEL[item.status];
      el.appendChild(s);
    }
    if (item.scoreText) {
      const sc = document.createElement("div");
      sc.className = "scores";
      sc.textContent = item.scoreText;
      el.appendChild(sc);
    }
    if (item.canRate) el.appendChild(ratingButtons(item));
    if (item.error) {
      const e = document.createElement("div");
      e.className = "error";
      e.setAttribute("role", "alert");
      e.textContent = item.error;
      el.appendChild(e);
    }
    if (item.rewind) el.appendChild(rewindButton(item.rewind));
  }

  // A turn that changed files can be rewound (the extension asks first,
  // naming every file); the tooltip names this turn's files.
  function rewindButton(rewind) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "rewind";
    b.textContent = "↶ Rewind";
    b.title = `Restore ${rewind.files.join(", ")} to before this turn, and leave this and later turns out of the conversation`;
    b.addEventListener("click", () => vscode.postMessage({ type: "rewind", turnId: rewind.turnId }));
    return b;
  }

  // Thumbs up / down under each finished answer: orion.feedback for its turn.
  function ratingButtons(item) {
    const bar = document.createElement("div");
    bar.className = "rating";
    for (const [rating, glyph, label] of [
      ["up", "👍", "Good answer"],
      ["down", "👎", "Bad answer"],
    ]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = `rate rate-${rating}`;
      b.textContent = glyph;
      b.title = label;
      b.setAttribute("aria-label", label);
      b.setAttribute("aria-pressed", String(item.rating === rating));
      b.addEventListener("click", () => vscode.postMessage({ type: "rate", turnId: item.turnId, rating }));
      bar.appendChild(b);
    }
    return bar;
  }

  function setBusy(running, progress) {
    send.disabled = running;
    cancel.disabled = !running;
    document.body.classList.toggle("busy", running);
    cancel.title = progress || "";
  }

  window.addEventListener("message", (event) => {
    const msg = event.data;
    if (msg.type === "reset") {
      log.replaceChildren();
      for (const item of msg.items) render(item);
      setBusy(msg.running, msg.progress);
    } else if (msg.type === "upsert") {
      for (const item of msg.items) render(item);
      setBusy(msg.running, msg.progress);
    }
    log.scrollTop = log.scrollHeight;
  });

  function submit() {
    const text = prompt.value.trim();
    if (!text || send.disabled) return;
    vscode.postMessage({ type: "ask", prompt: text });
    prompt.value = "";
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  prompt.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      submit();
    }
  });
  cancel.addEventListener("click", () => vscode.postMessage({ type: "cancel" }));
  // Links are never followed by the webview itself: a click asks the
  // extension, which opens only http(s)/mailto targets.
  document.addEventListener("click", (e) => {
    const a = e.target instanceof Element ? e.target.closest("a") : null;
    if (!a) return;
    e.preventDefault();
    vscode.postMessage({ type: "openLink", href: a.getAttribute("href") || "" });
  });
  vscode.postMessage({ type: "ready" });
})();
