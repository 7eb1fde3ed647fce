"""The compact prompt profile for local models, rendered with the GGUF's own chat template.

The rendered prefix is byte-stable from step to step: the system text never changes
and past turns are rendered the same way every time, so llama.cpp reuses its KV cache.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, cast

from wren.core.messages import Message
from wren.local_models.formats import JsonSteps, TaggedCalls, detect

if TYPE_CHECKING:
    from llama_cpp.llama_types import ChatCompletionRequestMessage, ChatCompletionTool

ToolFormat = JsonSteps | TaggedCalls

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def to_template_messages(messages: list[Message], tools: list[dict], fmt: ToolFormat,
                         as_generated: dict[str, str] | None = None) -> list[dict]:
    """Messages for the chat template, in the tool-call format `fmt`.

    `as_generated` maps a step (its call id, or a reply's canonical text) to the text the model
    generated for it: a step shown back byte for byte as generated keeps the KV cache valid through it.
    Past steps go to the template as plain assistant text (never as structured tool calls), so what
    the template prints is exactly that text."""
    out, as_generated = [], as_generated or {}
    for m in messages:
        if m.role == "system":
            out.append({"role": "system", "content": fmt.system(m.content, tools)})
        elif m.role == "assistant":
            out.append({"role": "assistant", "content": as_generated.get(step_key(m, fmt), fmt.assistant(m))})
        elif m.role == "tool":
            out.append(fmt.tool_result(m))
        else:
            out.append({"role": "user", "content": m.content})
    return out


def step_key(m: Message, fmt: ToolFormat) -> str:
    # By call id: the same call made twice with other spacing must not change how the first one reads.
    return m.tool_calls[0].id if m.tool_calls else fmt.assistant(m)


class PromptRenderer:
    """Renders a conversation with the GGUF's chat template in the model family's tool-call format."""

    def __init__(self, template: str | None, bos: str, eos: str, model_name: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if not template:
            sys.stderr.write(f"wren: warning: {model_name} has no chat template; using ChatML\n")
            template = CHATML
        self.format, self.template = detect(template), template
        self.formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def render(self, messages: list[Message], tools: list[dict],
               as_generated: dict[str, str] | None = None, thinking: bool | None = None) -> tuple[str, list[str]]:
        """(prompt text, stop strings) for the next step; `thinking` sets the template's
        enable_thinking switch (None: the template's default)."""
        switch: dict[str, Any] = {} if thinking is None else {"enable_thinking": thinking}
        # Plain dicts of the shapes llama.cpp's message and tool types describe.
        response = self.formatter(
            messages=cast("list[ChatCompletionRequestMessage]",
                          to_template_messages(messages, tools, self.format, as_generated)),
            tools=cast("list[ChatCompletionTool] | None", self.format.template_tools(tools)), **switch)
        stop = response.stop if isinstance(response.stop, list) else [response.stop] if response.stop else []
        return response.prompt, stop
