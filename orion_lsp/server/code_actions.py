"""`textDocument/codeAction`, `codeAction/resolve` and the `orion.codeAction` command.

Listing (docs/protocol.md#code-actions) calls no model and touches no
storage: it reads the open buffer, finds the innermost function or class at
the start of the range (context/definitions.py, which keeps the parse trees),
and returns actions whose command is
`orion.codeAction {action, uri, range, diagnostic?}`.

Running an action is a turn like a chat turn (streamed, stored, in history):
the stored user message is the action's title, and the instructions (the
diagnostic, the enclosing definition, where tests go; their text is
agent/prompts/code_actions.md) travel as the turn's `task`, with the
selection and the repo map added by the orchestrator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from ..agent.turn import TurnRequest
from ..context.definitions import Definition, TreeCache, find_definition, language_for_path
from ..positions import UTF16, encoding_of
from ..project import uri_to_path
from .arguments import (
    Range,
    ThreadKeys,
    optional_bool,
    parse_range,
    parse_thread_keys,
    single_object,
)
from .documents import LineIndexedDocument
from .errors import InvalidArguments

if TYPE_CHECKING:
    from .server import OrionLanguageServer
    from .turn_requests import TurnRequests

COMMAND = "orion.codeAction"
ACTIONS = ("explain", "fix", "docstring", "tests")
KINDS = (
    lsp.CodeActionKind.QuickFix,
    lsp.CodeActionKind.Refactor,
    lsp.CodeActionKind.RefactorRewrite,
)
MAX_TITLE_MESSAGE = 80
MAX_DEFINITION_CHARS = 8000

# -- listing -------------------------------------------------------------------------


def _range_dict(r: lsp.Range) -> dict[str, Any]:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def _diagnostic_dict(d: lsp.Diagnostic) -> dict[str, Any]:
    out: dict[str, Any] = {"message": d.message, "range": _range_dict(d.range)}
    if d.severity is not None:
        out["severity"] = int(d.severity)
    if d.source:
        out["source"] = d.source
    if d.code is not None:
        out["code"] = d.code
    return out


def _wanted(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == k or kind.startswith(f"{k}.") for k in only)


def _action(
    title: str, kind: str, args: dict[str, Any], diagnostics: list[lsp.Diagnostic] | None = None
) -> lsp.CodeAction:
    return lsp.CodeAction(
        title=title,
        kind=kind,
        diagnostics=diagnostics,
        command=lsp.Command(title=title, command=COMMAND, arguments=[args]),
        data={"orion": args},
    )


def list_actions(
    uri: str,
    text: str | None,
    version: Any,
    params: lsp.CodeActionParams,
    trees: TreeCache | None = None,
    encoding: str = UTF16,
    starts: list[int] | None = None,
) -> list[lsp.CodeAction]:
    """The Orion actions for a range (pure: no model, no storage).

    `encoding` is the negotiated position encoding the request's range is in;
    `starts` the text's line starts when the open document has them.
    """
    only = [str(k) for k in params.context.only] if params.context.only else None
    rng = params.range
    out: list[lsp.CodeAction] = []
    if _wanted(lsp.CodeActionKind.QuickFix, only):
        for diag in params.context.diagnostics:
            message = " ".join(diag.message.split())
            if len(message) > MAX_TITLE_MESSAGE:
                message = message[: MAX_TITLE_MESSAGE - 1] + "…"
            args = {
                "action": "fix",
                "uri": uri,
                "range": _range_dict(diag.range),
                "diagnostic": _diagnostic_dict(diag),
            }
            out.append(_action(f"Orion: Fix: {message}", lsp.CodeActionKind.QuickFix, args, [diag]))
    if rng.start != rng.end and _wanted(lsp.CodeActionKind.Refactor, only):
        args = {"action": "explain", "uri": uri, "range": _range_dict(rng)}
        out.append(_action("Orion: Explain this", lsp.CodeActionKind.Refactor, args))
    lang = language_for_path(uri)
    if text is not None and lang is not None and _wanted(lsp.CodeActionKind.RefactorRewrite, only):
        src = text.encode("utf-8", "surrogatepass")
        tree = trees.tree(uri, version, lang, src) if trees is not None else None
        found = find_definition(
            text, lang, rng.start.line, rng.start.character, encoding, tree=tree, starts=starts
        )
        if found is not None:
            for action, title in (
                ("docstring", "Orion: Add docstring"),
                ("tests", "Orion: Write tests for this"),
            ):
                args = {"action": action, "uri": uri, "range": _range_dict(rng)}
                out.append(_action(title, lsp.CodeActionKind.RefactorRewrite, args))
    return out


def code_actions(
    ls: OrionLanguageServer, params: lsp.CodeActionParams, trees: TreeCache | None = None
) -> list[lsp.CodeAction]:
    """The `textDocument/codeAction` handler's work: [] outside every workspace folder."""
    uri = params.text_document.uri
    path = uri_to_path(uri)
    if path is None or ls.projects.for_path(path) is None:
        return []
    starts: list[int] | None = None
    try:
        doc = ls.workspace.get_text_document(uri)
        text, version = doc.source, doc.version
        if isinstance(doc, LineIndexedDocument):
            starts = doc.line_starts()
    except Exception:  # not open and unreadable: the diagnostic actions still work
        text, version = None, None
    encoding = encoding_of(ls.workspace.position_encoding)
    return list_actions(uri, text, version, params, trees, encoding, starts)


