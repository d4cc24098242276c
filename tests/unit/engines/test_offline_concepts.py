"""Where a course starts, families of variants, plumbing and the topics a README names,
on small repositories written for each case."""

from __future__ import annotations

from pathlib import Path

from analysis.engine import StepContext
from analysis.offline import OfflineEngine
from analysis.offline.parsing.javascript import parse_javascript
from analysis.offline.plumbing import topics, words
from analysis.offline.showcase import bold_terms, headings
from tests.unit.engines.conftest import Runner, Writer


def abstractions(root: Path, work: Path) -> list[tuple[str, list[str]]]:
    engine = OfflineEngine()
    ctx = StepContext(job_id="job", checkout=root, prompt="", work_dir=work)
    found = engine.extract_abstractions(ctx)
    return [(a.name, a.files) for a in found.abstractions]


def _go_variant(kind: str, go_type: str) -> str:
    title = kind[:1].upper() + kind[1:]
    return f"""
        package flags

        type {kind}Value {go_type}

        func new{title}Value(v {go_type}, p *{go_type}) *{kind}Value {{ return nil }}
        func (v *{kind}Value) Set(s string) error {{ return nil }}
        func (v *{kind}Value) String() string {{ return "" }}
        func (f *FlagSet) Get{title}(name string) ({go_type}, error) {{ return f.get(name) }}
        func (f *FlagSet) {title}Var(p *{go_type}, name string) {{ f.Var(nil, name) }}
        func {title}(name string) *{go_type} {{ return CommandLine.{title}(name) }}
    """


GO_FLAGS: dict[str, str | bytes] = {
    "go.mod": "module example.com/flags\n",
    "flag.go": """
        // Package flags defines command-line flags.
        package flags

        // Value is what a flag holds.
        type Value interface {
            Set(string) error
            String() string
        }

        // FlagSet is a set of flags.
        type FlagSet struct {
            name   string
            parsed bool
        }

        // CommandLine is the default set.
        var CommandLine = NewFlagSet("cmd")

        // NewFlagSet returns an empty set.
        func NewFlagSet(name string) *FlagSet { return &FlagSet{name: name} }

        func (f *FlagSet) Var(v Value, name string) {}
        func (f *FlagSet) get(name string) (interface{}, error) { return nil, nil }

        // Parse parses the command line.
        func (f *FlagSet) Parse(args []string) error { f.parsed = true; return nil }
    """,
    "bool.go": _go_variant("bool", "bool"),
    "int.go": _go_variant("int", "int"),
    "string.go": _go_variant("string", "string"),
    "duration.go": _go_variant("duration", "int64"),
    "example_test.go": """
        package flags_test

        import "example.com/flags"

        func ExampleBool() {
            verbose := flags.Bool("verbose")
            _ = verbose
        }
    """,
}


def test_typed_variants_are_one_chapter_and_the_course_starts_at_the_type_they_extend(
    tmp_path: Path, write: Writer
) -> None:
    root = write(tmp_path / "repo", GO_FLAGS)
    found = abstractions(root, tmp_path / "work")
    holding = [(n, f) for n, f in found if "int.go" in f]
    assert len(holding) == 1
    name, files = holding[0]
    assert {"bool.go", "int.go", "string.go", "duration.go"} <= set(files)
    assert name.startswith("Value variants (")
    # The example calls flags.Bool, a variant: chapter 1 holds FlagSet.
    assert "flag.go" in found[0][1]


