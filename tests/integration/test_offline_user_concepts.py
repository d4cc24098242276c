"""The offline course on libraries its other tests never used, judged as their users would.

Eight libraries in three languages, none of them read by the engine's other quality
tests: Go from Debian's golang-*-dev packages (pflag, a family of typed flag values with
one file per type; cobra, with one completion script per shell), JavaScript and
TypeScript from Debian's node-* packages (axios, whose entry point is the default export
of its main module; got, a TypeScript library shipped compiled, also a default export),
and Python from the venv, pinned by requirements-dev.lock (pluggy, with a warning
class; amqp, with a deprecation warning, a ``utils`` module and constant tables;
pathspec, with ``util`` and ``_typing`` side modules; markdown-it-py, with one module
per parsing rule). ``.ci/run`` installs the Debian packages when they are missing.

For each, written down from its README, its documentation or its package comment before
the engine was taught anything about it: where a user starts (the entry point), the
concepts a user names, the plumbing a user never asks about (utilities, typing helpers,
constants, type guards, warning classes) and the families of files that repeat one
pattern. What is checked: chapter 1 holds the entry point, the chapters cover at least
0.8 of the named concepts (a chapter covers a concept when its title names it or its
listed symbols include one of the concept's names), no chapter is plumbing alone, and a
family is one chapter.
"""

from __future__ import annotations

import gzip
import importlib.machinery
import importlib.metadata
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from analysis.course.artifacts import Abstraction
from analysis.engine import StepContext
from analysis.offline import OfflineEngine

pytestmark = pytest.mark.integration

GOCODE = Path("/usr/share/gocode/src/github.com")
NODEJS = Path("/usr/share/nodejs")
DOCS = Path("/usr/share/doc")
MIN_COVERAGE = 0.8


@dataclass(frozen=True)
class Concept:
    """A concept as a user names it: words a chapter title may use, or the public names
    (types, functions) a chapter about it lists."""

    words: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True)
class Library:
    language: str
    entry: tuple[str, ...]  # files, one of which chapter 1 must hold
    entry_name: str  # what the user meets first, for the messages
    concepts: dict[str, Concept]
    plumbing: tuple[str, ...] = ()  # files no chapter may consist of alone
    families: tuple[tuple[str, ...], ...] = ()  # files that belong in one chapter
    warning_classes: tuple[str, ...] = ()  # no chapter may be named after them
    source: dict[str, str] = field(default_factory=dict)


