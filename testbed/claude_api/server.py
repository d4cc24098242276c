"""A scripted Anthropic Messages API on loopback, for running the real Claude Code CLI
offline.

Each ``POST /v1/messages`` is answered by a scenario (a function of the request) and
streamed back as server-sent events in the order the API sends them: message_start,
content_block_start, content_block_delta, content_block_stop per block, message_delta,
message_stop. Every request is logged (path, headers with secrets masked, body), so tests
can assert on what the CLI offered the model and on what reached the server.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SECRET_HEADERS = ("x-api-key", "authorization", "proxy-authorization", "cookie")


@dataclass(frozen=True)
class Request:
    """One request the CLI made, as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]  # secrets masked
    body: dict[str, Any]
    raw_headers: dict[str, str] = field(repr=False)  # unmasked, for the credential checks
    at: float = 0.0  # time.monotonic() when it arrived, for the retry timings

    @property
    def tool_names(self) -> list[str]:
        return [str(t.get("name")) for t in self.body.get("tools", [])]

    @property
    def schema(self) -> dict[str, Any] | None:
        """The StructuredOutput tool's input schema: the engine's --json-schema."""
        for tool in self.body.get("tools", []):
            if tool.get("name") == "StructuredOutput":
                schema: dict[str, Any] = tool.get("input_schema", {})
                return schema
        return None

    @property
    def schema_title(self) -> str:
        return str((self.schema or {}).get("title", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def turn(self) -> int:
        """0 for the first request of a call, then one more per assistant message."""
        return sum(1 for m in self.messages if m.get("role") == "assistant")

    @property
    def prompt(self) -> str:
        """The text of every user message, joined: the prompt and what came back."""
        return "\n".join(_texts(m) for m in self.messages if m.get("role") == "user")

    def tool_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks of the last user message (answers to the last turn)."""
        users = [m for m in self.messages if m.get("role") == "user"]
        if not users or not isinstance(users[-1].get("content"), list):
            return []
        return [b for b in users[-1]["content"] if b.get("type") == "tool_result"]

    def results_in_call_order(self) -> list[dict[str, Any]]:
        """The last turn's tool_result blocks in the order of the tool_use blocks they
        answer: the CLI sends denials first, whatever order the calls came in."""
        assistants = [m for m in self.messages if m.get("role") == "assistant"]
        if not assistants or not isinstance(assistants[-1].get("content"), list):
            return []
        by_id = {r.get("tool_use_id"): r for r in self.tool_results()}
        calls = [b for b in assistants[-1]["content"] if b.get("type") == "tool_use"]
        return [by_id[c["id"]] for c in calls if c.get("id") in by_id]

    def text(self) -> str:
        """The whole request body as text, for greps."""
        return json.dumps(self.body)


def _texts(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    out = []
    for block in content or []:
        if block.get("type") == "text":
            out.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            inner = block.get("content")
            out.append(inner if isinstance(inner, str) else json.dumps(inner))
    return "\n".join(out)


@dataclass(frozen=True)
class ToolUse:
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """One assistant message: text and tool calls, streamed in that order."""

    text: str = ""
    tools: tuple[ToolUse, ...] = ()
    input_tokens: int = 1000
    output_tokens: int = 200
    delay_s: float = 0.0


@dataclass(frozen=True)
class Failure:
    """An HTTP error in the API's shape (529 overloaded, 400 invalid request, ...), with
    the response headers that go with it (``retry-after``, the rate-limit headers)."""

    status: int
    kind: str = "overloaded_error"
    message: str = "Overloaded"
    headers: tuple[tuple[str, str], ...] = ()


Scenario = Callable[[Request], "Reply | Failure"]


def answer(output: dict[str, Any], **kw: Any) -> Reply:
    """A reply that calls StructuredOutput with ``output``: the CLI's final answer."""
    return Reply(tools=(ToolUse("StructuredOutput", output),), **kw)


def _events(reply: Reply, model: str) -> Iterator[tuple[str, dict[str, Any]]]:
    usage = {"input_tokens": reply.input_tokens, "output_tokens": 1}
    message: dict[str, Any] = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    yield "message_start", {"type": "message_start", "message": message}
    blocks: list[tuple[dict[str, Any], dict[str, Any]]] = []
    if reply.text:
        blocks.append(({"type": "text", "text": ""}, {"type": "text_delta", "text": reply.text}))
    for tool in reply.tools:
        start = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": tool.name,
                 "input": {}}  # fmt: skip
        blocks.append((start, {"type": "input_json_delta", "partial_json": json.dumps(tool.input)}))
    for index, (start, delta) in enumerate(blocks):
        yield "content_block_start", {"type": "content_block_start", "index": index,
                                      "content_block": start}  # fmt: skip
        yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                      "delta": delta}  # fmt: skip
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    stop = "tool_use" if reply.tools else "end_turn"
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _mask(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


class ScriptedApi:
    """The server; ``with ScriptedApi(scenario) as api:`` serves on ``api.url``."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.requests: list[Request] = []
        self.errors: list[Exception] = []  # raised by the scenario; tests assert none
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ScriptedApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self.errors and exc[0] is None:
            raise AssertionError(f"the scenario raised: {self.errors!r}") from self.errors[0]

    def messages(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/v1/messages")]

    def log_text(self) -> str:
        """Everything logged, as one text (headers masked), for greps."""
        with self._lock:
            return "\n".join(
                json.dumps({"path": r.path, "headers": r.headers, "body": r.body})
                for r in self.requests
            )

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request log is ours; stderr stays quiet

            def _log(self, body: dict[str, Any]) -> Request:
                raw = dict(self.headers.items())
                request = Request(self.command, self.path, _mask(raw), body, raw, time.monotonic())
                api._record(request)
                return request

            def do_HEAD(self) -> None:
                self._log({})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                self._log({})
                self._json(404, {"type": "error", "error": {"type": "not_found_error",
                                                            "message": self.path}})  # fmt: skip

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = {"unparsed": raw.decode("utf-8", "replace")}
                request = self._log(body)
                if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
                    self._json(404, {"type": "error", "error": {"type": "not_found_error",
                                                                "message": self.path}})  # fmt: skip
                    return
                try:
                    outcome: Reply | Failure = api.scenario(request)
                except Exception as exc:
                    api.errors.append(exc)
                    # 400 is not retried: the CLI ends at once instead of retrying for minutes.
                    outcome = Failure(400, "invalid_request_error", f"scenario failed: {exc!r}")
                if isinstance(outcome, Failure):
                    error = {"type": outcome.kind, "message": outcome.message}
                    self._json(outcome.status, {"type": "error", "error": error}, outcome.headers)
                    return
                if outcome.delay_s:
                    time.sleep(outcome.delay_s)
                self._stream(outcome, str(body.get("model", "claude-sonnet-4-5")))

            def _json(
                self, status: int, doc: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()
            ) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply, model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for name, data in _events(reply, model):
                        self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the CLI was killed mid-stream (the timeout tests do it)
                self.close_connection = True

        return Handler


@contextmanager
def serving(scenario: Scenario) -> Iterator[ScriptedApi]:
    with ScriptedApi(scenario) as api:
        yield api
