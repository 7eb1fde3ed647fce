"""A session/prompt's content blocks as the text the model reads."""
from __future__ import annotations

from typing import Sequence

from acp.schema import (EmbeddedResourceContentBlock, ResourceContentBlock, TextContentBlock,
                        TextResourceContents)


def _block_text(block: object) -> str:
    if isinstance(block, TextContentBlock):
        return block.text
    if isinstance(block, ResourceContentBlock):
        return f"[{block.name}]({block.uri})"
    if isinstance(block, EmbeddedResourceContentBlock):
        res = block.resource
        if isinstance(res, TextResourceContents):
            return f'<context uri="{res.uri}">\n{res.text}\n</context>'
        return f"[binary resource {res.uri} omitted: Wren reads text only]"
    # Images and audio are not offered in promptCapabilities; say so rather than drop them silently.
    return f"[{getattr(block, 'type', 'unknown')} content omitted: Wren reads text only]"


def prompt_text(blocks: Sequence[object]) -> str:
    return "\n".join(_block_text(b) for b in blocks)