def resolve(action: lsp.CodeAction) -> lsp.CodeAction:
    """`codeAction/resolve`: fill in the command from `data` when a client dropped it."""
    data = action.data if isinstance(action.data, dict) else None
    args = data.get("orion") if data else None
    if action.command is None and isinstance(args, dict):
        action.command = lsp.Command(title=action.title, command=COMMAND, arguments=[args])
    return action


# -- running: the orion.codeAction command ----------------------------------------------


@dataclass(frozen=True)
class CodeActionArgs:
    action: str
    uri: str
    range: Range
    diagnostic: dict[str, Any] | None = None
    # Detached unless asked otherwise: stock clients (eglot) run a code action's
    # command synchronously and give up or freeze while the turn runs.
    detach: bool = True
    thread: ThreadKeys = ThreadKeys()


def parse_code_action(arguments: Any) -> CodeActionArgs:
    obj = single_object(arguments, COMMAND)
    action = obj.get("action")
    if action not in ACTIONS:
        raise InvalidArguments(f"'action' must be one of {', '.join(ACTIONS)}")
    uri = obj.get("uri")
    if not isinstance(uri, str) or not uri:
        raise InvalidArguments("'uri' must be a non-empty string")
    rng = parse_range(obj.get("range"))
    if rng is None:
        raise InvalidArguments("'range' is required")
    diagnostic = obj.get("diagnostic")
    if diagnostic is not None:
        if not isinstance(diagnostic, dict) or not isinstance(diagnostic.get("message"), str):
            raise InvalidArguments("'diagnostic' must be an LSP diagnostic with a 'message'")
    if action == "fix" and diagnostic is None:
        raise InvalidArguments("action 'fix' needs a 'diagnostic'")
    detach = optional_bool(obj, "detach", default=True)
    return CodeActionArgs(action, uri, rng, diagnostic, detach, parse_thread_keys(obj))


