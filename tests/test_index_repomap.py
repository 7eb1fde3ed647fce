"""The repo map: PageRank over real tree-sitter tags of a real temp repo."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import git, wren
from wren.context.index import CodeIndex
from wren.context.repomap import approx_tokens, map_budget, mentioned_identifiers, rank_definitions, repo_map

FILES = {
    "core/models.py": "class Order:\n    def total(self):\n        return 0\n\n\ndef make_order():\n    return Order()\n",
    "core/db.py": "class Session:\n    pass\n\n\ndef connect_database():\n    return Session()\n",
    "app/views.py": ("from core.models import Order\n\n\ndef show(order_id):\n    return Order()\n\n\n"
                     "def list_orders():\n    return [Order(), Order()]\n"),
    "app/api.py": ("from core.db import connect_database\nfrom core.models import Order\n\n\n"
                   "def create(payload):\n    connect_database()\n    return Order()\n"),
    "app/report.py": "from core.models import Order\n\n\ndef monthly():\n    return Order()\n",
    "app/helpers.py": "def unused_helper():\n    return 1\n",
}


@pytest.fixture
def index(tmp_path: Path):
    repo = tmp_path / "repo"
    for rel, text in FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "init", "-q")
    idx = CodeIndex(repo)
    idx.update()
    yield idx
    idx.close()


def names(index: CodeIndex, **kwargs) -> list[str]:
    return [r.definition.name for r in rank_definitions(index.catalog.tags(), **kwargs)]


def test_widely_used_definitions_rank_first(index: CodeIndex):
    ranked = names(index)
    assert ranked[0] == "Order"
    assert ranked.index("Order") < ranked.index("Session") < ranked.index("unused_helper")


def test_files_in_play_personalise_the_ranking_and_are_left_out(index: CodeIndex):
    plain = names(index)
    in_play = names(index, in_play=["app/api.py"])
    assert in_play.index("connect_database") < plain.index("connect_database")
    assert set(in_play[:2]) == {"Order", "connect_database"}
    assert "create" not in in_play  # app/api.py itself is already in the prompt


def test_mentioned_identifiers_are_weighted_up(index: CodeIndex):
    assert names(index, identifiers=["Session"])[0] == "Session"


def test_map_fits_the_budget_and_reads_like_code(index: CodeIndex):
    full = repo_map(index, 10_000)
    assert full.startswith("core/models.py:\n")
    assert "    1│class Order:" in full and "core/db.py:" in full
    small = repo_map(index, 12)
    assert 0 < approx_tokens(small) <= 12 < approx_tokens(full)
    assert small.startswith("core/models.py:\n") and "class Order:" in small
    assert repo_map(index, 1) == ""
    words = repo_map(index, 10_000, count_tokens=lambda text: len(text.split()))
    assert words == full


def test_map_budget_follows_the_window_or_the_config():
    assert map_budget(200_000, None) == 1024 and map_budget(16_000, None) == 512
    assert map_budget(8192, None) == 0 and map_budget(None, None) == 0
    assert map_budget(8192, 300) == 300 and map_budget(200_000, 0) == 0


def test_mentioned_identifiers_split_dotted_names():
    assert mentioned_identifiers("core.db.connect_database() fails in db.py") >= {"core", "connect_database"}
    assert "db" not in mentioned_identifiers("db")  # too short to tie files together


def _repo_with(tmp_path: Path, config: str = "") -> Path:
    repo = tmp_path / "repo"
    for rel, text in FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    if config:
        (repo / "wren.toml").write_text(config)
    git(repo, "init", "-q")
    return repo


@pytest.mark.parametrize("window,config,shown", [
    (40_000, "", True),                                   # room: the map comes with the message
    (6_000, "", False),                                   # a small window keeps its room for the task
    (40_000, "[context]\nrepo_map_tokens = 0\n", False),  # turned off
    (6_000, "[context]\nrepo_map_tokens = 25\n", True),   # asked for, and small
])
def test_the_map_is_placed_in_the_prompt_of_models_with_room(tmp_path, window, config, shown):
    repo = _repo_with(tmp_path, config)
    marks = ["[Repository map", "def connect_database"]
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"window": window, "turns": [
        {"content": "It builds one.", **({"expect": marks} if shown else {"absent": marks[:1]})}]}))
    run = wren("run", "--model", f"scripted:{script}", "--output-format", "stream-json",
               "Why does connect_database return a Session?", cwd=repo)
    assert run.code == 0, run.stderr
    logged = next(e for e in run.lines if e["type"] == "user_message")["repo_map"]
    assert ("def connect_database" in logged) is shown
    if "25" in config:
        # Personalised by the names the message uses: in 25 tokens, the mentioned definition beats
        # Order, the most used one, which a map without the message would show first.
        assert "connect_database" in logged and "class Order" not in logged
