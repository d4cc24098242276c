"""The fixed command line and environment of every Claude Code CLI call.

Each flag closes a door the real CLI (2.1.332) was seen to leave open; docs/CLAUDE.md
lists them one by one. The environment is an allowlist built from the engine's own
settings, never a copy of the worker's: the worker holds the store secret, the Redis URL,
git tokens and the encryption key, and the child can read its own environment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from analysis.claude.settings import ClaudeSettings

# The only tools the model is offered (StructuredOutput comes from --json-schema).
TOOLS = "Read,Grep,Glob"
# A second fence should a later CLI ignore --tools: these are refused even if offered.
DISALLOWED_TOOLS = "Bash,Edit,Write,MultiEdit,NotebookEdit,WebFetch,WebSearch,Agent,Task"
# No MCP server at all: --strict-mcp-config ignores .mcp.json and every other source.
EMPTY_MCP = json.dumps({"mcpServers": {}})
# Locale and time zone only: they change how text is decoded and dates printed, no more.
_PASSED_THROUGH = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")


def build_argv(
    settings: ClaudeSettings,
    *,
    prompt: str | None,
    schema: dict[str, object],
    max_turns: int,
) -> list[str]:
    """``claude -p`` with the prompt (or ``None``: it comes on stdin) and every fence."""
    s = settings
    # The prompt comes right after -p: the tool lists take several values and would
    # swallow a prompt placed after them.
    cmd = [s.bin, "-p", *([prompt] if prompt is not None else [])]
    # stream-json (which needs --verbose) prints every tool call the model made: the
    # transcript tells which files the answer read (transcript.py). Its last event is
    # the result object the json format prints.
    cmd += ["--output-format", "stream-json", "--verbose", "--json-schema", json.dumps(schema)]
    # --tools bounds what is offered; no --allowedTools, which would allow reads anywhere
    # on the host. dontAsk then allows reads inside the working directory only.
    cmd += ["--tools", TOOLS, "--disallowedTools", DISALLOWED_TOOLS]
    cmd += ["--permission-mode", s.permission_mode]
    # No settings file at all: the checkout's .claude/settings*.json (env, hooks,
    # apiKeyHelper, permissions) and CLAUDE.md are the repository author's, not ours.
    cmd += ["--setting-sources", ""]
    cmd += ["--strict-mcp-config", "--mcp-config", EMPTY_MCP]
    cmd += ["--max-turns", str(max_turns)]
    if s.max_budget_usd is not None:
        cmd += ["--max-budget-usd", f"{s.max_budget_usd:g}"]
    if s.model:
        cmd += ["--model", s.model]
    if s.fallback_model:
        cmd += ["--fallback-model", s.fallback_model]
    return cmd


def child_env(settings: ClaudeSettings, *, home: Path, tmp: Path) -> dict[str, str]:
    """The child's whole environment: the credential, the basics, and what a deployment
    needs to reach the API (proxy, CA bundle, gateway), each from our settings."""
    s = settings
    name, value = s.credential()
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        # A worker has no use for update checks or telemetry, and the network may be
        # only the API's.
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        # Tool search adds a placeholder tool and loads tools on demand: the offered set
        # must be exactly --tools.
        "ENABLE_TOOL_SEARCH": "false",
        name: value,
    }
    env.update({k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ})
    env.setdefault("LANG", "C.UTF-8")
    for var, setting in (
        ("ANTHROPIC_BASE_URL", s.base_url),
        ("HTTPS_PROXY", s.https_proxy),
        ("HTTP_PROXY", s.http_proxy),
        ("NO_PROXY", s.no_proxy),
        ("NODE_EXTRA_CA_CERTS", s.node_extra_ca_certs),
    ):
        if setting:
            env[var] = setting
    return env
