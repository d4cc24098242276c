"""A bridge and a worker on the Convex stand-in, and the web app's side of it: the stack
the tests that play the web app run jobs on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from testbed import services
from testbed.convex_standin.fixture import StandIn
from testbed.convex_standin.webapp import WebApp


@contextmanager
def running_stack(
    tmp_path: Path, redis_url: str, standin: StandIn, **extra: str
) -> Iterator[WebApp]:
    """A bridge and a worker on the stand-in, and the web app's side of it. The stand-in
    runs the deployment's crons at their own pace, as a deployment does (the bridge
    leaves expired leases to them); the next reset stops them."""
    standin.reset()
    standin.control(crons=60_000)
    env = services.base_env(
        tmp_path, redis_url,
        JOB_STORE="convex", CONVEX_URL=standin.url, CONVEX_WORKER_SECRET=standin.secret,
        CONVEX_TIMEOUT="5", POLL_INTERVAL="1000",
        LEDGER_PATH=str(tmp_path / "ledger.txt"), **extra,
    )  # fmt: skip
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    web = WebApp(standin.url)
    try:
        yield web
    finally:
        web.close()
        b.stop()
        w.stop()
