"""How the Convex store meets a deployment that fails: HTTP errors, hangs, dropped
connections and lost replies (the stand-in's fault modes), refused credentials, and
values that a Convex number cannot hold."""

from __future__ import annotations

import base64
import json
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from convex.values import ConvexInt64

from store.convex import ConvexFunctionError, ConvexStore, decode_value
from store.records import JobSpec, RepositorySpec
from fondation.errors import (
    JobNotFound,
    LeaseLost,
    MalformedJob,
    PermanentError,
    StoreAuthError,
    StoreUnavailable,
)
from testbed.convex_standin.fixture import StandIn, make_convex_store, start_standin, stop_standin

T0 = 1_700_000_000_000
LEASE = 60_000


@pytest.fixture
def store(standin: StandIn) -> Iterator[ConvexStore]:
    s = make_convex_store(standin.url, standin.secret, timeout_s=2.0, retries=2)
    yield s
    s.close()


def new_job(store: ConvexStore, **kw: object) -> str:
    repo = store.upsert_repository(
        RepositorySpec(user_id="u1", name="demo", full_name="octo/demo"), T0
    )
    job, _ = store.create_job(JobSpec(user_id="u1", repository_id=repo.id, **kw), T0)
    return job.id


def calls(standin: StandIn, path: str) -> int:
    return int(standin.stats()["byPath"].get(path, 0))


# --- overload and rate limits --------------------------------------------------------


def test_a_read_is_retried_through_a_passing_503(store: ConvexStore, standin: StandIn) -> None:
    job_id = new_job(store)
    standin.control("503", times=2)
    assert store.get_job(job_id).id == job_id
    assert calls(standin, "worker/jobs:getJob") == 3


def test_a_lasting_503_becomes_store_unavailable_after_the_retries(
    store: ConvexStore, standin: StandIn
) -> None:
    job_id = new_job(store)
    standin.control("503")
    with pytest.raises(StoreUnavailable, match="HTTP 503"):
        store.get_job(job_id)
    assert calls(standin, "worker/jobs:getJob") == 3


def test_a_write_that_is_not_idempotent_is_not_retried_after_a_503(
    store: ConvexStore, standin: StandIn
) -> None:
    job_id = new_job(store)
    standin.control("503", times=1)
    with pytest.raises(StoreUnavailable):
        store.append_log(job_id, "info", "once", T0)
    assert calls(standin, "worker/steps:appendLog") == 1
    assert store.get_logs(job_id) == []


def test_a_429_is_retried_even_for_a_write_that_is_not_idempotent(
    store: ConvexStore, standin: StandIn
) -> None:
    job_id = new_job(store)
    standin.control("429", times=1)
    assert store.append_log(job_id, "info", "once", T0) == 0
    assert [line.msg for line in store.get_logs(job_id)] == ["once"]


def test_a_500_is_transient(store: ConvexStore, standin: StandIn) -> None:
    standin.control("500")
    with pytest.raises(StoreUnavailable, match="HTTP 500"):
        store.list_jobs()


# --- hangs, dropped connections, lost replies ----------------------------------------


def test_a_hanging_deployment_times_out_as_store_unavailable(standin: StandIn) -> None:
    store = make_convex_store(standin.url, standin.secret, timeout_s=0.3, retries=1)
    standin.control("hang")
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable, match="Timeout"):
            store.list_jobs()
    finally:
        store.close()
    # Two tries of 0.3 s each and a short pause, not a hang.
    assert time.monotonic() - started < 3


def test_a_dropped_connection_is_retried_for_a_read(store: ConvexStore, standin: StandIn) -> None:
    standin.control("down", times=1)
    assert store.list_jobs() == []


def test_a_dropped_connection_fails_a_claim_without_retrying_it(
    store: ConvexStore, standin: StandIn
) -> None:
    new_job(store)
    standin.control("down", times=1)
    with pytest.raises(StoreUnavailable):
        store.claim_batch("b1", 1, LEASE, T0)
    assert calls(standin, "worker/queue:claimBatch") == 1


