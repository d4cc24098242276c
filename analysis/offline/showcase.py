"""What a user of the project sees first: the README's code, its headings, the titles of
the documentation's pages, and the project's examples.

A snippet is a piece of code meant to be copied: a fenced (or reStructuredText literal)
block of the README, a Go ``Example`` function, or an example script. The names each
snippet uses tell which parts of the code users touch, the first snippet tells where a
course should start, and each snippet is the "how you meet it" of a chapter. Headings
and page titles are the topics users name ("Interceptors", "Handling Errors").
"""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from analysis.offline.files import README_NAMES, decode, read_bytes
from analysis.offline.languages import is_example_path
from analysis.offline.model import FileFacts
from analysis.offline.parsing.common import split_lines
from fondation.errors import PermanentError

README_WEIGHT = 3.0  # a README name is what every user reads first
EXAMPLE_WEIGHT = 2.0
MAX_SNIPPET_LINES = 25
MAX_EXAMPLE_FILES = 40
MAX_DOC_PAGES = 200
DOC_HEAD_BYTES = 4096  # a page's title is in its first lines
_DOC_DIRS = ("docs", "doc", "documentation")
_DOC_SUFFIXES = (".md", ".rst", ".markdown")
_BOLD = re.compile(r"\*\*([^*`\n]+?)\*\*")
MAX_TERM_WORDS = 3
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
_RST_BLOCK = re.compile(r"(::\s*$)|(^\s*\.\.\s+code(-block)?::)")
_QUALIFIED = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")
# Fenced blocks in these languages (or with no language) hold code a user writes.
_CODE = frozenset(
    {
        "",
        *("python", "py", "pycon", "python3", "ipython"),
        *("js", "javascript", "jsx", "mjs", "cjs", "ts", "typescript", "tsx", "node"),
        *("go", "golang", "java", "kotlin", "kt", "rust", "rs", "c", "cpp", "c++", "h"),
    }
)
_PROMPT = re.compile(r"^\s*(>>>|\.\.\.)\s?")
# String literals, comments and keyword arguments name no part of the project.
_NOISE = re.compile(
    r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|`[^`]*`|#[^\n]*|//[^\n]*|\b\w+=(?!=)"
)


@dataclass(frozen=True)
class Snippet:
    path: str
    start: int  # 1-based, inclusive
    end: int
    text: str
    context: str  # the sentence that introduces it, or the example's own comment
    names: tuple[str, ...]  # identifiers, in order of first use
    origin: str  # "readme" or "example"
    name: str = ""  # a Go example function's name
    run: str = ""  # the shell session the README shows right after it

    @property
    def title(self) -> str:
        """How the snippet is named in prose."""
        if self.origin == "readme":
            return f"the README's example at line {self.start}"
        if self.name:
            return f"the example `{self.name}` in `{self.path}`"
        return f"the example in `{self.path}`"


@dataclass
class Showcase:
    snippets: list[Snippet] = field(default_factory=list)
    mentions: dict[str, float] = field(default_factory=dict)  # weighted uses of each name
    # Methods the code calls on its own objects (``md.render``): weighted uses of each.
    methods: dict[str, float] = field(default_factory=dict)
    # Commands the build files declare: ("fondation", "cli.main", "main") from
    # pyproject's [project.scripts], ("tool", "bin/cli.js", "") from package.json's "bin".
    commands: list[tuple[str, str, str]] = field(default_factory=list)
    # The README's headings and the documentation's page titles, in reading order.
    headings: list[str] = field(default_factory=list)
    # The terms the README's prose defines in bold ("A **bridge** polls the job store").
    terms: list[str] = field(default_factory=list)
    # The README's shell blocks that run a declared command, with the command's name.
    sessions: list[tuple[str, Snippet]] = field(default_factory=list)

    def first_use(self, names: set[str]) -> tuple[Snippet, str] | None:
        """The first snippet using one of ``names``, and the first such name in it."""
        for snippet in self.snippets:
            for name in snippet.names:
                if name in names:
                    return snippet, name
        return None

    def using(self, names: set[str]) -> list[Snippet]:
        return [s for s in self.snippets if names.intersection(s.names)]


def readme_path(manifests: dict[str, str]) -> str | None:
    found = [p for p in manifests if posixpath.basename(p) in README_NAMES]
    return min(found, key=lambda p: (p.count("/"), p)) if found else None


def build_showcase(root: Path, manifests: dict[str, str], facts: dict[str, FileFacts]) -> Showcase:
    show = Showcase()
    readme = readme_path(manifests)
    if readme is not None and "." in posixpath.basename(readme):
        show.snippets += readme_snippets(readme, manifests[readme])
    show.snippets += example_snippets(root, facts)
    show.commands = declared_commands(manifests)
    if readme is not None:
        show.headings += headings(manifests[readme])
        show.terms += bold_terms(manifests[readme])
        names = {command for command, _, _ in show.commands}
        show.sessions = command_sessions(readme, manifests[readme], names)
    show.headings += doc_titles(root)
    packages = package_names(facts) | {posixpath.basename(str(root))}
    for snippet in show.snippets:
        weight = README_WEIGHT if snippet.origin == "readme" else EXAMPLE_WEIGHT
        for name in method_calls(snippet.names, packages):
            show.methods[name] = show.methods.get(name, 0.0) + weight
    show.snippets = [replace(s, names=own_names(s.names, packages)) for s in show.snippets]
    for snippet in show.snippets:
        weight = README_WEIGHT if snippet.origin == "readme" else EXAMPLE_WEIGHT
        for name in snippet.names:
            show.mentions[name] = show.mentions.get(name, 0.0) + weight
    return show


def declared_commands(manifests: dict[str, str]) -> list[tuple[str, str, str]]:
    """The command-line entry points of the shallowest pyproject.toml and package.json:
    (command, module or script, function)."""
    out: list[tuple[str, str, str]] = []
    for path in sorted(manifests, key=lambda p: (p.count("/"), p)):
        name = posixpath.basename(path)
        base = posixpath.dirname(path)
        try:
            if name == "pyproject.toml":
                scripts = tomllib.loads(manifests[path]).get("project", {}).get("scripts", {})
                for command, target in scripts.items() if isinstance(scripts, dict) else []:
                    module, _, function = str(target).partition(":")
                    out.append((str(command), module.strip(), function.strip()))
            elif name == "package.json":
                data = json.loads(manifests[path])
                found = data.get("bin", {})
                pairs = (
                    [(str(data.get("name", "")).rsplit("/", 1)[-1], found)]
                    if isinstance(found, str)
                    else list(dict(found).items())
                )
                out += [
                    (str(command), posixpath.normpath(posixpath.join(base, str(t))), "")
                    for command, t in pairs
                ]
        except (ValueError, TypeError, AttributeError):
            continue
    return out


def headings(text: str) -> list[str]:
    """Markdown ``#`` headings and reStructuredText underlined titles, in order."""
    lines = split_lines(text)
    out: list[str] = []
    fenced = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        found = _MD_HEADING.match(line)
        if found:
            out.append(found.group(1).strip())
        elif (
            i > 0
            and _RST_UNDERLINE.match(line)
            and lines[i - 1].strip()
            and not _RST_UNDERLINE.match(lines[i - 1])
            and len(line.strip()) >= len(lines[i - 1].strip()) - 2
        ):
            out.append(lines[i - 1].strip())
    return out


def command_sessions(path: str, text: str, commands: set[str]) -> list[tuple[str, Snippet]]:
    """Fenced blocks whose lines run one of ``commands`` (``fondation analyze ...``)."""
    if not commands:
        return []
    lines = split_lines(text)
    out: list[tuple[str, Snippet]] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        close = next(
            (j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence[1])),
            len(lines),
        )
        body = lines[i + 1 : close]
        words = [line.strip().removeprefix("$ ").split(" ", 1)[0] for line in body]
        ran = next((w for w in words if w in commands), None)
        if ran is not None and body:
            end = min(close, i + 1 + MAX_SNIPPET_LINES)
            snippet = Snippet(
                path=path,
                start=i + 2,
                end=end,
                text="\n".join(lines[i + 1 : end]),
                context=_context(lines, i + 1),
                names=(ran,),
                origin="readme",
            )
            out.append((ran, snippet))
        i = close + 1
    return out or _inline_sessions(path, lines, commands)


def _inline_sessions(path: str, lines: list[str], commands: set[str]) -> list[tuple[str, Snippet]]:
    """The command as the README's prose shows it: ``fondation analyze PATH --out DIR``."""
    fenced = False
    for number, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        for span in re.findall(r"`([^`]+)`", line):
            ran = span.strip().split(" ", 1)[0]
            if ran in commands and " " in span.strip():
                # A wrapped line of prose is no sentence to quote: no context.
                snippet = Snippet(path, number, number, span.strip(), "", (ran,), "readme")
                return [(ran, snippet)]
    return []


def bold_terms(text: str) -> list[str]:
    """Short bold spans of the prose (``**bridge**``), outside code blocks."""
    out: list[str] = []
    fenced = False
    for line in split_lines(text):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        for match in _BOLD.finditer(line):
            term = match.group(1).strip().rstrip(".:")
            if term and len(term.split()) <= MAX_TERM_WORDS and term not in out:
                out.append(term)
    return out


def doc_titles(root: Path) -> list[str]:
    """The first heading of each page of the documentation folder, in path order."""
    pages: list[Path] = []
    for name in _DOC_DIRS:
        folder = root / name
        if folder.is_dir() and not folder.is_symlink():
            pages += sorted(
                p
                for p in folder.rglob("*")
                if p.suffix.lower() in _DOC_SUFFIXES and p.is_file() and not p.is_symlink()
            )
    out: list[str] = []
    for page in pages[:MAX_DOC_PAGES]:
        try:
            with page.open("rb") as handle:
                head = handle.read(DOC_HEAD_BYTES)
        except OSError:
            continue
        found = headings(decode(head))
        if found:
            out.append(found[0])
    return out


def readme_snippets(path: str, text: str) -> list[Snippet]:
    lines = split_lines(text)
    out: list[Snippet] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence:
            close = next(
                (j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence[1])),
                len(lines),
            )
            if fence[2].lower() in _CODE:
                found = _snippet(path, lines, i + 1, close, "readme")
                run = _session_after(lines, close + 1)
                out += [replace(s, run=run) for s in found]
            i = close + 1
            continue
        if path.endswith(".rst") and _RST_BLOCK.search(lines[i]):
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or lines[j][:1] in " \t"):
                j += 1
            out += _snippet(path, lines, i + 1, j, "readme")
            i = j
            continue
        i += 1
    return out


