"""The Celery app, configured for long steps that must be neither lost nor run twice.

Built by ``create_app(settings)``: nothing is read from the environment at import.
Why each option is set: acks_late plus reject_on_worker_lost
keep a step whose process died; prefetch 1 stops a busy worker from sitting on work;
cancel_long_running_tasks_on_connection_loss stops a step from running twice after a
broker reconnect; the visibility timeout exceeds the hard time limit so Redis never
re-delivers a step that is still running. Every publish is bounded (tasks/worker/events.py), so a
worker stops even when Redis is gone.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from fondation.settings import Settings
from tasks.worker.broker import broker_settings
from tasks.worker.events import EVENTS_CLS
from tasks.worker.pool import POOL_CLS

APP_NAME = "fondation"


def celery_config(settings: Settings, redis_url: str) -> dict[str, Any]:
    broker = broker_settings(redis_url)
    transport = {
        "visibility_timeout": settings.visibility_timeout_s,
        # Restore unacked messages of dead workers soon after the timeout passes.
        "unacked_restore_interval": 30,
        # A Sentinel deployment's master and how to reach the Sentinels.
        **broker["transport_options"],
    }
    return {
        "broker_url": broker["broker_url"],
        "broker_transport": broker["broker_transport"],
        "broker_use_ssl": broker["broker_use_ssl"],
        # No result backend: nothing to point at Redis, Sentinel or not.
        "result_backend": None,
        "task_ignore_result": True,
        "broker_transport_options": transport,
        "result_backend_transport_options": transport,
        "visibility_timeout": settings.visibility_timeout_s,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_soft_shutdown_timeout": settings.worker_soft_shutdown_timeout_s,
        # An idle worker stops at once: on idle, Celery would sleep the whole soft
        # shutdown timeout (20 s) with nothing to finish. Messages it holds unstarted
        # (a retry's countdown) are unacked and go back to the queue as it closes.
        "worker_enable_soft_shutdown_on_idle": False,
        # The prefork pool, terminated rather than joined when idle: see tasks/worker/pool.py.
        "worker_pool": POOL_CLS,
        "task_soft_time_limit": settings.step_soft_time_limit_s,
        "task_time_limit": settings.step_time_limit_s,
        "task_default_queue": settings.celery_queue,
        "task_create_missing_queues": True,
        "worker_send_task_events": settings.task_events,
        "task_send_sent_event": settings.task_events,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "broker_connection_timeout": 5,
        "redis_socket_timeout": 10,
        "redis_socket_connect_timeout": 5,
        "redis_retry_on_timeout": True,
        "redis_backend_health_check_interval": 10,
    }


def create_app(settings: Settings, redis_url: str) -> Celery:
    # Events through a dispatcher whose publishes are bounded: see tasks/worker/events.py.
    app = Celery(APP_NAME, set_as_current=True, events=EVENTS_CLS)
    app.conf.update(celery_config(settings, redis_url))
    return app