LIBRARIES: dict[str, Library] = {
    # The package comment of flag.go (pkg.go.dev's page; Debian ships no README) and
    # example_test.go: define flags with String(), Bool(), Int()..., their Var and P
    # (shorthand) forms, custom flags through the Value interface, flag.Parse(); a FlagSet
    # (NewFlagSet) for subcommands. The upstream README adds "Supporting Go flags when
    # using pflag" (AddGoFlagSet).
    "pflag": Library(
        language="go",
        entry=("flag.go",),
        entry_name="NewFlagSet / FlagSet, and the package-level String(), Int(), Parse()",
        concepts={
            "flag set": Concept(("flagset", "flag set"), ("FlagSet", "NewFlagSet")),
            "flag": Concept((), ("Flag",)),
            "typed flags": Concept(("typed", "flag types"), ("Int", "String", "Bool", "IntVar")),
            "value interface": Concept((), ("Value",)),
            "parsing": Concept(("parse",), ("Parse", "Parsed", "Args")),
            "go flag compatibility": Concept(("goflag", "golang"), ("AddGoFlagSet", "AddGoFlag")),
        },
        families=(
            tuple(
                f"{t}.go"
                for t in (
                    "bool",
                    "bool_slice",
                    "bytes",
                    "count",
                    "duration",
                    "duration_slice",
                    "float32",
                    "float64",
                    "int",
                    "int16",
                    "int32",
                    "int64",
                    "int8",
                    "ip",
                    "ipmask",
                    "ipnet",
                    "string",
                    "string_array",
                    "string_slice",
                    "string_to_int",
                    "uint",
                    "uint16",
                    "uint32",
                    "uint64",
                    "uint8",
                    "uint_slice",
                )
            ),
        ),
        source={"go": "spf13/pflag"},
    ),
    # cobra's user guide (upstream; Debian ships neither it nor a README, so the engine
    # sees only the code and its examples): create a rootCmd (&cobra.Command{Use, Short,
    # Run}) and call Execute(); positional arguments (Args: cobra.ExactArgs(1)); PreRun
    # and PostRun hooks and cobra.OnInitialize; shell completion for bash, zsh, fish and
    # PowerShell; Active Help; generating documentation (man pages, Markdown, reST, YAML).
    "cobra": Library(
        language="go",
        entry=("command.go",),
        entry_name="Command (&cobra.Command{...}, then Execute)",
        concepts={
            "command": Concept(("command",), ("Command",)),
            "positional arguments": Concept(
                ("args", "arguments"), ("PositionalArgs", "ExactArgs", "NoArgs")
            ),
            "shell completions": Concept(("completion",), ("ShellCompDirective",)),
            "documentation generation": Concept(
                ("doc",), ("GenMarkdownTree", "GenManTree", "GenYamlTree", "GenReSTTree")
            ),
            "active help": Concept(("active help", "activehelp"), ("AppendActiveHelp",)),
            "initialization hooks": Concept((), ("OnInitialize", "OnFinalize")),
        },
        families=(
            (
                "bash_completions.go",
                "bash_completionsV2.go",
                "fish_completions.go",
                "powershell_completions.go",
                "zsh_completions.go",
            ),
        ),
        source={"go": "spf13/cobra"},
    ),
    # README: axios(config) and axios.get(url); "Creating an instance" (axios.create);
    # "Request Config", "Config Defaults", "Interceptors", "Handling Errors" (AxiosError),
    # "Cancellation" (AbortController, CancelToken), AxiosHeaders, multipart/form-data
    # (toFormData); requests go out through an adapter (xhr in browsers, http in Node).
    "axios": Library(
        language="javascript",
        entry=("lib/axios.js",),
        entry_name="the default export `axios` of lib/axios.js (index.js re-exports it)",
        concepts={
            "axios instance": Concept(("axios",), ("axios", "createInstance")),
            "request (the Axios class)": Concept((), ("Axios",)),
            "interceptors": Concept(("interceptor",), ("InterceptorManager",)),
            "config defaults": Concept(("defaults",), ("defaults", "mergeConfig")),
            "errors": Concept(("error",), ("AxiosError",)),
            "cancellation": Concept(("cancel",), ("CancelToken", "CanceledError")),
            "headers": Concept(("header",), ("AxiosHeaders",)),
            "adapters": Concept(("adapter",), ("httpAdapter", "xhrAdapter")),
            "form data": Concept(("formdata", "form data"), ("toFormData", "formDataToJSON")),
        },
        plumbing=(
            "lib/utils.js",
            "lib/helpers/isAxiosError.js",
            "lib/cancel/isCancel.js",
            "lib/env/data.js",
            "lib/defaults/transitional.js",
            "lib/helpers/deprecatedMethod.js",
            "lib/helpers/null.js",
            "lib/helpers/bind.js",
            "lib/helpers/spread.js",
        ),
        families=(("lib/adapters/http.js", "lib/adapters/xhr.js"),),
        source={"node": "axios", "readme": "node-axios/README.md.gz"},
    ),
    # README: `const got = require('got')`, got(url) and got.post(url, {json}); "Streams"
    # (got.stream); the options (retry, timeout, hooks); "Errors" (RequestError,
    # HTTPError, TimeoutError...); "Instances" (got.extend, create); "Response" (body,
    # parsed by responseType). Written in TypeScript; Debian ships it compiled (dist/, with its
    # declaration files), read here at the paths of its sources (source/).
    "got": Library(
        language="typescript (compiled)",
        entry=("source/index.js", "source/create.js"),
        entry_name="the default export `got` of dist/index.js, made by create()",
        concepts={
            "got instance": Concept(("got", "create"), ("create",)),
            "request stream": Concept(("request", "stream"), ("Request",)),
            "promise api": Concept(("promise",), ("asPromise", "PromisableRequest")),
            "errors": Concept(("error",), ("RequestError", "HTTPError", "TimeoutError")),
            "retry": Concept(("retry",), ("calculateRetryDelay",)),
            "responses": Concept(("response", "body"), ("parseBody", "ParseError")),
        },
        plumbing=(
            "source/types.js",
            "source/utils/deep-freeze.js",
            "source/utils/deprecation-warning.js",
            "source/core/utils/dns-ip-version.js",
            "source/core/utils/get-body-size.js",
            "source/core/utils/get-buffer.js",
            "source/core/utils/is-form-data.js",
            "source/core/utils/is-response-ok.js",
            "source/core/utils/options-to-url.js",
            "source/core/utils/proxy-events.js",
            "source/core/utils/timed-out.js",
            "source/core/utils/unhandle.js",
            "source/core/utils/url-to-options.js",
            "source/core/utils/weakable-map.js",
            "source/as-promise/types.js",
        ),
        source={"node": "got", "readme": "node-got/readme.md.gz", "built": "dist"},
    ),
    # README ("A definitive example"): pluggy.HookspecMarker, pluggy.HookimplMarker, then
    # pm = pluggy.PluginManager("myproject"), pm.add_hookspecs, pm.register, pm.hook.myhook.
    # The docs add hook wrappers and their Result, and tracing calls.
    "pluggy": Library(
        language="python",
        entry=("pluggy/_manager.py", "pluggy/_decorators.py"),
        entry_name="PluginManager, after the HookspecMarker and HookimplMarker markers",
        concepts={
            "plugin manager": Concept(("plugin manager",), ("PluginManager",)),
            "hook specification marker": Concept(("hookspec",), ("HookspecMarker",)),
            "hook implementation marker": Concept(("hookimpl",), ("HookimplMarker",)),
            "calling hooks": Concept(("hookcaller", "hook caller"), ("HookCaller", "HookRelay")),
            "results of wrappers": Concept(("result",), ("Result",)),
            "tracing": Concept(("trac",), ("TagTracer",)),
        },
        plumbing=("pluggy/_warnings.py", "pluggy/_compat.py", "pluggy/_config.py"),
        warning_classes=("PluggyWarning", "PluggyTeardownRaisedWarning"),
        source={"python": "pluggy"},
    ),
    # README ("Quick overview"): with amqp.Connection(host) as c: ch = c.channel();
    # ch.basic_publish(amqp.Message(...)); basic_consume, drain_events. "Differences
    # from amqplib": Connection.drain_events and heartbeats, Channel.confirm_select,
    # exceptions renamed (ChannelError, ConnectionError, AccessRefused).
    "amqp": Library(
        language="python",
        entry=("amqp/connection.py",),
        entry_name="amqp.Connection(host)",
        concepts={
            "connection": Concept(("connection",), ("Connection",)),
            "channel": Concept(("channel",), ("Channel",)),
            "message": Concept(("message",), ("Message",)),
            "errors": Concept(
                ("exception", "error"), ("ChannelError", "ConnectionError", "AccessRefused")
            ),
        },
        plumbing=("amqp/utils.py", "amqp/platform.py", "amqp/spec.py"),
        warning_classes=("AMQPDeprecationWarning", "VDeprecationWarning"),
        source={"python": "amqp"},
    ),
    # README ("Tutorial"): PathSpec.from_lines('gitignore', lines), spec.match_file,
    # match_files, match_tree_files; GitIgnoreBasicPattern compiled by hand; GitIgnoreSpec
    # replicates Git's behaviour; "Performance": optional backends (hyperscan, re2).
    "pathspec": Library(
        language="python",
        entry=("pathspec/pathspec.py",),
        entry_name="PathSpec.from_lines",
        concepts={
            "path spec": Concept(("pathspec",), ("PathSpec",)),
            "gitignore spec": Concept(("gitignorespec",), ("GitIgnoreSpec",)),
            "patterns": Concept(("pattern",), ("Pattern", "RegexPattern")),
            "gitignore patterns": Concept(
                ("gitignore",), ("GitIgnoreBasicPattern", "GitIgnoreSpecPattern")
            ),
            "backends": Concept(("backend",), ()),
        },
        plumbing=("pathspec/util.py", "pathspec/_typing.py", "pathspec/_meta.py"),
        source={"python": "pathspec", "distribution": "pathspec"},
    ),
    # README ("Python API Usage"): MarkdownIt("commonmark", {...}).use(plugin)
    # .enable("table"); md.parse(text) gives tokens, md.render(text) HTML; "configurable
    # syntax: you can add new rules" (a Ruler's, in the block, inline and core parsers).
    # The upstream documentation (not shipped) adds the syntax tree (SyntaxTreeNode).
    "markdown-it": Library(
        language="python",
        entry=("markdown_it/main.py",),
        entry_name="MarkdownIt(...)",
        concepts={
            "markdown-it parser": Concept(("markdownit",), ("MarkdownIt",)),
            "tokens": Concept(("token",), ("Token",)),
            "rules and ruler": Concept(("rule",), ("Ruler",)),
            "renderer": Concept(("render",), ("RendererHTML",)),
            "syntax tree": Concept(("tree",), ("SyntaxTreeNode",)),
            "block parser": Concept(("block",), ("ParserBlock", "StateBlock")),
            "inline parser": Concept(("inline",), ("ParserInline", "StateInline")),
        },
        plumbing=(
            "markdown_it/utils.py",
            "markdown_it/common/utils.py",
            "markdown_it/_compat.py",
            "markdown_it/_punycode.py",
        ),
        source={"python": "markdown_it", "distribution": "markdown-it-py"},
    ),
}


