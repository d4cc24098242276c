"""The Node worker's variables keep its units (milliseconds), and every field's Python name
says its unit, so a .env written for the Node worker means what it meant."""

from __future__ import annotations

import pytest

from fondation.errors import ConfigError
from fondation.settings import Settings, load_settings, setting_rows, shown_value, unit_of

NODE_ENV = {"POLL_INTERVAL": "5000", "LEASE_TIME": "300000", "HEARTBEAT_INTERVAL": "60000"}


def test_the_node_workers_values_mean_what_they_meant_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in NODE_ENV.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.poll_interval_s == 5.0
    assert settings.lease_ms == 300_000
    assert settings.heartbeat_interval_s == 60.0


def test_the_defaults_are_the_node_workers_defaults() -> None:
    settings = Settings()
    assert (settings.poll_interval_ms, settings.lease_time_ms, settings.heartbeat_interval_ms) == (
        5000,
        300_000,
        60_000,
    )


@pytest.mark.parametrize("variable", sorted(NODE_ENV))
def test_a_value_written_in_seconds_is_refused_with_a_message_naming_the_unit(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "5")
    with pytest.raises(ConfigError, match=rf"{variable}: .*milliseconds"):
        load_settings()


def test_every_interval_and_time_limit_carries_its_unit_in_its_python_name() -> None:
    timed = ("interval", "time", "timeout", "grace", "limit")
    unnamed = [
        name
        for _, name, _, _ in setting_rows()
        if any(w in name for w in timed) and not unit_of(name)
    ]
    assert unnamed == []


def test_a_password_in_a_url_and_a_secret_are_never_shown() -> None:
    settings = load_settings(
        redis_url="rediss://default:s3cret@redis.internal:6380/0", convex_worker_secret="k3y"
    )
    assert shown_value(settings, "redis_url") == (
        "rediss://default:***@redis.internal:6380/0?ssl_cert_reqs=required"
    )
    assert shown_value(settings, "convex_worker_secret") == "(set)"
    sentinel = load_settings(
        redis_url="sentinel://:s3cret@s1;sentinel://s2/0?master_name=m&sentinel_password=t0p"
    )
    assert shown_value(sentinel, "redis_url") == (
        "sentinel://:***@s1:26379;sentinel://s2:26379/0?master_name=m&sentinel_password=***"
    )
