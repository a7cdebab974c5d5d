// Workspaces and model scripts for the code-server tests. The scripted model
// (python -m orion_lsp.testing serve) answers requests in order, one reply each,
// so each phase gets its own model server and script.

export const A_PY = "# A tiny module for Orion's editor tests.\ndef add(a, b):\n    return a + b\n";

export const DOCSTRING_EDIT = {
  path: "a.py",
  oldText: "def add(a, b):\n",
  newText: 'def add(a, b):\n    """Return the sum of a and b."""\n',
};

const codeActionReplies = [
  { tool_calls: [{ name: "read_file", arguments: { path: "a.py" } }] },
  { tool_calls: [{ name: "edit_file", arguments: DOCSTRING_EDIT }] },
  { text: "Added a docstring to add." },
];

export const INTEGRATION_SCRIPT = {
  replies: [
    { text: "Hello from the scripted model: **streamed** in pieces.", chunk_delay_s: 0.02 },
    { tool_calls: [{ name: "read_file", arguments: { path: "a.py" } }] },
    { text: "a.py defines add(a, b)." },
    { text: "Thinking about it slowly and carefully", chunk_delay_s: 0.05, hang: true },
    ...codeActionReplies,
    // Threads: a new chat's first turn (the model must not see the first thread).
    { text: "Beta answer, from a thread of its own." },
  ],
  default: { text: "(the script has no more replies)" },
};

export const UI_ANSWER =
  "Here is what `a.py` does:\n\n" +
  "- **`add(a, b)`** returns the sum of its two arguments.\n" +
  "- It has no docstring yet; the *Add docstring* code action can write one.\n\n" +
  "```python\nadd(2, 3)  # 5\n```\n";

export const UI_SCRIPT = {
  replies: [
    { tool_calls: [{ name: "read_file", arguments: { path: "a.py" } }] },
    { text: UI_ANSWER, chunk_delay_s: 0.03 },
    ...codeActionReplies,
  ],
  default: { text: "(the script has no more replies)" },
};

// Not a SQLite file: the server must start, report it, and never touch it.
export const GARBAGE = "this is not a database, and Orion must never overwrite it\n";
