"""The claim check: which cited paths and symbols it extracts and which it flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from orion_lsp.agent.claims import ClaimCheck, extract_paths, extract_symbols
from orion_lsp.agent.tools.textfile import text_hash
from orion_lsp.context.service import RepoIndex


def test_extracts_paths_in_code_and_prose_but_not_urls_or_fenced_code() -> None:
    answer = (
        "`greet` in `pkg/greet.py:3` says hi; see utils/helpers.py#L4 and README.md, "
        "e.g. `Shop.price()` and `frobnicate(x)` and v1.2 and/or https://x.io/a/b.py.\n"
        "```python\nimport made_up/path.py\ndef invented(): pass\n```\n`self` `None` `x`"
    )
    assert extract_paths(answer) == ["pkg/greet.py", "utils/helpers.py", "README.md"]
    assert extract_symbols(answer) == ["greet", "Shop.price", "frobnicate"]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "shop.py").write_text(
        "def price(qty, unit):\n    return qty * unit\n\nclass Cart:\n    pass\n"
    )
    (tmp_path / "notes.txt").write_text("uses json_loads_fast\n")
    return tmp_path


async def _index(root: Path) -> RepoIndex:
    index = RepoIndex(root, "p")
    await index.build()
    return index


async def test_known_things_pass_and_invented_ones_are_flagged(ws: Path) -> None:
    index = await _index(ws)
    check = ClaimCheck(lambda root: index)
    answer = (
        "`price` (pkg/shop.py) multiplies `qty`; `Cart` is in `shop.py`, "
        "`json_loads_fast` is in notes.txt. But `apply_coupon` in `pkg/coupons.py` "
        "and `/etc/passwd` are not."
    )
    read = {"notes.txt": text_hash((ws / "notes.txt").read_text())}
    result = await check(answer, ws, read)
    claims = result.payload["claims"]
    assert claims["unknownPaths"] == ["pkg/coupons.py", "/etc/passwd"]
    assert claims["unknownSymbols"] == ["apply_coupon"]
    assert claims["symbolsVerified"] is True
    assert result.note == (
        "\n\n> Orion note: not found in this workspace: `pkg/coupons.py`, `/etc/passwd`, "
        "`apply_coupon`."
    )


async def test_nothing_cited_adds_no_note(ws: Path) -> None:
    result = await ClaimCheck(None)("Plain prose, nothing cited.", ws, {})
    assert result.note is None
    assert result.payload == {"claims": {"paths": 0, "symbols": 0}}


async def test_unsaved_or_created_files_make_symbols_unverified(ws: Path) -> None:
    # A file created this turn that is not on disk (an unsaved editor buffer).
    read = {"tests/test_shop.py": text_hash("def test_new(): pass\n")}
    result = await ClaimCheck(None)("Wrote `tests/test_shop.py` with `test_new`.", ws, read)
    claims = result.payload["claims"]
    assert claims["unknownPaths"] == [] and claims["unknownSymbols"] == []
    assert claims["symbolsVerified"] is False and result.note is None


async def test_without_an_index_symbols_are_looked_up_in_read_files(ws: Path) -> None:
    read = {"pkg/shop.py": text_hash((ws / "pkg" / "shop.py").read_text())}
    result = await ClaimCheck(None)("`price` and `Cart`, not `Basket`.", ws, read)
    assert result.payload["claims"]["unknownSymbols"] == ["Basket"]
