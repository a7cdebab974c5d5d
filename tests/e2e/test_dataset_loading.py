"""Exports load as the trainers load them: every file through the real Hugging Face
`datasets` library, and every row rendered through a real model's chat template
(SmolLM2's, read from its GGUF file with `gguf`, rendered with `jinja2` as
transformers does). In the real-model tier: `datasets` and `gguf` are the
`export` extra, and the GGUF file comes with the local model install."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

pytestmark = pytest.mark.realmodel
ROOT = Path(__file__).resolve().parents[2]


def smollm2_gguf() -> Path:
    path = os.environ.get("ORION_SMOLLM2_GGUF")
    if not path:
        done = subprocess.run(["bash", str(ROOT / "scripts/local-model.sh"), "path", "smollm2"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"SmolLM2 is not installed (scripts/install-local-model.sh): {done.stderr}")
        path = done.stdout.strip()
    return Path(path)


def chat_template(gguf_file: Path) -> str:
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf_file))
    field = reader.fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def orion(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-m", "orion_lsp.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("exports")
    ws = tmp / "ws"
    ws.mkdir()
    (ws / "app.py").write_text("def greet(name):\n    return f'Grüß dich, {name} 🙂'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORION_", "OTEL_"))}
    with ScriptedModelServer() as model:
        env.update(ORION_MODEL=model.model, ORION_API_BASE=model.base_url,
                   ORION_DB=str(tmp / "orion.db"))  # fmt: skip
        project = orion(env, "project-id", str(ws)).stdout.strip()
        model.push(
            ScriptedReply(text="Je lis. ", tool_calls=[ScriptedToolCall("read_file", {"path": "app.py"})]),
            ScriptedReply(text="greet greets 🙂."),
            ScriptedReply(text="It lives in gone.py."),
            ScriptedReply(text="greet returns a string."),
        )  # fmt: skip
        assert (
            orion(
                env, "chat", "--project-id", project, "--workspace", str(ws), "Que fait greet?"
            ).returncode
            == 0
        )
        traces = json.loads(orion(env, "traces", "--project-id", project, "--json").stdout)
        turn = traces["turnId"]
        assert orion(env, "rate", "--project-id", project, "--turn", turn, "up").returncode == 0
        done = orion(env, "replay", "--project-id", project, "--turn", turn, "--model", model.model,
                     "--api-base", model.base_url, "--samples", "2", "--workspace", str(ws))  # fmt: skip
        assert done.returncode == 0, done.stderr
    outs = {}
    for kind in ("sft", "dpo", "kto"):
        for fmt in ("trl", "openai"):
            out = tmp / f"{kind}-{fmt}"
            done = orion(
                env, "export", kind, "--project-id", project, "--out", str(out), "--format", fmt
            )
            assert done.returncode == 0, done.stderr
            outs[f"{kind}-{fmt}"] = out
    return outs


@pytest.mark.parametrize(
    "name", ["sft-trl", "sft-openai", "dpo-trl", "dpo-openai", "kto-trl", "kto-openai"]
)
def test_exports_load_with_datasets_and_render_with_a_real_chat_template(
    exported: dict[str, Path], name: str
) -> None:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import jinja2
    from datasets import load_dataset

    out = exported[name]
    manifest = json.loads((out / "manifest.json").read_text())
    ds = load_dataset("json", data_files=str(out / "data.jsonl"), split="train")
    assert ds.num_rows == manifest["rows"] > 0
    kind = name.split("-")[0]
    expected = {"sft": {"messages", "tools"}, "dpo": {"prompt", "chosen", "rejected", "tools"},
                "kto": {"prompt", "completion", "label"}}[kind]  # fmt: skip
    assert set(ds.column_names) == expected
    template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        chat_template(smollm2_gguf())
    )
    for row in (json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()):
        conversations: list[list[dict[str, Any]]]
        if kind == "sft":
            conversations = [row["messages"]]
        elif kind == "dpo":
            conversations = [row["prompt"] + row["chosen"], row["prompt"] + row["rejected"]]
        else:
            conversations = [row["prompt"] + row["completion"]]
        for messages in conversations:
            text = template.render(messages=messages, add_generation_prompt=False)
            assert messages[-1]["content"] in text
