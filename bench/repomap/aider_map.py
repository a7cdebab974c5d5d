"""Aider's repo maps for bench_quality.py; runs with Aider's own interpreter.

Run by `.cache/aider-0.86.1/bin/python` (scripts/install-aider.sh), never
imported by Orion. Reads a job file {root, files, budget, questions, cache},
answers one JSON line {maps: [[file, ...] per question], seconds_per_map}.

Each question goes through what Aider's coder does with a message before it
asks for a map (coders/base_coder.py `get_repo_map`): the words of the
message are the mentioned identifiers, and files whose stem equals one of
them (5+ characters) are mentioned files. No file is in the chat. The tags
cache goes to the job's temp folder, not into the corpus.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path


def main() -> int:
    job = json.loads(Path(sys.argv[1]).read_text())
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from aider.io import InputOutput
    from aider.models import Model
    from aider.repomap import RepoMap

    # An absolute path: Path(root) / TAGS_CACHE_DIR is then that path.
    RepoMap.TAGS_CACHE_DIR = job["cache"]
    root = job["root"]
    files = [os.path.join(root, f) for f in job["files"]]
    stems: dict[str, set[str]] = defaultdict(set)
    for f in files:
        stem = Path(f).stem.lower()
        if len(stem) >= 5:
            stems[stem].add(f)
    io = InputOutput(pretty=False, yes=True, fancy_input=False)
    repo_map = RepoMap(
        map_tokens=job["budget"], root=root, main_model=Model("gpt-4o"), io=io, refresh="auto"
    )
    maps = []
    started = time.perf_counter()
    for question in job["questions"]:
        idents = set(re.split(r"\W+", question))
        fnames = set().union(*(stems.get(i.lower(), set()) for i in idents if len(i) >= 5))
        text = repo_map.get_repo_map(set(), files, mentioned_fnames=fnames, mentioned_idents=idents)
        shown = [
            line[:-1]
            for line in (text or "").splitlines()
            if line.endswith(":") and not line.startswith((" ", "│", "⋮"))
        ]
        maps.append(shown)
    per_map = (time.perf_counter() - started) / max(1, len(job["questions"]))
    sys.stdout.write(json.dumps({"maps": maps, "seconds_per_map": per_map}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