def build_request(requests: TurnRequests, args: CodeActionArgs) -> TurnRequest:
    """A turn for one action: the title as the user message, the details as `task`."""
    target = requests.target(args.uri)
    rel = target.active_file or PurePosixPath(args.uri).name
    text = target.text
    lang = language_for_path(rel)
    r = args.range
    found = (
        find_definition(text, lang, r.start_line, r.start_character, requests.position_encoding)
        if text is not None and lang is not None
        else None
    )
    if args.action in ("docstring", "tests") and found is None:
        raise InvalidArguments("no function or class at this position")
    # The selection block shows the code the action is about.
    sel = r
    if found is not None and (args.action in ("docstring", "tests") or r.empty):
        sel = Range(found.start_line, 0, found.end_line + 1, 0)
    prompt, task = _prompt_and_task(args, rel, found, target.project.root)
    return requests.request(target, prompt, source="code_action", selection=sel, task=task)


@cache
def _templates() -> dict[str, str]:
    """The sections of agent/prompts/code_actions.md, by name."""
    # A plain path, as for the system prompt: package data sits beside the modules.
    text = (Path(__file__).parents[1] / "agent" / "prompts" / "code_actions.md").read_text("utf-8")
    parts = re.split(r"^## (\w+)\n", text, flags=re.MULTILINE)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def _task(template: str, /, **values: Any) -> str:
    t = _templates()
    return t[template].format(edit_rule=t["edit_rule"], **values)


def _definition_block(found: Definition | None) -> str:
    if found is None:
        return ""
    body = found.text
    if len(body) > MAX_DEFINITION_CHARS:
        body = body[:MAX_DEFINITION_CHARS] + "\n... [cut; read the file for the rest]"
    return _templates()["definition"].format(
        kind=found.kind,
        name=found.name,
        first=found.start_line + 1,
        last=found.end_line + 1,
        body=body,
    )


def _prompt_and_task(
    args: CodeActionArgs, rel: str, found: Definition | None, root: Path
) -> tuple[str, str]:
    """The action's title (stored as the user message) and its task for the model."""
    r = args.range
    where = f"{rel}:{r.start_line + 1}"
    definition = _definition_block(found)
    if args.action == "explain":
        lines = f"lines {r.start_line + 1}-{r.end_line + 1}"
        return (
            f"Explain {rel} {lines}",
            _task("explain", rel=rel, lines=lines, definition=definition),
        )
    if args.action == "fix":
        d = args.diagnostic or {}
        message = str(d.get("message", ""))
        return (
            f"Fix: {' '.join(message.split())[:200]} ({where})",
            _task(
                "fix",
                source=f" reported by {d['source']}" if d.get("source") else "",
                where=where,
                code=f" [{d['code']}]" if d.get("code") is not None else "",
                message=message,
                definition=definition,
            ),
        )
    assert found is not None
    about = {"kind": found.kind, "name": found.name, "rel": rel, "definition": definition}
    if args.action == "docstring":
        return f"Add docstring: {found.name} ({where})", _task("docstring", **about)
    test_path = suggest_test_path(root, rel)
    how = _templates()["tests_existing" if (root / test_path).exists() else "tests_new"]
    return (
        f"Write tests: {found.name} ({where})",
        _task("tests", how=how.format(test_path=test_path), **about),
    )


def suggest_test_path(root: Path, rel: str) -> str:
    """Where tests for `rel` go, following the language's usual layout."""
    p = PurePosixPath(rel)
    stem = p.parent.name if p.stem == "__init__" and p.parent.name else p.stem
    lang = language_for_path(rel)
    if lang == "go":
        return str(p.with_name(f"{p.stem}_test.go"))
    if lang == "rust":
        return rel  # Rust keeps unit tests in the file (#[cfg(test)] mod tests)
    if lang in ("javascript", "typescript", "tsx"):
        return str(p.with_name(f"{p.stem}.test{p.suffix}"))
    if lang == "java":
        test_name = f"{p.stem}Test.java"
        if "src/main/java" in rel:
            return str(
                PurePosixPath(rel.replace("src/main/java", "src/test/java", 1)).with_name(test_name)
            )
        return str(p.with_name(test_name))
    folder = "test" if (root / "test").is_dir() and not (root / "tests").is_dir() else "tests"
    return f"{folder}/test_{stem}{p.suffix or '.py'}"
