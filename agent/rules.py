"""Allow and deny rules for tool calls: `shell(pytest*)`, `edit_file(.github/**)`, or a bare tool name.

A shell call is split into the simple commands bash would run (agent/shell_split.py): each must be
allowed for the call to be allowed, and one that a deny rule matches denies the call. Deny rules are
a guard rail, not a sandbox (a script or a variable can hide what runs), so they match generously
(also without `FOO=1` prefixes and wrappers such as `sudo`, and inside `bash -c '...'`), while allow
rules match the command's own text only. Path rules match the workspace-relative path, gitignore style.
"""
from __future__ import annotations

import os
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

from wren.agent.shell_parse import simple_commands
from wren.agent.shell_split import Unparsable, command_name, is_assignment, split_command
from wren.core.rule_syntax import PATH_TOOLS, Rule, parse_rule

Effect = Literal["allow", "deny"]
# Commands that run the command or code they are given: a deny rule looks past them.
WRAPPERS = {"sudo", "doas", "env", "command", "builtin", "exec", "nohup", "nice", "time", "timeout", "stdbuf",
            "xargs", "parallel", "watch", "strace", "ionice", "chronic", "unbuffer"}
# Wrappers that add arguments of their own to the command they run: `xargs rm` runs `rm FILES`.
APPENDS_ARGUMENTS = {"xargs", "parallel"}
# git's options before its subcommand: `git -C dir push` pushes. (git(1), OPTIONS)
GIT_GLOBAL_WITH_VALUE = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env"}
_WRAPPER_REACH, _MAX_CORES, _MAX_NESTING = 8, 64, 8
SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "mksh", "fish"}
# First words after which "allow always" remembers the exact command, not every command they start.
RUNS_ANYTHING = WRAPPERS | SHELLS | {"eval", "source", ".", "python", "python3", "node", "perl", "ruby", "php",
                                     "deno", "bun", "npx", "uvx", "pipx", "find", "awk", "make", "ssh", "docker"}


@dataclass(frozen=True)
class Subject:
    """One thing a call does (a simple command, a path), the rule that decides it, and what it says."""
    text: str | None
    rule: Rule | None = None
    effect: Effect | None = None


@dataclass(frozen=True)
class Judgement:
    subjects: tuple[Subject, ...]
    unparsable: str | None = None  # why the command could not be split: allow rules cannot apply

    @property
    def denial(self) -> Subject | None:
        return next((s for s in self.subjects if s.effect == "deny"), None)

    @property
    def allowed(self) -> bool:
        # An empty command (or a comment alone) has no part to allow.
        return self.unparsable is None and bool(self.subjects) and all(s.effect == "allow" for s in self.subjects)

    def reason(self) -> str:
        """Names the deciding rule(s), for a call that a rule denies or allows."""
        if (s := self.denial) is not None:
            return f"{_origin(s.rule, 'deny')} {s.rule} matches {_quoted(s.text)}"
        if len(self.subjects) == 1:
            s = self.subjects[0]
            return f"{_origin(s.rule, 'allow')} {s.rule} matches {_quoted(s.text)}"
        return "allow rules match every part: " + ", ".join(f"{s.rule} {_quoted(s.text)}" for s in self.subjects)

    def unmatched(self) -> str:
        """Why allow rules did not decide, for the reason of a call that asks."""
        if self.unparsable is not None:
            return f"allow rules cannot apply to a command that cannot be split: {self.unparsable}"
        texts = [_quoted(s.text) for s in self.subjects if s.effect is None]
        return f"no allow rule matches {', '.join(texts)}" if texts else ""


def _origin(rule: Rule | None, effect: Effect) -> str:
    return f"{effect} rule" if rule is None or not rule.session else f"{effect} rule of this session"


def _quoted(text: str | None) -> str:
    return '"' + (text or "") + '"'


