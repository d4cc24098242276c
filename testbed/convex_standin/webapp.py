"""The web app's side of the stand-in: its job functions as its front end calls them.

The stand-in serves a test model of the web app's Convex functions
(``convex/tests/webapp/``) as ``webapp/<module>:<fn>``. They take no worker secret,
like the web's own, so they are called here over the HTTP API directly rather than
through ``ConvexStore``.
"""

from __future__ import annotations

from typing import Any

import httpx

from store.convex import decode_value


class WebApp:
    """What a signed-in user does on the web app, against the stand-in at ``url``."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=10.0)

    def close(self) -> None:
        self._http.close()

    def call(self, kind: str, path: str, **args: Any) -> Any:
        body = {"path": path, "args": args, "format": "convex_encoded_json"}
        answer = self._http.post(f"/api/{kind}", json=body).json()
        if answer["status"] != "success":
            raise RuntimeError(f"{path}: {answer.get('errorMessage')}")
        return decode_value(answer["value"])

    def sign_in(self, username: str, token: str | None = None) -> str:
        extra = {} if token is None else {"githubAccessToken": token}
        user: str = self.call(
            "mutation", "webapp/accounts:signIn", githubId="583231", username=username, **extra
        )
        return user

    def add_repository(self, user_id: str, full_name: str, clone_url: str | None = None) -> str:
        extra = {} if clone_url is None else {"cloneUrl": clone_url}
        repo: str = self.call(
            "mutation", "webapp/accounts:addRepository", userId=user_id,
            githubRepoId=1296269, fullName=full_name, **extra,
        )  # fmt: skip
        return repo

    def regenerate(self, user_id: str, repository_id: str, full_name: str) -> str:
        answer = self.call(
            "mutation", "webapp/jobs:regenerate", userId=user_id, repositoryId=repository_id,
            prompt=f"Générer le cours pour {full_name}",
        )  # fmt: skip
        return str(answer["jobId"])

    def cancel(self, job_id: str) -> None:
        """The cancel route: status ``canceled`` written through jobs.updateStatus."""
        job = self.job(job_id)
        self.call(
            "mutation", "webapp/jobs:updateStatus", jobId=job_id, status="canceled",
            callbackToken=job["callbackToken"],
        )  # fmt: skip

    def job(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.call("query", "webapp/jobs:getJob", jobId=job_id)
        return job

    def repositories_named(self, full_name: str) -> list[dict[str, Any]]:
        """repositories.getByFullName: what the course page and `/latest` look up."""
        rows: list[dict[str, Any]] = self.call(
            "query", "webapp/repositories:getByFullName", fullName=full_name
        )
        return rows

    def latest_by_name(self, full_name: str) -> dict[str, Any] | None:
        """`/course/<owner>/<repo>/latest`: the first row of that name, then its latest
        completed job."""
        rows = self.repositories_named(full_name)
        return self.latest_completed(str(rows[0]["_id"])) if rows else None

    def latest_completed(self, repository_id: str) -> dict[str, Any] | None:
        job: dict[str, Any] | None = self.call(
            "query", "webapp/jobs:getLatestCompletedByRepository", repositoryId=repository_id
        )
        return job

    def docs(self, job_id: str) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = self.call("query", "webapp/docs:listByJobId", jobId=job_id)
        return docs
