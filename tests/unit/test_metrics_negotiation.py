"""Which /metrics format a client gets: text for scrapers, JSON for people and jq."""

from __future__ import annotations

import pytest

from bridge.health import wants_prometheus_text


@pytest.mark.parametrize(
    "accept",
    [
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        "text/plain;version=0.0.4",
        "Text/Plain",
    ],
)
def test_scrapers_that_name_a_prometheus_format_get_text(accept: str) -> None:
    assert wants_prometheus_text(accept)


@pytest.mark.parametrize("accept", ["*/*", "", "application/json", "application/json, */*"])
def test_curl_browsers_and_json_clients_get_json(accept: str) -> None:
    assert not wants_prometheus_text(accept)
