"""REDIS_URL's forms, read once into one address, and what redis-py's and kombu's settings
are made of it. Real servers answer in tests/acceptance/test_production_redis.py."""

from __future__ import annotations

import ssl

import pytest
from pydantic import SecretStr

from fondation.errors import ConfigError
from fondation.redis_client import SentinelMasterClient, connect_redis
from fondation.redis_url import RedisAddress, TlsOptions, parse_redis_url
from fondation.settings import load_settings
from tasks.worker import broker
from tasks.worker.app import celery_config

SENTINELS = (
    "sentinel://:m%3Bpw@10.0.0.1:26379;sentinel://10.0.0.2;sentinel://10.0.0.3:26380/2"
    "?master_name=main&sentinel_password=s%40pw&ssl=true&ssl_ca_certs=/etc/ca.pem"
)


def test_a_plain_url_is_one_server_without_tls() -> None:
    address = parse_redis_url("redis://127.0.0.1:6380/3")
    assert address == RedisAddress(nodes=(("127.0.0.1", 6380),), db=3)
    assert parse_redis_url("redis://cache").nodes == (("cache", 6379),)


def test_a_rediss_url_verifies_the_certificate_unless_told_otherwise() -> None:
    address = parse_redis_url("rediss://user:p%40ss@cache.example:6380/0?ssl_ca_certs=/ca.pem")
    assert (address.username, address.password) == ("user", "p@ss")
    assert address.tls == TlsOptions(ca_certs="/ca.pem", cert_reqs="required", check_hostname=True)
    unverified = parse_redis_url("rediss://cache/0?ssl_cert_reqs=none")
    assert unverified.tls is not None
    assert unverified.tls.redis_kwargs()["ssl_check_hostname"] is False


def test_a_sentinel_url_names_the_sentinels_the_master_and_each_password() -> None:
    address = parse_redis_url(SENTINELS)
    assert address.nodes == (("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26380))
    assert (address.master_name, address.db) == ("main", 2)
    assert (address.password, address.sentinel_password) == ("m;pw", "s@pw")
    assert address.tls == TlsOptions(ca_certs="/etc/ca.pem")
    assert address.secrets == ("m;pw", "s@pw")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("localhost:6379", "not a URL"),
        ("unix:///run/redis.sock", "unsupported scheme"),
        ("redis://:pw@cache/0?ssl_ca_certs=/ca.pem", "need the rediss://"),
        ("rediss://:pw@cache/0?socket_timeout=3", "unknown parameter"),
        ("rediss://:pw@cache/0?ssl_cert_reqs=maybe", "ssl_cert_reqs"),
        ("redis://:pw@cache/zero", "must be a number"),
        ("redis://:pw@cache:99999/0", "port"),
        ("sentinel://:pw@s1;sentinel://s2/0", "master_name"),
        ("sentinel://:pw@s1;sentinel://:pw@s2/0?master_name=m", "first sentinel"),
        ("sentinel://:pw@s1/0?master_name=m;sentinel://s2", "after the last"),
        ("sentinel://:pw@s1;s2/0?master_name=m", "does not start with sentinel://"),
        ("sentinel://:pw@s1/0?master_name=m&ssl_ca_certs=/ca.pem", "need ssl=true"),
        ("sentinel://:pw@s1/0?master_name=m&ssl=maybe", "true or false"),
    ],
)
def test_a_malformed_url_is_refused_with_a_reason_that_does_not_repeat_it(
    url: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_redis_url(url)
    assert says in str(caught.value)
    assert "pw" not in str(caught.value)


def test_a_bad_redis_url_stops_the_settings_naming_the_variable_and_not_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(redis_url="sentinel://:hunter2@s1/0")
    assert "REDIS_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    settings = load_settings(redis_url="rediss://:hunter2@cache/0")
    assert isinstance(settings.redis_url, SecretStr)
    assert "hunter2" not in repr(settings)


def test_the_redacted_form_masks_every_password_and_parses_back_to_the_same_place() -> None:
    address = parse_redis_url(SENTINELS)
    shown = address.redacted()
    for secret in ("m;pw", "m%3Bpw", "s@pw", "s%40pw"):
        assert secret not in shown
    again = parse_redis_url(shown)
    assert (again.nodes, again.master_name, again.db, again.tls) == (
        address.nodes, address.master_name, address.db, address.tls,
    )  # fmt: skip
    assert parse_redis_url("rediss://:pw@cache/1").redacted() == (
        "rediss://:***@cache:6379/1?ssl_cert_reqs=required"
    )


def test_celery_gets_the_sentinels_as_kombu_reads_them_and_the_rest_as_options() -> None:
    got = broker.broker_settings(SENTINELS)
    # kombu reads the master's password and the database from the first entry only.
    assert got["broker_url"] == (
        "sentinel://:m%3Bpw@10.0.0.1:26379/2;sentinel://10.0.0.2:26379/2;"
        "sentinel://10.0.0.3:26380/2"
    )
    assert got["broker_transport"] is None  # kombu's Sentinel transport
    options = got["transport_options"]
    assert options["master_name"] == "main"
    assert options["sentinel_kwargs"]["password"] == "s@pw"
    assert options["sentinel_kwargs"]["ssl"] is True
    assert got["broker_use_ssl"]["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert "ssl" not in got["broker_use_ssl"]


def test_the_celery_config_keeps_the_visibility_timeout_beside_the_sentinel_options() -> None:
    settings = load_settings(redis_url=SENTINELS)
    config = celery_config(settings, SENTINELS)
    for key in ("broker_transport_options", "result_backend_transport_options"):
        assert config[key]["visibility_timeout"] == settings.visibility_timeout_s
        assert config[key]["master_name"] == "main"


def test_a_plain_url_keeps_the_shared_client_transport_and_a_rediss_url_gets_its_tls() -> None:
    plain = broker.broker_settings("redis://:pw@cache:6379/0")
    assert (plain["broker_transport"], plain["broker_use_ssl"]) == (broker.TRANSPORT, None)
    secured = broker.broker_settings("rediss://:pw@cache:6380/0?ssl_ca_certs=/ca.pem")
    assert secured["broker_url"] == "rediss://:pw@cache:6380/0"
    assert secured["broker_use_ssl"]["ssl_ca_certs"] == "/ca.pem"


def test_the_factory_builds_a_sentinel_client_that_asks_the_sentinels_for_the_master() -> None:
    client = connect_redis(SENTINELS, socket_timeout_s=1, socket_connect_timeout_s=1)
    try:
        assert isinstance(client, SentinelMasterClient)
        pool_kwargs = client.connection_pool.connection_kwargs
        assert (pool_kwargs["password"], pool_kwargs["db"]) == ("m;pw", 2)
        manager = client.sentinel_manager
        assert [s.connection_pool.connection_kwargs["port"] for s in manager.sentinels] == [
            26379, 26379, 26380,
        ]  # fmt: skip
        assert manager.sentinels[0].connection_pool.connection_kwargs["password"] == "s@pw"
    finally:
        client.close()
