"""Tool-call formats for local models: the one the model family was trained on, or Wren's JSON steps.

A model calls tools best in the format its chat template shows it (Qwen's and Hermes'
`<tool_call>` JSON, Llama 3's bare JSON). `detect(template)` picks the format from the
GGUF's template; templates with no tool support get `JsonSteps`, Wren's own one-object
steps described in the system prompt. Each format renders past steps, builds the llama.cpp
grammar that holds generation to one call of an offered tool or a plain reply, and parses
what the model generated.
"""
from __future__ import annotations

import itertools
import json
import re

from wren.core.messages import Message, ToolCall
from wren.local_models.constrained import parse_step, partial_reply, render_call, step_schema, tool_parameters

STEP_RULES = """
Answer every step with one JSON object and nothing else:
{"tool": NAME, "arguments": {...}} to call one tool, or {"reply": TEXT} when you are done.
Look at the files with the tools before you answer; never guess their content.
Tools:
"""
# A reason before a call (TaggedCalls.grammar(reason=True)), in characters: (at least, at most). A sentence
# or three: which line is wrong and why. Bounded, so the call always comes.
REASON_CHARS = (12, 300)
# How a reason starts: left to itself after a tool result, Qwen2.5-Coder-1.5B wrote its call's JSON as the text.
REASON_OPENING = "In the failing test, the input is"
# A narrowed tool's key (in its "function") for the text its reason opens with instead: see reason_opening.
OPENING_KEY = "x-reason-opening"
# A failure said in more than this opens with REASON_OPENING (the opening's tokens come on top of the narrowed
# reply's budget: backend.NARROWED_REPLY_TOKENS). QuixBugs mergesort's, which Qwen2.5-Coder-1.5B fixed from, had
# 290: "`mergesort(*input_data)` (input_data = [[1, 2, 6, 72, 7, 33, ...]]) raised RecursionError: ... with arr = [1]".
OPENING_CHARS = 400


def reason_opening(failure: str) -> str:
    """The text a narrowed step's reason opens with, given the failing run's first failure in one line (run_tests'
    summary: "`valid('((')` returned True, expected False"): that failure, then "This happens because", so the
    reason goes on from what was observed to its cause. REASON_OPENING when `failure` is empty or longer than
    OPENING_CHARS. Opened with REASON_OPENING, Qwen2.5-Coder-1.5B named inputs the test never used (`')()('`
    where the run showed `'(('`, is_valid_parenthesization, 11 attempts of 11) and fixed what it had invented."""
    # One line of printable text (a control character in a grammar literal would not parse), "..." kept.
    failure = "".join(c for c in " ".join(failure.split()) if c.isprintable())
    failure = failure if failure.endswith("...") else failure.removesuffix(".")
    if not failure or len(failure) > OPENING_CHARS:
        return REASON_OPENING
    return f"In the failing test, {failure}. This happens because"


NATIVE_RULES = "\nCall one tool per step, and `answer` to finish. Never guess what a file holds: read it."


def tool_lines(tools: list[dict]) -> str:
    lines = []
    for t in tools:
        fn = t["function"]
        params = fn["parameters"].get("properties", {})
        required = set(fn["parameters"].get("required", []))
        args = ", ".join(name if name in required else f"{name}?" for name in params)
        lines.append(f"- {fn['name']}({args}): {fn['description']}")
    return "\n".join(lines)


def compact_tools(tools: list[dict]) -> list[dict]:
    """Tool schemas as a template shows them: the description kept, titles and defaults dropped
    and $refs inlined, so the prompt stays small (at most 1,200 tokens with the system text)."""
    return [{"type": "function", "function": {"name": t["function"]["name"],
                                              "description": t["function"]["description"],
                                              "parameters": tool_parameters(t)}} for t in tools]


