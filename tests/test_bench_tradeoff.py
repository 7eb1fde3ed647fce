"""The trade-off benchmark's parts: Wren settings as systems (bench/settings.py) and the plot (bench/tradeoff.py)."""
from __future__ import annotations

import pytest

from bench.settings import parse
from bench.tradeoff import plot, points, table


def test_a_setting_names_its_effort_and_roles_and_writes_them_to_a_private_config(tmp_path):
    setting = parse("wren[effort=high fast=local:smollm2]")
    assert setting.flags() == ["--effort", "high"]
    env = setting.environment(tmp_path)
    assert (tmp_path / "config" / "wren" / "config.toml").read_text() == '[models]\nfast = "local:smollm2"\n'
    assert env == {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    plain = parse("wren")  # a private config too, empty: settings differ only in what they name
    private = {"XDG_CONFIG_HOME": str(tmp_path / "other" / "config")}
    assert plain.flags() == [] and plain.environment(tmp_path / "other") == private
    assert (tmp_path / "other" / "config" / "wren" / "config.toml").read_text() == ""
    assert parse("aider") is None  # a peer
    # the benchmark's step limit is medium's budget; other efforts scale it as Wren scales its default
    assert [parse(f"wren[effort={e}]").steps(20) for e in ("low", "medium", "high", "max")] == [5, 20, 30, 40]
    assert plain.steps(20) == 20
    assert plain.mode == "act" and parse("wren[mode=plan edit=local:smollm2]").mode == "plan"
    # each setting its own files: names whose characters are replaced get a hash of the whole name
    assert parse("wren[effort=low]").slug == "wren-effort=low" and plain.slug == "wren"
    slugs = {parse(f"wren[mode=plan edit={m}]").slug for m in ("/a/e/dit.json", "/a/e_dit.json", "a-b", "a.b")}
    assert len(slugs) == 4 and all("/" not in s for s in slugs)
    for bad in ("wren[effort=huge]", "wren[speed=1]", "wren[fast]", "wren[main=local:x]", "wren[mode=think]",
                "Wren[mode=plan]", "wren [effort=low]", "wren[effort=low", "wren[mode=plan mode=act]",
                "wren[edit=local:smollm2]"):
        with pytest.raises(ValueError):
            parse(bad)


def test_the_config_a_setting_writes_is_the_one_wren_reads(tmp_path, monkeypatch):
    from wren.core.config import load_config

    setting = parse('wren[mode=plan fast=local:smollm2 plan=local:C:\\models\\"q[1]".gguf]')
    monkeypatch.setenv("XDG_CONFIG_HOME", setting.environment(tmp_path)["XDG_CONFIG_HOME"])
    models = load_config(tmp_path).models
    assert models.fast == "local:smollm2" and models.plan == 'local:C:\\models\\"q[1]".gguf'  # escaped in TOML


def test_one_point_per_setting_in_the_table_and_the_plot(tmp_path):
    row = {"prompt_tokens": 900, "completion_tokens": 100}
    rows = [{**row, "system": "wren[effort=low]", "task": "gcd", "solved": False, "wall_s": 40},
            {**row, "system": "wren[effort=low]", "task": "kth", "solved": True, "wall_s": 60},
            {**row, "system": "wren", "task": "gcd", "solved": True, "wall_s": 120}]
    found = points(rows)
    assert [(p["system"], p["solved"], p["tasks"], p["median_s"]) for p in found] == [
        ("wren[effort=low]", 1, 2, 50), ("wren", 1, 1, 120)]
    assert "| wren[effort=low] | 1/2 | 50% | 50 | 1000 |" in table(found).splitlines()
    png = plot(found, tmp_path / "results" / "tradeoff.png", "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
