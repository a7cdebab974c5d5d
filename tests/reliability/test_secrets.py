"""Issue 7, item 8: secrets never leave the process through us.

Canaries: a secret-named environment variable, the API key, a provider error
that carries `?key=...` in a URL, a workspace file the model reads (tool
output), and a model reply that repeats them. None may appear, raw,
URL-encoded or base64-encoded, in the database and its WAL/SHM, the server
log, its stderr, or the whole LSP transcript (both directions).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

from orion_lsp.testing import ScriptedModelServer, ScriptedReply, ScriptedToolCall

from .conftest import Starter, server_env
from .rawclient import RpcError

ENV_CANARY = "canary-env-Qm7Zx9vR2"
API_CANARY = "canary-api-Wt5Kp2jN8"
URL_CANARY = "canary-url-Hy3Lq8sD4"


def forms(secret: str) -> dict[str, bytes]:
    raw = secret.encode()
    out = {"raw": raw, "url": quote(secret).encode(), "url+": quote_plus(secret).encode()}
    for offset in range(3):
        enc = base64.b64encode(b"\0" * offset + raw)
        # Only the characters that depend on the secret alone, whatever precedes it.
        start = -(-offset * 4 // 3) + 1
        out[f"b64@{offset}"] = enc[start : len(enc) - 4]
        out[f"b64url@{offset}"] = base64.urlsafe_b64encode(b"\0" * offset + raw)[
            start : len(enc) - 4
        ]
    return out


def test_no_secret_anywhere(
    start_server: Starter, workspace: Path, db_path: Path, tmp_path: Path
) -> None:
    (workspace / "config").mkdir()
    (workspace / "config" / "deploy.env").write_text(
        f"DEPLOY_TOKEN={ENV_CANARY}\nOPENAI_KEY: {API_CANARY}\nregion=eu\n"
    )
    with ScriptedModelServer() as model:
        model.push(
            ScriptedReply(
                text="Let me look. ",
                tool_calls=[ScriptedToolCall("read_file", {"path": "config/deploy.env"})],
            ),
            ScriptedReply(
                text=f"The deploy token is {ENV_CANARY} and your key is {API_CANARY}; "
                f"see https://example.invalid/v1?key={URL_CANARY}&x=1 for details."
            ),
            ScriptedReply(
                status=401,
                error_message=(
                    f"Incorrect API key provided: {API_CANARY}. Request was "
                    f"https://api.example.invalid/v1/chat?key={URL_CANARY}"
                ),
            ),
        )
        env = server_env(model, db_path, DEPLOY_TOKEN=ENV_CANARY, ORION_API_KEY=API_CANARY)
        server = start_server(env, workspace)
        result = server.command("orion.chat", {"prompt": "what is in config/deploy.env?"})
        assert result["status"] == "completed" and result["toolCalls"] == [
            {"name": "read_file", "ok": True}
        ]
        assert "[REDACTED]" in result["answer"]
        try:
            server.command("orion.chat", {"prompt": "and again?"})
            raise AssertionError("a 401 from the provider must fail the turn")
        except RpcError as exc:
            assert exc.code == -32803 and exc.message.startswith("Orion model error:")
        history = server.command("orion.history", {})
        assert len(history["messages"]) == 4
        # While the server runs, the WAL holds the recent pages: read it too.
        live = {f"{f.name} (live)": f.read_bytes() for f in db_path.parent.iterdir()}
        assert any(name.startswith("orion.db-wal") for name in live)
        assert server.shutdown() is not None
        # The model really was asked with the key (so the canary was live).
        assert any(API_CANARY in json.dumps(h) for h in model.request_headers)

    places: dict[str, bytes] = {"transcript": server.transcript(), **live}
    for f in db_path.parent.iterdir():  # orion.db, -wal, -shm
        places[f.name] = f.read_bytes()
    assert "orion.db" in places
    for f in tmp_path.glob("server-*"):  # --log-file and stderr of every server
        places[f.name] = f.read_bytes()
    assert any(name.endswith(".log") for name in places)
    leaks = [
        (secret, form, where)
        for secret in (ENV_CANARY, API_CANARY, URL_CANARY)
        for form, needle in forms(secret).items()
        for where, data in places.items()
        if needle in data
    ]
    assert leaks == []
    print(
        json.dumps(
            {
                "test": "secrets",
                "places": sorted(places),
                "canaries": 3,
                "forms": len(forms(ENV_CANARY)),
                "leaks": 0,
            }
        )
    )