def _gbnf_rules(schema: dict, root: str) -> str:
    """llama.cpp's grammar for a JSON schema, with its root rule renamed to `root`.

    `const` and `enum` strings holding a quote, a backslash or a control character are written into the
    grammar here: llama-cpp-python's converter leaves their JSON escapes unescaped in the GBNF literal
    (`x = "1"` became a literal that ends early), and a narrowed edit (careful.edit_first) lists code lines."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    from wren.local_models.headers import HEADER, free_rules, header_rules

    held: dict[str, str] = {}
    text = json.dumps(schema)
    nonce = next(f"wrenheld{n}x" for n in itertools.count() if f"wrenheld{n}x" not in text)  # in no value

    def hold(value: object) -> object:
        if not isinstance(value, str) or not re.search(r'["\\\x00-\x1f]|[^\x00-\x7f]', value):
            return value
        held[key := f"{nonce}{len(held)}z"] = value
        return key

    unequal: dict[str, tuple[list[str], bool]] = {}  # placeholder -> (the strings a value must differ from, a header)

    def swap(node: object) -> object:
        if isinstance(node, dict):
            if node.get("type") == "string" and isinstance(node.get("not"), dict) and (excluded := _excluded(node["not"])):
                unequal[key := f"{nonce}{len(held) + len(unequal)}n"] = (excluded, node.get(HEADER) is True)
                return {"const": key}  # a literal in the converter's output, then a rule of ours (below)
            return {k: hold(v) if k == "const" else [hold(x) for x in v] if k == "enum" and isinstance(v, list)
                    else swap(v) for k, v in node.items()}
        return [swap(x) for x in node] if isinstance(node, list) else node

    grammar = json_schema_to_gbnf(json.dumps(swap(schema)))
    for key, value in held.items():  # the JSON text of the value, as a GBNF literal
        grammar = grammar.replace(f'"\\"{key}\\""', _literal(json.dumps(value, ensure_ascii=False)))
    for n, (key, (values, header)) in enumerate(unequal.items()):
        rules = header_rules if header else _unequal_rules  # a block header's `new` (local_models/headers.py)
        grammar = grammar.replace(f'"\\"{key}\\""', f"wren-unequal-{n}") + rules(f"wren-unequal-{n}", values)
    if unequal:
        grammar += f"\nwren-jchar ::= {JSON_CHAR}\n"
    if any(header for _, header in unequal.values()):
        grammar += free_rules() + "\n"
    return re.sub(r"^root ::=", f"{root} ::=", grammar, flags=re.M)


def _literal(text: str) -> str:
    """`text` as a GBNF string literal (UTF-8 as is)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# A character of a JSON string's text, as llama.cpp's converter writes it.
PLAIN_CHAR = r'[^"\\\x7F\x00-\x1F]'
ESCAPES = '"\\/bfnrt'
ESCAPED_CHAR = r'[\\] (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'
WHITESPACE = r'" " | [\\] [nrt]'  # a JSON string's whitespace as Python code has it (a space, \n, \r, \t)
JSON_CHAR = f"{PLAIN_CHAR} | {ESCAPED_CHAR}"


def _class_char(char: str) -> str:
    """`char` as the last one of a GBNF character class (llama.cpp reads "^" past the first place and "-"
    before "]" as themselves, and takes no escape for them)."""
    return "\\" + char if char in "]\\" else char


def excluded_by(schema: object, arguments: dict) -> bool:
    """Whether `arguments` (a call's, parsed) fit an object option of `schema` (its `const` and `enum` properties)
    whose `not` on one property names that property's value. The grammar holds a narrowed edit's `new` off its
    refused texts only while it is written; a `new` cut and closed (degenerate.close_cut_call) can still be one:
    SmolLM2, sampled again from the same seed, ran on past a refused `new` and was cut back to it."""
    nodes = [schema]
    while nodes:
        node = nodes.pop()
        if isinstance(node, list):
            nodes += node
            continue
        if not isinstance(node, dict):
            continue
        nodes += [v for v in node.values() if isinstance(v, (dict, list))]
        props = node.get("properties")
        if not isinstance(props, dict) or set(arguments) - set(props):
            continue
        subs = [(sub, arguments.get(k)) for k, sub in props.items() if isinstance(sub, dict)]
        fits = all(sub.get("const", value) == value and value in sub.get("enum", [value]) for sub, value in subs)
        if fits and any(isinstance(sub.get("not"), dict) and value in _excluded(sub["not"]) for sub, value in subs):
            return True
    return False


