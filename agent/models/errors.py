"""One table of provider failures: what to tell the user, whether a retry can help.

Exit code is always 3 (ModelError). litellm's exception classes map onto these
kinds in `from_litellm`; the scripted backend raises the same kinds by name.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from wren.core.config import PROVIDER_KEYS
from wren.core.errors import ModelError


@dataclass(frozen=True)
class Fault:
    message: str
    retryable: bool


FAULTS: dict[str, Fault] = {
    "rate_limit": Fault("the provider is rate limiting requests", True),
    "timeout": Fault("the provider did not answer in time", True),
    "connection": Fault("cannot reach the provider", True),
    "server_error": Fault("the provider had a server error", True),
    "context_window": Fault("the prompt does not fit the model's context window", False),
    "auth": Fault("the provider rejected the credentials", False),
    "permission": Fault("the credentials are not allowed to use this model", False),
    "not_found": Fault("the provider does not know this model", False),
    "bad_request": Fault("the provider rejected the request", False),
    "content_policy": Fault("the provider refused the request under its content policy", False),
    "budget": Fault("the provider budget is exhausted", False),
}

def key_hint(model: str) -> str:
    provider = model.split("/", 1)[0] if "/" in model else ""
    key = PROVIDER_KEYS.get(provider)
    if key:
        return f"set {key} to a valid key"
    return "set the API key for your provider (for example ANTHROPIC_API_KEY or OPENAI_API_KEY)"


def fault_error(kind: str, model: str, detail: str = "") -> ModelError:
    fault = FAULTS[kind]
    message = f"{fault.message} ({model})"
    if kind == "auth":
        message += f"; {key_hint(model)}"
    if detail:
        message += f": {detail}"
    return ModelError(message, kind=kind, retryable=fault.retryable)


def from_litellm(exc: Exception, model: str) -> ModelError:
    """Map a litellm exception onto a fault kind. Order matters: subclasses first."""
    import litellm

    table: list[tuple[type[BaseException], str]] = [
        (litellm.ContextWindowExceededError, "context_window"),
        (litellm.ContentPolicyViolationError, "content_policy"),
        (litellm.AuthenticationError, "auth"),
        (litellm.PermissionDeniedError, "permission"),
        (litellm.NotFoundError, "not_found"),
        (litellm.RateLimitError, "rate_limit"),
        (litellm.Timeout, "timeout"),
        (litellm.BudgetExceededError, "budget"),
        (litellm.APIConnectionError, "connection"),
        (litellm.InternalServerError, "server_error"),
        (litellm.ServiceUnavailableError, "server_error"),
        (litellm.BadRequestError, "bad_request"),
    ]
    detail = _detail(exc)
    if _refused(exc):
        # litellm reports a refused connection as a server error; say what really happened.
        return fault_error("connection", model, detail)
    if "Missing credentials" in detail or "api_key client option must be set" in detail:
        # The OpenAI client's own check, before any request: litellm raises it as a server error, which was
        # retried four times. No retry can supply a key.
        return fault_error("auth", model, detail)
    for cls, kind in table:
        if isinstance(exc, cls):
            return fault_error(kind, model, detail)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 500:
        return fault_error("server_error", model, detail)
    return ModelError(f"model call failed ({model}): {type(exc).__name__}: {detail}", kind="model")


def _detail(exc: Exception) -> str:
    """The first line of litellm's message, plus what the server said when the message lacks it.

    Servers that are not OpenAI answer errors in their own shapes (FastAPI's `{"detail": ...}`,
    `{"message": ...}`, a bare string); litellm then only says "Error code: 400".
    """
    text = str(getattr(exc, "message", exc) or "")
    detail = text.splitlines()[0][:300] if text.strip() else ""
    said = _server_said(getattr(exc, "body", None))
    if not said and (response := getattr(exc, "response", None)) is not None:
        try:
            said = _server_said(response.json())
        except Exception:  # not JSON, or no body read: the text, if any
            said = str(getattr(response, "text", "") or "").strip()
    if said and said not in text:
        detail = f"{detail}: {said[:500]}" if detail else said[:500]
    return detail


def _server_said(body: object) -> str:
    if isinstance(body, dict):
        for key in ("error", "detail", "message"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value
            if value:
                return value if isinstance(value, str) else json.dumps(value)
        return json.dumps(body) if body else ""
    return body.strip() if isinstance(body, str) else ""


def _refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if type(seen).__name__ in ("ConnectError", "APIConnectionError", "ConnectionRefusedError"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
