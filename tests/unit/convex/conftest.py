"""The stand-in's fixtures for this folder (the root conftest may register them for
the whole suite as a plugin as well)."""

from tests.convex_standin.fixture import convex_standin, convex_store_factory

__all__ = ["convex_standin", "convex_store_factory"]
