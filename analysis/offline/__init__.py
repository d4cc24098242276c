"""A deterministic engine that builds the course from static analysis alone."""

from __future__ import annotations

from analysis.offline.engine import OfflineEngine

__all__ = ["OfflineEngine"]