def _snippet(path: str, lines: list[str], start: int, end: int, origin: str) -> list[Snippet]:
    """Lines ``[start, end)`` (0-based) as a snippet, unless it is a shell session."""
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    body = lines[start:end]
    if not body or _is_session(body):
        return []
    end = min(end, start + MAX_SNIPPET_LINES)
    code = "\n".join(_PROMPT.sub("", line) for line in lines[start:end])
    return [
        Snippet(
            path=path,
            start=start + 1,
            end=end,
            text="\n".join(lines[start:end]),
            context=_context(lines, start),
            names=_names(code),
            origin=origin,
        )
    ]


def _is_session(body: list[str]) -> bool:
    """A shell session (``$ python hello.py``) or install commands: no code to learn."""
    first = body[0].lstrip()
    commands = ("$", "#", "pip ", "go get", "npm ", "yarn ")
    return first.startswith("$ ") or all(line.lstrip().startswith(commands) for line in body)


def _session_after(lines: list[str], start: int) -> str:
    """The shell session fenced right after a block (how the README shows it running)."""
    j = start
    while j < len(lines) and j < start + 3 and not lines[j].strip():
        j += 1
    fence = _FENCE.match(lines[j]) if j < len(lines) else None
    if fence is None:
        return ""
    close = next(
        (k for k in range(j + 1, len(lines)) if lines[k].strip().startswith(fence[1])), len(lines)
    )
    body = [line for line in lines[j + 1 : close] if line.strip()]
    return "\n".join(body[:MAX_SNIPPET_LINES]) if body and body[0].lstrip().startswith("$ ") else ""


