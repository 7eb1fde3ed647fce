"""The repo map: PageRank over real tree-sitter tags of a real temp repo."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git
from wren.context.index import CodeIndex
from wren.context.repomap import approx_tokens, rank_definitions, repo_map

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
