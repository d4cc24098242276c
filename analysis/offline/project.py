"""The project's name, as its own build files spell it."""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from pathlib import PurePosixPath

_GO_MODULE = re.compile(r"^\s*module\s+(\S+)", re.MULTILINE)


def project_name(manifests: dict[str, str], files: list[str], fallback: str) -> str:
    """From the shallowest manifest that names the project; else the dominant top-level
    directory; else ``fallback`` (the checkout directory's name)."""
    for path in sorted(manifests, key=lambda p: (p.count("/"), p)):
        name = _named(PurePosixPath(path).name, manifests[path])
        if name:
            return name
    tops = Counter(f.split("/", 1)[0] for f in files if "/" in f)
    if tops:
        top, count = sorted(tops.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if count * 2 > len(files):
            return top
    return fallback


def _named(filename: str, text: str) -> str:
    try:
        if filename in ("pyproject.toml", "Cargo.toml"):
            data = tomllib.loads(text)
            section = data.get("project") or data.get("package") or {}
            name = section.get("name") or data.get("tool", {}).get("poetry", {}).get("name")
            return str(name) if isinstance(name, str) else ""
        if filename == "package.json":
            name = json.loads(text).get("name")
            return str(name) if isinstance(name, str) else ""
    except (ValueError, AttributeError):
        return ""
    if filename == "go.mod":
        match = _GO_MODULE.search(text)
        return match.group(1).rsplit("/", 1)[-1] if match else ""
    if filename == "setup.cfg":
        match = re.search(r"^\s*name\s*=\s*(\S+)", text, re.MULTILINE)
        return match.group(1) if match else ""
    return ""
