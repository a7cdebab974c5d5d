"""The repo map service: golden map, ranking, budget, incremental updates, cache, deletes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from orion_lsp.context.build import POOL_THRESHOLD
from orion_lsp.context.cache import MemoryTagCache, SqliteTagCache
from orion_lsp.context.render import tokens_of
from orion_lsp.context.service import RepoIndex, mentioned_identifiers

FIXTURE_REPO = Path(__file__).parent.parent / "fixtures" / "repomap" / "repo"
GOLDEN = Path(__file__).parent.parent / "fixtures" / "repomap" / "golden_map.txt"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dst = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPO, dst)
    return dst


async def built(root: Path, cache: MemoryTagCache | SqliteTagCache | None = None) -> RepoIndex:
    index = RepoIndex(root, "proj", cache)
    await index.build()
    return index


def file_order(text: str) -> list[str]:
    return [line[:-1] for line in text.splitlines() if line.endswith(":") and "│" not in line]


async def test_golden_map(repo: Path) -> None:
    index = await built(repo)
    text = index.render(budget_tokens=4096).text
    if os.environ.get("ORION_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    # pytest shows a line diff on failure; ORION_UPDATE_GOLDEN=1 rewrites it.
    assert text == GOLDEN.read_text()
    assert "should_not_appear" not in text  # generated/ is in .gitignore


async def test_budget_is_respected_and_counted_as_chars_over_4(repo: Path) -> None:
    index = await built(repo)
    full = index.render(budget_tokens=4096)
    for budget in (0, 20, 60, 150):
        m = index.render(budget_tokens=budget)
        assert m.tokens == tokens_of(m.text) == (len(m.text) + 3) // 4
        assert m.tokens <= budget
        assert m.tokens < full.tokens
    # The small map is the head of the ranking: its first file is the full map's first.
    small = index.render(budget_tokens=60)
    assert file_order(small.text)[0] == file_order(full.text)[0]


async def test_mentioning_an_identifier_pulls_its_file_up(repo: Path) -> None:
    index = await built(repo)
    plain = index.render(budget_tokens=60)
    assert "ListItems" not in plain.text
    m = index.render(
        mentioned=mentioned_identifiers("why does ListItems return nil?"), budget_tokens=60
    )
    assert "ListItems" in m.text
    assert file_order(m.text)[0] == "server/handler.go"


async def test_active_file_pulls_what_it_uses(repo: Path) -> None:
    index = await built(repo)
    base = file_order(index.render(budget_tokens=4096).text)
    focused = file_order(index.render(focus_files=["web/view.tsx"], budget_tokens=4096).text)
    # view.tsx uses client.ts: it moves up toward the top.
    assert focused.index("web/client.ts") < base.index("web/client.ts")
    assert focused.index("web/client.ts") <= 1


async def test_update_text_shows_new_function_without_rebuild(repo: Path) -> None:
    index = await built(repo)
    parsed_by_build = index.reparsed
    text = (repo / "app/util.py").read_text() + "\n\ndef freshly_added_function(x):\n    return x\n"
    index.update_text("app/util.py", text)
    m = index.render(mentioned={"freshly_added_function"}, budget_tokens=4096)
    assert "def freshly_added_function(x):" in m.text
    assert index.reparsed == parsed_by_build  # no build ran
    # A caller edited in another buffer links to it through the updated graph.
    index.update_text(
        "app/main.py", (repo / "app/main.py").read_text() + "\nfreshly_added_function(1)\n"
    )
    assert [p for p, _ in index.find("freshly_added_function")] == ["app/util.py"]
    assert "app/util.py" in index.linked_files("app/main.py")


async def test_update_text_ignores_unindexed_paths(repo: Path) -> None:
    index = await built(repo)
    index.update_text("generated/new.py", "def hidden(): pass\n")
    index.update_text("notes.txt", "def hidden(): pass\n")
    assert index.find("hidden") == []


async def test_cache_reuse_across_restart(repo: Path) -> None:
    cache = MemoryTagCache()
    first = await built(repo, cache)
    assert first.reparsed == first.stats()["files"] == 9
    second = await built(repo, cache)
    assert second.reparsed == 0
    assert second.render().text == first.render().text
    # New mtime, same bytes: read and hashed, not parsed.
    p = repo / "app/store.py"
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 5_000_000_000))
    third = await built(repo, cache)
    assert third.reparsed == 0
    # Changed content: exactly that file is parsed again.
    p.write_text(p.read_text() + "\n\ndef added_on_disk():\n    pass\n")
    fourth = await built(repo, cache)
    assert fourth.reparsed == 1
    assert fourth.find("added_on_disk")


async def test_sqlite_cache_across_restart(repo: Path, tmp_path: Path) -> None:
    from orion_lsp.storage import Database

    db = await Database.open(tmp_path / "orion.db")
    try:
        first = await built(repo, SqliteTagCache(db))
        assert first.reparsed == 9
    finally:
        await db.close()
    db = await Database.open(tmp_path / "orion.db")
    try:
        second = await built(repo, SqliteTagCache(db))
        assert second.reparsed == 0
        assert second.stats()["symbols"] == first.stats()["symbols"]
        (repo / "app/util.py").unlink()
        third = await built(repo, SqliteTagCache(db))
        rows = await db.fetchall("SELECT path FROM file_tags WHERE project_id = 'proj'")
        assert "app/util.py" not in {r["path"] for r in rows}
        assert third.stats()["files"] == 8
    finally:
        await db.close()


async def test_failing_cache_degrades_to_memory(repo: Path) -> None:
    class Broken(MemoryTagCache):
        async def load(self, project_id: str) -> dict:  # type: ignore[override]
            raise OSError("disk on fire")

    index = await built(repo, Broken())
    assert index.stats()["files"] == 9


async def test_deleted_file_disappears(repo: Path) -> None:
    index = await built(repo)
    assert "engine/src/lib.rs" in index.render().text
    (repo / "engine/src/lib.rs").unlink()
    await index.refresh_paths(["engine/src/lib.rs"])
    m = index.render()
    assert "engine/src/lib.rs" not in m.text and "rank_documents" not in m.text
    index.remove("app/util.py")
    assert "def slugify" not in index.render().text


async def test_refresh_paths_picks_up_new_and_changed_files(repo: Path) -> None:
    index = await built(repo)
    (repo / "app/extra.py").write_text("def brand_new_on_disk():\n    pass\n")
    await index.refresh_paths(["app/extra.py"])
    assert index.find("brand_new_on_disk")
    assert index.stats()["files"] == 10
    assert index.complete == 1.0


async def test_render_before_build_says_the_map_is_not_there_yet(repo: Path) -> None:
    index = RepoIndex(repo, "proj")
    m = index.render()
    assert m.complete == 0.0 and m.files == 0
    assert m.text == "(partial map: the workspace is still being listed)\n"
    assert index.render(budget_tokens=5).text == ""  # no room even for the note


async def test_progress_is_reported(repo: Path) -> None:
    seen: list[tuple[int, int]] = []
    index = RepoIndex(repo, "proj")
    await index.build(lambda done, total: seen.append((done, total)))
    assert seen[-1] == (9, 9)
    assert all(d <= t for d, t in seen)


async def test_large_build_goes_through_the_process_pool(tmp_path: Path) -> None:
    n = POOL_THRESHOLD * 3
    for i in range(n):
        (tmp_path / f"mod_{i:03d}.py").write_text(
            f"def function_number_{i}():\n    return function_number_{(i + 1) % n}()\n"
        )
    index = await built(tmp_path)
    assert index.reparsed == n
    assert index.stats()["symbols"] == n
    m = index.render(mentioned={"function_number_7"}, budget_tokens=4096)
    assert "def function_number_7():" in m.text


def test_mentioned_identifiers() -> None:
    got = mentioned_identifiers("Fix `RepoIndex.render` in orion_lsp/context/service.py, see a")
    assert {"RepoIndex", "render", "orion_lsp/context/service.py", "service.py"} <= got
    assert "a" not in got


class CountingCache(MemoryTagCache):
    """Records which files' tags blobs were read (a restart must read few)."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []

    def read_blobs(self, project_id: str, paths):  # type: ignore[no-untyped-def]
        self.read.extend(paths)
        return super().read_blobs(project_id, paths)


