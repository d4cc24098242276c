"""Scenarios for the scripted API: the double's recorded answers served to the real CLI,
so both speak from one recording and the replaying double cannot drift from the server."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from collections.abc import Callable
from types import ModuleType
from typing import Any

from testbed.claude_api.server import Failure, Reply, Request, Scenario, ToolUse, answer
from testbed.claude_double import DOUBLE


def _double() -> ModuleType:
    # The double is a script without a .py suffix; its picking rules are loaded from it.
    loader = importlib.machinery.SourceFileLoader("claude_double_script", str(DOUBLE))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def recorded(name: str = "success", delay_s: Callable[[Request], float] | None = None) -> Scenario:
    """Each call answered by the first response of the double's scenario ``name`` that
    fits the StructuredOutput schema's title and the prompt, as the double picks them."""
    double = _double()
    responses: list[dict[str, Any]] = double._load(name)

    def scenario(req: Request) -> Reply | Failure:
        found = double._pick(responses, req.schema_title, req.prompt)
        if found is None or "structured_output" not in found:
            return Failure(400, "invalid_request_error", f"no answer for {req.schema_title}")
        wait = delay_s(req) if delay_s is not None else 0.0
        return answer(found["structured_output"], delay_s=wait)

    return scenario


def reading_first(answers: Scenario, reads: Callable[[Request], tuple[ToolUse, ...]]) -> Scenario:
    """Each call's first turn uses the tools ``reads`` names for it (Read, Grep, Glob,
    paths relative to the checkout), and the model answers with ``answers`` once it has
    their results: what a call's transcript then says it read."""

    def scenario(req: Request) -> Reply | Failure:
        tools = reads(req) if req.turn == 0 else ()
        if tools:
            return Reply(text="Reading.", tools=tools)
        return answers(req)

    return scenario


# The files each call of the shop of testbed/gitrepo.make_repo() reads: its chapter's
# file for a chapter or a review, everything for the abstractions (which also searches
# the whole tree), what the relationships and the tutorials cite; the order reads nothing.
_SHOP_CHAPTER_FILES = {"models": "shop/models.py", "cart": "shop/cart.py",
                       "checkout": "shop/checkout.py"}  # fmt: skip


def shop_reads(req: Request) -> tuple[ToolUse, ...]:
    title = req.schema_title
    if title == "AbstractionsArtifact":
        files = sorted(_SHOP_CHAPTER_FILES.values())
        return (ToolUse("Glob", {"pattern": "**/*.py"}),
                *(ToolUse("Read", {"file_path": f}) for f in files))  # fmt: skip
    if title == "RelationshipsArtifact":
        return tuple(
            ToolUse("Read", {"file_path": f}) for f in sorted(_SHOP_CHAPTER_FILES.values())
        )
    if title == "TutorialsArtifact":
        return (ToolUse("Read", {"file_path": "shop/cart.py"}),
                ToolUse("Read", {"file_path": "tests/test_cart.py"}))  # fmt: skip
    if title in ("ChapterDraft", "ChapterReview"):
        for target, path in _SHOP_CHAPTER_FILES.items():
            if f"Target abstraction: `{target}`" in req.prompt:
                return (ToolUse("Read", {"file_path": path}),)
    return ()