def test_a_lost_reply_to_complete_is_repaired_by_the_retry(
    store: ConvexStore, standin: StandIn
) -> None:
    new_job(store)
    [claim] = store.claim_batch("b1", 1, LEASE, T0)
    standin.control("drop", times=1)
    job = store.complete(claim.job.id, claim.lease_token, {"success": True}, 2, T0 + 1)
    assert job.status == "completed"
    assert job.completed_at == T0 + 1
    assert calls(standin, "worker/queue:complete") == 2


def test_a_lost_reply_to_fail_counts_the_attempt_once(store: ConvexStore, standin: StandIn) -> None:
    new_job(store)
    [claim] = store.claim_batch("b1", 1, LEASE, T0)
    standin.control("drop", times=1)
    # The first call ran; the retry is fenced off, so the caller hears LeaseLost.
    with pytest.raises(LeaseLost):
        store.fail(claim.job.id, claim.lease_token, "boom", False, T0 + 1, 0)
    job = store.get_job(claim.job.id)
    assert (job.status, job.attempts) == ("pending", 1)


def test_a_lost_reply_to_a_claim_leaves_the_job_findable_by_its_holder(
    store: ConvexStore, standin: StandIn
) -> None:
    job_id = new_job(store)
    standin.control("drop", times=1)
    with pytest.raises(StoreUnavailable):
        store.claim_batch("b1", 1, LEASE, T0)
    [held] = store.held_jobs("b1", 10)
    assert held.id == job_id
    assert held.lease_token


def test_a_refused_connection_is_store_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = make_convex_store(f"http://127.0.0.1:{port}", "s", retries=1)
    try:
        with pytest.raises(StoreUnavailable, match="ConnectError"):
            store.append_log("j", "info", "m", T0)
    finally:
        store.close()


# --- credentials ---------------------------------------------------------------------


def test_a_wrong_secret_is_a_store_auth_error(standin: StandIn) -> None:
    store = make_convex_store(standin.url, "not-the-secret")
    try:
        with pytest.raises(StoreAuthError, match="wrong worker secret") as err:
            store.claim_batch("b1", 1, LEASE, T0)
    finally:
        store.close()
    assert "not-the-secret" not in str(err.value)
    assert standin.secret not in str(err.value)


@pytest.mark.parametrize("status", ["401", "403"])
def test_http_401_and_403_are_store_auth_errors(
    store: ConvexStore, standin: StandIn, status: str
) -> None:
    standin.control(status)
    with pytest.raises(StoreAuthError, match=f"HTTP {status}"):
        store.list_jobs()


def test_an_empty_secret_is_refused_before_any_call() -> None:
    with pytest.raises(StoreAuthError):
        ConvexStore("http://127.0.0.1:9", "")


def test_a_deployment_without_the_secret_refuses_every_call(tmp_path: Path) -> None:
    proc, bare = start_standin("", tmp_path)
    store = make_convex_store(bare.url, "anything")
    try:
        with pytest.raises(StoreAuthError, match="FONDATION_WORKER_SECRET is not set"):
            store.list_jobs()
    finally:
        store.close()
        stop_standin(proc)


# --- function errors -----------------------------------------------------------------


def test_function_error_codes_map_to_the_projects_errors(store: ConvexStore) -> None:
    with pytest.raises(JobNotFound, match="job nope not found"):
        store.get_job("nope")
    with pytest.raises(JobNotFound, match="repository nope"):
        store.get_repository("nope")
    job_id = new_job(store)
    with pytest.raises(MalformedJob, match="only a failed, dead or canceled job"):
        store.retry_job(job_id, T0)
    with pytest.raises(LeaseLost) as lost:
        store.renew(job_id, "stale", LEASE, T0)
    assert lost.value.job_id == job_id


def test_arguments_the_functions_refuse_are_malformed(store: ConvexStore, standin: StandIn) -> None:
    new_job(store)
    [claim] = store.claim_batch("b1", 1, LEASE, T0)
    with pytest.raises(MalformedJob, match="refused its arguments") as err:
        store.complete(claim.job.id, claim.lease_token, {"message": "no success flag"}, 0, T0)
    assert standin.secret not in str(err.value)


