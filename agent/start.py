"""What `wren run` and the terminal UI share: the workspace root and the session's configuration."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from wren.core.errors import ConfigError

if TYPE_CHECKING:
    from wren.agent.approval import Mode
    from wren.agent.limits import Limits
    from wren.agent.session import SessionConfig


def workspace_root(arg: str | None) -> Path:
    root = Path(arg).expanduser() if arg else Path.cwd()
    if not root.is_dir():
        raise ConfigError(f"--cwd {arg} is not an existing directory; pass the repository to work in")
    return root.resolve()


def session_config(root: Path, *, model: str | None, api_base: str | None, approval: "Mode | None",
                   resume: str | None, continue_last: bool, limits: "Limits | None" = None,
                   interactive: bool = False, effort: str | None = None, mode: str = "act") -> "SessionConfig":
    """Config files, model choice, backend and policy for a session in `root`; ConfigError when they are bad."""
    from wren.agent.approval import Policy
    from wren.core.config import choose_model, load_config
    from wren.agent.limits import Limits
    from wren.core.log import find_session
    from wren.agent.models import backend_factory
    from wren.agent.session import SessionConfig
    from wren.tools.base import Registry, default_registry

    config = load_config(root)
    resume_id = find_session(root, resume).stem if resume or continue_last else None
    models = backend_factory(root, api_base, config)  # the config just read, not read again
    backend = models(choose_model(model, config))
    tools = list(default_registry().tools.values())
    host = None
    if config.mcp.servers:
        # Imported only when servers are configured: the MCP SDK is slow to import.
        from wren.tools.mcp import McpHost

        host = McpHost(config.mcp.servers, root)
        tools += host.start()
    return SessionConfig(root=root, backend=backend, registry=Registry(tools),
                         policy=Policy.from_config(config, root, approval), limits=limits or Limits(),
                         interactive=interactive, resume_id=resume_id, context=config.context, mcp=host,
                         sandbox=config.sandbox, models=models, config=config, effort=effort, mode=mode)
