"""The process that holds a bridge's Convex subscription: ``python -m store.convex.subscriber``.

It subscribes to ``worker/queue:watch`` through the official PyPI client and writes, one
JSON object a line on stdout, each new answer (``{"value": ...}``), each failure of the
query (``{"error": message, "data": ...}``) and a beat every ``beat_s``
(``{"beat": n}``), which the supervisor's watchdog waits for (store/convex_watch.py).
Its settings come as one JSON line on stdin, ``{"url", "secret", "owner", "beat_s"}``, so
the secret never shows in a process listing; stdin closing (the bridge gone) ends it.

Why a process of its own: the client's blocking calls hold the GIL while they wait and
never return from a server that stopped answering (measured, docs/CONVEX.md). Only its
async iterator is used here, which lets other tasks run, but a process can be killed
from outside whatever the client does, and the bridge's lease loop shares nothing with
it. The client reconnects and resubscribes by itself after a drop.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from typing import Any

from convex import ConvexClient, ConvexError

from store.convex.watch import WATCH_QUERY


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _beat(beat_s: float) -> None:
    n = 0
    while True:
        _say({"beat": n})
        n += 1
        await asyncio.sleep(beat_s)


async def _follow(client: ConvexClient, args: dict[str, Any]) -> None:
    subscription = client.subscribe(WATCH_QUERY, args)
    last: Any = object()
    while True:
        try:
            async for value in subscription:
                # The client yields its value again on every transition of the
                # connection; only a changed answer is news.
                if value != last:
                    last = value
                    _say({"value": value})
            return
        except ConvexError as exc:
            last = object()
            _say({"error": str(exc), "data": exc.data})


def _exit_when_stdin_closes() -> None:
    sys.stdin.read()
    os._exit(0)


async def _main(config: dict[str, Any]) -> None:
    client = ConvexClient(config["url"])
    args = {"secret": config["secret"], "owner": config["owner"]}
    beat = asyncio.create_task(_beat(float(config.get("beat_s", 5.0))))
    await _follow(client, args)
    beat.cancel()


def main() -> None:
    config = json.loads(sys.stdin.readline())
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    try:
        asyncio.run(_main(config))
    except BrokenPipeError:
        pass
    # The client's runtime panics when the interpreter is finalised under a pending
    # subscription: leave without finalising.
    os._exit(1)


if __name__ == "__main__":
    main()
