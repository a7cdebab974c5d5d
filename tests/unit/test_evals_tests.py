"""The `tests` evaluator's parts: the [eval] config, the scratch copy, the command run."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from orion_lsp.evals.command import command_environment, run_test_command
from orion_lsp.evals.config import EvalConfig, EvalConfigError, load_eval_config
from orion_lsp.evals.scratch import ScratchError, copy_workspace, make_scratch, overlay
from orion_lsp.evals.tests_eval import TurnFiles, run_tests
from tests.processes import running


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path


# -- [eval] config ---------------------------------------------------------------------


def test_config_defaults_without_a_file(tmp_path: Path) -> None:
    assert load_eval_config(tmp_path) == EvalConfig()


def test_config_reads_the_eval_table(tmp_path: Path) -> None:
    write(
        tmp_path / ".orion" / "config.toml",
        'project_id = "x"\n[eval]\ntest_command = " pytest -q "\n'
        "test_timeout_seconds = 12\non_turn_end = true\n",
    )
    assert load_eval_config(tmp_path) == EvalConfig("pytest -q", 12.0, True)


@pytest.mark.parametrize(
    "body",
    [
        "[eval]\ntest_command = 3\n",
        '[eval]\ntest_command = "  "\n',
        "[eval]\ntest_timeout_seconds = 0\n",
        '[eval]\ntest_timeout_seconds = "5"\n',
        '[eval]\non_turn_end = "yes"\n',
        "eval = 1\n",
        "[eval\n",
    ],
)
def test_config_refuses_bad_values(tmp_path: Path, body: str) -> None:
    write(tmp_path / ".orion" / "config.toml", body)
    with pytest.raises(EvalConfigError, match=r"config\.toml"):
        load_eval_config(tmp_path)


def test_config_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    elsewhere = write(tmp_path / "other" / "config.toml", '[eval]\ntest_command = "evil"\n')
    ws = tmp_path / "ws"
    (ws / ".orion").mkdir(parents=True)
    (ws / ".orion" / "config.toml").symlink_to(elsewhere)
    with pytest.raises(EvalConfigError, match="outside the workspace"):
        load_eval_config(ws)


# -- scratch copy ----------------------------------------------------------------------


def make_ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    write(ws / ".gitignore", "build/\n*.log\n!keep.log\n")
    write(ws / "src" / "app.py", "print('héllo 🚀')\r\n")
    write(ws / "src" / ".gitignore", "generated.py\n")
    write(ws / "src" / "generated.py", "x = 1\n")
    write(ws / "build" / "out.bin", "binary")
    write(ws / "debug.log", "noise")
    write(ws / "keep.log", "kept")
    write(ws / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(ws / "node_modules" / "dep" / "index.js", "module.exports = 1\n")
    outside = write(tmp_path / "secret.txt", "outside")
    (ws / "link_out.txt").symlink_to(outside)
    (ws / "link_in.py").symlink_to(ws / "src" / "app.py")
    return ws


def listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_copy_honours_gitignore_files_without_a_git_repository(tmp_path: Path) -> None:
    ws = make_ws(tmp_path)
    dest = make_scratch(ws, "t")
    try:
        copy_workspace(ws, dest)
        assert listing(dest) == {
            ".gitignore",
            "keep.log",
            "link_in.py",
            "node_modules/dep/index.js",
            "src/.gitignore",
            "src/app.py",
        }
        assert (dest / "src" / "app.py").read_bytes() == "print('héllo 🚀')\r\n".encode()
        assert not (dest / "link_in.py").is_symlink()  # a copy, not a link back
        assert not Path(os.path.realpath(dest)).is_relative_to(os.path.realpath(ws))
    finally:
        import shutil

        shutil.rmtree(dest)


def test_overlay_writes_and_removes_files_keeping_line_endings(tmp_path: Path) -> None:
    dest = tmp_path / "copy"
    write(dest / "a.py", "old\n")
    write(dest / "gone.py", "x\n")
    overlay(dest, {"a.py": "new\r\nline 🚀\r\n", "gone.py": None, "new/b.py": "b\n"})
    assert (dest / "a.py").read_bytes() == "new\r\nline 🚀\r\n".encode()
    assert not (dest / "gone.py").exists()
    assert (dest / "new" / "b.py").read_text() == "b\n"
    with pytest.raises(ScratchError):
        overlay(dest, {"../escape.py": "x"})


def test_scratch_refuses_a_temp_dir_inside_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    (ws / "tmp").mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(ws / "tmp"))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(ScratchError, match="inside the workspace"):
        make_scratch(ws, "t")


# -- the command -----------------------------------------------------------------------


async def test_command_exit_status_and_output(tmp_path: Path) -> None:
    run = await run_test_command("echo out; echo err >&2; exit 3", tmp_path, 30)
    assert (run.exit_status, run.timed_out, run.passed) == (3, False, False)
    assert "out" in run.output_tail and "err" in run.output_tail
    ok = await run_test_command("true", tmp_path, 30)
    assert ok.passed and ok.exit_status == 0


async def test_hanging_command_is_killed_with_its_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    # The shell starts a child that would sleep for a minute, then waits on it.
    command = f"sleep 60 & echo $! > {pidfile}; wait"
    started = time.monotonic()
    run = await run_test_command(command, tmp_path, 1.0)
    assert run.timed_out and run.exit_status is None and not run.passed
    assert time.monotonic() - started < 30  # far below the child's 60 s
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while running(child) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not running(child), "the timed-out command's child survived"


async def test_children_left_behind_by_a_finished_command_are_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    run = await run_test_command(
        f"sleep 60 >/dev/null 2>&1 & echo $! > {pidfile}; exit 0", tmp_path, 30
    )
    assert run.passed
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while running(child) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not running(child)


def test_the_command_environment_has_no_secrets() -> None:
    env = command_environment(
        {
            "PATH": "/bin",
            "ORION_API_KEY": "sk-x",
            "GITHUB_TOKEN": "t",
            "HOME": "/h",
            "ORION_DB": "d",
        }
    )
    assert env == {"PATH": "/bin", "HOME": "/h"}


# -- before and after ------------------------------------------------------------------


async def test_before_fails_after_passes_and_nothing_lands_in_the_workspace(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    write(ws / "calc.py", "def add(a, b):\n    return a - b\n")
    check = (
        f"{sys.executable} -c \"import calc, pathlib; pathlib.Path('marker.txt').write_text('x');"
        ' assert calc.add(2, 2) == 4"'
    )
    config = EvalConfig(check, 60.0)
    files = TurnFiles(
        before={"calc.py": "def add(a, b):\n    return a - b\n"},
        after={"calc.py": "def add(a, b):\n    return a + b\n"},
    )
    before_listing = listing(ws)
    before, after = await run_tests(ws, config, files, lambda s: s)
    assert (before.name, before.label) == ("tests_before", "fail")
    assert before.value == 1.0 and "AssertionError" in before.explanation
    assert (after.name, after.label, after.value) == ("tests", "pass", 0.0)
    assert listing(ws) == before_listing  # no marker.txt, no __pycache__
    assert (ws / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"


async def test_a_timeout_is_fail_with_no_value(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write(ws / "a.txt", "a")
    config = EvalConfig("sleep 30", 0.5)
    files = TurnFiles(before={"a.txt": "a"}, after={"a.txt": "b"})
    before, after = await run_tests(ws, config, files, lambda s: s)
    for v in (before, after):
        assert (v.label, v.value, v.explanation) == ("fail", None, "timeout")