@dataclass
class Rules:
    allow: list[Rule] = field(default_factory=list)
    deny: list[Rule] = field(default_factory=list)
    root: Path | None = None  # the workspace, for path rules

    @classmethod
    def parse(cls, allow: list[str], deny: list[str], root: Path | None = None) -> "Rules":
        return cls([parse_rule(r) for r in allow], [parse_rule(r) for r in deny], root)

    def names(self, tool: str) -> bool:
        """True when an allow rule may let some call of `tool` run (so a headless run offers it)."""
        return any(r.tool == tool for r in self.allow)

    def judge(self, tool: str, args: Any = None) -> Judgement:
        """Which rule decides each part of a call; deny rules first. `args` None: the tool as such."""
        if tool == "shell" and isinstance(command := getattr(args, "command", None), str):
            # Deny rules also read every simple command bash's own grammar finds: loop, `if` and
            # function bodies, here-documents, text the splitter below cannot follow.
            denied = tuple(s for p in _parsed_parts(command) if (s := self._decide(tool, p.text, p.views, allow=False))
                           .effect == "deny")
            try:
                parts = _parts(command)
            except Unparsable as exc:
                # Deny rules still look at the raw text and at what a naive split finds in it.
                parts = [_Part.of(words, strict=False) for words in _naive_split(command)]
                return Judgement(tuple(self._decide(tool, p.text, p.views, allow=False) for p in parts) + denied,
                                 str(exc))
            return Judgement(tuple(self._decide(tool, p.text, p.views) for p in parts) + denied)
        path = getattr(args, "path", None) if tool in PATH_TOOLS else None
        if isinstance(path, str):
            return Judgement(tuple(self._decide(tool, p, [p]) for p in self._paths(path)))
        return Judgement((self._decide(tool, None, [None]),))

    def _decide(self, tool: str, text: str | None, views: Sequence[str | None], allow: bool = True) -> Subject:
        for rule in self.deny:
            if any(rule.matches(tool, v) for v in views):
                return Subject(text, rule, "deny")
        for rule in self.allow if allow else []:
            if rule.matches(tool, text):
                return Subject(text, rule, "allow")
        return Subject(text)

    def _paths(self, path: str) -> list[str]:
        """The workspace-relative path as written, and where its symlinks lead when that differs."""
        raw = os.path.expanduser(path) if path.startswith("~") else path
        root = self.root
        lexical = posixpath.normpath(raw if root is None or not os.path.isabs(raw) else os.path.relpath(raw, root))
        found = [lexical]
        if root is not None:
            real_root = os.path.realpath(root)
            real = os.path.relpath(os.path.realpath(os.path.join(root, raw)), real_root)
            if real != lexical:
                found.append(real)
        return found


def always_rules(command: str) -> list[Rule]:
    """The session rules "allow always" adds for a shell command, per part: its first word and subcommand
    (`git status`, `npm test`; the word alone when an option follows, `pytest -q`), alone or with more
    arguments; the exact part when its first word runs whatever it is given (`bash -c ...`). [] for a
    command that cannot be split."""
    try:
        parts = _parts(command)
    except Unparsable:
        return []
    patterns: list[str] = []
    for part in parts:
        head = part.words[0]
        if head in RUNS_ANYTHING or is_assignment(head) or command_name(head) != head:
            patterns.append(_glob_escape(part.text))
            continue
        sub = part.words[1:2] if re.fullmatch(r"[a-z][a-z0-9_-]*", "".join(part.words[1:2])) else []
        prefix = _glob_escape(" ".join([head, *sub]))
        patterns += [prefix, prefix + " *"]
    return [parse_rule(f"shell({p})", session=True) for p in dict.fromkeys(patterns)]


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?[])", r"[\1]", text)


@dataclass(frozen=True)
class _Part:
    words: list[str]
    text: str  # the words joined by single spaces: what allow rules match
    views: list[str]  # what deny rules match: the text, and what it runs past prefixes and wrappers

    @classmethod
    def of(cls, words: list[str], strict: bool = True) -> "_Part":
        text = " ".join(words)
        try:
            cores = _cores(words)
        except Unparsable:
            if strict:
                raise
            cores = []
        return cls(words, text, list(dict.fromkeys([text, *(" ".join(v) for v in cores)])))


