"""Containment suite: hostile paths against every file tool, with a canary outside.

Every call goes through ``run_tool`` with a real ``DiskEditApplier``, and
``read_files`` claims every file was read (so read-before-claim cannot be
what stops an escape: only confinement may). Afterwards the canary files
outside the workspace must be unchanged, nothing may have been created
outside, and no result may contain a canary or an absolute path.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orion_lsp.agent.tools import DiskEditApplier, default_tools, run_tool
from orion_lsp.agent.tools.base import ToolContext, ToolResult
from orion_lsp.testing.fakes import MemoryDocuments

CANARY = "CANARY-d41c9e7b-do-not-leak"
CANARY_HASH = hashlib.sha256(f"{CANARY}\n".encode()).hexdigest()


class ClaimsEverythingRead(dict[str, str]):
    """read_files that says every path was read, with the canary's hash."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return CANARY_HASH


def _build(base: Path) -> Path:
    root = base / "x" / "ws"
    (root / "src").mkdir(parents=True)
    (root / "ok.txt").write_text("inside ok\n")
    (root / "src" / "a.py").write_text("def a():\n    pass\n")
    for d in (base / "x" / "ws2", base / "x" / "outside", base / "x"):
        d.mkdir(parents=True, exist_ok=True)
    (base / "x" / "ws2" / "secret.txt").write_text(f"{CANARY}\n")
    (base / "x" / "outside" / "canary.txt").write_text(f"{CANARY}\n")
    (base / "x" / "canary.txt").write_text(f"{CANARY}\n")
    os.symlink(base / "x" / "outside" / "canary.txt", root / "link_out")
    os.symlink(base / "x" / "outside", root / "dir_out")
    os.symlink(base / "x" / "ws2", root / "ws2link")
    os.symlink("../../x/canary.txt", root / "rel_link_out")
    os.symlink("/etc/passwd", root / "passwd_link")
    os.symlink(root / "ok.txt", root / "link_in")
    os.symlink(root / "loop2", root / "loop1")
    os.symlink(root / "loop1", root / "loop2")
    os.symlink(base / "x" / "outside" / "gone.txt", root / "dangling_out")
    return root


def _hostile(root: Path) -> list[str]:
    base = root.parent  # .../x
    abs_paths = [
        str(root / "ok.txt"),
        str(root),
        str(base / "canary.txt"),
        str(base / "ws2" / "secret.txt"),
        "/etc/passwd",
        "/",
        "//etc/passwd",
        "/proc/self/root/etc/passwd",
        "/proc/self/cwd",
    ]
    rel_escapes = [
        "..",
        "../",
        "../x",
        "../canary.txt",
        "../outside/canary.txt",
        "../ws2/secret.txt",
        "../ws2",
        "a/../../x",
        "src/../../canary.txt",
        "src/../../../etc/passwd",
        "./../canary.txt",
        "././../canary.txt",
        "ok.txt/../../canary.txt",
        "../../../../../../../../../../etc/passwd",
        "..//..//etc/passwd",
        "src/./../../ws2/secret.txt",
        "../ws/../ws2/secret.txt",
        "nonexistent/../../canary.txt",
    ]
    odd = [
        "~",
        "~/",
        "~/.ssh/id_rsa",
        "~root",
        "~root/.bashrc",
        "%2e%2e/canary.txt",
        "%2e%2e%2fcanary.txt",
        "..%2fcanary.txt",
        "%2E%2E/%2E%2E/etc/passwd",
        "file:///etc/passwd",
        f"file://{base}/canary.txt",
        "http://example.com/x",
        "c:/windows/win.ini",
        "C:\\Windows\\win.ini",
        "\\\\server\\share\\x",
        "..\\canary.txt",
        "src\\..\\..\\canary.txt",
        "ok.txt\x00",
        "\x00",
        "ok\x00.txt",
        "../canary.txt\x00.txt",
        "ok.txt\n",
        "a\rb",
        "\t",
        "a" * 5000,
        "a/" * 600,
        "b" * 300,
        "\u202e../canary.txt",
        "..\u2215canary.txt",
        "\uff0e\uff0e/canary.txt",
        " /etc/passwd",
        "",
    ]
    links = [
        "link_out",
        "./link_out",
        "src/../link_out",
        "dir_out",
        "dir_out/",
        "dir_out/canary.txt",
        "dir_out/new.txt",
        "dir_out/../outside/canary.txt",
        "ws2link",
        "ws2link/secret.txt",
        "rel_link_out",
        "passwd_link",
        "loop1",
        "loop1/x",
        "dangling_out",
    ]
    return abs_paths + rel_escapes + odd + links


def _calls(path: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("read_file", {"path": path}),
        ("read_file", {"path": path, "startLine": 1, "endLine": 5}),
        ("list_files", {"path": path}),
        ("list_files", {"path": path, "glob": "*"}),
        ("search", {"pattern": "CANARY", "path": path}),
        ("search", {"pattern": "root:.*:0:", "path": path, "regex": True}),
        ("symbols", {"path": path}),
        ("edit_file", {"path": path, "oldText": CANARY, "newText": "PWNED"}),
        ("create_file", {"path": path, "content": "PWNED"}),
    ]


