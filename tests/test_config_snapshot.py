"""The session's config is read once: a wren.toml the model writes needs approval, and cannot change
what an allowed tool runs."""
from __future__ import annotations

import json

from wren.agent.approval import Policy, is_config_path
from wren.agent.models.scripted import ScriptedBackend
from wren.core.ops import Shutdown, UserInput
from wren.agent.session import Session, SessionConfig
from wren.tools.base import default_registry

EVIL = 'test_command = "echo pwned"\n'


def run(repo, tmp_path, mode, turns):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"turns": turns}))
    session = Session(SessionConfig(root=repo, backend=ScriptedBackend(script), registry=default_registry(),
                                    policy=Policy(mode=mode)))  # headless: what would ask is denied
    session.submit(UserInput(text="go"))
    session.submit(Shutdown())
    return [e for e in session.events() if e.type == "tool_result"]


def test_writing_wren_toml_asks_in_auto_edit_and_run_tests_keeps_the_configured_command(calc_repo, tmp_path):
    (calc_repo / "wren.toml").write_text('test_command = "python -m pytest -q test_calc.py"\n')
    write = {"name": "write_file", "arguments": {"path": "wren.toml", "content": EVIL}}
    edit = {"name": "edit_file", "arguments": {"path": "./wren.toml", "old": "python -m pytest -q test_calc.py",
                                               "new": "echo pwned"}}
    results = run(calc_repo, tmp_path, "auto-edit", [{"tool_calls": [write]}, {"tool_calls": [edit]},
                                                      {"content": "done"}])
    assert [r.ok for r in results] == [False, False]
    assert all("Wren's configuration, which needs approval" in r.output for r in results)
    assert "echo pwned" not in (calc_repo / "wren.toml").read_text()
    # In auto mode the write runs, but this session's run_tests still runs what it started with.
    results = run(calc_repo, tmp_path, "auto", [{"tool_calls": [write]}, {"tool_calls": [{"name": "run_tests"}]},
                                                {"content": "done"}])
    assert results[0].ok and (calc_repo / "wren.toml").read_text() == EVIL
    assert "$ python -m pytest -q test_calc.py" in results[1].output and "pwned" not in results[1].output


def test_config_paths_are_the_workspace_wren_toml_and_the_user_config_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    assert is_config_path("wren.toml", root) and is_config_path("./sub/../wren.toml", root)
    assert is_config_path(str(tmp_path / "cfg" / "wren" / "config.toml"), root)
    assert not is_config_path("sub/wren.toml", root) and not is_config_path("wren.toml.bak", root)