def _context(lines: list[str], start: int) -> str:
    """The prose just above a block: the nearest non-empty line that is not markup."""
    for j in range(start - 1, max(-1, start - 8), -1):
        text = lines[j].strip().strip("#").strip()
        if text and not text.startswith(("```", "~~~", "..", "<", "[", "|", "!")):
            return text.rstrip(":")
    return ""


def _names(code: str) -> tuple[str, ...]:
    """Identifiers in order; a qualified one keeps its qualifier (``os.Args``) so that
    only the project's own packages' names count as the project's."""
    seen: dict[str, None] = {}
    for match in _QUALIFIED.finditer(_NOISE.sub(" ", code)):
        name = match.group(0)
        seen.setdefault(
            name.rsplit(".", 2)[-2] + "." + name.rsplit(".", 1)[-1] if "." in name else name, None
        )
    return tuple(seen)


def own_names(names: tuple[str, ...], packages: set[str]) -> tuple[str, ...]:
    """``click.command`` -> ``command``; ``os.Args`` and ``r.status_code`` are dropped."""
    out: dict[str, None] = {}
    for name in names:
        qualifier, _, last = name.rpartition(".")
        if not qualifier:
            out.setdefault(name, None)
        elif qualifier in packages:
            out.setdefault(last, None)
    return tuple(out)


