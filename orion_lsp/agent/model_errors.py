"""What a failed model call tells the user: one line that says what to do next.

The provider's exception text is for the log file, not the user: litellm's
wrappers repeat class names ("InternalServerError: InternalServerError:"),
aiohttp puts object reprs into it (`ssl:<ssl.SSLContext object at 0x...>`),
and a refused connection to an OpenAI-compatible server reads only
"Connection error.". `failure_reason` turns the kind `retry.decide` found
into a sentence with the next step (for Ollama: is `ollama serve` running and
the model pulled; for any other server: the URL that was tried), and keeps
the provider's own first line, cleaned, only where it says something more.
"""

from __future__ import annotations

import re

from .providers import default_base, is_ollama, ollama_name

_OBJECT_REPR = re.compile(r"\s*(?:ssl:)?<[\w.]+ object at 0x[0-9a-fA-F]+>")
# "litellm.InternalServerError: ", "InternalServerError: ", "OpenAIException - "
_WRAPPER = re.compile(r"^(?:litellm\.)?\w*(?:Error|Exception)\s*(?::|-)\s*")

_LABELS = {
    "auth": "the API key was refused",
    "forbidden": "access denied",
    "not_found": "model or URL not found",
    "bad_request": "the server rejected the request",
    "rate_limited": "rate limited by the server",
    "server_error": "the model server failed",
    "connection_lost": "the connection to the model server broke off",
    "mid_stream": "the answer broke off",
    "context_window": "the prompt is larger than the model's context window",
}


def endpoint(model: str, api_base: str | None) -> str:
    """`<model> at <base URL>`, naming the default URL where the provider's is known."""
    return f"{model} at {api_base or default_base(model) or 'the provider default URL'}"


def failure_reason(exc: BaseException, model: str, api_base: str | None, kind: str) -> str:
    """The part of the error after `Orion model error: <model> at <base>: `."""
    if kind == "connection_refused":
        if is_ollama(model):
            return (
                "cannot connect. Is `ollama serve` running, and the model pulled "
                f"(`ollama pull {ollama_name(model)}`)?"
            )
        url = _url_tried(exc) or api_base or "the provider default URL"
        return f"cannot connect to {url}. Is the model server running there (setting apiBase)?"
    if kind == "not_found" and is_ollama(model):
        return f"model not found. Pull it with `ollama pull {ollama_name(model)}`."
    if kind == "timeout":
        url = _url_tried(exc) or api_base or "the provider"
        return f"no answer from {url} in time (timeout)"
    detail = provider_text(exc)
    label = _LABELS.get(kind)
    text = f"{label}: {detail}" if label and detail else (label or detail)
    if kind == "auth":
        text += " (check ORION_API_KEY)"
    return text


def provider_text(exc: BaseException) -> str:
    """The provider's first line without wrapper class names and object reprs."""
    lines = str(exc).strip().splitlines()
    text = _OBJECT_REPR.sub("", lines[0] if lines else "").strip()
    while True:
        shorter = _WRAPPER.sub("", text, count=1)
        if shorter == text:
            break
        text = shorter
    if len(text) > 300:
        text = text[:300] + "..."
    return text or type(exc).__name__


def _url_tried(exc: BaseException) -> str | None:
    """The URL of the HTTP request that failed, from the transport's own exception.

    litellm's wrappers carry placeholder requests (api.openai.com, its docs
    URL), so only httpx's and the OpenAI SDK's exceptions are believed.
    """
    cur: BaseException | None = exc
    seen: list[BaseException] = []
    while cur is not None and cur not in seen and len(seen) < 10:
        seen.append(cur)
        if type(cur).__module__.split(".")[0] in ("httpx", "openai"):
            try:
                url = getattr(getattr(cur, "request", None), "url", None)
            except RuntimeError:  # httpx's `request` raises when it was never set
                url = None
            if url is not None:
                return str(url)
        cur = cur.__cause__ or cur.__context__
    return None
