"""Real git repositories for tests, built in a temporary folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

_GIT = [
    "git",
    "-c",
    "user.name=Test",
    "-c",
    "user.email=test@example.invalid",
    "-c",
    "init.defaultBranch=main",
    "-c",
    "commit.gpgsign=false",
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [*_GIT, "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    """A small Python project with two commits on ``main``."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run([*_GIT, "init", "-q", str(root)], check=True)
    content = files or {
        "README.md": "# Shop\n\nA tiny shop used in tests.\n",
        "shop/__init__.py": '"""The shop package."""\n',
        "shop/models.py": '"""Data models."""\n\n\nclass Item:\n    """A thing to sell."""\n\n'
        "    def __init__(self, name: str, price: int) -> None:\n"
        "        self.name = name\n        self.price = price\n",
        "shop/cart.py": '"""The cart."""\n\nfrom shop.models import Item\n\n\nclass Cart:\n'
        '    """Items a customer will buy."""\n\n    def __init__(self) -> None:\n'
        "        self.items: list[Item] = []\n\n"
        "    def add(self, item: Item) -> None:\n        self.items.append(item)\n\n"
        "    def total(self) -> int:\n        return sum(i.price for i in self.items)\n",
        "shop/checkout.py": '"""Paying for a cart."""\n\nfrom shop.cart import Cart\n\n\n'
        "def pay(cart: Cart) -> str:\n"
        '    """Charge the cart total and return a receipt."""\n'
        '    return f"paid {cart.total()}"\n',
        "tests/test_cart.py": "from shop.cart import Cart\nfrom shop.models import Item\n\n\n"
        "def test_total() -> None:\n    cart = Cart()\n"
        '    cart.add(Item("a", 2))\n    assert cart.total() == 2\n',
    }
    for rel, text in content.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    (root / "CHANGES.md").write_text("- first release\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "second")
    return root
