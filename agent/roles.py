"""Model roles: which backend runs turns (main), plan mode (plan), an approved plan (edit) and the
small jobs (fast: compaction summaries), and what each role spent."""
from __future__ import annotations

from typing import Any, Callable

from wren.agent.models import BackendFactory
from wren.core.backend import ModelBackend, ModelReply, OnDelta, ignore
from wren.core.config import ROLES, ModelsConfig, Role
from wren.core.errors import SummaryFull, WrenError
from wren.core.events import Usage
from wren.core.messages import Message, redacted
from wren.core.redact import redact


SUMMARY_LINE = ("In one line of at most fifteen words, say what the tool call below will do, for a person "
                "deciding whether to allow it. Reply with that line alone.")
TITLE_INSTRUCTIONS = ("Write a title of at most eight words for a coding session that begins with the "
                      "request below. Reply with the title alone.")


class Roles:
    """The session's backend per role. A role with no model of its own (or the same name as main)
    uses main's backend; the others are resolved on first use, so an unused role costs nothing.

    `usage[role]` adds up what each role's model calls cost (tokens and USD as the backends report).
    """

    def __init__(self, main: ModelBackend, names: ModelsConfig, resolve: BackendFactory,
                 warn: Callable[[str], None]) -> None:
        self.main, self._resolve, self._warn = main, resolve, warn
        self.names: dict[str, str | None] = {role: getattr(names, role) for role in ROLES if role != "main"}
        self._backends: dict[str, ModelBackend] = {}
        self.usage: dict[str, Usage] = {}

    def name(self, role: Role) -> str:
        """The model name the role runs on now."""
        return self.backend(role).name

    def backend(self, role: Role) -> ModelBackend:
        """The role's backend; main's when the role is unset or its model cannot be resolved (said once)."""
        if role == "main":
            return self.main
        name = self.names.get(role)
        if not name or name == self.main.name:
            return self.main
        if role not in self._backends:
            try:
                self._backends[role] = self._resolve(name)
            except WrenError as exc:
                self._warn(f"the {role} model {name} cannot be used ({exc.message}); {role} uses {self.main.name}")
                self.names[role] = None
                return self.main
        return self._backends[role]

    def switch(self, role: Role, backend: ModelBackend) -> None:
        """Use `backend` for `role` from now on (a SetModel op)."""
        if role == "main":
            self.main = backend
        else:
            self.names[role], self._backends[role] = backend.name, backend

    def title(self, text: str) -> str:
        """A title of a few words for a session that began with `text`, by the fast model; "" when no
        fast model is set (main's time is not spent on titles). Raises ModelError like `complete`."""
        return self._line(TITLE_INSTRUCTIONS, text, 80)

    def one_line(self, call: str) -> str:
        """What a tool call (its title, arguments and preview as text) does, in a line by the fast
        model, for an approval request; "" when no fast model is set. Raises ModelError."""
        return self._line(SUMMARY_LINE, call, 160)

    def _line(self, instructions: str, text: str, limit: int) -> str:
        if not self.names.get("fast") or self.backend("fast") is self.main:
            return ""  # no fast model, or one that cannot be used: main's time is not spent here
        # Redacted before the cut (Metered redacts again): a key cut in two no longer looks like one.
        prompt = [Message(role="system", content=instructions), Message(role="user", content=redact(text)[:2000])]
        reply = self.summarizer().complete(prompt, [], ignore).content
        return " ".join(reply.strip().strip('"').split())[:limit]

    def add(self, role: str, usage: Usage) -> None:
        self.usage[role] = self.usage.get(role, Usage()) + usage

    def summarizer(self) -> ModelBackend:
        """The fast role's backend, its summaries counted as the fast role's usage."""
        return Metered(lambda: self.backend("fast"), lambda usage: self.add("fast", usage))


class Metered:
    """The backend `inner()` returns (resolved when first used), what it is sent redacted (core/redact.py),
    its `summarize` calls counted:
    summarize returns text only, so the tokens are counted with the backend's own tokenizer (prompt:
    the messages summarised; completion: the summary) and priced with its `price` method where it has
    one (litellm's price map)."""

    def __init__(self, inner: Callable[[], ModelBackend], on_usage: Callable[[Usage], None]) -> None:
        self._get, self._on_usage = inner, on_usage

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)

    def complete(self, messages: list[Message], tools: list[dict[str, Any]], on_delta: OnDelta) -> ModelReply:
        # Redacted here as the loop redacts the main model's prompt: the context keeps what tools returned,
        # and a hosted fast model must no more see a secret than the main one.
        reply = self._get().complete(redacted(messages), tools, on_delta)
        self._on_usage(reply.usage)
        return reply

    def summarize(self, messages: list[Message], on_delta: OnDelta = ignore, *more: Any) -> str:
        inner = self._get()
        try:
            text = inner.summarize(redacted(messages), on_delta, *(redact(m) if isinstance(m, str) else m for m in more))
        except SummaryFull as full:  # stopped at its length bound: what it wrote was paid for
            self._account(inner, messages, full.text)
            raise
        self._account(inner, messages, text)
        return text

    def _account(self, inner: ModelBackend, messages: list[Message], text: str) -> None:
        usage = Usage(prompt_tokens=inner.count_tokens(messages, []),
                      completion_tokens=inner.count_tokens([Message(role="assistant", content=text)], []))
        price = getattr(inner, "price", None)
        if callable(price):
            usage.cost_usd = price(usage)
        self._on_usage(usage)
