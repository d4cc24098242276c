"""The CLI's environment is an allowlist: the credential and what a deployment needs to
reach the API, never the worker's secrets, whatever the worker's own environment holds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from analysis.claude.settings import load_claude_settings
from testbed.claude_api.cli import CLAUDE_BIN, FAKE_API_KEY
from testbed.claude_api.server import Reply, Request, ScriptedApi, ToolUse, answer
from tests.integration.claude_cli.conftest import Jobs, call_once

pytestmark = pytest.mark.integration

# Every secret a worker may hold, under each name it goes by here or in the web app.
SECRETS = {
    "CONVEX_WORKER_SECRET": "convex-worker-secret-5a1t",
    "FONDATION_WORKER_SECRET": "fondation-worker-secret-5a1t",
    "CONVEX_DEPLOY_KEY": "prod:convex-deploy-key-5a1t",
    "REDIS_URL": "redis://:redis-password-5a1t@127.0.0.1:6379/3",
    "GIT_TOKEN": "ghp_gittoken5a1tgittoken5a1tgittoken5a1t",
    "GITHUB_TOKEN": "ghp_githubtoken5a1tgithubtoken5a1tgith",
    "GH_TOKEN": "gho_ghtoken5a1tghtoken5a1tghtoken5a1tgh",
    "ENCRYPTION_KEY": "encryption-key-5a1t-base64AAAAAAAAAAAAAA=",
    "FLOWER_BASIC_AUTH": "admin:flower-password-5a1t",
}
ALLOWED = {
    "PATH", "HOME", "TMPDIR", "PWD", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
    "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_BASE_URL",
    "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS",
    "DISABLE_AUTOUPDATER", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "ENABLE_TOOL_SEARCH",
}  # fmt: skip


def _cli_environ(checkout: Path) -> dict[str, str]:
    """The environment of the CLI process running in ``checkout``, read from outside."""
    exe = CLAUDE_BIN.resolve()
    for proc in Path("/proc").iterdir():
        try:
            if (proc / "cwd").readlink() != checkout or (proc / "exe").readlink() != exe:
                continue
            raw = (proc / "environ").read_bytes()
        except OSError:
            continue  # not a process, or one that just ended
        pairs = (item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
        return dict(pairs)
    raise AssertionError("no CLI process found in the checkout")


@pytest.mark.parametrize("sandbox", ["off", "auto"])
def test_the_cli_environment_carries_the_credential_and_deployment_needs_and_no_secret(
    jobs: Jobs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: str
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    ca = tmp_path / "corporate-ca.pem"
    ca.write_text(Path(os.environ.get("NODE_EXTRA_CA_CERTS", "/dev/null")).read_text())
    # HTTPS only: the scripted API is plain HTTP, so the proxy is carried but not used.
    deployment = {
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "NODE_EXTRA_CA_CERTS": str(ca),
    }
    for name, value in deployment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_API_KEY)
    seen_env: list[dict[str, str]] = []

    def scenario(req: Request) -> Reply:
        if req.turn == 0:
            seen_env.append(_cli_environ(jobs.checkout))
            return Reply(tools=(ToolUse("Read", {"file_path": "/proc/self/environ"}),))
        return answer({"answer": "done"})

    with ScriptedApi(scenario) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("CLAUDE_BIN", str(CLAUDE_BIN))
        monkeypatch.setenv("CLAUDE_SANDBOX", sandbox)
        settings = load_claude_settings()
        out = call_once(settings, jobs.ctx())

    assert out.output == {"answer": "done"}, out.error
    (env,) = seen_env
    assert set(env) <= ALLOWED, set(env) - ALLOWED
    assert env["ANTHROPIC_API_KEY"] == FAKE_API_KEY
    assert env["ANTHROPIC_BASE_URL"] == api.url
    for name, value in deployment.items():
        assert env[name] == value
    assert env["HOME"] != os.environ.get("HOME")  # a private, empty home
    assert env.get("PWD", str(jobs.checkout)) == str(jobs.checkout)  # bubblewrap sets it
    everything = api.log_text() + json.dumps([r.raw_headers for r in api.requests])
    everything += json.dumps(env)
    everything += "".join(p.read_text() for p in jobs.work_dir.rglob("*.json"))
    for name, value in SECRETS.items():
        assert value not in everything, name
    (result,) = api.messages()[-1].tool_results()
    assert result["is_error"] is True
    assert FAKE_API_KEY not in str(result["content"])
