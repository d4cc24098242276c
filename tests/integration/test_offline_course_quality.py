"""The offline engine as a teacher, on code none of us wrote, in three language families.

Python from installed packages, JavaScript from npm packages under convex/node_modules
(installed by ``make convex-test`` before the tests run), Go from Debian's golang-*-dev
packages (.ci/run installs them). Each repository comes with its own README, and with a
short list, made by hand from that README, of the concepts a user meets and of where
a user starts. What is checked is what a learner would notice: chapters named after
those concepts, a first chapter where the README starts, no chapter about a test,
example or typings file, relationships between the files of one Go package, unique
tutorials none of which is built on a test helper, citations that resolve and diagrams
that parse.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from analysis.engine import StepContext
from analysis.offline import OfflineEngine
from analysis.offline.markdown import blocks
from analysis.offline.mermaid import validate
from tests.integration.test_offline_quality import Result, citations

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GOCODE = Path("/usr/share/gocode/src/github.com")
NODE_MODULES = ROOT / "convex" / "node_modules"


@dataclass(frozen=True)
class Expected:
    """From the project's README: each concept with the words a title may name it by."""

    concepts: dict[str, tuple[str, ...]]
    entry: tuple[str, ...]  # words of an acceptable first chapter
    go: bool = False


EXPECTED: dict[str, Expected] = {
    # README: @click.command, @click.option, click.echo, prompt=...; the Context object.
    "click": Expected(
        {
            "command decorators": ("decorators", "command"),
            "echo": ("utils", "echo"),
            "prompt": ("termui", "prompt"),
            "context": ("context",),
            "parameter types": ("paramtype", "types", "choice"),
        },
        entry=("decorators", "command"),
    ),
    # README: httpx.get(...) returns a Response; Client; transports; URL.
    "httpx": Expected(
        {
            "get and friends": ("_api", "get", "request"),
            "response": ("response",),
            "client": ("client",),
            "url": ("url",),
            "transports": ("transport",),
        },
        entry=("_api", "get", "client"),
    ),
    # README: picomatch(glob) returns a matcher; isMatch, scan, parse.
    "picomatch": Expected(
        {
            "picomatch": ("picomatch",),
            "scan": ("scan",),
            "parse": ("parse",),
        },
        entry=("picomatch",),
    ),
    # README: new WebSocket(url), new WebSocketServer({ port }), permessage-deflate.
    "ws": Expected(
        {
            "websocket": ("websocket",),
            "server": ("server",),
            "permessage-deflate": ("permessagedeflate", "deflate"),
            "receiver": ("receiver",),
        },
        entry=("websocket",),
    ),
    # README (docs/v1/manual.md): cli.NewApp(), app.Run, Commands, Flags, Context.
    "cli": Expected(
        {
            "app": ("app",),
            "command": ("command",),
            "flag": ("flag",),
            "context": ("context",),
        },
        entry=("app",),
        go=True,
    ),
    # README: the assert, require, mock and suite packages.
    "testify": Expected(
        {
            "assert": ("assert",),
            "require": ("require",),
            "mock": ("mock",),
            "suite": ("suite",),
        },
        entry=("assert", "testingt", "require"),
        go=True,
    ),
}

# What a chapter must never be about: tests, examples, benchmarks, typings.
_SUPPORT = re.compile(
    r"(^|/)(tests?|examples?|bench(mark)?s?|testdata|__tests__)/|_test\.go$|(^|/)test_[^/]*\.py$"
    r"|\.(test|spec)\.[jt]s$|\.d\.[cm]?ts$|\.test-d\.ts$"
)


def _commit(repo: Path) -> Path:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "import"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


def python_repo(root: Path, package: str) -> Path:
    spec = importlib.machinery.PathFinder.find_spec(package)
    assert spec is not None
    assert spec.submodule_search_locations
    repo = root / package
    source = Path(next(iter(spec.submodule_search_locations)))
    shutil.copytree(source, repo / package, ignore=shutil.ignore_patterns("__pycache__"))
    # The README is the package's long description, as PyPI shows it.
    readme = importlib.metadata.metadata(package).json.get("description", "")
    (repo / "README.md").write_text(str(readme), encoding="utf-8")
    return _commit(repo)


def copied_repo(root: Path, name: str, source: Path, readme: Path | None) -> Path:
    repo = root / name
    shutil.copytree(source, repo, ignore=shutil.ignore_patterns("node_modules"))
    if readme is not None:
        shutil.copy(readme, repo / "README.md")
    return _commit(repo)


def make_repo(root: Path, name: str) -> Path:
    if name in ("click", "httpx"):
        return python_repo(root, name)
    if name in ("picomatch", "ws"):
        source = NODE_MODULES / name
        if not (source / "package.json").is_file():
            pytest.skip(f"{source} is missing: run `make convex-test` first (npm ci)")
        return copied_repo(root, name, source, None)
    source = {"cli": GOCODE / "urfave/cli", "testify": GOCODE / "stretchr/testify"}[name]
    if not (source / "go.mod").is_file():
        pytest.skip(
            f"{source} is missing: apt-get install golang-github-urfave-cli-dev "
            "golang-github-stretchr-testify-dev (.ci/run does)"
        )
    readme = Path("/usr/share/doc/golang-github-urfave-cli-dev/README.md")
    return copied_repo(root, name, source, readme if name == "cli" and readme.is_file() else None)


