"""The ACP agent: the methods an editor calls, answered with Wren sessions."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from acp.exceptions import RequestError
from acp.meta import PROTOCOL_VERSION
from acp.schema import (AcpMcpServer, AgentCapabilities, AudioContentBlock, ClientCapabilities,
                        EmbeddedResourceContentBlock, HttpMcpServer, ImageContentBlock, Implementation,
                        InitializeResponse, LoadSessionResponse, McpCapabilities, McpServerStdio, NewSessionResponse,
                        PromptCapabilities, PromptResponse, ResourceContentBlock, SessionCapabilities,
                        SessionCloseCapabilities, SetSessionConfigOptionResponse, SseMcpServer, TextContentBlock)

from wren.agent.approval import MODES
from wren.core.config import load_config
from wren.core.errors import WrenError
from wren.core.log import find_session, read_events
from wren.core.config import EFFORTS, ROLES
from wren.core.ops import SetEffort, SetModel
from wren.core import __version__
from wren.protocol import updates
from wren.protocol.bridge import Bridge
from wren.protocol.factory import Backends, ServeOptions, open_session
from wren.protocol.live import LiveSession
from wren.protocol.options import EFFORT_ID, MODE_ID, MODEL_ID, PLAN, parse_command
from wren.protocol.prompt import prompt_text

log = logging.getLogger("wren.acp")

# What the SDK passes for session/new's mcpServers and session/prompt's prompt.
McpServers = list[HttpMcpServer | SseMcpServer | AcpMcpServer | McpServerStdio]
Prompt = list[TextContentBlock | ImageContentBlock | AudioContentBlock | ResourceContentBlock | EmbeddedResourceContentBlock]


def invalid(message: str, **data: Any) -> RequestError:
    return RequestError(-32602, message, data or None)


def not_found(session_id: str, message: str) -> RequestError:
    """ACP's "resource not found" (-32002, acp.exceptions.RequestError.resource_not_found) for a session id."""
    return RequestError(-32002, message, {"sessionId": session_id})


def failed(exc: WrenError) -> RequestError:
    return RequestError(-32603, exc.message, {"kind": exc.kind})


def workspace(cwd: str) -> Path:
    path = Path(cwd)
    if not path.is_absolute():
        raise invalid(f"cwd must be an absolute path, not {cwd!r}", cwd=cwd)
    if not path.is_dir():
        raise invalid(f"cwd {cwd} is not an existing directory", cwd=cwd)
    return path.resolve()