def _git_subcommand(core: list[str]) -> list[str] | None:
    """`git -C dir -c k=v push x` as `git push x`; None when no global option stands before the subcommand."""
    k = 1
    while k < len(core) and core[k].startswith("-"):
        k += 2 if core[k] in GIT_GLOBAL_WITH_VALUE else 1
    return ["git", *core[k:]] if k > 1 else None


def _parts(command: str) -> list[_Part]:
    return [_Part.of(words) for words in _expand(split_command(command))]


def _parsed_parts(command: str, depth: int = 0) -> list[_Part]:
    """Parts from tree-sitter-bash (agent/shell_parse.py), with what they hand to a shell, for deny rules."""
    parts = []
    for words in simple_commands(command):
        part = _Part.of(words, strict=False)
        parts.append(part)
        if depth < _MAX_NESTING:
            try:
                cores = _cores(words)
            except Unparsable:
                cores = []
            for script in dict.fromkeys(s for core in cores for s in _scripts(core)):
                parts += _parsed_parts(script, depth + 1)
    return parts


def _cores(words: list[str]) -> list[list[str]]:
    """What a command may run once `FOO=1` prefixes, a path (`/bin/rm`) and wrappers (`sudo -u x`) are
    looked past. A wrapper's options are unknown, so each of the next few words may start the real
    command. Unparsable past a bound: a chain of wrappers that long is no command to guess about."""
    reachable = [False] * (len(words) + 1)
    reachable[0] = True
    appended = [False] * (len(words) + 1)  # reached past xargs or parallel, which add arguments
    starts = []
    for k, word in enumerate(words):
        if not reachable[k]:
            continue
        if is_assignment(word):
            reachable[k + 1] = True
            appended[k + 1] = appended[k + 1] or appended[k]
            continue
        starts.append(k)
        if command_name(word) in WRAPPERS:
            for j in range(k + 1, min(len(words), k + 1 + _WRAPPER_REACH)):
                reachable[j] = True
                appended[j] = appended[j] or appended[k] or command_name(word) in APPENDS_ARGUMENTS
    if len(starts) > _MAX_CORES:
        raise Unparsable(f"more than {_MAX_CORES} words may start the command behind its wrappers")
    cores = []
    for k in starts:
        core = [command_name(words[k]), *words[k + 1:]] + (["{}"] if appended[k] else [])
        cores.append(core)
        if core[0] == "git" and (plain := _git_subcommand(core)):
            cores.append(plain)
    return cores


def _expand(parts: list[list[str]], depth: int = 0) -> list[list[str]]:
    """Each part, then the commands it hands to a shell: `bash -c 'a; b'`, `eval 'a; b'`, `find -exec`."""
    out: list[list[str]] = []
    for words in parts:
        out.append(words)
        for script in dict.fromkeys(s for core in _cores(words) for s in _scripts(core)):
            if depth >= _MAX_NESTING:
                raise Unparsable("shells inside shells nest too deeply")
            out += _expand(split_command(script), depth + 1)
    return out


def _scripts(words: list[str]) -> list[str]:
    head = words[0]
    if head == "eval":
        return [" ".join(words[1:])] if len(words) > 1 else []
    if head in SHELLS:
        for k, word in enumerate(words[1:-1], start=1):
            if re.fullmatch(r"-[a-zA-Z]*c[a-zA-Z]*", word):
                return [words[k + 1]]
        return []
    if head == "find":
        found, start = [], None
        for k, word in enumerate(words):
            if word in ("-exec", "-execdir", "-ok", "-okdir"):
                start = k + 1
            elif word in (";", "+") and start is not None:
                found.append(shlex.join(words[start:k]))
                start = None
        return found
    return []


def _naive_split(command: str) -> list[list[str]]:
    """For text the splitter cannot follow: the raw text, and its pieces between any operator characters."""
    pieces = [command, *re.split(r"\$\(|[;&|\n()`{}]", command)]
    words = [tuple(p.replace('"', " ").replace("'", " ").split()) for p in pieces]
    return [list(w) for w in dict.fromkeys(words) if w]