def method_calls(names: tuple[str, ...], packages: set[str]) -> list[str]:
    """``md.render`` -> ``render``: a method called on an object the snippet made."""
    out: dict[str, None] = {}
    for name in names:
        qualifier, _, last = name.rpartition(".")
        if qualifier and qualifier not in packages and not last[:1].isupper():
            out.setdefault(last, None)
    return list(out)


def package_names(facts: dict[str, FileFacts]) -> set[str]:
    """What the project's packages are called where a user imports them."""
    names = {f.package for f in facts.values() if f.package}
    for path in facts:
        parts = PurePosixPath(path).parts
        names |= {p for p in parts[:-1]}
        names.add(PurePosixPath(path).stem)
    return names


def example_snippets(root: Path, facts: dict[str, FileFacts]) -> list[Snippet]:
    """Go ``Example`` functions and example scripts, in path order."""
    out: list[Snippet] = []
    paths = [p for p in facts if is_example_path(p) or _has_go_examples(p, facts[p])]
    for path in sorted(paths, key=lambda p: (p.count("/"), p))[:MAX_EXAMPLE_FILES]:
        try:
            lines = split_lines(decode(read_bytes(root, path)))
        except (OSError, PermanentError):
            continue
        examples = [s for s in facts[path].top_level() if s.name.startswith("Example")]
        if path.endswith(".go"):
            for symbol in examples:
                found = _snippet(path, lines, symbol.start - 1, symbol.end, "example")
                out += [replace(_with_context(s, symbol.doc), name=symbol.name) for s in found]
        else:
            out += [
                _with_context(s, facts[path].doc)
                for s in _snippet(path, lines, _body_start(lines), len(lines), "example")
            ]
    return out


def _has_go_examples(path: str, facts: FileFacts) -> bool:
    return path.endswith("_test.go") and any(
        s.name.startswith("Example") for s in facts.top_level()
    )


def _body_start(lines: list[str]) -> int:
    """Skip a shebang and a licence header: start at the first line of code."""
    for i, line in enumerate(lines):
        text = line.strip()
        if text and not text.startswith(("#!", "//", "#", "/*", "*", "'use strict'", '"use')):
            return i
    return 0


def _with_context(snippet: Snippet, context: str) -> Snippet:
    first = context.strip().split("\n", 1)[0] if context else ""
    return replace(snippet, context=first)