def test_error_messages_never_carry_the_secret() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        args = json.loads(request.content)["args"]
        message = f"ArgumentValidationError: Value does not match. Object: {args}"
        return httpx.Response(200, json={"status": "error", "errorMessage": message})

    store = ConvexStore("http://convex.test", "s3cr3t-value", transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(MalformedJob) as err:
            store.get_job("j")
    finally:
        store.close()
    assert "s3cr3t-value" not in str(err.value)
    assert "[secret]" in str(err.value)


def test_an_unknown_function_is_a_function_error(store: ConvexStore) -> None:
    with pytest.raises(ConvexFunctionError, match="no such export"):
        store._query("worker/jobs:noSuchFunction")


# --- values --------------------------------------------------------------------------


def test_an_int_beyond_2_to_the_53_is_refused_with_a_clear_error(store: ConvexStore) -> None:
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
    with pytest.raises(MalformedJob, match=r"outside the range of a Convex `Float64`"):
        store.create_job(JobSpec(user_id="u", repository_id=repo.id, run_at=2**60), T0)
    assert store.list_jobs() == []


def test_the_deployment_refuses_a_result_whose_data_is_not_text(store: ConvexStore) -> None:
    new_job(store)
    [claim] = store.claim_batch("b1", 1, LEASE, T0)
    result = {"success": True, "data": {"chapters": 3}}
    with pytest.raises(MalformedJob, match="refused its arguments"):
        store._fenced(
            "worker/queue:complete", jobId=claim.job.id, token=claim.lease_token,
            result=result, docsCount=0, now=T0,
        )  # fmt: skip
    assert store.get_job(claim.job.id).status == "claimed"


def test_decode_value_reads_convex_special_encodings() -> None:
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    assert decode_value({"$integer": b64(struct.pack("<q", -(2**62)))}) == -(2**62)
    assert decode_value({"$bytes": b64(b"ab")}) == b"ab"
    nan = decode_value({"$float": b64(struct.pack("<d", float("nan")))})
    assert nan != nan
    assert decode_value([{"a": {"$float": b64(struct.pack("<d", float("inf")))}}]) == [
        {"a": float("inf")}
    ]
    assert decode_value({"a": 1, "b": [True, None]}) == {"a": 1, "b": [True, None]}


# --- artifacts larger than a document ------------------------------------------------


def test_a_large_artifact_goes_in_pieces_and_a_missing_piece_is_a_clear_error(
    store: ConvexStore, standin: StandIn
) -> None:
    new_job(store)
    [claim] = store.claim_batch("b1", 1, LEASE, T0)
    big = "x" * 2_000_000
    store.finish_step(claim.job.id, claim.lease_token, 4, big, T0 + 1)
    assert calls(standin, "worker/steps:putArtifactPart") == 3
    assert store.get_steps(claim.job.id)[0].artifact == big
    # A record naming more pieces than were written (a piece lost) is refused by name.
    store.finish_step(claim.job.id, claim.lease_token, 4, "", T0 + 2)
    store._fenced(
        "worker/steps:finishStep", jobId=claim.job.id, token=claim.lease_token, step=4, artifact="",
        parts=2, now=T0 + 3,
    )  # fmt: skip
    with pytest.raises(MalformedJob, match="artifact piece 0 of 2 is missing"):
        store.get_steps(claim.job.id)


def test_an_artifact_beyond_what_convex_can_hold_fails_the_step_permanently(
    store: ConvexStore, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    import store.convex.wire as convex_store

    monkeypatch.setattr(convex_store, "_ARTIFACT_PART_BYTES", 1000)
    new_job(store)
    [claim] = store.claim_batch("b1", 1, LEASE, T0)
    with pytest.raises(PermanentError, match="Convex holds at most 0.1 MB per artifact"):
        store.finish_step(claim.job.id, claim.lease_token, 4, "y" * 70_000, T0 + 1)
    assert calls(standin, "worker/steps:putArtifactPart") == 0
