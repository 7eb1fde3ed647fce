"""The code index on real temp git repos: real tree-sitter, real Chroma, the real MiniLM model."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git, needs_embedding_model
from wren.context.chunking import chunk_file
from wren.context.embeddings import MiniLMEmbedder, _batches, chroma_model_dir
from wren.context.index import CodeIndex, open_index
from wren.context.search import rank_files, search

needs_model = needs_embedding_model(chroma_model_dir(), "all-MiniLM-L6-v2 is not in Chroma's cache; run ./.ci/setup")

CART = '''"""A shopping cart."""
TAX = 0.2


class Cart:
    """Items a customer is about to buy."""

    def __init__(self):
        self.items = []

    def add_item(self, name, price):
        self.items.append((name, price))

    def total_price(self):
        """Sum of the item prices, tax included."""
        return sum(price for _, price in self.items) * (1 + TAX)
'''
USERS = '''import hashlib


def authenticate_user(username, stored_hash, password):
    """Check a password against the stored hash for this account."""
    return hashlib.sha256(password.encode()).hexdigest() == stored_hash


def display_name(user):
    return user.title()
'''
UTIL = '''def slugify(text):
    """Lowercase words joined by dashes, for URLs."""
    return "-".join(text.lower().split())
'''
APP_JS = '''// Draw the page for one product.
function renderPage(product) {
  return `<h1>${product.name}</h1>`;
}
'''


def commit_all(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", message)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    repo = tmp_path / "shop"
    for rel, text in {"shop/cart.py": CART, "shop/users.py": USERS, "shop/util.py": UTIL, "web/app.js": APP_JS,
                      "README.md": "# Shop\n\nA tiny shop used to test the index.\n",
                      ".gitignore": "build/\n", "build/generated.py": "def generated():\n    pass\n"}.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "init", "-q")
    commit_all(repo, "init")
    return repo


@pytest.fixture
def index(shop: Path):
    idx = open_index(shop, warn=pytest.fail)
    yield idx
    idx.close()


def dense_chunks(path: str, text: str) -> dict[str, str]:
    """Hash -> symbol of the chunks of a file that get vectors."""
    return {c.hash: c.symbol for c in chunk_file(path, text) if c.kind != "text"}


@needs_model
def test_first_update_embeds_every_code_chunk_once_and_honours_gitignore(index: CodeIndex, shop: Path):
    stats = index.update()
    expected = set()
    for rel in ("shop/cart.py", "shop/users.py", "shop/util.py", "web/app.js"):
        expected |= set(dense_chunks(rel, (shop / rel).read_text()))
    assert index.embedder.calls == len(expected) == stats.embedded
    assert stats.pending == 0 and index.store.count() == len(expected)
    index.load()
    assert set(index.by_path) == {"shop/cart.py", "shop/users.py", "shop/util.py", "web/app.js", "README.md",
                                  ".gitignore"}
    again = index.update()
    assert (again.changed, again.embedded) == (0, 0) and index.embedder.calls == len(expected)


@needs_model
def test_changing_one_file_re_embeds_only_its_changed_chunks(index: CodeIndex, shop: Path):
    index.update()
    before = index.embedder.calls
    new_users = USERS.replace("return user.title()", "return user.strip().title()")
    (shop / "shop/users.py").write_text(new_users)
    stats = index.update()
    changed = set(dense_chunks("shop/users.py", new_users)) - set(dense_chunks("shop/users.py", USERS))
    assert [dense_chunks("shop/users.py", new_users)[h] for h in changed] == ["display_name"]
    assert stats.changed == 1 and stats.embedded == 1
    assert index.embedder.calls - before == 1


@needs_model
def test_deleting_a_file_removes_its_chunks_and_vectors(index: CodeIndex, shop: Path):
    index.update()
    util_hashes = set(dense_chunks("shop/util.py", UTIL))
    assert not index.store.missing(util_hashes)
    (shop / "shop/util.py").unlink()
    stats = index.update()
    assert stats.removed == 1
    assert index.catalog.chunks_of("shop/util.py") == []
    assert index.store.missing(util_hashes) == util_hashes  # the vectors are gone from Chroma too
    assert all(hit.path != "shop/util.py" for hit in search(index, "slugify text for URLs", 10))


@needs_model
def test_a_renamed_file_is_not_embedded_again(index: CodeIndex, shop: Path):
    index.update()
    before = index.embedder.calls
    git(shop, "mv", "shop/cart.py", "shop/basket.py")
    stats = index.update()
    assert (stats.changed, stats.removed, stats.embedded) == (1, 1, 0)
    assert index.embedder.calls == before
    assert index.store.missing(dense_chunks("shop/basket.py", CART)) == set()
    hits = search(index, "total price with tax", 3)
    assert hits[0].path == "shop/basket.py" and hits[0].symbol == "Cart.total_price"


@needs_model
def test_vectors_persist_across_processes(shop: Path):
    first = open_index(shop)
    first.update()
    first.close()
    second = open_index(shop)
    stats = second.update()
    assert (stats.changed, stats.embedded, stats.pending) == (0, 0, 0) and second.embedder.calls == 0
    second.close()


def test_batches_fit_a_token_budget_and_cover_every_input():
    lengths = [3, 5, 5, 9, 40, 41, 100]
    batches = _batches(lengths, 64, 3)
    assert [i for b in batches for i in b] == list(range(len(lengths)))
    assert all(len(b) * lengths[b[-1]] <= 64 or len(b) == 1 for b in batches) and max(map(len, batches)) <= 3


@needs_model
def test_batched_vectors_are_each_text_embedded_alone():
    embedder = MiniLMEmbedder(chroma_model_dir(), max_tokens=128)
    texts = ["x", "parse config file", "Cart total price tax " * 40, "", "authenticate user password hash"]
    together = embedder.embed(texts)
    for text, vector in zip(texts, together):
        alone = embedder.embed([text])[0]
        assert max(abs(a - b) for a, b in zip(alone, vector)) < 1e-5


@needs_model
def test_search_finds_a_function_by_meaning(index: CodeIndex):
    index.update()
    dense = index.dense(["verify someone's login credentials"], 5)
    assert index.records[dense[0][0]].symbol == "authenticate_user"
    hits = search(index, "verify someone's login credentials", 3)
    assert (hits[0].path, hits[0].symbol, hits[0].kind) == ("shop/users.py", "authenticate_user", "function")
    assert (hits[0].start_line, hits[0].end_line) == (4, 6)
    assert hits[0].snippet.startswith("def authenticate_user(username, stored_hash, password):")


def test_search_finds_a_function_by_traceback_line(shop: Path):
    index = CodeIndex(shop)  # lexical only: traceback frames need no model
    index.update()
    query = ('Traceback (most recent call last):\n'
             '  File "/home/ann/venv/lib/python3.11/site-packages/shop/cart.py", line 16, in total_price\n'
             'TypeError: unsupported operand type(s)')
    hits = search(index, query, 3)
    assert (hits[0].path, hits[0].symbol) == ("shop/cart.py", "Cart.total_price")
    assert rank_files(index, query, 2)[0].path == "shop/cart.py"
    by_name = search(index, "Why does shop.util.slugify drop punctuation?", 1)
    assert (by_name[0].path, by_name[0].symbol) == ("shop/util.py", "slugify")


def test_a_name_spelled_out_in_words_finds_its_definition_lexically(tmp_path: Path):
    from wren.context.query import word_phrases

    assert word_phrases("the exit codes!") == ["theexit", "exitcodes", "exitcode", "theexitcodes", "theexitcode"]
    (tmp_path / "errors.py").write_text("class ExitCode:\n    OK = 0\n    USAGE = 2\n")
    # Files that use the words more often than the definition does: plain BM25 ranks them first.
    for n in range(3):
        (tmp_path / f"runner{n}.py").write_text(
            f"def run{n}(argv):\n    # exit codes: the exit status of each step, codes for the shell\n"
            f"    codes = [step(a) for a in argv]\n    exit(max(codes))  # exit with the worst of the codes\n")
    index = CodeIndex(tmp_path)  # lexical only, as without the embedding model
    index.update()
    assert search(index, "Find where the exit codes are defined", 1)[0].path == "errors.py"


def test_a_name_a_package_re_exports_leads_to_its_module(shop: Path):
    (shop / "shop/__init__.py").write_text("from shop.cart import Cart\nfrom shop.users import display_name\n")
    index = CodeIndex(shop)
    index.update()
    hits = search(index, "shop.Cart.total_price returns a float", 2)
    assert (hits[0].path, hits[0].symbol) == ("shop/cart.py", "Cart.total_price")
    assert rank_files(index, "I use `import shop`, then shop.display_name", 1)[0].path == "shop/users.py"


def test_missing_model_falls_back_to_lexical_with_one_warning(shop: Path, tmp_path: Path, monkeypatch):
    empty = tmp_path / "no-model"
    empty.mkdir()
    monkeypatch.setenv("WREN_EMBEDDING_MODEL_DIR", str(empty))
    monkeypatch.setenv("WREN_OFFLINE", "1")
    warnings: list[str] = []
    index = open_index(shop, warn=warnings.append)
    assert index.store is None and len(warnings) == 1
    assert "lexical" in warnings[0] and str(empty) in warnings[0] and "\n" not in warnings[0]
    stats = index.update()
    assert stats.embedded == 0 and stats.pending == 0
    assert search(index, "authenticate user password", 1)[0].symbol == "authenticate_user"