def _commit(repo: Path) -> Path:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "import"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


def make_repo(root: Path, name: str) -> Path:
    source = LIBRARIES[name].source
    repo = root / name
    if "python" in source:
        spec = importlib.machinery.PathFinder.find_spec(source["python"])
        assert spec is not None
        assert spec.submodule_search_locations
        package = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(package, repo / package.name, ignore=shutil.ignore_patterns("__pycache__"))
        # The README is the package's long description, as PyPI shows it, in the format
        # the project writes it in.
        meta = importlib.metadata.metadata(source.get("distribution", source["python"])).json
        kind = str(meta.get("description_content_type", ""))
        name_of_readme = "README.rst" if "rst" in kind else "README.md"
        (repo / name_of_readme).write_text(str(meta.get("description", "")), "utf-8")
    elif "go" in source:
        package = GOCODE / source["go"]
        if not (package / "go.mod").is_file():
            pytest.skip(f"{package} is missing: apt-get install golang-{source['go']}-dev")
        shutil.copytree(package, repo)
    else:
        package = NODEJS / source["node"]
        if not (package / "package.json").is_file():
            pytest.skip(f"{package} is missing: apt-get install node-{source['node']}")
        # Symbolic links into other packages (Debian's) are not the library's code.
        shutil.copytree(package, repo, symlinks=True, ignore=shutil.ignore_patterns("node_modules"))
        for link in [p for p in repo.rglob("*") if p.is_symlink()]:
            link.unlink()
        if source.get("built") == "dist":
            # Built TypeScript: the compiled modules sit where the repository keeps their
            # sources (got's source/), since the engine reads no build output.
            (repo / "dist").rename(repo / "source")
        readme = DOCS / source["readme"]
        if readme.is_file():
            (repo / "README.md").write_bytes(gzip.decompress(readme.read_bytes()))
    return _commit(repo)