def _excluded(not_schema: dict) -> list[str]:
    """The strings a `not` schema names: `{"const": S}` or `{"enum": [S, ...]}` of strings; [] otherwise."""
    if isinstance(not_schema.get("const"), str):
        return [not_schema["const"]]
    values = not_schema.get("enum")
    return list(dict.fromkeys(values)) if isinstance(values, list) and values and all(
        isinstance(v, str) for v in values) else []


def json_units(value: str) -> tuple[str, ...]:
    """A string's JSON text (as json.dumps writes it), cut into one character or one escape each."""
    return tuple(re.findall(r"\\u[0-9a-fA-F]{4}|\\.|.", json.dumps(value, ensure_ascii=False)[1:-1], flags=re.S))


SPACE_UNITS = (" ", "\\n", "\\t", "\\r")  # whitespace as JSON text units


def _spaces_start(units: tuple[str, ...]) -> int:
    """Where the run of whitespace units that ends `units` starts."""
    k = len(units)
    while k and units[k - 1] in SPACE_UNITS:
        k -= 1
    return k


def _unequal_rules(name: str, values: list[str]) -> str:
    """GBNF rules for a JSON string that is none of `values` (each written the usual way), over the trie of
    their characters: at each node the string may stop (unless a value ends there), take a character that
    goes on along a value, or take any other and be free from then on; past a value's end it must go on.
    One rule per node; past a value's end, whitespace must lead to other text. A narrowed edit's `new`
    (narrowing.narrowed_edit): Qwen2.5-Coder-1.5B restated its `old` line as the fix, wrote it back with a
    "\n" after it, and proposed a fix already tried and failed again in later attempts."""
    trie: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {(): {}}
    ends: set[tuple[str, ...]] = set()
    for value in values:
        units = json_units(value)
        for k, unit in enumerate(units):
            trie.setdefault(units[:k], {})[unit] = units[:k + 1]
            trie.setdefault(units[:k + 1], {})
        ends.add(units)
    # Past a value's end, whitespace only (`new` = `old` + "\n") is the value again: it may not stop there,
    # and whitespace there must lead to more (along a longer value too: "return a - b " when "... + 1" is one).
    spaced = {node for node in trie if any(node[:k] in ends for k in range(_spaces_start(node), len(node) + 1))}
    ids = {node: n for n, node in enumerate(trie)}
    rules = [f'{name} ::= "\\"" {name}-0 "\\""']
    for node, children in trie.items():
        spaces = set(SPACE_UNITS) - set(children) if node in spaced else set()
        taken = set(children) | spaces
        plain = sorted((u for u in taken if not u.startswith("\\")), key=lambda u: (u == "-", u))  # "-" last: not a range
        short = {u[1] for u in taken if len(u) == 2}
        # Another character: a plain one not taken below, a short escape not taken, a \u escape when none is.
        other = [f"{PLAIN_CHAR[:-1]}{''.join(_class_char(c) for c in plain)}]"]
        if rest := "".join(c for c in ESCAPES if c not in short):
            other.append("[\\\\] [" + "".join(_class_char(c) for c in rest) + "]")
        if not any(len(u) > 2 for u in children):
            other.append('[\\\\] "u" [0-9a-fA-F]{4}')
        options = [] if node in spaced else ['""']
        options += [f"{_literal(unit)} {name}-{ids[child]}" for unit, child in children.items()]
        options.append(f"({' | '.join(other)}) wren-jchar*")
        if spaces:
            options.append(f"({' | '.join(map(_literal, sorted(spaces)))}) {name}-more")
        rules.append(f"{name}-{ids[node]} ::= " + " | ".join(options))
    rules.append(f'{name}-more ::= ({WHITESPACE}) {name}-more | ({PLAIN_CHAR[:-1]} ] | [\\\\] ["\\\\/bf] | '
                 f'[\\\\] "u" [0-9a-fA-F]{{4}}) wren-jchar*')
    return "\n" + "\n".join(rules)


