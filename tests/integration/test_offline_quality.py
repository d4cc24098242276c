"""The offline engine on real code: three installed dependencies, copied into fresh git
repositories, each taken through all six steps.

What is checked is what a reader would notice first: a citation or a symbol that does
not exist, a central module missing from the course, a chapter that is only headings
and tables, a diagram that does not render.
"""

from __future__ import annotations

import ast
import importlib.machinery
import re
import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from analysis.course.artifacts import Citation
from analysis.engine import StepContext
from analysis.offline import OfflineEngine
from analysis.offline.markdown import CITATION, blocks
from analysis.offline.mermaid import validate

pytestmark = pytest.mark.integration

PACKAGES = ("celery", "kombu", "httpx")
MIN_PROSE_WORDS = 80


@dataclass
class Result:
    repo: Path
    package: str
    ctx: StepContext
    tutorials: list[str]


def make_repo(root: Path, package: str) -> Path:
    # Looked up on sys.path, not in sys.modules: once imported, kombu and celery replace
    # their module objects with lazy ones that have no __spec__.
    spec = importlib.machinery.PathFinder.find_spec(package)
    assert spec is not None
    assert spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations)))
    repo = root / package
    shutil.copytree(source, repo / package, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "import"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    engine = OfflineEngine()
    out: dict[str, Result] = {}
    for package in PACKAGES:
        repo = make_repo(tmp_path_factory.mktemp("repos"), package)
        ctx = StepContext(
            job_id=package, checkout=repo, prompt="", work_dir=tmp_path_factory.mktemp("work")
        )
        ctx.abstractions = engine.extract_abstractions(ctx)
        ctx.relationships = engine.analyze_relationships(ctx)
        ctx.order = engine.determine_order(ctx)
        ctx.chapters = engine.generate_chapters(ctx)
        ctx.review = engine.review_chapters(ctx)
        tutorials = [t.content for t in engine.create_tutorials(ctx).tutorials]
        out[package] = Result(repo, package, ctx, tutorials)
    return out


def citations(result: Result) -> list[Citation]:
    ctx = result.ctx
    assert ctx.abstractions
    assert ctx.relationships
    assert ctx.chapters
    assert ctx.review
    found = [c for a in ctx.abstractions.abstractions for c in a.citations]
    found += [c for r in ctx.relationships.relationships for c in r.citations]
    found += [c for ch in ctx.chapters.chapters + ctx.review.chapters for c in ch.citations]
    for text in [ch.content for ch in ctx.review.chapters] + result.tutorials:
        for match in CITATION.finditer(text):
            start = int(match.group(2))
            found.append(
                Citation(
                    path=match.group(1), start_line=start, end_line=int(match.group(3) or start)
                )
            )
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_every_citation_exists(results: dict[str, Result], package: str) -> None:
    result = results[package]
    cited = citations(result)
    assert len(cited) > 50
    lines: dict[str, int] = {}
    for citation in cited:
        path = result.repo / citation.path
        assert path.is_file(), citation
        assert not path.is_symlink(), citation
        if citation.path not in lines:
            lines[citation.path] = len(path.read_text(encoding="utf-8").splitlines())
        assert citation.start_line >= 1, citation
        assert citation.start_line <= citation.end_line <= lines[citation.path], citation


def defined_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    kinds = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {node.name for node in ast.walk(tree) if isinstance(node, kinds)}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_symbol_is_defined_in_its_abstraction(
    results: dict[str, Result], package: str
) -> None:
    result = results[package]
    assert result.ctx.abstractions is not None
    for abstraction in result.ctx.abstractions.abstractions:
        names: set[str] = set()
        for file in abstraction.files:
            assert (result.repo / file).is_file(), file
            names |= defined_names(result.repo / file)
        missing = [s for s in abstraction.symbols if s not in names]
        assert not missing, (abstraction.id, missing)


def most_imported(repo: Path, package: str, count: int = 5) -> list[str]:
    """The modules the most files import, computed here with ``ast`` alone."""
    modules: dict[str, str] = {}
    for path in sorted((repo / package).rglob("*.py")):
        parts = path.relative_to(repo).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = str(
            path.relative_to(repo)
        )
    importers: dict[str, set[str]] = defaultdict(set)
    for name, rel in modules.items():
        package_parts = name.split(".") if rel.endswith("__init__.py") else name.split(".")[:-1]
        tree = ast.parse((repo / rel).read_text(encoding="utf-8"))
        for target in imported_modules(tree, package_parts, modules):
            if target != rel:
                importers[target].add(rel)
    # A module that defines nothing public (a package's re-export hub) is taught through
    # the modules it re-exports.
    defining = {t for t in importers if public_names(repo / t)}
    ranked = sorted(defining, key=lambda t: (-len(importers[t]), t))
    return ranked[:count]


def public_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    kinds = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    names = {n.name for n in tree.body if isinstance(n, kinds) and not n.name.startswith("_")}
    for node in tree.body:  # ``__all__`` says what is public, when the module has one
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            value = node.value
            listed = ast.literal_eval(value) if isinstance(value, ast.List | ast.Tuple) else []
            names &= set(listed)
    return names


def imported_modules(tree: ast.Module, package: list[str], modules: dict[str, str]) -> set[str]:
    found: set[str] = set()

    def deepest(name: str) -> str | None:
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            if ".".join(parts[:cut]) in modules:
                return modules[".".join(parts[:cut])]
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {m for m in (deepest(a.name) for a in node.names) if m}
        elif isinstance(node, ast.ImportFrom):
            base_parts = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*base_parts, node.module] if node.module else base_parts)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    found.add(modules[sub])
                elif base in modules:
                    found.add(modules[base])
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_the_three_most_imported_modules_are_in_the_course(
    results: dict[str, Result], package: str
) -> None:
    result = results[package]
    assert result.ctx.abstractions is not None
    covered = {f for a in result.ctx.abstractions.abstractions for f in a.files}
    # The other places go to what users touch (README, examples, exports): a module
    # imported everywhere is not always one a user meets.
    top = most_imported(result.repo, package, count=3)
    assert len(top) == 3
    assert [m for m in top if m not in covered] == []


def prose_words(markdown: str) -> int:
    """Words of running text: no headings, tables, code, diagrams, inline code or links."""
    words = 0
    for block in blocks(markdown):
        if block.is_code:
            continue
        for line in block.lines:
            text = line.strip()
            if not text or text.startswith(("#", "|", "---", "<")):
                continue
            text = re.sub(r"`[^`]*`", " ", text)
            text = re.sub(r"\]\([^)]*\)", "]", text)
            words += len(re.findall(r"[A-Za-z][A-Za-z'-]+", text))
    return words


@pytest.mark.parametrize("package", PACKAGES)
def test_every_chapter_has_prose_and_valid_diagrams(
    results: dict[str, Result], package: str
) -> None:
    review = results[package].ctx.review
    assert review is not None
    assert 5 <= len(review.chapters) <= 12
    for chapter in review.chapters:
        assert prose_words(chapter.content) >= MIN_PROSE_WORDS, chapter.slug
        diagrams = [b for b in blocks(chapter.content) if b.info == "mermaid"]
        for diagram in diagrams:
            assert validate("\n".join(diagram.lines[1:-1])) == [], chapter.slug
    assert Counter(f.fixed for f in review.findings)[False] == 0
