"""The import directions of ../shared/ARCHITECTURE.md, read from the source (every import statement,
those inside functions too): core imports nothing else of Wren; tools, context and local_models
import the contract, never the orchestrator or a front end; packages form no cycle."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"core": "core", "agent": "agent", "tools": "tools", "context": "context",
            "local_models": "local_models", "protocol": "protocol", "tui": "tui", "cli": "cli"}
FRONT_ENDS = {"tui", "protocol", "cli"}
FORBIDDEN = {
    "core": set(PACKAGES) - {"core"},
    "tools": {"agent"} | FRONT_ENDS,
    "context": {"tools", "agent", "local_models"} | FRONT_ENDS,
    "local_models": {"agent", "tools", "context"} | FRONT_ENDS,
    "agent": FRONT_ENDS,
}


def imports_of(package: str) -> dict[str, set[str]]:
    """For each module file of `package`: the Wren packages it imports."""
    found = {}
    for path in sorted((ROOT / PACKAGES[package]).rglob("*.py")):
        used = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            used |= {name.split(".")[1] for name in names if name.startswith("wren.") and name.count(".") >= 1}
        found[str(path.relative_to(ROOT))] = used & set(PACKAGES)
    return found


def graph() -> dict[str, set[str]]:
    return {p: set().union(*imports_of(p).values()) - {p} for p in PACKAGES}


def test_no_package_imports_in_a_forbidden_direction():
    wrong = [f"{module} imports wren.{target}" for package, forbidden in FORBIDDEN.items()
             for module, used in imports_of(package).items() for target in sorted(used & forbidden)]
    assert not wrong, "\n".join(wrong)


def test_packages_form_no_cycle():
    edges = graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return path + [node, nxt]
            if nxt not in state and (cycle := visit(nxt, path + [node])):
                return cycle
        state[node] = 2
        return None

    for package in PACKAGES:
        if package not in state and (cycle := visit(package, [])):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_the_walk_sees_lazy_imports():
    # context/service.py imports the shared index inside a function: the walk must count it.
    assert "context" in imports_of("context")["context/service.py"]
