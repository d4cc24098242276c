"""Reading a call's reads off a stream-json transcript, in the shape the real CLI
2.1.332 prints it (probed against the scripted API: docs/CLAUDE.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.claude.result import parse_envelope
from analysis.claude.transcript import CallReads, read_transcript, without_tool_results


def _transcript(checkout: Path, uses: list[tuple[str, dict[str, Any]]]) -> bytes:
    events: list[dict[str, Any]] = [
        {"type": "system", "subtype": "init", "cwd": str(checkout), "tools": ["Read"]}
    ]
    for i, (name, tool_input) in enumerate(uses):
        block = {"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": tool_input}
        events.append({"type": "assistant", "message": {"id": "msg_1", "content": [block]}})
        events.append({"type": "user", "message": {"content": [{"type": "tool_result"}]}})
    events.append(
        {"type": "result", "subtype": "success", "is_error": False, "num_turns": 2,
         "structured_output": {"answer": "ok"}, "total_cost_usd": 0.01}
    )  # fmt: skip
    return "\n".join(json.dumps(e) for e in events).encode() + b"\n"


def test_reads_greps_and_globs_inside_the_checkout_are_recorded_relative_to_it(
    tmp_path: Path,
) -> None:
    out = _transcript(
        tmp_path,
        [
            ("Read", {"file_path": str(tmp_path / "shop" / "cart.py")}),
            ("Read", {"file_path": "shop/models.py"}),
            ("Grep", {"pattern": "def", "path": str(tmp_path / "shop")}),
            ("Glob", {"pattern": "**/*.py"}),
            ("StructuredOutput", {"answer": "ok"}),
        ],
    )
    assert read_transcript(out, tmp_path) == CallReads(
        files=frozenset({"shop/cart.py", "shop/models.py"}), scopes=frozenset({"shop", ""})
    )


def test_a_read_outside_the_checkout_or_another_tool_makes_the_reads_unprovable(
    tmp_path: Path,
) -> None:
    out = _transcript(
        tmp_path / "co",
        [
            ("Read", {"file_path": "/etc/hostname"}),
            ("Read", {"file_path": "../other/secret.py"}),
            ("Bash", {"command": "ls"}),
        ],
    )
    reads = read_transcript(out, tmp_path / "co")
    assert reads.unprovable == (
        "Read outside the checkout",
        "Read outside the checkout",
        "tool Bash",
    )


def test_output_that_is_not_a_transcript_proves_nothing(tmp_path: Path) -> None:
    single = json.dumps({"type": "result", "subtype": "success"}).encode()
    assert read_transcript(single, tmp_path).unprovable == ("no transcript",)


def test_the_result_is_read_from_the_transcripts_last_event(tmp_path: Path) -> None:
    envelope = parse_envelope(_transcript(tmp_path, []), 0, b"", [])
    assert envelope.structured_output == {"answer": "ok"}
    assert envelope.num_turns == 2


def test_the_kept_output_leaves_out_the_file_contents_and_replays_the_same(
    tmp_path: Path,
) -> None:
    out = _transcript(tmp_path, [("Read", {"file_path": "shop/cart.py"})])
    kept = without_tool_results(out)
    assert b'"type": "user"' in out
    assert b'"type": "user"' not in kept
    assert read_transcript(kept, tmp_path) == read_transcript(out, tmp_path)
    assert parse_envelope(kept, 0, b"", []) == parse_envelope(out, 0, b"", [])
