"""The reference: bare Celery on the same Redis, with the same reliability settings
(acks_late, prefetch 1, prefork), running chains of eight tasks that do nothing but
count their end in Redis. Optionally the chains send the task events Flower needs (as
the product does by default), the first task does the clone step's git work, and the six
middle tasks (the analysis steps' places) pause for a set time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from celery import Celery, chain

from tasks.worker.broker import TRANSPORT

QUEUE = "bare"
# The bare chains on this product's Redis transport (one client per channel), on their
# own queue so that both kinds of bare worker can stay up side by side.
SHARED_CLIENT_QUEUE = "bare-shared-client"
DONE_KEY = "bench:bare:done"
LAST_KEY = "bench:bare:last"


def make_app(broker: str, events: bool = False, shared_client: bool = False) -> Celery:
    """``shared_client``: publish and acknowledge through tasks/worker/broker.py's transport,
    as the product does, instead of stock kombu's."""
    app = Celery("bare", broker=broker)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_ignore_result=True, task_default_queue=_queue(shared_client),
        worker_hijack_root_logger=False, broker_connection_retry_on_startup=True,
        worker_send_task_events=events, task_send_sent_event=events,
        broker_transport=TRANSPORT if shared_client else None,
    )  # fmt: skip

    # shared=False: each app made here keeps its own task, without a warning per app.
    @app.task(name="bare.step", shared=False)
    def step(last: bool = False, clone_from: str | None = None, pause_s: float = 0) -> None:
        if clone_from:
            git_floor(clone_from)
        if pause_s > 0:
            time.sleep(pause_s)
        if last:
            client = redis.Redis.from_url(broker)
            client.incr(DONE_KEY)
            client.set(LAST_KEY, repr(time.time()))

    return app


def _queue(shared_client: bool) -> str:
    return SHARED_CLIENT_QUEUE if shared_client else QUEUE


# The worker process imports this module by name: its broker, events and transport come
# from the environment because `celery -A` offers no other way to pass them.
app = make_app(
    os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/15"),
    events=os.environ.get("BENCH_EVENTS") == "1",
    shared_client=os.environ.get("BENCH_SHARED_CLIENT") == "1",
)


def start_worker(
    broker: str, concurrency: int, log: Path, events: bool = False, shared_client: bool = False
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "BENCH_BROKER": broker, "BENCH_EVENTS": "1" if events else "0",
        "BENCH_SHARED_CLIENT": "1" if shared_client else "0",
    }  # fmt: skip
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bench.bare", "worker", "-Q", _queue(shared_client),
         "-c", str(concurrency), "--prefetch-multiplier", "1", "-l", "WARNING",
         *(["-E"] if events else [])],
        env=env, stdout=out, stderr=out, start_new_session=True,
    )  # fmt: skip


def git_floor(repo: str) -> None:
    """The git work of the product's clone step and no more: the same three commands
    (shallow clone without checkout, the size listing, the checkout), then removal."""
    work = Path(tempfile.mkdtemp(prefix="bare-clone-"))
    try:
        dest = work / "checkout"
        subprocess.run(
            ["git", "clone", "--quiet", "--no-checkout", "--depth=1", "--single-branch",
             "--no-tags", "--no-recurse-submodules", "--template=", "--", repo, str(dest)],
            check=True,
        )  # fmt: skip
        subprocess.run(["git", "ls-tree", "-r", "-l", "-z", "HEAD"], cwd=dest, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        subprocess.run(["git", "checkout", "--quiet", "--force", "HEAD"], cwd=dest, check=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def send_chains(
    app_: Celery, count: int, clone_from: str | None = None, pause_s: float = 0
) -> None:
    for _ in range(count):
        first = app_.signature("bare.step", kwargs={"clone_from": clone_from}, immutable=True)
        middle = [
            app_.signature("bare.step", kwargs={"pause_s": pause_s}, immutable=True)
            for _ in range(6)
        ]
        last = app_.signature("bare.step", kwargs={"last": True}, immutable=True)
        chain(first, *middle, last).apply_async()


def run_chains(
    broker: str,
    count: int,
    timeout_s: float = 300,
    clone_from: str | None = None,
    pause_s: float = 0,
    events: bool = False,
    shared_client: bool = False,
) -> float:
    """Send ``count`` chains at once; return seconds until the last one ended. With
    ``clone_from``, each chain's first task also does the clone step's git work; with
    ``pause_s``, the six middle tasks pause that long. ``events`` and ``shared_client``
    must match the worker's."""
    client = redis.Redis.from_url(broker)
    client.delete(DONE_KEY)
    bench_app = make_app(broker, events=events, shared_client=shared_client)
    started = time.monotonic()
    send_chains(bench_app, count, clone_from, pause_s)
    deadline = started + timeout_s
    while int(client.get(DONE_KEY) or 0) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("bare chains did not finish")
        time.sleep(0.005)
    return time.monotonic() - started


def one_chain_s(broker: str, events: bool = False) -> float:
    """End-to-end seconds of one chain on an idle worker."""
    return run_chains(broker, 1, events=events)
