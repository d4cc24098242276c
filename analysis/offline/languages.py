"""Which language a path holds, and which paths are tests or generated code.

Decided from the name alone (plus a shebang for extension-less scripts), so that
discovery never has to parse a file to know whether to keep it.
"""

from __future__ import annotations

import functools
import re
from pathlib import PurePosixPath

EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
    ".rs": "rust",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
}

# The fence tag a Markdown renderer highlights for each language.
FENCE: dict[str, str] = {
    "python": "python",
    "javascript": "javascript",
    "typescript": "typescript",
    "tsx": "tsx",
    "go": "go",
    "java": "java",
    "rust": "rust",
    "c": "c",
    "cpp": "cpp",
}

_SHEBANGS = (("python", "python"), ("node", "javascript"))

_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs"})
_TEST_NAME = re.compile(
    r"(^test_.*\.py$)|(_test\.py$)|(^conftest\.py$)|(_test\.go$)"
    r"|(\.(test|spec)\.[cm]?[jt]sx?$)|(Tests?\.java$)|(^test_.*\.(c|cc|cpp)$)"
)
_GENERATED_NAME = re.compile(
    r"(\.min\.js$)|(_pb2(_grpc)?\.pyi?$)|(\.pb\.(go|cc|h)$)|(\.generated\.\w+$)"
    r"|(_generated\.\w+$)|(\.g\.dart$)"
)


def language_of(path: str) -> str | None:
    """The language for a path by extension, or None when it is not source we parse."""
    return EXTENSIONS.get(PurePosixPath(path).suffix.lower())


def language_of_shebang(first_line: bytes) -> str | None:
    if not first_line.startswith(b"#!"):
        return None
    for needle, language in _SHEBANGS:
        if needle.encode() in first_line:
            return language
    return None


def is_test_path(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return bool(_TEST_DIRS.intersection(parts[:-1])) or bool(_TEST_NAME.search(parts[-1]))


# Sources a course learns from but never teaches as a chapter: how the project is used
# (examples), measured (benchmarks), typed for other tools (typings) or tested.
_EXAMPLE_DIRS = frozenset(
    {"example", "examples", "_examples", "demo", "demos", "sample", "samples"}
)
_SUPPORT_DIRS = _EXAMPLE_DIRS | frozenset(
    {
        "bench",
        "benches",
        "benchmark",
        "benchmarks",
        "testdata",
        "fixtures",
        "testutil",
        "testutils",
        "testhelpers",
        "mocks",
        "docs",
        "doc",
        "typings",
        "@types",
        "_codegen",
    }
)
_SUPPORT_NAME = re.compile(
    r"(\.d\.[cm]?ts$)|(\.test-d\.[cm]?tsx?$)|(^(example|examples)[_.-])|(^bench(mark)?s?[_.-])"
    r"|(_bench\.\w+$)|(^test[_-]?(util|utils|helpers?)\.\w+$)|(^mock_.*\.go$)"
    # The configuration of a build or test tool: karma.conf.cjs, vite.config.ts.
    r"|(^[\w-]+\.conf(ig)?\.[cm]?[jt]s$)|(^([Gg]ulpfile|[Gg]runtfile)\.[cm]?[jt]s$)"
)


def is_example_path(path: str) -> bool:
    """Examples a user copies from: example folders, example scripts, Go example tests."""
    parts = PurePosixPath(path).parts
    name = parts[-1]
    return bool(_EXAMPLE_DIRS.intersection(parts[:-1])) or name.startswith(
        ("example_", "examples_", "example.", "example-")
    )


@functools.lru_cache(maxsize=65536)  # asked for each file by every step, many times
def is_support_path(path: str) -> bool:
    """True for a file that may be excerpted but never becomes a chapter: tests and their
    helpers, type-test and typings files, examples, benchmarks, generated code."""
    if is_test_path(path) or is_generated_name(path):
        return True
    parts = PurePosixPath(path).parts
    return bool(_SUPPORT_DIRS.intersection(parts[:-1])) or bool(_SUPPORT_NAME.search(parts[-1]))


def is_test_function(scope: str, language: str) -> bool:
    """A test of the public behaviour, not a helper (``checkClass``, ``assertNoErr``):
    named as the test runner finds tests. JavaScript's ``it(...)`` blocks have no name
    (the scope is empty there); elsewhere a check outside any function is no test."""
    name = scope.rsplit(".", 1)[-1]
    if not scope:
        return language in ("javascript", "typescript", "tsx")
    if language == "go":
        return name.startswith("Test")
    return name.lower().startswith("test") or name.endswith(("Test", "_test"))


def is_generated_name(path: str) -> bool:
    return bool(_GENERATED_NAME.search(PurePosixPath(path).name))