async def test_a_restart_reads_the_tags_of_the_files_it_may_show_only(tmp_path: Path) -> None:
    n = POOL_THRESHOLD * 3
    for i in range(n):
        (tmp_path / f"mod_{i:03d}.py").write_text(
            f"def function_number_{i}(x):\n    return function_number_{(i * 7) % n}(x)\n"
        )
    cache = CountingCache()
    first = await built(tmp_path, cache)
    small = first.render(budget_tokens=100).text
    second = await built(tmp_path, cache)
    cache.read.clear()
    assert second.reparsed == 0
    m = second.render(budget_tokens=100)
    assert m.text == small
    shown = set(file_order(m.text))
    # The candidates for the budget (a little more than it holds), not the project.
    assert shown <= set(cache.read) and len(cache.read) < n / 2


async def test_lost_cached_tags_are_read_again_from_disk(repo: Path) -> None:
    class Forgetful(MemoryTagCache):
        def read_blobs(self, project_id: str, paths):  # type: ignore[no-untyped-def]
            raise OSError("the cache file went away")

    cache = Forgetful()
    index = await built(repo, cache)
    m = index.render(budget_tokens=4096)
    assert "def slugify(text):" in m.text
    assert m.text == GOLDEN.read_text()


async def test_a_map_made_while_indexing_says_it_is_partial(tmp_path: Path) -> None:
    for i in range(10):
        (tmp_path / f"mod_{i}.py").write_text(f"def function_number_{i}():\n    pass\n")
    index = RepoIndex(tmp_path, "proj")
    maps = []

    def progress(done: int, total: int) -> None:
        maps.append((done, total, index.render(budget_tokens=4096)))

    await index.build(progress)
    partial = [m for done, total, m in maps if 0 < done < total]
    assert partial
    for m in partial:
        assert m.complete < 1.0
        assert m.text.startswith("(partial map: ")
        assert m.tokens <= 4096
    final = index.render(budget_tokens=4096)
    assert final.complete == 1.0 and "partial" not in final.text


