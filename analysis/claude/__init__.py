"""The Claude engine: the six analysis steps answered by the Claude Code CLI, run
read-only in the checkout, every answer checked against the repository.

Modules: ``settings`` (CLAUDE_* variables), ``command`` (the fixed argv and the allowlisted
environment, docs/CLAUDE.md), ``version`` (the supported CLI releases, checked at start),
``sandbox`` (bubblewrap around the CLI), ``process`` (a child in its own process group),
``runner`` (one CLI call: sandbox or not, raw output kept), ``result``
(reading the CLI's JSON), ``records`` (cost per call), ``prompts``, ``models`` (per-chapter
answers), ``validate``, ``cache``, ``fanout`` and ``engine``.
"""

from analysis.claude.engine import ClaudeEngine
from analysis.claude.records import CallRecord, read_records, summarize_calls
from analysis.claude.runner import replay
from analysis.claude.settings import ClaudeSettings, load_claude_settings

__all__ = [
    "CallRecord",
    "ClaudeEngine",
    "ClaudeSettings",
    "load_claude_settings",
    "read_records",
    "replay",
    "summarize_calls",
]