@pytest.fixture(scope="module")
def courses() -> dict[str, list[Abstraction]]:
    return {}


def chapters(
    courses: dict[str, list[Abstraction]], name: str, tmp: pytest.TempPathFactory
) -> list[Abstraction]:
    """The abstractions in the order of the course's chapters."""
    if name not in courses:
        repo = make_repo(tmp.mktemp("repos"), name)
        engine = OfflineEngine()
        ctx = StepContext(job_id=name, checkout=repo, prompt="", work_dir=tmp.mktemp("work"))
        ctx.abstractions = engine.extract_abstractions(ctx)
        ctx.relationships = engine.analyze_relationships(ctx)
        order = engine.determine_order(ctx).order
        by_id = {a.id: a for a in ctx.abstractions.abstractions}
        courses[name] = [by_id[i] for i in order]
    return courses[name]


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def covers(abstraction: Abstraction, concept: Concept) -> bool:
    title = _plain(abstraction.name)
    named = any(_plain(w) in title for w in concept.words)
    listed = set(abstraction.symbols) | {s.rsplit(".", 1)[-1] for s in abstraction.symbols}
    return named or bool(listed & set(concept.symbols))


def _table(course: list[Abstraction]) -> list[tuple[str, list[str]]]:
    return [(a.name, a.files[:4]) for a in course]