async def test_edits_keep_the_ranking_of_a_fresh_build(repo: Path) -> None:
    index = await built(repo)
    edits = {
        "app/main.py": (repo / "app/main.py").read_text() + "\nStore().load_document('x')\n",
        "web/client.ts": (repo / "web/client.ts").read_text().replace("fetchItems", "loadItems"),
        "app/util.py": (repo / "app/util.py").read_text() + "\ndef render_page(doc):\n    pass\n",
    }
    for path, text in edits.items():
        index.update_text(path, text)
    edited = index.render(focus_files=["app/main.py"], budget_tokens=4096).text
    for path, text in edits.items():
        (repo / path).write_text(text)
    fresh = await built(repo)
    assert edited == fresh.render(focus_files=["app/main.py"], budget_tokens=4096).text
    assert "loadItems" in edited and "fetchItems" not in edited


async def test_generated_files_are_remembered_as_skipped(repo: Path) -> None:
    (repo / "app" / "schema_gen.py").write_text("# Code generated by protoc. DO NOT EDIT.\nX = 1\n")
    cache = MemoryTagCache()
    await built(repo, cache)
    assert cache.rows["proj"]["app/schema_gen.py"].tags == b""
    meta = await cache.load_meta("proj")
    assert meta["app/schema_gen.py"].skipped


async def test_known_names_cover_definitions_and_uses(repo: Path) -> None:
    index = await built(repo)
    names = index.known_names()
    assert "slugify" in names and "ListItems" in names
    assert "no_such_name_anywhere" not in names
