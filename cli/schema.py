"""The JSON Schema of `wren run` output, generated from the event models and shipped in the package.

`--output-format json` prints one `result`; `stream-json` prints one event a line, the last a
`result`. Every line validates against the shipped document; a test keeps it equal to what the
models generate. Regenerate it with `python -m wren.cli.schema --write`.
"""
from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

SCHEMA_FILE = "wren-run.schema.json"


def generate() -> dict:
    from wren.core.events import EVENT_ADAPTER

    body = EVENT_ADAPTER.json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "wren run output",
            "description": "One object of `wren run` output: the result (`--output-format json`, and the last line "
                           "of stream-json) or any stream-json event. `$defs/Result` is the result alone.",
            **body}


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def shipped() -> str:
    return (resources.files("wren.agent") / "schemas" / SCHEMA_FILE).read_text(encoding="utf-8")


def main(argv: list[str]) -> int:
    text = render(generate())
    if argv == ["--write"]:
        target = Path(str(resources.files("wren.agent"))) / "schemas" / SCHEMA_FILE
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
