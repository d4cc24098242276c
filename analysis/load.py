"""Engines implement the six analysis steps. ``load_engine`` picks one by name."""

from __future__ import annotations

import importlib

from analysis.engine import Engine
from fondation.errors import ConfigError


def load_engine(name: str) -> Engine:
    """``offline``, ``claude``, or ``package.module:Class`` for another Engine."""
    if name == "offline":
        from analysis.offline import OfflineEngine

        return OfflineEngine()
    if name == "claude":
        from analysis.claude import ClaudeEngine

        engine: Engine = ClaudeEngine()
        return engine
    module_name, _, attr = name.partition(":")
    if not attr:
        raise ConfigError(f"ANALYSIS_ENGINE: unknown engine {name!r} (offline, claude, mod:Class)")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"ANALYSIS_ENGINE: cannot load {name!r}: {exc}") from exc
    instance = cls()
    if not isinstance(instance, Engine):
        raise ConfigError(f"ANALYSIS_ENGINE: {name!r} is not an Engine")
    return instance