@pytest.fixture(scope="module")
def courses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    return {}


def course(courses: dict[str, Result], name: str, tmp: pytest.TempPathFactory) -> Result:
    if name not in courses:
        repo = make_repo(tmp.mktemp("repos"), name)
        engine = OfflineEngine()
        ctx = StepContext(job_id=name, checkout=repo, prompt="", work_dir=tmp.mktemp("work"))
        ctx.abstractions = engine.extract_abstractions(ctx)
        ctx.relationships = engine.analyze_relationships(ctx)
        ctx.order = engine.determine_order(ctx)
        ctx.chapters = engine.generate_chapters(ctx)
        ctx.review = engine.review_chapters(ctx)
        tutorials = engine.create_tutorials(ctx).tutorials
        courses[name] = Result(repo, name, ctx, [t.content for t in tutorials])
    return courses[name]


def _words(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "", text.lower())


def _covers(title: str, files: list[str], words: tuple[str, ...]) -> bool:
    directories = {_words(Path(f).parent.name) for f in files}
    return any(_words(w) in _words(title) or _words(w) in directories for w in words)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_chapter_titles_name_most_concepts_of_the_readme(
    courses: dict[str, Result], name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = course(courses, name, tmp_path_factory)
    assert result.ctx.abstractions is not None
    chapters = [(a.name, a.files) for a in result.ctx.abstractions.abstractions]
    expected = EXPECTED[name].concepts
    covered = [c for c, words in expected.items() if any(_covers(t, f, words) for t, f in chapters)]
    assert len(covered) * 5 >= len(expected) * 3, (covered, [t for t, _ in chapters])


@pytest.mark.parametrize("name", list(EXPECTED))
def test_chapter_one_is_where_a_user_starts(
    courses: dict[str, Result], name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = course(courses, name, tmp_path_factory)
    review, abstractions = result.ctx.review, result.ctx.abstractions
    assert review is not None
    assert abstractions is not None
    first = review.chapters[0]
    files = next(a.files for a in abstractions.abstractions if a.id == first.abstraction_id)
    assert _covers(first.title, files, EXPECTED[name].entry), first.title


@pytest.mark.parametrize("name", list(EXPECTED))
def test_no_chapter_is_a_test_an_example_or_typings(
    courses: dict[str, Result], name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = course(courses, name, tmp_path_factory)
    assert result.ctx.abstractions is not None
    for abstraction in result.ctx.abstractions.abstractions:
        assert [f for f in abstraction.files if _SUPPORT.search(f)] == [], abstraction.name


@pytest.mark.parametrize("name", [n for n, e in EXPECTED.items() if e.go])
def test_go_files_of_one_package_are_related(
    courses: dict[str, Result], name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = course(courses, name, tmp_path_factory)
    assert result.ctx.abstractions is not None
    assert result.ctx.relationships is not None
    directory = {
        a.id: {str(Path(f).parent) for f in a.files} for a in result.ctx.abstractions.abstractions
    }
    inside = [
        r
        for r in result.ctx.relationships.relationships
        if directory[r.source] & directory[r.target]
    ]
    assert len(inside) >= 2
    kinds = {r.label.split(":", 1)[0] for r in inside}
    assert kinds & {"calls", "uses", "inherits", "implements"}, kinds


_HELPER = re.compile(r"^(check|assert|expect|verify|must|helper)", re.IGNORECASE)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_tutorials_are_unique_and_none_is_built_on_a_test_helper(
    courses: dict[str, Result], name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = course(courses, name, tmp_path_factory)
    titles = [t.split("\n", 1)[0].split(": ", 1)[1] for t in result.tutorials]
    assert titles
    assert len(set(titles)) == len(titles), titles
    for title in titles:
        assert title.startswith(("Use ", "Trace a call from ", "Implement ", "Predict what "))
        predicted = re.match(r"Predict what (\S+) checks$", title)
        if predicted:
            scope = predicted.group(1).rsplit(".", 1)[-1]
            assert scope.lower().startswith("test"), title
            assert not _HELPER.match(scope), title


@pytest.mark.parametrize("name", list(EXPECTED))
def test_citations_resolve_and_diagrams_parse(
    courses: dict[str, Result], name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = course(courses, name, tmp_path_factory)
    for citation in citations(result):
        path = result.repo / citation.path
        assert path.is_file(), citation
        assert not path.is_symlink(), citation
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert 1 <= citation.start_line <= citation.end_line <= lines, citation
    assert result.ctx.review is not None
    for chapter in result.ctx.review.chapters:
        for block in blocks(chapter.content):
            if block.info == "mermaid":
                assert validate("\n".join(block.lines[1:-1])) == [], chapter.slug
    assert [f for f in result.ctx.review.findings if not f.fixed] == []
