"""`textDocument/codeAction`, `codeAction/resolve` and the `orion.codeAction` command.

Listing (CONTRACT "Code actions") calls no model and touches no storage: it
reads the open buffer, finds the innermost function or class at the start of
the range with tree-sitter, and returns actions whose command is
`orion.codeAction {action, uri, range, diagnostic?}`. Editors ask for code
actions on every cursor move, so the parse tree of each document version is
kept (a few documents, LRU) and a request on an unchanged buffer costs a tree
walk only.

Running an action is a turn like a chat turn (streamed, stored, in history):
the stored user message is the action's title, and the instructions (the
diagnostic, the enclosing definition, where tests go) travel as the turn's
`task`, with the selection and the repo map added by the orchestrator.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from ..agent.turn import TurnRequest
from ..positions import UTF8, UTF16, TextPositions, encoding_of, line_of_offset, units
from ..project import uri_to_path
from .arguments import Range, ThreadKeys, parse_range, parse_thread_keys, single_object
from .errors import InvalidArguments

if TYPE_CHECKING:
    from tree_sitter import Node, Tree

    from .server import OrionLanguageServer
    from .turn_requests import TurnRequests

log = logging.getLogger(__name__)


# tree-sitter and its grammars load on the first code action, not at server start.
def language_for_path(path: str) -> str | None:
    from ..context.languages import language_for_path as find

    return find(path)


def parser(lang: str) -> Any:
    from ..context.languages import parser as make

    return make(lang)


COMMAND = "orion.codeAction"
ACTIONS = ("explain", "fix", "docstring", "tests")
KINDS = (
    lsp.CodeActionKind.QuickFix,
    lsp.CodeActionKind.Refactor,
    lsp.CodeActionKind.RefactorRewrite,
)
MAX_TITLE_MESSAGE = 80
MAX_DEFINITION_CHARS = 8000
TREE_CACHE_SIZE = 8

# Node types that are "a function or class" per language. Anonymous functions
# count only when a variable names them (`const f = () => ...`).
_DEF_TYPES: dict[str, frozenset[str]] = {
    "python": frozenset({"function_definition", "class_definition"}),
    "javascript": frozenset(
        {
            "function_declaration",
            "generator_function_declaration",
            "method_definition",
            "class_declaration",
            "arrow_function",
            "function_expression",
        }
    ),
    "go": frozenset({"function_declaration", "method_declaration", "type_spec"}),
    "rust": frozenset(
        {"function_item", "struct_item", "enum_item", "trait_item", "impl_item", "mod_item"}
    ),
    "java": frozenset(
        {
            "method_declaration",
            "constructor_declaration",
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
        }
    ),
    "c": frozenset({"function_definition", "struct_specifier"}),
    "cpp": frozenset({"function_definition", "class_specifier", "struct_specifier"}),
}
_DEF_TYPES["typescript"] = _DEF_TYPES["javascript"] | {
    "interface_declaration",
    "abstract_class_declaration",
}
_DEF_TYPES["tsx"] = _DEF_TYPES["typescript"]
_ANONYMOUS = frozenset({"arrow_function", "function_expression"})
_NAME_LEAVES = frozenset(
    {
        "identifier",
        "field_identifier",
        "qualified_identifier",
        "destructor_name",
        "operator_name",
        "type_identifier",
        "property_identifier",
    }
)


@dataclass(frozen=True)
class Definition:
    """The innermost function or class around a position (0-based lines)."""

    name: str
    kind: str  # "function" or "class"
    start_line: int
    end_line: int
    text: str


class TreeCache:
    """Parse trees of the last few documents (editors re-ask on every cursor move).

    Same version: the cached tree. New version: the changed byte span is found
    by comparing the old and new text (common prefix and suffix), the old tree
    is edited and re-parsed incrementally, which costs a fraction of a full
    parse (NOTES_DEPS: ~0.5 ms vs ~15 ms for 100 KB).
    """

    def __init__(self, size: int = TREE_CACHE_SIZE) -> None:
        self._size = size
        self._trees: OrderedDict[str, tuple[Any, str, bytes, Tree]] = OrderedDict()

    def tree(self, key: str, version: Any, lang: str, src: bytes) -> Tree:
        hit = self._trees.get(key)
        if hit is not None and hit[1] == lang:
            old_version, _, old_src, old_tree = hit
            if old_version == version and version is not None and old_src == src:
                self._trees.move_to_end(key)
                return old_tree
            tree = _reparse(lang, old_src, old_tree, src)
        else:
            tree = parser(lang).parse(src)
        self._trees[key] = (version, lang, src, tree)
        self._trees.move_to_end(key)
        while len(self._trees) > self._size:
            self._trees.popitem(last=False)
        return tree


def _common_prefix(a: bytes, b: bytes, limit: int) -> int:
    lo, hi = 0, limit  # binary search on slice equality: C-speed compares, log n steps
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _point(src: bytes, offset: int) -> tuple[int, int]:
    return src.count(b"\n", 0, offset), offset - (src.rfind(b"\n", 0, offset) + 1)


def _reparse(lang: str, old: bytes, old_tree: Tree, new: bytes) -> Tree:
    start = _common_prefix(old, new, min(len(old), len(new)))
    suffix = _common_suffix(old, new, min(len(old), len(new)) - start)
    old_end, new_end = len(old) - suffix, len(new) - suffix
    old_tree.edit(
        start_byte=start,
        old_end_byte=old_end,
        new_end_byte=new_end,
        start_point=_point(old, start),
        old_end_point=_point(old, old_end),
        new_end_point=_point(new, new_end),
    )
    return parser(lang).parse(new, old_tree)


def _name_of(node: Node) -> str | None:
    named = node.child_by_field_name("name")
    if named is None:
        # C/C++ functions name themselves inside nested declarators.
        d = node.child_by_field_name("declarator")
        while d is not None and d.type not in _NAME_LEAVES:
            d = d.child_by_field_name("declarator") or (
                d.named_children[0] if d.named_children else None
            )
        named = d
    if named is None and node.type in _ANONYMOUS and node.parent is not None:
        if node.parent.type == "variable_declarator":
            named = node.parent.child_by_field_name("name")
    if named is None or named.text is None:
        return None
    return named.text.decode("utf-8", "replace")


def find_definition(
    text: str,
    lang: str,
    line: int,
    character: int,
    encoding: str = UTF16,
    *,
    tree: Tree | None = None,
) -> Definition | None:
    """The innermost named function or class containing the LSP position (line, character)."""
    src = text.encode("utf-8", "surrogatepass")
    if tree is None:
        tree = parser(lang).parse(src)
    at = TextPositions(text, encoding)
    if line >= len(at.starts):
        return None
    # tree-sitter counts UTF-8 bytes; a byte offset also spares its idea of rows.
    byte = units(text[: at.offset(line, character)], UTF8)
    node: Node | None = tree.root_node.named_descendant_for_byte_range(byte, byte)
    types = _DEF_TYPES.get(lang, frozenset())
    while node is not None:
        if node.type in types:
            name = _name_of(node)
            if name:
                outer = node
                if node.parent is not None and node.parent.type == "decorated_definition":
                    outer = node.parent  # decorators belong to the definition
                kind = (
                    "class"
                    if any(
                        w in node.type
                        for w in (
                            "class",
                            "struct",
                            "interface",
                            "enum",
                            "trait",
                            "impl",
                            "type_spec",
                            "record",
                            "mod_item",
                        )
                    )
                    else "function"
                )
                body = src[outer.start_byte : outer.end_byte].decode("utf-8", "replace")
                first, last = (
                    line_of_offset(at.starts, len(src[:b].decode("utf-8", "surrogatepass")))
                    for b in (outer.start_byte, outer.end_byte)
                )
                return Definition(name, kind, first, last, body)
        node = node.parent
    return None


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
) -> list[lsp.CodeAction]:
    """The Orion actions for a range (pure: no model, no storage).

    `encoding` is the negotiated position encoding the request's range is in.
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
            text, lang, rng.start.line, rng.start.character, encoding, tree=tree
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
    try:
        doc = ls.workspace.get_text_document(uri)
        text, version = doc.source, doc.version
    except Exception:  # not open and unreadable: the diagnostic actions still work
        text, version = None, None
    encoding = encoding_of(ls.workspace.position_encoding)
    return list_actions(uri, text, version, params, trees, encoding)


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
    detach: bool = False
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
    detach = obj.get("detach", False)
    if not isinstance(detach, bool):
        raise InvalidArguments("'detach' must be a boolean")
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


