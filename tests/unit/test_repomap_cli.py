"""`orion repomap --stats`: the map, then where its time went, phase by phase."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURE_REPO = Path(__file__).parent.parent / "fixtures" / "repomap" / "repo"


def repomap(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    env["ORION_DB"] = str(db)
    return subprocess.run(
        [sys.executable, "-m", "orion_lsp.cli", "repomap", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_stats_print_the_phases_of_a_build_and_of_a_restart(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPO, repo)
    (repo / "app" / "ünïcode_names.py").write_text("def grüße():\n    return '🌍'\n", "utf-8")
    cold = repomap(str(repo), "--stats", db=tmp_path / "orion.db")
    assert cold.returncode == 0, cold.stderr
    assert "def slugify(text):" in cold.stdout
    phases = cold.stdout.splitlines()[-1]
    assert re.search(r"walk \d+ m?s \| parse \d.* cpu \| tags \d.* cpu \| rank: link ", phases)
    assert re.search(r"this map \d+ m?s \| render \d+ m?s$", phases)
    assert "(10 parsed)" in cold.stdout
    warm = repomap(str(repo), "--stats", db=tmp_path / "orion.db")
    assert "(0 parsed)" in warm.stdout and "rank: snapshot loaded in " in warm.stdout
    assert warm.stdout.split("\n# files")[0] == cold.stdout.split("\n# files")[0]
