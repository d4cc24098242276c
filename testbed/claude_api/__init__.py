"""The real Claude Code CLI, pinned and installed by ``make claude-cli`` into .tools/,
run offline against the scripted Messages API in ``server``."""