def _snapshot(base: Path, root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``base`` except the workspace, with content and mtime."""
    snap: dict[str, tuple[bytes, int]] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        if Path(dirpath) == root:
            dirnames.clear()
            continue
        for name in filenames:
            p = Path(dirpath) / name
            snap[str(p)] = (p.read_bytes(), p.stat().st_mtime_ns)
    return snap


def _assert_clean(r: ToolResult, base: Path) -> None:
    assert isinstance(r, ToolResult)
    blob = f"{r.content}\n{r.summary}\n{r.data}"
    assert CANARY not in blob
    assert "root:x:0:0" not in blob
    assert str(base) not in blob  # no absolute path of the machine


def _ctx(root: Path) -> ToolContext:
    return ToolContext(
        root=Path(os.path.realpath(root)),
        turn_id="hostile",
        documents=MemoryDocuments(),
        applier=DiskEditApplier(root),
        read_files=ClaimsEverythingRead(),
    )


def test_hostile_list_is_large_enough(tmp_path: Path) -> None:
    root = _build(tmp_path)
    assert len(set(_hostile(root))) >= 60


async def test_hostile_paths_never_escape(tmp_path: Path) -> None:
    root = _build(tmp_path)
    base = root.parent
    tools = {t.name: t for t in default_tools()}
    before = _snapshot(tmp_path, root)
    ctx = _ctx(root)
    refused = 0
    for path in _hostile(root):
        for name, args in _calls(path):
            r = await run_tool(tools, name, args, ctx)
            _assert_clean(r, base)
            refused += not r.ok
    assert _snapshot(tmp_path, root) == before
    assert not (base / "outside" / "new.txt").exists()
    # Nearly everything is refused; what succeeds is confined (e.g. an
    # absolute path is refused, `%2e%2e/x` is a literal name inside).
    assert refused >= 0.8 * len(_hostile(root)) * len(_calls("x"))
    for edit in ctx.edits:
        assert edit["path"] != ".." and not edit["path"].startswith(("../", "/"))


async def test_escapes_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    root = _build(tmp_path)
    tools = {t.name: t for t in default_tools()}
    for path in ["../canary.txt", "link_out", "dir_out/canary.txt", "ws2link/secret.txt"]:
        for name, args in _calls(path):
            r = await run_tool(tools, name, args, _ctx(root))
            assert not r.ok, (name, path, r.content)
            assert "outside the project root" in r.content, (name, path, r.content)
    for path in ["/etc/passwd", str(root / "ok.txt")]:
        for name, args in _calls(path):
            r = await run_tool(tools, name, args, _ctx(root))
            assert not r.ok and "absolute paths are refused" in r.content


async def test_listing_and_search_of_root_never_show_outside(tmp_path: Path) -> None:
    root = _build(tmp_path)
    tools = {t.name: t for t in default_tools()}
    ctx = _ctx(root)
    r = await run_tool(tools, "list_files", {}, ctx)
    assert r.ok
    listed = set(r.content.splitlines())
    assert {"ok.txt", "src/a.py", "link_in"} <= listed
    assert not listed & {"link_out", "rel_link_out", "passwd_link", "dangling_out"}
    assert not any(p.startswith(("dir_out/", "ws2link/")) for p in listed)
    for pattern in ("CANARY", "root:"):
        r = await run_tool(tools, "search", {"pattern": pattern}, ctx)
        assert r.ok and "no matches" in r.content
    r = await run_tool(tools, "symbols", {"path": "."}, ctx)
    _assert_clean(r, root.parent)


_PARTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "ok.txt",
        "src",
        "a.py",
        "link_out",
        "dir_out",
        "ws2link",
        "ws2",
        "canary.txt",
        "secret.txt",
        "outside",
        "x",
        "ws",
        "rel_link_out",
        "loop1",
        "%2e%2e",
        "~",
        "new.txt",
    ]
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    parts=st.lists(_PARTS, min_size=1, max_size=7),
    lead=st.sampled_from(["", "/", "./", "../", "../../"]),
    tool=st.sampled_from(
        ["read_file", "list_files", "search", "symbols", "edit_file", "create_file"]
    ),
)
def test_generated_paths_never_escape(
    tmp_path_factory: pytest.TempPathFactory, parts: list[str], lead: str, tool: str
) -> None:
    base = _generated_base(tmp_path_factory)
    root = base / "x" / "ws"
    before = _snapshot(base, root)
    path = lead + "/".join(parts)
    tools = {t.name: t for t in default_tools()}
    ctx = _ctx(root)
    for name, args in _calls(path):
        if name != tool:
            continue
        r = asyncio.run(run_tool(tools, name, args, ctx))
        _assert_clean(r, base / "x")
    assert _snapshot(base, root) == before


_BASES: dict[int, Path] = {}


def _generated_base(factory: pytest.TempPathFactory) -> Path:
    # One workspace for all generated examples (hypothesis calls the test
    # many times; building per example would dominate the run time).
    key = id(factory)
    if key not in _BASES:
        base = factory.mktemp("gen")
        _build(base)
        _BASES[key] = base
    return _BASES[key]