def call_schema(tools: list[dict], name_key: str, args_key: str) -> dict:
    """One call of an offered tool: {name_key: NAME, args_key: {...}}."""
    return {"oneOf": [{"type": "object", "properties": {name_key: {"const": t["function"]["name"]},
                                                        args_key: tool_parameters(t)},
                       "required": [name_key, args_key]} for t in tools]}


FENCED = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.S)


class JsonSteps:
    """Wren's own format for templates without tools: every step is one JSON object,
    {"tool": NAME, "arguments": {...}} or {"reply": TEXT}; the tools are listed in the system text."""

    name = "json-steps"

    def system(self, text: str, tools: list[dict]) -> str:
        return text + "\n" + STEP_RULES + tool_lines(tools)

    def template_tools(self, tools: list[dict]) -> list[dict] | None:
        return None

    def assistant(self, m: Message) -> str:
        return render_call(m.tool_calls[0]) if m.tool_calls else json.dumps({"reply": m.content})

    def tool_result(self, m: Message) -> dict:
        # Templates of small models know user and assistant only; results go back as user turns.
        return {"role": "user", "content": f"Result of {m.name}:\n{m.content}"}

    takes_reason = False  # a step is one object, with no text around it

    def grammar(self, tools: list[dict], reason: bool | str = False, opened: bool = False) -> str:
        """One JSON step; `reason` is not taken (a step is one object, with no text around it)."""
        return _gbnf_rules(step_schema(tools), "root")

    def parse(self, text: str, call_id: str) -> tuple[str, list[ToolCall]]:
        return parse_step(text, call_id)

    def reply_so_far(self, text: str) -> str | None:
        return partial_reply(text) if '"reply"' in text[:20] else None


