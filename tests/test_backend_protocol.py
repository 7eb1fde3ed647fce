"""Every model backend class satisfies the ModelBackend protocol (core/backend.py), checked without a model:

- every class in the packages that implements the protocol's methods is listed here, and in the real-model
  conformance test (test_backend_conformance.py, `slow`), so a new backend cannot go unchecked;
- mypy checks each class against the protocol (a class that does not conform is reported, shown by one
  that does not);
- the methods' signatures match the protocol's at run time, and the backends that need no model file or
  server pass isinstance on the runtime-checkable protocol with members of the right kinds.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from test_types import ROOT, packages, run_mypy
from wren.core.backend import ModelBackend, RetryPolicy

# kind (as in test_backend_conformance.MAKERS) -> the class, by module and name.
BACKENDS = {
    "scripted": ("wren.agent.models.scripted", "ScriptedBackend"),
    "litellm": ("wren.agent.models.litellm_backend", "LiteLLMBackend"),
    "local": ("wren.local_models.backend", "LocalBackend"),
}
METHODS = ("complete", "count_tokens", "summarize")


def backend_class(kind: str) -> type:
    module, name = BACKENDS[kind]
    return getattr(importlib.import_module(module), name)


def found_backends() -> set[tuple[str, str]]:
    """(module, class) of every class in the packages that defines all of the protocol's methods, the
    protocol itself left out; read from the source, so that nothing has to be imported."""
    found = set()
    for folder in packages().values():
        for path in folder.rglob("*.py"):
            module = "wren." + ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ClassDef):
                    continue
                defined = {f.name for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
                is_protocol = any(getattr(b, "id", getattr(b, "attr", "")) == "Protocol" for b in node.bases)
                if set(METHODS) <= defined and not is_protocol:
                    found.add((module, node.name))
    return found


def test_every_backend_class_is_checked() -> None:
    from test_backend_conformance import MAKERS

    assert found_backends() == set(BACKENDS.values())
    assert set(MAKERS) == set(BACKENDS)  # each also runs on a real model there


def test_backends_conform_for_mypy(tmp_path: Path) -> None:
    imports = "\n".join(f"from {module} import {name}" for module, name in BACKENDS.values())
    params = ", ".join(f"b{i}: {name}" for i, (_, name) in enumerate(BACKENDS.values()))
    listed = ", ".join(f"b{i}" for i in range(len(BACKENDS)))
    check = tmp_path / "backend_conformance.py"
    check.write_text(f'''from typing import Any
from wren.core.backend import ModelBackend, ModelReply, RetryPolicy
from wren.core.messages import Message
{imports}


class Broken:  # count_tokens lacks `tools`: mypy must say so
    name = "broken"
    retry = RetryPolicy()
    window = None
    reply_reserve = 1

    def complete(self, messages: list[Message], tools: list[dict[str, Any]], on_delta: Any) -> ModelReply:
        return ModelReply("")

    def count_tokens(self, messages: list[Message]) -> int:
        return 0

    def summarize(self, messages: list[Message], on_delta: Any = None) -> str:
        return ""


def backends({params}) -> list[ModelBackend]:
    return [{listed}]


def broken(b: Broken) -> ModelBackend:
    return b  # the one error
''')
    line = check.read_text().splitlines().index("    return b  # the one error") + 1
    done = run_mypy([str(check)])
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, done.stdout + done.stderr
    assert re.match(rf".*backend_conformance\.py:{line}: error: Incompatible return value type \(got \"Broken\"",
                    errors[0]), errors


@pytest.mark.parametrize("kind", BACKENDS)
def test_backend_methods_match_the_protocol(kind: str) -> None:
    cls = backend_class(kind)
    for method in METHODS:
        wanted = list(inspect.signature(getattr(ModelBackend, method)).parameters.values())
        got = list(inspect.signature(getattr(cls, method)).parameters.values())
        assert [(p.name, p.kind) for p in got[:len(wanted)]] == [(p.name, p.kind) for p in wanted], method
        for want, have in zip(wanted, got):
            if want.default is not inspect.Parameter.empty:
                assert have.default is not inspect.Parameter.empty, f"{method}: {have.name} needs a default"
        assert all(p.default is not inspect.Parameter.empty or p.kind == p.VAR_KEYWORD for p in got[len(wanted):]), \
            f"{method}: parameters beyond the protocol's must be optional"


def _instance(kind: str, tmp_path: Path) -> ModelBackend:
    if kind == "scripted":
        script = tmp_path / "script.json"
        script.write_text(json.dumps({"turns": [{"content": "hi"}], "window": 4096}))
        return backend_class(kind)(script)
    # litellm needs no server to be made (nothing listens on port 9 and nothing is called here).
    return backend_class(kind)("openai/smollm2", api_base="http://127.0.0.1:9/v1")


@pytest.mark.parametrize("kind", ["scripted", "litellm"])  # local needs a model file: the slow test makes one
def test_backend_instance_conforms(kind: str, tmp_path: Path) -> None:
    backend = _instance(kind, tmp_path)
    assert isinstance(backend, ModelBackend)
    assert isinstance(backend.name, str) and backend.name
    assert isinstance(backend.retry, RetryPolicy) and backend.retry.attempts >= 1
    assert backend.window is None or (isinstance(backend.window, int) and backend.window > 0)
    assert isinstance(backend.reply_reserve, int) and backend.reply_reserve > 0