@pytest.mark.parametrize("name", list(LIBRARIES))
def test_chapter_one_holds_the_entry_point_a_user_meets_first(
    courses: dict[str, list[Abstraction]], name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    course = chapters(courses, name, tmp_path_factory)
    library = LIBRARIES[name]
    assert set(course[0].files) & set(library.entry), (library.entry_name, _table(course))


@pytest.mark.parametrize("name", list(LIBRARIES))
def test_chapters_cover_most_concepts_a_user_names(
    courses: dict[str, list[Abstraction]], name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    course = chapters(courses, name, tmp_path_factory)
    concepts = LIBRARIES[name].concepts
    covered = [c for c, concept in concepts.items() if any(covers(a, concept) for a in course)]
    missing = sorted(set(concepts) - set(covered))
    assert len(covered) >= MIN_COVERAGE * len(concepts), (missing, _table(course))


@pytest.mark.parametrize("name", list(LIBRARIES))
def test_no_chapter_is_plumbing(
    courses: dict[str, list[Abstraction]], name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    course = chapters(courses, name, tmp_path_factory)
    library = LIBRARIES[name]
    for abstraction in course:
        assert not set(abstraction.files) <= set(library.plumbing), abstraction.name
        assert abstraction.name not in library.warning_classes, abstraction.name
        assert not abstraction.name.endswith("Warning"), abstraction.name


@pytest.mark.parametrize("name", [n for n, lib in LIBRARIES.items() if lib.families])
def test_a_family_of_variants_is_one_chapter(
    courses: dict[str, list[Abstraction]], name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    course = chapters(courses, name, tmp_path_factory)
    for family in LIBRARIES[name].families:
        holding = [a for a in course if set(a.files) & set(family)]
        assert len(holding) == 1, [(a.name, sorted(set(a.files) & set(family))) for a in holding]
        assert set(family) <= set(holding[0].files), holding[0].name


def test_the_demo_course_starts_with_the_fondation_command(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``make demo`` analyses a copy of this project (scripts/make_demo_repo.py); a user
    of this project starts at the ``fondation`` command that pyproject.toml declares."""
    root = Path(__file__).resolve().parents[2]
    repo = tmp_path_factory.mktemp("demo") / "demo-repo"
    subprocess.run(
        [sys.executable, str(root / "scripts" / "make_demo_repo.py"), str(repo)],
        check=True,
        capture_output=True,
    )
    engine = OfflineEngine()
    ctx = StepContext(
        job_id="demo", checkout=repo, prompt="", work_dir=tmp_path_factory.mktemp("work")
    )
    ctx.abstractions = engine.extract_abstractions(ctx)
    ctx.relationships = engine.analyze_relationships(ctx)
    first = ctx.abstractions.abstractions[0]
    assert engine.determine_order(ctx).order[0] == first.id
    assert "cli/main.py" in first.files, first.name
    assert "fondation" in first.name, first.name
    assert "`fondation` command" in ctx.abstractions.summary