ANSWER = "answer"  # the final reply, as a call: see TaggedCalls
ANSWER_TOOL = {"type": "function", "function": {
    "name": ANSWER, "description": "Finish: tell the user what you did.",
    "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}}


class TaggedCalls:
    """A call wrapped in tags around a JSON object, e.g. Qwen 2.5/3 and Hermes:
    `<tool_call>\n{"name": NAME, "arguments": {...}}\n</tool_call>`; the template lists the tools
    and shows results as `<tool_response>` blocks.

    Every step is a call: the final reply is a call of the `answer` pseudo-tool (listed with the
    tools, never run). Left free to reply in prose, a 1.5B model writes an essay about the steps it
    would take (541 tokens, no call) instead of taking the first one."""

    def __init__(self, name: str, open_tag: str, close_tag: str, args_key: str = "arguments") -> None:
        self.name, self.open, self.close, self.args_key = name, open_tag, close_tag, args_key

    def system(self, text: str, tools: list[dict]) -> str:
        return text + NATIVE_RULES

    def template_tools(self, tools: list[dict]) -> list[dict] | None:
        return compact_tools([*tools, ANSWER_TOOL])

    def assistant(self, m: Message) -> str:
        if not m.tool_calls:
            return self._call(ANSWER, {"text": m.content})
        call = m.tool_calls[0]
        try:
            args = json.loads(call.arguments)
        except json.JSONDecodeError:
            args = call.arguments
        # A reason written before the call (grammar(reason=True)) is shown back before it, as generated.
        return (m.content.strip() + "\n" if m.content.strip() and self.open else "") + self._call(call.name, args)

    def _call(self, name: str, args) -> str:
        body = json.dumps({"name": name, self.args_key: args}, ensure_ascii=False)
        return f"{self.open}{body}{self.close}"

    def tool_result(self, m: Message) -> dict:
        return {"role": "tool", "content": m.content, "name": m.name}

    @property
    def opener(self) -> str:
        """What a call starts with (after whitespace): the open tag, or the JSON's brace."""
        return self.open.strip() or "{"

    @property
    def takes_reason(self) -> bool:
        """Whether a reason can come before a call (grammar's `reason`): its rule is written for an open tag
        like <tool_call>, which ends it."""
        tag = self.open.strip()
        return tag.startswith("<") and len(tag) > 1 and tag[1].isalpha()

    def grammar(self, tools: list[dict], reason: bool | str = False, opened: bool = False) -> str:
        """One call of `tools` or `answer`. `reason`: the call comes after a few sentences of text
        (REASON_CHARS; needs an open tag to end them), which parse() returns as the step's content; they open
        with `reason` when it is a string, else with REASON_OPENING. `opened`: that opening is in the prompt
        already (the backend writes it there), so the rule starts after it."""
        call = _gbnf_rules(call_schema([*tools, ANSWER_TOOL], "name", self.args_key), "wren-call-json")
        tags = [json.dumps(self.open)] * bool(self.open) + ["wren-call-json"] + [json.dumps(self.close)] * bool(self.close)
        if not (reason and self.takes_reason):
            return f"root ::= {' '.join(tags)}\n{call}"
        # Text that cannot hold the open tag: "<" (once or more) only before another character than the tag's next.
        char = f'[^<\\x00] | "<"+ [^<{self.open.strip()[1]}\\x00]'
        low, high = REASON_CHARS
        opening = "" if opened else _literal(reason if isinstance(reason, str) else REASON_OPENING) + " "
        return f"root ::= wren-reason {' '.join(tags)}\nwren-reason ::= {opening}({char}){{{low},{high}}}\n{call}"

    def parse(self, text: str, call_id: str) -> tuple[str, list[ToolCall]]:
        head = text.strip()
        if not head.startswith(self.opener):
            # Text may come before a call (a reason: see grammar), or hold one as a fenced JSON object.
            if self.open.strip() and self.open.strip() in head:
                at = head.index(self.open.strip())
                content, calls = self.parse(head[at:], call_id)
                return (head[:at].strip(), calls) if calls else (content, calls)
            fenced = FENCED.search(head)
            if fenced and _is_call(fenced.group(1), self.args_key):
                return self.parse(f"{self.open}{fenced.group(1)}{self.close}", call_id)
            return head, []
        body = head[len(self.open.strip()):].removesuffix(self.close.strip()).strip()
        try:
            call = json.loads(body, strict=False)
        except json.JSONDecodeError:  # cut off by the token limit: the registry says what went wrong
            name = re.search(r'"name"\s*:\s*"([^"]*)"', body)
            if name and name.group(1) == ANSWER:  # a cut answer keeps the text it has
                return self.reply_so_far(head) or "", []
            return "", [ToolCall(id=call_id, name=name.group(1) if name else "", arguments=body)]
        if not isinstance(call, dict):
            return head, []
        args = call.get(self.args_key, {})
        if call.get("name") == ANSWER:
            return str(args.get("text", "") if isinstance(args, dict) else args), []
        return "", [ToolCall(id=call_id, name=str(call.get("name", "")), arguments=json.dumps(args, ensure_ascii=False))]

    def reply_so_far(self, text: str) -> str | None:
        """The answer's text read so far; None while `text` is not (yet) an answer call. Only inside the
        call: a reason before it (grammar) may quote an answer's JSON without being one."""
        marker = f'"name": "{ANSWER}", "{self.args_key}": {{"text": '
        opened = text.find(self.open.strip()) if self.open.strip() else 0
        at = -1 if opened < 0 else text.find(marker, opened)
        return None if at < 0 else partial_reply('{"reply": ' + text[at + len(marker):])


def _is_call(text: str, args_key: str) -> bool:
    try:
        data = json.loads(text, strict=False)
    except json.JSONDecodeError:
        return False
    return isinstance(data, dict) and isinstance(data.get("name"), str) and args_key in data


HERMES = TaggedCalls("hermes", "<tool_call>\n", "\n</tool_call>")
# Llama 3.1+: the template lists the tools in the first user turn and asks for bare JSON with
# "parameters"; results go back in the `ipython` role (the template maps `tool` to it).
LLAMA3 = TaggedCalls("llama3", "", "", args_key="parameters")


def detect(template: str | None) -> JsonSteps | TaggedCalls:
    """The tool-call format a chat template was written for; JsonSteps when it shows none."""
    if template and "tools" in template:
        if "<tool_call>" in template:
            return HERMES
        if "ipython" in template and '"parameters"' in template:
            return LLAMA3
    return JsonSteps()
