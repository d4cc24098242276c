"""Reading the CLI's stdout: the result object first, the exit code second."""

from __future__ import annotations

import json

import pytest

from analysis.claude.result import (
    ClaudeAnswerError,
    ClaudeCrashed,
    ClaudeMalformedOutput,
    parse_envelope,
    structured_output,
)
from fondation.errors import TransientError

KEY = "sk-ant-api03-secret-value-xyz"


def _result(**fields: object) -> bytes:
    doc = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "num_turns": 2,
        "total_cost_usd": 0.02,
        "usage": {"input_tokens": 10, "output_tokens": 5},
        "session_id": "s-1",
        "duration_ms": 900,
        "structured_output": {"order": ["a"]},
    }
    doc.update(fields)
    return json.dumps(doc).encode()


def _answer(stdout: bytes, returncode: int = 0, stderr: bytes = b"") -> dict[str, object]:
    return structured_output(parse_envelope(stdout, returncode, stderr, [KEY]), returncode)


def test_a_success_result_gives_its_structured_output() -> None:
    envelope = parse_envelope(_result(), 0, b"", [])
    assert envelope.total_cost_usd == 0.02
    assert envelope.usage == {"input_tokens": 10, "output_tokens": 5}
    assert structured_output(envelope, 0) == {"order": ["a"]}


def test_max_turns_with_exit_1_is_an_error_answer_not_a_crash() -> None:
    stdout = _result(subtype="error_max_turns", is_error=True, num_turns=31, structured_output=None)
    with pytest.raises(ClaudeAnswerError) as caught:
        _answer(stdout, returncode=1, stderr=b"whatever")
    assert caught.value.subtype == "error_max_turns"
    assert caught.value.envelope.num_turns == 31
    assert "error_max_turns" in str(caught.value)


def test_is_error_counts_even_with_a_success_subtype_and_exit_0() -> None:
    stdout = _result(is_error=True, result="API Error: 529 Overloaded")
    with pytest.raises(ClaudeAnswerError, match="529 Overloaded"):
        _answer(stdout)


def test_stdout_that_is_not_json_with_exit_0_is_malformed() -> None:
    with pytest.raises(ClaudeMalformedOutput, match="not a JSON result object"):
        _answer(b'{"type":"result","subtype":"succ')


def test_empty_stdout_with_exit_0_is_malformed() -> None:
    with pytest.raises(ClaudeMalformedOutput, match="empty"):
        _answer(b"")


def test_a_non_zero_exit_without_json_is_a_crash_with_the_stderr_tail_redacted() -> None:
    stderr = (
        b"noise\n" * 1000
        + f"ANTHROPIC_API_KEY={KEY}\nother=sk-ant-oat01-unknowntoken\nOOM\n".encode()
    )
    with pytest.raises(ClaudeCrashed) as caught:
        _answer(b"", returncode=137, stderr=stderr)
    message = str(caught.value)
    assert "exit code 137" in message
    assert "OOM" in message
    assert KEY not in message
    assert "unknowntoken" not in message
    assert len(message) < 2_500  # a tail, not the whole stream
    assert caught.value.returncode == 137


def test_death_by_signal_is_named() -> None:
    with pytest.raises(ClaudeCrashed, match="killed by signal 11"):
        _answer(b'{"type":', returncode=-11)


def test_the_verbose_array_form_is_read_from_its_last_result() -> None:
    stdout = json.dumps(
        [{"type": "system", "subtype": "init"}, json.loads(_result(structured_output={"x": 1}))]
    ).encode()
    assert _answer(stdout) == {"x": 1}


def test_an_object_in_result_text_stands_in_for_structured_output() -> None:
    stdout = _result(structured_output=None, result='{"order": ["b"]}')
    assert _answer(stdout) == {"order": ["b"]}


def test_an_answer_without_an_object_is_an_error_answer() -> None:
    with pytest.raises(ClaudeAnswerError, match="without a structured_output"):
        _answer(_result(structured_output=None, result="Here is the order: a, b"))


def test_success_with_a_non_zero_exit_is_not_trusted() -> None:
    with pytest.raises(ClaudeAnswerError, match="exit code 2"):
        _answer(_result(), returncode=2)


@pytest.mark.parametrize(
    ("stdout", "code"),
    [(b"", 1), (b"nope", 0), (_result(is_error=True), 1)],
)
def test_every_failure_is_transient(stdout: bytes, code: int) -> None:
    with pytest.raises(TransientError):
        _answer(stdout, returncode=code)
