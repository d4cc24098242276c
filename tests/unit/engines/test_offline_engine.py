"""The six steps end to end on small real repositories."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from analysis.course.artifacts import Citation
from analysis.course.markdown import is_empty_body
from analysis.engine import StepContext
from analysis.offline import OfflineEngine
from analysis.offline.markdown import CITATION, LINK, blocks
from analysis.offline.mermaid import validate
from analysis.offline.tutorials.common import Draft, Workshop
from fondation.cancel import CancelToken
from fondation.errors import JobCanceled, PermanentError
from tests.unit.engines.conftest import Course, Runner, Writer


def line_count(root: Path, path: str) -> int:
    return len((root / path).read_text(encoding="utf-8", errors="replace").splitlines())


def all_citations(course: Course) -> list[Citation]:
    found = [c for a in course.abstractions.abstractions for c in a.citations]
    found += [c for r in course.relationships.relationships for c in r.citations]
    found += [c for ch in course.chapters.chapters for c in ch.citations]
    found += [c for ch in course.review.chapters for c in ch.citations]
    texts = [ch.content for ch in course.review.chapters]
    texts += [t.content for t in course.tutorials.tutorials]
    for text in texts:
        for match in CITATION.finditer(text):
            start = int(match.group(2))
            end = int(match.group(3) or start)
            found.append(Citation(path=match.group(1), start_line=start, end_line=end))
    return found


def test_every_citation_names_a_real_file_and_lines_in_range(
    shop: Path, tmp_path: Path, run_course: Runner
) -> None:
    course = run_course(shop, tmp_path / "work")
    citations = all_citations(course)
    assert len(citations) > 20
    for citation in citations:
        assert (shop / citation.path).is_file(), citation
        assert 1 <= citation.start_line <= citation.end_line, citation
        assert citation.end_line <= line_count(shop, citation.path), citation


def test_abstractions_are_concepts_named_after_their_central_type(
    shop: Path, tmp_path: Path, run_course: Runner
) -> None:
    course = run_course(shop, tmp_path / "work")
    artifact = course.abstractions
    assert artifact.project_name == "shop"
    assert 3 <= len(artifact.abstractions) <= 12
    ids = [a.id for a in artifact.abstractions]
    assert len(set(ids)) == len(ids)
    named = {a.name: a for a in artifact.abstractions}
    assert named["Money"].files == ["shop/models.py"]
    assert named["Money"].symbols[:2] == ["Money", "Item"]
    assert "Domain models" in named["Money"].summary
    assert named["Cart"].files == ["shop/service.py"]
    for abstraction in artifact.abstractions:
        assert not any(f.startswith("tests/") for f in abstraction.files)
        for symbol in abstraction.symbols:
            sources = [(shop / f).read_text(encoding="utf-8") for f in abstraction.files]
            assert any(f"def {symbol}(" in s or f"class {symbol}" in s for s in sources), symbol


def test_order_starts_at_the_readme_example_and_goes_outward_through_what_it_uses(
    shop: Path, tmp_path: Path, run_course: Runner
) -> None:
    course = run_course(shop, tmp_path / "work")
    ids = [a.id for a in course.abstractions.abstractions]
    order = course.order.order
    assert sorted(order) == sorted(ids)
    assert order[0] == "cart"  # the README's example creates a Cart
    used_by_cart = {r.target for r in course.relationships.relationships if r.source == "cart"}
    assert used_by_cart == {"money", "shop-pricing", "shop-storage-memory"}
    assert set(order[1:4]) == used_by_cart
    assert "with `Cart`, because the README's first example" in course.abstractions.summary
    first = course.review.chapters[0].content
    assert "## How you meet it" in first
    assert "`README.md:6-10`" in first


def test_chapters_have_prose_diagrams_and_navigation(
    shop: Path, tmp_path: Path, run_course: Runner
) -> None:
    course = run_course(shop, tmp_path / "work")
    chapters = course.review.chapters
    files = {f"{c.index:02d}-{c.slug}.md" for c in chapters}
    assert [c.index for c in chapters] == list(range(1, len(chapters) + 1))
    assert [c.abstraction_id for c in chapters] == course.order.order
    diagrams = 0
    for chapter in chapters:
        for block in blocks(chapter.content):
            if block.info == "mermaid":
                diagrams += 1
                assert validate("\n".join(block.lines[1:-1])) == []
        for target in _links(chapter.content):
            assert target in files
    assert diagrams >= 1
    first, last = chapters[0].content, chapters[-1].content
    assert f"[Next: {chapters[1].title}]({chapters[1].index:02d}-{chapters[1].slug}.md)" in first
    assert "[Previous:" in last
    assert "[Next:" not in last
    assert "TODO" not in "".join(c.content for c in chapters)
    assert course.review.findings == []  # what the engine writes needs no fixing


def _links(markdown: str) -> list[str]:
    return [m.group(2) for m in LINK.finditer(markdown) if m.group(2).endswith(".md")]


def test_tutorials_use_trace_extend_and_predict_with_hidden_answers(
    shop: Path, tmp_path: Path, run_course: Runner
) -> None:
    course = run_course(shop, tmp_path / "work")
    tutorials = {t.slug.split("-", 1)[0]: t for t in course.tutorials.tutorials}
    assert set(tutorials) == {"use", "trace", "predict", "extend"}
    titles = [t.title for t in course.tutorials.tutorials]
    assert len(set(titles)) == len(titles)
    use = tutorials["use"].content
    assert "Goal: Fill a cart and pay." in use
    assert "cart.checkout()" in use.split("## Answer")[1]
    for tutorial in course.tutorials.tutorials:
        assert "## Answer" in tutorial.content
        assert "<details>" in tutorial.content
        assert tutorial.files
        assert all((shop / f).is_file() for f in tutorial.files)
    trace = tutorials["trace"].content
    assert "`Cart.checkout`" in trace
    assert "`total`" in trace
    assert "`Money`" in trace
    predict = tutorials["predict"].content
    exercise, answer = predict.split("## Answer")
    assert "assert cart.checkout() == 7" in answer
    assert "assert cart.checkout() == 7" not in exercise
    extend = tutorials["extend"].content
    assert "`Storage`" in extend
    assert "MemoryStorage" in extend
    assert "def save(" in extend


def test_output_is_identical_run_after_run(shop: Path, tmp_path: Path, run_course: Runner) -> None:
    first = run_course(shop, tmp_path / "work1").dump()
    second = run_course(shop, tmp_path / "work2", OfflineEngine()).dump()
    copy = shutil.copytree(shop, tmp_path / "elsewhere" / "shop-repo")
    third = run_course(copy, tmp_path / "work3").dump()
    assert first == second == third
    assert str(tmp_path) not in first  # no absolute path leaks into an artifact


def test_each_step_works_without_the_cache_in_a_fresh_process(
    shop: Path, tmp_path: Path, run_course: Runner
) -> None:
    expected = run_course(shop, tmp_path / "work").dump()
    work = tmp_path / "scratch"
    ctx = StepContext(job_id="job", checkout=shop, prompt="", work_dir=work)
    steps = (
        "extract_abstractions",
        "analyze_relationships",
        "determine_order",
        "generate_chapters",
        "review_chapters",
        "create_tutorials",
    )
    outputs = []
    for step, slot in zip(
        steps, ("abstractions", "relationships", "order", "chapters", "review", None), strict=True
    ):
        shutil.rmtree(work, ignore_errors=True)
        result = getattr(OfflineEngine(), step)(ctx)  # a new engine: nothing memoised
        outputs.append(result.model_dump_json())
        if slot:
            setattr(ctx, slot, result)
    assert "\n".join(outputs) == expected


def test_a_canceled_token_stops_every_step(shop: Path, tmp_path: Path, run_course: Runner) -> None:
    course = run_course(shop, tmp_path / "work")
    token = CancelToken()
    token.cancel("user asked")
    ctx = StepContext(
        job_id="job",
        checkout=shop,
        prompt="",
        work_dir=tmp_path / "work2",
        cancel=token,
        abstractions=course.abstractions,
        relationships=course.relationships,
        order=course.order,
        chapters=course.chapters,
        review=course.review,
    )
    engine = OfflineEngine()
    for step in (
        engine.extract_abstractions,
        engine.analyze_relationships,
        engine.determine_order,
        engine.generate_chapters,
        engine.review_chapters,
        engine.create_tutorials,
    ):
        with pytest.raises(JobCanceled, match="user asked"):
            step(ctx)


def test_a_repository_without_source_is_a_permanent_error(tmp_path: Path, write: Writer) -> None:
    root = write(tmp_path / "repo", {"README.md": "# Nothing to parse\n"})
    ctx = StepContext(job_id="job", checkout=root, prompt="", work_dir=tmp_path / "work")
    with pytest.raises(PermanentError, match="no source file"):
        OfflineEngine().extract_abstractions(ctx)


def test_a_polyglot_repository_gets_a_course(
    tmp_path: Path, write: Writer, run_course: Runner
) -> None:
    root = write(
        tmp_path / "poly",
        {
            "go.mod": "module example.com/poly\n",
            "cmd/main.go": 'package main\n\nimport "example.com/poly/store"\n\n'
            "// main starts the store.\nfunc main() { store.Open() }\n",
            "store/store.go": "// Package store keeps things.\npackage store\n\n"
            "// Store is where things are kept.\ntype Store interface { Get() int }\n\n"
            "// Open opens it.\nfunc Open() *Mem { return &Mem{} }\n",
            "store/mem.go": "package store\n\n// Mem keeps things in memory.\n"
            "type Mem struct{}\n\n// Get returns one.\nfunc (m *Mem) Get() int { return 1 }\n",
            "store/disk.go": "package store\n\n// Disk keeps things on disk.\n"
            "type Disk struct{ Mem }\n\n// Get reads one.\nfunc (d *Disk) Get() int { return 2 }\n",
            "web/app.ts": "import { api } from './api';\nexport function start() { api(); }\n",
            "web/api.ts": "/** Calls the server. */\nexport function api() { return 1; }\n",
            "native/lib.c": '#include "lib.h"\nint twice(int x) { return x * 2; }\n',
            "native/lib.h": "/* Doubles. */\nint twice(int x);\n",
        },
    )
    course = run_course(root, tmp_path / "work")
    files = {f for a in course.abstractions.abstractions for f in a.files}
    assert {"store/store.go", "web/api.ts", "native/lib.h"} <= files
    assert course.review.findings == []
    extend = [t for t in course.tutorials.tutorials if t.slug.startswith("extend")]
    assert extend
    assert "`Mem` in `store/mem.go`" in extend[0].content
    # The files of one Go package use each other's names without an import.
    crossing = {(r.source, r.target, r.label) for r in course.relationships.relationships}
    labels = {label for _, _, label in crossing}
    assert any(label.startswith("implements: Store") for label in labels), crossing


_RUN_IN_CHILD = """
import sys
from pathlib import Path
from tests.unit.engines.conftest import run_all
print(run_all(Path(sys.argv[1]), Path(sys.argv[2])).dump())
"""


def test_output_does_not_depend_on_the_hash_seed(shop: Path, tmp_path: Path) -> None:
    # Set iteration order changes with PYTHONHASHSEED: only a second process shows it.
    outputs = []
    for seed in ("1", "2"):
        child = subprocess.run(
            [sys.executable, "-c", _RUN_IN_CHILD, str(shop), str(tmp_path / f"work{seed}")],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=Path(__file__).resolve().parents[3],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        outputs.append(child.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") == 6


def test_no_chapter_or_tutorial_is_empty_under_its_title(
    shop: Path, tmp_path: Path, run_course: Runner
) -> None:
    course = run_course(shop, tmp_path / "work")
    texts = [c.content for c in (*course.chapters.chapters, *course.review.chapters)]
    texts += [t.content for t in course.tutorials.tutorials]
    assert texts
    assert not [t for t in texts if is_empty_body(t)]


def test_a_tutorial_draft_with_nothing_to_say_is_left_out(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import analysis.offline.tutorials as tutorials

    said = Draft(
        title="Said", slug="said", body=["Do this.", "", "## Answer", "", "That."], files=[]
    )
    unsaid = Draft(title="Unsaid", slug="unsaid", body=["", "  "], files=[])
    monkeypatch.setattr(tutorials, "use_drafts", lambda shop: [unsaid, said])
    for name in ("trace_drafts", "extend_drafts", "predict_drafts"):
        monkeypatch.setattr(tutorials, name, lambda shop, cancel: [])
    art = tutorials.create_tutorials(cast(Workshop, None), CancelToken())
    assert [(t.index, t.title) for t in art.tutorials] == [(1, "Said")]
