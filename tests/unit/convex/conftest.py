"""Fixtures of this folder. The stand-in itself comes from the root conftest's plugin
(testbed.convex_standin.fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testbed.convex_standin.fixture import StandIn


@pytest.fixture
def standin(convex_standin: StandIn) -> Iterator[StandIn]:
    """The shared stand-in, emptied, and answering normally again after the test."""
    convex_standin.reset()
    yield convex_standin
    convex_standin.control("ok")
