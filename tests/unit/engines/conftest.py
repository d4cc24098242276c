"""Small real repositories written into tmp_path, and a runner for the six steps."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from analysis.course.artifacts import (
    AbstractionsArtifact,
    ChaptersArtifact,
    OrderArtifact,
    RelationshipsArtifact,
    ReviewArtifact,
    TutorialsArtifact,
)
from analysis.engine import StepContext
from analysis.offline import OfflineEngine


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


@dataclass
class Course:
    abstractions: AbstractionsArtifact
    relationships: RelationshipsArtifact
    order: OrderArtifact
    chapters: ChaptersArtifact
    review: ReviewArtifact
    tutorials: TutorialsArtifact

    def dump(self) -> str:
        return "\n".join(
            a.model_dump_json()
            for a in (
                self.abstractions,
                self.relationships,
                self.order,
                self.chapters,
                self.review,
                self.tutorials,
            )
        )


def run_all(checkout: Path, work_dir: Path, engine: OfflineEngine | None = None) -> Course:
    engine = engine or OfflineEngine()
    ctx = StepContext(job_id="job", checkout=checkout, prompt="", work_dir=work_dir)
    ctx.abstractions = engine.extract_abstractions(ctx)
    ctx.relationships = engine.analyze_relationships(ctx)
    ctx.order = engine.determine_order(ctx)
    ctx.chapters = engine.generate_chapters(ctx)
    ctx.review = engine.review_chapters(ctx)
    tutorials = engine.create_tutorials(ctx)
    return Course(
        ctx.abstractions, ctx.relationships, ctx.order, ctx.chapters, ctx.review, tutorials
    )


SHOP: dict[str, str | bytes] = {
    "pyproject.toml": """
        [project]
        name = "shop"
    """,
    "README.md": """
        # Shop

        Fill a cart and pay:

        ```python
        from shop.service import Cart

        cart = Cart()
        cart.add("apple", 3)
        print(cart.checkout())
        ```
    """,
    "shop/__init__.py": '''
        """Shop: a tiny store used to test the offline engine."""
        from shop.models import Item, Money
    ''',
    "shop/models.py": '''
        """Domain models: what the shop sells and what it costs."""


        class Money:
            """An amount in cents."""

            def __init__(self, cents: int) -> None:
                self.cents = cents

            def add(self, other: "Money") -> "Money":
                """Sum of two amounts."""
                return Money(self.cents + other.cents)


        class Item:
            """Something on sale."""

            def __init__(self, name: str, price: Money) -> None:
                self.name = name
                self.price = price
    ''',
    "shop/pricing.py": '''
        """Pricing rules."""
        from shop.models import Money


        def total(items):
            """Sum the prices of items."""
            amount = Money(0)
            for item in items:
                amount = amount.add(item.price)
            return amount
    ''',
    "shop/storage/__init__.py": '''
        """Where carts are kept."""
    ''',
    "shop/storage/base.py": '''
        """The storage interface every backend implements."""
        import abc


        class Storage(abc.ABC):
            """Keeps items by name."""

            @abc.abstractmethod
            def save(self, item) -> None:
                """Store an item."""

            @abc.abstractmethod
            def load(self, name: str):
                """Fetch an item back."""
    ''',
    "shop/storage/memory.py": '''
        """Storage in a dict."""
        from ..models import Item
        from .base import Storage


        class MemoryStorage(Storage):
            """Keeps everything in memory."""

            def __init__(self) -> None:
                self.items: dict[str, Item] = {}

            def save(self, item) -> None:
                self.items[item.name] = item

            def load(self, name: str):
                return self.items[name]
    ''',
    "shop/storage/files.py": '''
        """Storage on disk."""
        from shop.storage.base import Storage


        class FileStorage(Storage):
            """One file per item."""

            def save(self, item) -> None:
                raise OSError("read-only")

            def load(self, name: str):
                raise KeyError(name)
    ''',
    "shop/service.py": '''
        """The cart a customer fills."""
        from shop import pricing
        from shop.models import Item, Money
        from shop.storage.memory import MemoryStorage


        class Cart:
            """A customer's cart."""

            def __init__(self) -> None:
                self.storage = MemoryStorage()
                self.items: list[Item] = []

            def add(self, name: str, cents: int) -> None:
                """Put an item in the cart."""
                item = Item(name, Money(cents))
                self.items.append(item)
                self.storage.save(item)

            def checkout(self) -> int:
                """What the customer pays, in cents."""
                return pricing.total(self.items).cents
    ''',
    "tests/test_service.py": """
        from shop.service import Cart


        def test_cart_total():
            cart = Cart()
            cart.add("apple", 3)
            cart.add("pear", 4)
            assert cart.checkout() == 7
    """,
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "shop-repo", SHOP)


Writer = Callable[[Path, dict[str, str | bytes]], Path]
Runner = Callable[..., Course]


@pytest.fixture
def write() -> Writer:
    """``write(root, {path: text})``: text is dedented, bytes are written as they are."""
    return write_tree


@pytest.fixture
def run_course() -> Runner:
    """``run_course(checkout, work_dir, engine=None)``: all six steps, in order."""
    return run_all
