"""The README's code blocks and the project's examples, as the offline course reads them."""

from __future__ import annotations

import textwrap
from pathlib import Path

from analysis.offline.model import FileFacts, Symbol
from analysis.offline.parsing import parse_source
from analysis.offline.showcase import build_showcase, readme_snippets

README = textwrap.dedent(
    """\
    # tool

    ```sh
    $ pip install tool
    ```

    ```mermaid
    graph LR
        web -- jobs --> store
    ```

    A first example:

    ```python
    import tool
    import os

    app = tool.App(os.environ["HOME"], name="x")
    app.run()
    ```

    ```
    $ python first.py
    done
    ```
    """
)


def test_only_code_blocks_are_snippets_and_the_session_after_one_is_its_run() -> None:
    snippets = readme_snippets("README.md", README)
    assert len(snippets) == 1
    snippet = snippets[0]
    assert (snippet.start, snippet.end) == (15, 19)
    assert snippet.context == "A first example"
    assert snippet.run == "$ python first.py\ndone"
    assert snippet.names[:3] == ("import", "tool", "os")
    assert "tool.App" in snippet.names
    assert "name" not in snippet.names  # a keyword argument names nothing of the project


def test_names_count_only_when_unqualified_or_qualified_by_the_projects_package(
    tmp_path: Path,
) -> None:
    facts = {"tool/__init__.py": FileFacts(language="python", lines=1)}
    example = "package tool\n\nfunc ExampleApp() {\n\tapp := NewApp()\n\t// Output:\n\t// hi\n}\n"
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool" / "example_test.go").write_text(example, encoding="utf-8")
    facts["tool/example_test.go"] = parse_source(example, "go")
    show = build_showcase(tmp_path, {"README.md": README}, facts)
    readme, go = show.snippets
    assert "App" in readme.names
    assert "environ" not in readme.names  # os.environ is not the project's
    assert go.name == "ExampleApp"
    assert go.title == "the example `ExampleApp` in `tool/example_test.go`"
    assert "NewApp" in go.names
    assert show.mentions["App"] == 3.0  # a README mention weighs more than an example's
    assert show.mentions["NewApp"] == 2.0


def test_a_typing_overload_is_no_definition_its_implementation_is() -> None:
    facts = parse_source(
        "import typing\n\n@typing.overload\ndef f(x: int) -> int: ...\ndef f(x):\n    return x\n",
        "python",
    )
    assert [(s.name, s.start) for s in facts.symbols] == [("f", 5)]
    assert isinstance(facts.symbols[0], Symbol)
