"""Unit tests of workspace confinement: resolve_in_workspace and open_confined."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orion_lsp.agent.tools.paths import (
    PathMissing,
    PathRefused,
    is_inside,
    open_confined,
    resolve_in_workspace,
)


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_text("x = 1\n")
    (root / "top.txt").write_text("top\n")
    sibling = tmp_path / "ws2"
    sibling.mkdir()
    (sibling / "secret.txt").write_text("SECRET\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "o.txt").write_text("OUT\n")
    os.symlink(root / "top.txt", root / "link_in")
    os.symlink(outside / "o.txt", root / "link_out")
    os.symlink(outside, root / "dir_out")
    os.symlink(root / "src", root / "dir_in")
    return root


@pytest.mark.parametrize(
    ("user_path", "rel"),
    [
        ("top.txt", "top.txt"),
        ("./top.txt", "top.txt"),
        ("src/a.py", "src/a.py"),
        ("src/../top.txt", "top.txt"),
        ("src//a.py", "src/a.py"),
        ("src/", "src"),
        (".", "."),
        ("link_in", "top.txt"),  # a symlink that stays inside is fine
        ("dir_in/a.py", "src/a.py"),
    ],
)
def test_accepts_paths_inside(ws: Path, user_path: str, rel: str) -> None:
    real, got_rel = resolve_in_workspace(ws, user_path, must_exist=True)
    assert got_rel == rel
    assert real == Path(os.path.realpath(ws / rel))
    assert real.is_absolute()


@pytest.mark.parametrize(
    ("user_path", "words"),
    [
        ("../ws2/secret.txt", "outside"),
        ("..", "outside"),
        ("src/../../x", "outside"),
        ("link_out", "outside"),
        ("dir_out/o.txt", "outside"),
        ("/etc/passwd", "absolute"),
        ("~", "~"),
        ("~root/.bashrc", "~"),
        ("file:///etc/passwd", "URL"),
        ("C:/Windows", "drive"),
        ("..\\x", "backslash"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("\u202e../x", "bidirectional"),
        ("a\u200bb.py", "invisible"),
        ("", "empty"),
        ("a" * 2000, "longer"),
        ("x" * 300 + "/y", "component"),
    ],
)
def test_refuses_with_a_reason(ws: Path, user_path: str, words: str) -> None:
    with pytest.raises(PathRefused) as info:
        resolve_in_workspace(ws, user_path, must_exist=False)
    assert words.lower() in info.value.reason.lower()
    assert str(ws.parent) not in info.value.reason


def test_absolute_path_inside_the_root_is_refused(ws: Path) -> None:
    with pytest.raises(PathRefused, match="absolute"):
        resolve_in_workspace(ws, str(ws / "top.txt"), must_exist=True)


def test_sibling_prefix_root_is_not_inside(ws: Path) -> None:
    # `/tmp/.../ws2` starts with the string `/tmp/.../ws` but is not inside it.
    assert not is_inside(str(ws), str(ws) + "2/secret.txt")
    assert is_inside(str(ws), str(ws))
    assert is_inside(str(ws), str(ws / "src"))
    with pytest.raises(PathRefused):
        resolve_in_workspace(ws, "../ws2/secret.txt", must_exist=True)


def test_url_encoding_is_literal_and_confined(ws: Path) -> None:
    real, rel = resolve_in_workspace(ws, "%2e%2e/%2e%2e/etc/passwd", must_exist=False)
    assert rel == "%2e%2e/%2e%2e/etc/passwd"
    assert is_inside(str(ws), str(real))


def test_missing_file(ws: Path) -> None:
    with pytest.raises(PathMissing, match="does not exist"):
        resolve_in_workspace(ws, "nope.txt", must_exist=True)
    real, rel = resolve_in_workspace(ws, "new/dir/f.txt", must_exist=False)
    assert rel == "new/dir/f.txt" and real == ws / "new/dir/f.txt"


def test_root_given_through_a_symlink(tmp_path: Path, ws: Path) -> None:
    alias = tmp_path / "alias"
    os.symlink(ws, alias)
    real, rel = resolve_in_workspace(alias, "src/a.py", must_exist=True)
    assert rel == "src/a.py" and real == Path(os.path.realpath(ws)) / "src/a.py"


@pytest.mark.parametrize("user_path", ["loop1", "loop1/x", "loop2/x/y"])
def test_symlink_loop_is_refused(ws: Path, user_path: str) -> None:
    os.symlink(ws / "loop2", ws / "loop1")
    os.symlink(ws / "loop1", ws / "loop2")
    with pytest.raises(PathRefused, match="loop"):
        resolve_in_workspace(ws, user_path, must_exist=False)


def test_open_confined_reads_a_regular_file(ws: Path) -> None:
    real, _ = resolve_in_workspace(ws, "top.txt", must_exist=True)
    fd = open_confined(ws, real)
    try:
        assert os.read(fd, 100) == b"top\n"
    finally:
        os.close(fd)


def test_open_confined_refuses_a_symlink_swapped_in_after_the_check(
    ws: Path, tmp_path: Path
) -> None:
    real, _ = resolve_in_workspace(ws, "top.txt", must_exist=True)
    os.unlink(real)
    os.symlink(tmp_path / "outside" / "o.txt", real)  # the race, played out
    with pytest.raises(PathRefused, match="symlink"):
        open_confined(ws, real)


def test_open_confined_refuses_a_directory_swapped_for_a_symlink(ws: Path, tmp_path: Path) -> None:
    (ws / "sub").mkdir()
    (ws / "sub" / "o.txt").write_text("inside\n")
    real, _ = resolve_in_workspace(ws, "sub/o.txt", must_exist=True)
    os.rename(ws / "sub", ws / "sub_moved")
    os.symlink(tmp_path / "outside", ws / "sub")  # outside/o.txt exists too
    with pytest.raises(PathRefused, match="outside"):
        open_confined(ws, real)


def test_open_confined_refuses_fifo_without_blocking(ws: Path) -> None:
    os.mkfifo(ws / "pipe")
    real, _ = resolve_in_workspace(ws, "pipe", must_exist=True)
    with pytest.raises(PathRefused, match="not a regular file"):
        open_confined(ws, real)


def test_open_confined_refuses_a_directory(ws: Path) -> None:
    with pytest.raises(PathRefused, match="directory"):
        open_confined(ws, ws / "src")


_PARTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "src",
        "a.py",
        "top.txt",
        "link_in",
        "link_out",
        "dir_out",
        "dir_in",
        "ws2",
        "secret.txt",
        "~",
        "%2e%2e",
        "o.txt",
        "..%2f",
        "x",
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parts=st.lists(_PARTS, min_size=1, max_size=8),
    lead=st.sampled_from(["", "/", "./", "../"]),
    noise=st.text(max_size=6),
)
def test_generated_paths_are_refused_or_confined(
    ws: Path, parts: list[str], lead: str, noise: str
) -> None:
    user_path = lead + "/".join(parts) + noise
    try:
        real, rel = resolve_in_workspace(ws, user_path, must_exist=False)
    except PathRefused:
        return
    root_real = os.path.realpath(ws)
    assert is_inside(root_real, os.path.realpath(real))
    assert rel != ".." and not rel.startswith("../") and not rel.startswith("/")
    assert os.path.realpath(os.path.join(root_real, rel)) == str(real)