def test_a_warning_class_a_type_guard_and_utilities_are_no_chapters(
    tmp_path: Path, write: Writer
) -> None:
    root = write(
        tmp_path / "repo",
        {
            "README.md": "# pkg\n\n```python\nfrom pkg import Engine\nEngine().run()\n```\n",
            "pkg/__init__.py": "from pkg.engine import Engine\n",
            "pkg/engine.py": """
                from pkg.utils import clamp
                from pkg.warnings import PkgDeprecationWarning
                from pkg.guards import is_engine
                from pkg.store import Store


                class Engine:
                    def run(self) -> int:
                        is_engine(self)
                        PkgDeprecationWarning()
                        return clamp(Store().load())
            """,
            "pkg/store.py": """
                from pkg.utils import clamp


                class Store:
                    def load(self) -> int:
                        return clamp(1)

                    def save(self, value: int) -> None:
                        clamp(value)
            """,
            "pkg/cache.py": """
                from pkg.store import Store


                class Cache:
                    def get(self) -> int:
                        return Store().load()
            """,
            "pkg/utils.py": "def clamp(value: int) -> int:\n    return max(0, value)\n",
            "pkg/warnings.py": "class PkgDeprecationWarning(DeprecationWarning):\n    pass\n",
            "pkg/guards.py": "def is_engine(value: object) -> bool:\n    return True\n",
        },
    )
    found = abstractions(root, tmp_path / "work")
    plumbing = {"pkg/utils.py", "pkg/warnings.py", "pkg/guards.py"}
    assert all(not set(files) <= plumbing for _, files in found), found
    # Read where it is used: the engine's chapter holds them.
    engine_files = next(files for name, files in found if "pkg/engine.py" in files)
    assert {"pkg/warnings.py", "pkg/guards.py"} <= set(engine_files)


def test_headings_and_bold_terms_are_the_topics_a_readme_names() -> None:
    assert headings("# Title\n\n## Form Data\n\n```\n# not a heading\n```\n") == [
        "Title",
        "Form Data",
    ]
    assert headings("Handling Errors\n===============\n\ntext\n") == ["Handling Errors"]
    assert topics(["Handling Errors", "Installation", "Interceptors"], "axios") == [
        frozenset({"error"}),
        frozenset({"interceptor"}),
    ]
    assert words("toFormData") == {"to", "form", "data"}
    prose = "A **bridge** polls the store. **Note:** see below.\n```\n**not prose**\n```\n"
    assert bold_terms(prose) == ["bridge", "Note"]
    assert topics(bold_terms(prose), "fondation") == [frozenset({"bridge"})]


def test_the_default_export_of_a_module_is_recorded() -> None:
    cases = {
        "import axios from './lib/axios.js';\nexport default axios;\n": "axios",
        "const axios = make();\nexport { axios as default, make };\n": "axios",
        "export default class Got {}\n": "Got",
        "const got = create();\nmodule.exports = got;\n": "got",
    }
    for source, name in cases.items():
        assert parse_javascript(source, "javascript").default_export == name
    late = parse_javascript(
        "class Axios {}\nfunction helper() {}\nexport default Axios;\n", "javascript"
    )
    assert {s.name: s.public for s in late.symbols} == {"Axios": True, "helper": False}


def test_a_declared_command_names_chapter_one_and_is_met_as_the_readme_runs_it(
    tmp_path: Path, write: Writer, run_course: Runner
) -> None:
    root = write(
        tmp_path / "repo",
        {
            "README.md": "# tool\n\nRun it:\n\n```sh\ntool go --fast\n```\n",
            "pyproject.toml": """
                [project]
                name = "tool"

                [project.scripts]
                tool = "tool.cli:main"
            """,
            "tool/__init__.py": "",
            "tool/cli.py": """
                from tool.core import Runner


                def main() -> None:
                    Runner().go()
            """,
            "tool/core.py": "class Runner:\n    def go(self) -> None:\n        pass\n",
            "tool/store.py": "class Store:\n    def keep(self) -> None:\n        pass\n",
            "tool/view.py": "class View:\n    def show(self) -> None:\n        pass\n",
        },
    )
    course = run_course(root, tmp_path / "work")
    first = course.abstractions.abstractions[0]
    assert first.name == "tool command"
    assert "tool/cli.py" in first.files
    assert "`tool` command" in course.abstractions.summary
    chapter = course.review.chapters[0].content
    assert "A user meets the `tool` command in the README" in chapter
    assert "tool go --fast" in chapter
