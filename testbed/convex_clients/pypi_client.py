"""The PyPI ``convex`` client, driven line by line: the conformance tests' second real
counterpart of the stand-in's sync protocol (the first is ``npm_client.mjs``, with the
same commands and answers).

    python testbed/convex_clients/pypi_client.py http://127.0.0.1:PORT

Commands on stdin, one JSON object a line; answers on stdout, one a line:
``{"op": "subscribe", "id", "path", "args"}`` then ``{"id", "update": value}`` per new
result or ``{"id", "error", "data"}``; ``{"op": "mutation" | "action" | "query", "id",
"path", "args"}`` then ``{"id", "result"}`` or ``{"id", "error", "data"}``. Values are in
Convex's JSON encoding.

Subscriptions use the client's async iterator in an asyncio loop: its blocking calls
hold the GIL while they wait (docs/CONVEX.md), so the one-shot calls run in a thread of
their own, and the process ends with ``os._exit`` (the client's runtime panics when the
interpreter is finalised under a pending subscription).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from typing import Any

from convex import ConvexClient, ConvexError, convex_to_json, json_to_convex


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def failure(ident: str, exc: BaseException) -> dict[str, Any]:
    data = convex_to_json(exc.data) if isinstance(exc, ConvexError) else None
    return {"id": ident, "error": str(exc), "data": data}


def arguments(command: dict[str, Any]) -> Any:
    """The command's arguments as the client takes them: Python values (its own
    encoding makes every int and float a Float64, as the npm client's numbers are)."""
    return json_to_convex(json.loads(json.dumps(command.get("args", {})), parse_int=float))


async def follow(client: ConvexClient, command: dict[str, Any]) -> None:
    ident = command["id"]
    subscription = client.subscribe(command["path"], arguments(command))
    while True:
        try:
            async for value in subscription:
                say({"id": ident, "update": convex_to_json(value)})
            return
        except ConvexError as exc:
            say(failure(ident, exc))


async def call(client: ConvexClient, command: dict[str, Any]) -> None:
    function = getattr(client, command["op"])
    args = arguments(command)
    try:
        value = await asyncio.to_thread(function, command["path"], args)
        say({"id": command["id"], "result": convex_to_json(value)})
    except Exception as exc:
        say(failure(command["id"], exc))


async def main(url: str) -> None:
    client = ConvexClient(url)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=read_stdin, daemon=True).start()
    tasks = set()
    while line := await lines.get():
        if not line.strip():
            continue
        command = json.loads(line)
        work = follow(client, command) if command["op"] == "subscribe" else call(client, command)
        task = asyncio.create_task(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
    sys.stdout.flush()
    os._exit(0)
