"""Turn one file's text into ``FileFacts``, whatever its language."""

from __future__ import annotations

from analysis.offline.model import FileFacts
from analysis.offline.parsing.clike import parse_clike
from analysis.offline.parsing.golang import parse_go
from analysis.offline.parsing.java import parse_java
from analysis.offline.parsing.javascript import parse_javascript
from analysis.offline.parsing.python import parse_python
from analysis.offline.parsing.rust import parse_rust


def parse_source(text: str, language: str) -> FileFacts:
    if language == "python":
        return parse_python(text)
    if language in ("javascript", "typescript", "tsx"):
        return parse_javascript(text, language)
    if language == "go":
        return parse_go(text)
    if language == "java":
        return parse_java(text)
    if language == "rust":
        return parse_rust(text)
    if language in ("c", "cpp"):
        return parse_clike(text, language)
    raise ValueError(f"no parser for language {language!r}")


__all__ = ["parse_source"]
