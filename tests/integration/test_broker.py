"""The Redis transport with one client per channel, on a real Redis: messages still go
through, the client is built once, and a new pool (after a fork) gets a new client."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from kombu import Connection, Exchange, Queue

from fondation.settings import load_settings
from tasks.worker import broker
from tasks.worker.app import create_app

pytestmark = pytest.mark.integration


def test_only_plain_redis_urls_get_the_shared_client_transport() -> None:
    assert broker.transport_for("redis://127.0.0.1:6379/0") == broker.TRANSPORT
    assert broker.transport_for("rediss://cache.example:6380/0?ssl_cert_reqs=required") is None
    assert broker.transport_for("sentinel://10.0.0.1:26379") is None
    assert broker.transport_for("redis+socket:///run/redis.sock") is None


def test_the_celery_app_publishes_through_the_shared_client_channel(redis_url: str) -> None:
    app = create_app(load_settings(), redis_url)
    with app.producer_or_acquire() as producer:
        assert isinstance(producer.channel, broker.Channel)
        app.send_task("broker-test.noop", queue="broker-test-app", producer=producer)
    # The message reached the queue's Redis list through that channel.
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.llen("broker-test-app") == 1
    finally:
        client.close()


def test_a_channel_builds_one_client_and_every_message_goes_through(redis_url: str) -> None:
    queue = Queue("broker-test", Exchange("broker-test"), routing_key="broker-test")
    with Connection(redis_url, transport=broker.TRANSPORT) as conn:
        assert isinstance(conn.default_channel, broker.Channel)
        # kombu's annotations do not cover the Redis channel's own methods.
        channel: Any = conn.default_channel
        built: list[Any] = []
        create = channel._create_client

        def counting_create(*args: object, **kwargs: object) -> object:
            client = create(*args, **kwargs)
            built.append(client)
            return client

        channel._create_client = counting_create
        producer = conn.Producer(channel)
        for i in range(20):
            producer.publish({"n": i}, exchange=queue.exchange, routing_key="broker-test",
                             declare=[queue])  # fmt: skip
        got: list[Any] = []

        def receive(body: Any, message: Any) -> None:
            got.append(body)
            message.ack()

        with conn.Consumer(queue, callbacks=[receive]):
            while len(got) < 20:
                conn.drain_events(timeout=5)
        assert [b["n"] for b in got] == list(range(20))
        assert len(built) == 1
        # kombu replaces the pool after a fork; the client bound to the old one goes too.
        channel._after_fork()
        producer.publish({"n": 20}, exchange=queue.exchange, routing_key="broker-test")
        assert len(built) == 2
        assert built[1].connection_pool is channel.pool
        assert channel.client.llen("broker-test") == 1
        channel.queue_purge("broker-test")
