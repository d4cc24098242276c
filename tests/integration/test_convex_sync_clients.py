"""The stand-in's sync protocol against its real counterparts, the official clients: the
npm package's ``ConvexClient`` and the PyPI ``convex`` client (testbed/convex_clients/).
Each subscribes to a query, sees a mutation's effect, gets errors with their data, runs
an action, and reconnects and resubscribes after the stand-in restarts empty."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed.convex_clients.driver import ClientDriver
from testbed.convex_standin.fixture import OwnStandIn

pytestmark = pytest.mark.timeout(90)

LIST = "worker/jobs:listJobs"


@pytest.fixture(params=["npm", "pypi"])
def client(
    request: pytest.FixtureRequest, own_convex_standin: OwnStandIn, tmp_path: Path
) -> Iterator[ClientDriver]:
    driver = ClientDriver(request.param, own_convex_standin.url, tmp_path / "client.log")
    try:
        yield driver
    finally:
        driver.close()


def _update_of(ident: str, check: Any = lambda value: True) -> Any:
    return lambda a: a.get("id") == ident and "update" in a and check(a["update"])


def _new_job(client: ClientDriver, secret: str) -> str:
    repo = client.call(
        "mutation", "worker/jobs:upsertRepository",
        secret=secret, userId="user-1", name="hello", fullName="octo/hello",
    )  # fmt: skip
    created = client.call(
        "mutation", "worker/jobs:createJob", secret=secret, repositoryId=repo["result"]["_id"]
    )
    job_id: str = created["result"]["job"]["_id"]
    return job_id


def test_a_client_subscribes_sees_a_mutation_and_resubscribes_after_a_restart(
    client: ClientDriver, own_convex_standin: OwnStandIn
) -> None:
    secret = own_convex_standin.secret
    sub = client.send("subscribe", LIST, secret=secret, limit=10)
    assert client.wait_for(_update_of(sub))["update"] == []

    job_id = _new_job(client, secret)
    seen = client.wait_for(_update_of(sub, lambda jobs: len(jobs) == 1))
    assert seen["update"][0]["_id"] == job_id
    assert seen["update"][0]["status"] == "pending"
    stats = own_convex_standin.standin.stats()
    # Billed as Convex bills: the first run, and the re-run the new job caused.
    assert stats["sync"]["firstRuns"] == 1
    assert stats["sync"]["reruns"] == 1
    assert stats["byPath"][LIST] == 2

    own_convex_standin.restart()
    # The client reconnects by itself, adds its query set again, and sees the
    # empty deployment, then the writes made after the restart.
    client.wait_for(_update_of(sub, lambda jobs: jobs == []), timeout_s=40)
    again = _new_job(client, secret)
    seen = client.wait_for(_update_of(sub, lambda jobs: len(jobs) == 1))
    assert seen["update"][0]["_id"] == again
    assert own_convex_standin.standin.stats()["sync"]["connects"] == 1


def test_a_client_gets_function_errors_with_their_data_and_runs_actions(
    client: ClientDriver, own_convex_standin: OwnStandIn
) -> None:
    refused = client.send("subscribe", LIST, secret="not the secret")
    failure = client.wait_for(lambda a: a.get("id") == refused and "error" in a)
    assert failure["data"]["code"] == "unauthorized"

    missing = client.call(
        "mutation", "worker/jobs:createJob",
        secret=own_convex_standin.secret, repositoryId="nosuchrepository",
    )  # fmt: skip
    assert missing["data"]["code"] == "not_found"

    user = client.call(
        "action", "webapp/accounts:signInFromGitHub", githubId="583231", username="ann"
    )
    assert user["result"].endswith("users")
    assert own_convex_standin.standin.stats()["byPath"]["webapp/accounts:signInFromGitHub"] == 1
