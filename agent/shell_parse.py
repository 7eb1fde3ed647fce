"""Every simple command a bash command line runs, found by tree-sitter-bash (the official grammar).

Deny rules read these, so that what the hand-written splitter (agent/shell_split.py) cannot follow
is still checked command by command: loop and `if` bodies, function bodies, `case` arms, here-
documents' substitutions, and commands inside substitutions. A line with a syntax error still
yields the commands tree-sitter recovered around the error.
"""
from __future__ import annotations

import shlex
from functools import lru_cache
from typing import Any

_ARGUMENT_TYPES = {"word", "string", "raw_string", "concatenation", "number", "simple_expansion", "expansion",
                   "ansi_c_string", "translated_string", "command_substitution", "process_substitution"}


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter_bash
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_bash.language()))


def _word(text: str) -> str:
    """A word as the command receives it: quotes removed (`"$d"` is `$d`); expansions stay as written."""
    try:
        parts = shlex.split(text)
    except ValueError:
        return text
    return " ".join(parts) if parts else text


def simple_commands(command: str) -> list[list[str]]:
    """The words of each simple command in `command`, in source order, wherever it stands.

    Assignments before a command are words (`FOO=1 rm x` is `["FOO=1", "rm", "x"]`); redirections
    are not. Nothing is evaluated: `$d` stays `$d`.
    """
    root = _parser().parse(command.encode("utf-8", "surrogateescape")).root_node
    found, stack = [], [root]
    while stack:  # iterative: a line nested thousands deep must not exhaust the stack
        node = stack.pop()
        if node.type == "command":
            words = []
            for child in node.children:
                if child.type == "variable_assignment":
                    words.append(child.text.decode("utf-8", "surrogateescape"))
                elif child.type == "command_name" or child.type in _ARGUMENT_TYPES:
                    words.append(_word(child.text.decode("utf-8", "surrogateescape")))
            if words:
                found.append((node.start_byte, words))
        stack.extend(node.children)
    return [words for _, words in sorted(found, key=lambda f: f[0])]
