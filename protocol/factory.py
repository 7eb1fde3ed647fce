"""Opening an ACP session: config, model, the tools this editor's capabilities call for, MCP servers."""
from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from acp.schema import ClientCapabilities, McpServerHttp, McpServerStdio

from wren.agent.approval import Mode, Policy
from wren.core.config import Config, McpServerConfig, choose_model, load_config
from wren.agent.models import resolve_backend
from wren.core.backend import ModelBackend
from wren.tools.base import Registry, Tool, default_registry
from wren.protocol.bridge import Bridge
from wren.protocol.ports import EditorCommands, EditorFiles
from wren.protocol.live import LiveSession
from wren.protocol.options import model_choices
from wren.agent.session import Session, SessionConfig
from wren.tools.mcp import McpHost

log = logging.getLogger("wren.acp")


@dataclass
class ServeOptions:
    """`wren acp` flags; each session falls back to its workspace's config for what is unset."""
    model: str | None = None
    api_base: str | None = None
    approval: Mode | None = None


class Backends:
    """The backends this server has made, one per model name: sessions on one local model share its
    weights. Each backend guards its own state, so sharing one between sessions is safe."""

    def __init__(self, api_base: str | None) -> None:
        self.api_base = api_base
        self._made: dict[str, ModelBackend] = {}
        self._lock = threading.Lock()

    def get(self, model: str, config: Config) -> ModelBackend:
        """The backend for `model`, made with `config` the first time; ConfigError or ModelError if it cannot be."""
        with self._lock:
            if model not in self._made:
                self._made[model] = resolve_backend(model, api_base=self.api_base or config.api_base, config=config)
            return self._made[model]

    def factory(self, config: Config) -> Callable[[str], ModelBackend]:
        """Resolves the models a session switches to, through this cache, with the session's config."""
        return lambda model: self.get(model, config)


def editor_ports(bridge: Bridge, caps: ClientCapabilities) -> dict[str, Any]:
    """The tools' file and command ports for what this editor can do (SessionConfig's files, commands)."""
    fs = caps.fs
    return {"files": EditorFiles(bridge, read_remote=bool(fs and fs.read_text_file),
                                 write_remote=bool(fs and fs.write_text_file)),
            "commands": EditorCommands(bridge, remote=bool(caps.terminal))}


def _server_configs(specs: list[Any]) -> dict[str, McpServerConfig]:
    configs = {}
    for spec in specs:
        if isinstance(spec, McpServerStdio):
            configs[spec.name] = McpServerConfig(command=spec.command, args=list(spec.args),
                                                 env={v.name: v.value for v in spec.env})
        elif isinstance(spec, McpServerHttp):
            configs[spec.name] = McpServerConfig(url=spec.url, headers={h.name: h.value for h in spec.headers})
        else:
            log.warning("MCP server %s: only stdio and HTTP servers are supported; skipped",
                        getattr(spec, "name", "?"))
    return configs


async def start_servers(specs: list[Any], root: Path) -> tuple[McpHost | None, list[Tool], list[str]]:
    """Start the editor's MCP servers; one that fails is logged and left out, the session still opens.
    Returns the host, its tools, and the warnings, for the editor once it knows the session's id."""
    configs = _server_configs(specs)
    if not configs:
        return None, [], []
    host = McpHost(configs, root)
    tools = await asyncio.to_thread(host.start)
    # Not to the session: its updates would reach the editor before the session id does (LiveSession.notes).
    warnings = host.take_warnings()
    for message in warnings:
        log.warning("%s", message)
    return host, tools, warnings


async def open_session(bridge: Bridge, caps: ClientCapabilities, options: ServeOptions, backends: Backends,
                       root: Path, mcp_specs: list[Any], resume_id: str | None) -> LiveSession:
    config = await asyncio.to_thread(load_config, root)
    model = choose_model(options.model, config)
    backend = await asyncio.to_thread(backends.get, model, config)
    host, mcp_tools, notes = await start_servers(mcp_specs, root)
    try:
        registry = Registry([*default_registry().tools.values(), *mcp_tools])
        cfg = SessionConfig(root=root, backend=backend, registry=registry, **editor_ports(bridge, caps),
                            policy=Policy.from_config(config, root, options.approval),
                            interactive=True, resume_id=resume_id, mcp=host, sandbox=config.sandbox,
                            context=config.context, models=backends.factory(config), config=config)
        session = Session(cfg)
    except BaseException:
        if host is not None:
            await asyncio.to_thread(host.close)
        raise
    bridge.session_id, bridge.interrupt = session.id, session.interrupt
    return LiveSession(session, bridge, model, model_choices(model, config), notes)
