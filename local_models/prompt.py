"""The compact prompt profile for local models, rendered with the GGUF's own chat template.

The rendered prefix is byte-stable from step to step: the system text never changes
and past turns are rendered the same way every time, so llama.cpp reuses its KV cache.
"""
from __future__ import annotations

import json
import sys

from wren.agent.messages import Message
from wren.local_models.constrained import render_call

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

STEP_RULES = """
Answer every step with one JSON object and nothing else:
{"tool": NAME, "arguments": {...}} to call one tool, or {"reply": TEXT} when you are done.
Look at the files with the tools before you answer; never guess their content.
Tools:
"""


def tool_lines(tools: list[dict]) -> str:
    lines = []
    for t in tools:
        fn = t["function"]
        params = fn["parameters"].get("properties", {})
        required = set(fn["parameters"].get("required", []))
        args = ", ".join(name if name in required else f"{name}?" for name in params)
        lines.append(f"- {fn['name']}({args}): {fn['description']}")
    return "\n".join(lines)


def to_template_messages(messages: list[Message], tools: list[dict],
                         as_generated: dict[str, str] | None = None) -> list[dict]:
    """`as_generated` maps a step (its call id, or a reply's canonical JSON) to the text the model
    generated for it: a step
    shown back byte for byte as generated keeps the KV cache valid through it."""
    out, as_generated = [], as_generated or {}
    for m in messages:
        if m.role == "system":
            out.append({"role": "system", "content": m.content + "\n" + STEP_RULES + tool_lines(tools)})
        elif m.role == "assistant":
            text = canonical_step(m)
            out.append({"role": "assistant", "content": as_generated.get(step_key(m), text)})
        elif m.role == "tool":
            # Templates of small models know user and assistant only; results go back as user turns.
            out.append({"role": "user", "content": f"Result of {m.name}:\n{m.content}"})
        else:
            out.append({"role": "user", "content": m.content})
    return out


def canonical_step(m: Message) -> str:
    """A past step as JSON in one fixed spelling (what a resumed session shows the model)."""
    return render_call(m.tool_calls[0]) if m.tool_calls else json.dumps({"reply": m.content})


def step_key(m: Message) -> str:
    # By call id: the same call made twice with other spacing must not change how the first one reads.
    return m.tool_calls[0].id if m.tool_calls else canonical_step(m)


class PromptRenderer:
    def __init__(self, template: str | None, bos: str, eos: str, model_name: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if not template:
            sys.stderr.write(f"wren: warning: {model_name} has no chat template; using ChatML\n")
            template = CHATML
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def render(self, messages: list[Message], tools: list[dict],
               as_generated: dict[str, str] | None = None) -> tuple[str, list[str]]:
        response = self.formatter(messages=to_template_messages(messages, tools, as_generated))
        stop = response.stop if isinstance(response.stop, list) else [response.stop] if response.stop else []
        return response.prompt, stop
