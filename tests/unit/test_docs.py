"""The README's operator table lists every setting, so it cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices

from analysis.claude.settings import ClaudeSettings
from fondation.settings import describe_settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
WORKER_FUNCTIONS = ROOT / "convex" / "functions" / "worker"
# The operator's documents (the example course is generated, and quotes old code).
OPERATOR_DOCS = [README, ROOT / "compose" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_readme_lists_every_environment_variable() -> None:
    text = README.read_text()
    names = [name for name, _, _ in describe_settings()]
    for n, field in ClaudeSettings.model_fields.items():
        alias = field.validation_alias
        # An aliased setting keeps its usual name (ANTHROPIC_BASE_URL, HTTPS_PROXY, ...).
        names.append(
            str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"CLAUDE_{n.upper()}"
        )
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing, f"README.md does not list: {missing}"


def test_the_readme_quick_start_has_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text
    assert "make test" in text


def _exports(module: str) -> set[str]:
    path = WORKER_FUNCTIONS / f"{module}.ts"
    return (
        set(re.findall(r"^export const (\w+)", path.read_text(), re.M)) if path.exists() else set()
    )


def test_every_worker_function_the_docs_name_exists() -> None:
    # Every mention but the upgrade notes' list of functions a release removed.
    named = {
        (doc.name, module, fn)
        for doc in OPERATOR_DOCS
        for paragraph in doc.read_text().split("\n\n")
        if " gone" not in paragraph
        for module, fn in re.findall(r"`worker/(\w+):(\w+)`", paragraph)
    }
    assert named
    missing = [f"{doc}: worker/{m}:{fn}" for doc, m, fn in sorted(named) if fn not in _exports(m)]
    assert not missing, missing


def test_the_fenced_writes_the_convex_guide_lists_are_the_functions_that_exist() -> None:
    guide = (ROOT / "docs" / "CONVEX.md").read_text()
    fencing = guide.split("- **Fencing.**", 1)[1].split("checks the lease token", 1)[0]
    listed = set(re.findall(r"`(\w+)`", fencing))
    every = set().union(*(_exports(p.stem) for p in WORKER_FUNCTIONS.glob("*.ts")))
    assert listed
    assert listed <= every, listed - every