class WrenAgent:
    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.backends = Backends(options.api_base)
        self.sessions: dict[str, LiveSession] = {}
        self.caps = ClientCapabilities()
        self.client: Any = None
        self._fresh: set[str] = set()  # new sessions whose response has not gone out yet

    def on_connect(self, conn: Any) -> None:
        self.client = conn

    def message_sent(self, message: dict[str, Any]) -> None:
        """Called for every message written; a new session learns its commands once the editor knows its id."""
        result = message.get("result")
        sid = result.get("sessionId") if isinstance(result, dict) else None
        if sid in self._fresh:
            self._fresh.discard(sid)
            if live := self.sessions.get(sid):
                asyncio.get_running_loop().create_task(live.announce_commands())

    async def initialize(self, protocol_version: int, client_capabilities: ClientCapabilities | None = None,
                         client_info: Implementation | None = None, **kwargs: Any) -> InitializeResponse:
        self.caps = client_capabilities or ClientCapabilities()
        log.info("client %s speaks ACP %s", client_info.name if client_info else "?", protocol_version)
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(
                load_session=True, prompt_capabilities=PromptCapabilities(embedded_context=True),
                # Wren starts stdio and HTTP MCP servers (protocol/factory.py); SSE ones it skips.
                mcp_capabilities=McpCapabilities(http=True, sse=False),
                session_capabilities=SessionCapabilities(close=SessionCloseCapabilities())),
            agent_info=Implementation(name="wren", title="Wren", version=__version__))

    async def _open(self, root: Path, mcp_servers: McpServers | None, resume_id: str | None) -> LiveSession:
        if resume_id in self.sessions:
            await self.sessions.pop(resume_id).close()  # one Session per log: the loaded one replaces it
        bridge = Bridge(asyncio.get_running_loop(), self.client, resume_id or "")
        try:
            live = await open_session(bridge, self.caps, self.options, self.backends, root, mcp_servers or [],
                                      resume_id)
        except WrenError as exc:
            raise failed(exc) from None
        self.sessions[live.id] = live
        return live

    async def new_session(self, cwd: str, mcp_servers: McpServers | None = None, **kwargs: Any) -> NewSessionResponse:
        live = await self._open(workspace(cwd), mcp_servers, None)
        self._fresh.add(live.id)
        return NewSessionResponse(session_id=live.id, modes=live.modes(), config_options=live.options())

    async def load_session(self, cwd: str, session_id: str, mcp_servers: McpServers | None = None,
                           **kwargs: Any) -> LoadSessionResponse:
        root = workspace(cwd)
        try:
            path = find_session(root, session_id)
        except WrenError as exc:
            raise not_found(session_id, exc.message) from None
        try:
            past = read_events(path)
        except WrenError as exc:  # there, but damaged: not "resource not found"
            raise failed(exc) from None
        live = await self._open(root, mcp_servers, session_id)
        for update in updates.replay(live.root, past):
            await live.send(update)
        await live.announce_commands()
        return LoadSessionResponse(modes=live.modes(), config_options=live.options())

    def _live(self, session_id: str) -> LiveSession:
        live = self.sessions.get(session_id)
        if live is None:
            raise not_found(session_id, f"unknown session {session_id!r}; create one with session/new")
        return live

    async def prompt(self, session_id: str, prompt: Prompt, **kwargs: Any) -> PromptResponse:
        live = self._live(session_id)
        text = prompt_text(prompt)
        if not text.strip():  # an empty message cost a model call and a turn on nothing
            raise invalid("the prompt is empty: send at least one text or resource block", sessionId=session_id)
        command = parse_command(text)
        if command is None:
            return await live.prompt(text)
        return await self._command(live, *command)

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        if live := self.sessions.get(session_id):
            live.cancel()

    def cancel_all(self) -> None:
        """Cancel every session's running turn, as session/cancel would."""
        for live in self.sessions.values():
            live.cancel()

    async def set_session_mode(self, session_id: str, mode_id: str, **kwargs: Any) -> None:
        live = self._live(session_id)
        if mode_id not in (*MODES, PLAN):
            raise invalid(f"unknown mode {mode_id!r}; use one of {', '.join(MODES)} or {PLAN}", modeId=mode_id)
        await live.set_mode(mode_id, announce_mode=False, announce_options=True)

    async def set_config_option(self, config_id: str, session_id: str, value: str | bool,
                                **kwargs: Any) -> SetSessionConfigOptionResponse:
        live = self._live(session_id)
        if config_id == MODE_ID and value in (*MODES, PLAN):
            await live.set_mode(str(value), announce_mode=True, announce_options=False)
        elif config_id == EFFORT_ID and value in EFFORTS:
            live.session.submit(SetEffort(effort=value))
            live.effort = str(value)
        elif config_id == MODEL_ID and isinstance(value, str):
            await self._switch_model(live, value)
        else:
            raise invalid(f"cannot set {config_id!r} to {value!r}", configId=config_id)
        return SetSessionConfigOptionResponse(config_options=live.options())

    async def close_session(self, session_id: str, **kwargs: Any) -> None:
        live = self.sessions.pop(session_id, None)
        if live is None:
            raise not_found(session_id, f"unknown session {session_id!r}")
        await live.close()

    async def shutdown(self) -> None:
        sessions, self.sessions = list(self.sessions.values()), {}
        await asyncio.gather(*(live.close() for live in sessions))

    async def _switch_model(self, live: LiveSession, model: str, role: str = "main") -> None:
        try:
            # Made here (and cached) so that a bad name is this request's error; the session's
            # own resolver then finds it in the cache.
            config = await asyncio.to_thread(load_config, live.root)
            await asyncio.to_thread(self.backends.get, model, config)
        except WrenError as exc:
            raise invalid(exc.message, model=model) from None
        live.session.submit(SetModel(model=model, role=role))  # type: ignore[arg-type]  # applied between steps
        if role != "main":
            return
        live.model = model
        if model not in live.models:
            live.models.append(model)

    async def _command(self, live: LiveSession, name: str, arg: str) -> PromptResponse:
        if name == "mode":
            if arg not in (*MODES, PLAN):
                return await live.say(f"Unknown mode {arg!r}; use one of: {', '.join(MODES)}, {PLAN}.")
            await live.set_mode(arg, announce_mode=True, announce_options=True)
            return await live.say(f"Mode: {arg}.")
        if name == "effort":
            if arg not in EFFORTS:
                return await live.say(f"Unknown effort {arg!r}; use one of: {', '.join(EFFORTS)}.")
            live.session.submit(SetEffort(effort=arg))
            live.effort = arg
            await live.announce_options()
            return await live.say(f"Effort: {arg} (from the next step).")
        if name == "model":
            role, _, rest = arg.partition(" ")
            role, model = (role, rest.strip()) if role in ROLES and rest.strip() else ("main", arg)
            try:
                await self._switch_model(live, model, role)
            except RequestError as exc:
                return await live.say(f"Cannot switch to {model!r}: {exc}")
            await live.announce_options()
            return await live.say(f"Model{'' if role == 'main' else ' for ' + role}: {model} (from the next turn).")
        u = live.session.usage
        roles = "".join(f" · {role} {r.prompt_tokens}+{r.completion_tokens} ${r.cost_usd:.4f}"
                        for role, r in live.session.roles.usage.items())
        return await live.say(f"Session {live.id} · model {live.model} · approval {live.session.policy.mode} · "
                              f"{u.prompt_tokens}+{u.completion_tokens} tokens · ${u.cost_usd:.4f}{roles}")