def _definition_block(found: Definition | None) -> str:
    if found is None:
        return ""
    body = found.text
    if len(body) > MAX_DEFINITION_CHARS:
        body = body[:MAX_DEFINITION_CHARS] + "\n... [cut; read the file for the rest]"
    return (
        f"\nThe enclosing {found.kind} is `{found.name}` "
        f"(lines {found.start_line + 1}-{found.end_line + 1}):\n```\n{body}\n```\n"
    )


def _prompt_and_task(
    args: CodeActionArgs, rel: str, found: Definition | None, root: Path
) -> tuple[str, str]:
    r = args.range
    where = f"{rel}:{r.start_line + 1}"
    edit_rule = (
        "Read the file with read_file first, then change it with edit_file (copy oldText "
        "exactly, a few lines, so it matches once). Finish with one or two sentences saying "
        "what you changed."
    )
    if args.action == "explain":
        lines = f"lines {r.start_line + 1}-{r.end_line + 1}"
        return (
            f"Explain {rel} {lines}",
            f"Explain the selected code in {rel} ({lines}): what it does, how, and anything "
            "surprising. Use the tools to look up what it calls if needed. Do not edit files."
            + _definition_block(found),
        )
    if args.action == "fix":
        d = args.diagnostic or {}
        message = str(d.get("message", ""))
        source = f" reported by {d['source']}" if d.get("source") else ""
        code = f" [{d['code']}]" if d.get("code") is not None else ""
        return (
            f"Fix: {' '.join(message.split())[:200]} ({where})",
            f"Fix this problem{source} at {where}{code}:\n{message}\n"
            + _definition_block(found)
            + f"\nMake the smallest change that fixes it. {edit_rule}",
        )
    assert found is not None
    if args.action == "docstring":
        return (
            f"Add docstring: {found.name} ({where})",
            f"Add a docstring (or the language's documentation comment) to the {found.kind} "
            f"`{found.name}` in {rel}, in the style the file already uses. Change nothing else."
            + _definition_block(found)
            + edit_rule,
        )
    test_path = suggest_test_path(root, rel)
    exists = (root / test_path).exists()
    how = (
        f"{test_path} exists: read it, then add the tests with edit_file."
        if exists
        else f"Create {test_path} with create_file."
    )
    return (
        f"Write tests: {found.name} ({where})",
        f"Write tests for the {found.kind} `{found.name}` in {rel}. {how} Follow the test "
        "style and framework the project already uses (for Python, pytest functions); import "
        "the code under test the way the project's other tests do. Read the code under test "
        "first."
        + _definition_block(found)
        + "Finish with a short summary of what the tests cover.",
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
