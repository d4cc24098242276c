"""Reading what ``claude -p --output-format stream-json --verbose`` printed (or the json
format's single object).

Order matters: stdout first, then the exit code. On max turns the CLI prints a complete
result object *and* exits 1, so a non-zero exit with a result object is an answer (an
error answer), not a crash. ``is_error`` is checked on its own, as an API failure can
come back with ``subtype: "success"`` and ``is_error: true``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analysis.claude.transcript import result_document
from fondation.errors import TransientError

_TAIL_CHARS = 2_000
_SNIPPET_CHARS = 200
# Anthropic keys and OAuth tokens, should a crash print one we were not told about.
_TOKEN_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]{4,}")


class ResultEnvelope(BaseModel):
    """The result object; fields the engine does not use are kept, not refused."""

    model_config = ConfigDict(extra="allow")

    type: str = "result"
    subtype: str = ""
    is_error: bool = False
    result: str | None = None
    structured_output: Any = None
    session_id: str | None = None
    num_turns: int = 0
    total_cost_usd: float = 0.0
    duration_ms: int = 0
    usage: dict[str, Any] = Field(default_factory=dict)
    errors: list[Any] = Field(default_factory=list)
    permission_denials: list[Any] = Field(default_factory=list)


class ClaudeCallFailed(TransientError):
    """The CLI ran but gave no usable answer. Asking again may help, so the engine
    retries these within the step before it gives up."""


class ClaudeAnswerError(ClaudeCallFailed):
    """A result object that reports an error (max turns, budget, API error, ...)."""

    def __init__(self, message: str, envelope: ResultEnvelope) -> None:
        super().__init__(message)
        self.envelope = envelope
        self.subtype = envelope.subtype


class ClaudeMalformedOutput(ClaudeCallFailed):
    """Exit code 0 but stdout is not a result object."""


class ClaudeCrashed(ClaudeCallFailed):
    """Non-zero exit (or a signal) with no result object on stdout."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode


class ClaudeTimeout(TransientError):
    """The call ran past CLAUDE_TIMEOUT_S; its process group was killed. Not retried
    within the step: a second try would double a step that already took too long."""


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _TOKEN_PATTERN.sub("sk-ant-***", text)


def stderr_tail(stderr: bytes, secrets: Iterable[str]) -> str:
    text = stderr.decode("utf-8", errors="replace")[-_TAIL_CHARS:]
    return redact(text, secrets).strip()


def _describe_exit(returncode: int) -> str:
    return f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"


def _result_object(doc: object) -> object:
    # With --verbose the CLI prints every message (a JSON array with the json format, one
    # object a line with stream-json); the result is the last.
    if isinstance(doc, list):
        results = [m for m in doc if isinstance(m, dict) and m.get("type") == "result"]
        return results[-1] if results else None
    return doc


def parse_envelope(
    stdout: bytes, returncode: int, stderr: bytes, secrets: Iterable[str]
) -> ResultEnvelope:
    """The result object, or ``ClaudeCrashed`` / ``ClaudeMalformedOutput``."""
    secrets = list(secrets)
    text = stdout.decode("utf-8", errors="replace").strip()
    try:
        doc = _result_object(result_document(text)) if text else None
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        try:
            return ResultEnvelope.model_validate(doc)
        except ValidationError as exc:
            if returncode == 0:
                raise ClaudeMalformedOutput(
                    f"claude printed a result object of the wrong shape: {exc.errors()[:3]}"
                ) from exc
    if returncode != 0:
        tail = stderr_tail(stderr, secrets) or "(no stderr)"
        raise ClaudeCrashed(
            f"claude failed ({_describe_exit(returncode)}) without a result; stderr tail:\n{tail}",
            returncode,
        )
    snippet = redact(text[:_SNIPPET_CHARS], secrets) or "(empty)"
    raise ClaudeMalformedOutput(
        f"claude exited 0 but its stdout is not a JSON result object: {snippet!r}"
    )


def structured_output(envelope: ResultEnvelope, returncode: int) -> dict[str, Any]:
    """The answer object, or ``ClaudeAnswerError`` when the envelope reports a failure."""
    if envelope.is_error or envelope.subtype != "success":
        detail = "; ".join(str(e) for e in envelope.errors) or (envelope.result or "")
        raise ClaudeAnswerError(
            f"claude answered with an error (subtype {envelope.subtype or '?'}, "
            f"{envelope.num_turns} turns): {detail[:_SNIPPET_CHARS] or 'no detail'}",
            envelope,
        )
    if returncode != 0:
        raise ClaudeAnswerError(
            f"claude reported success but {_describe_exit(returncode)}", envelope
        )
    out = envelope.structured_output
    if out is None and envelope.result:
        # Older CLIs put the object in ``result`` as text.
        try:
            out = json.loads(envelope.result)
        except json.JSONDecodeError:
            out = None
    if not isinstance(out, dict):
        raise ClaudeAnswerError("claude answered without a structured_output object", envelope)
    return out
