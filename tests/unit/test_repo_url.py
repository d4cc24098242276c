"""Repository URLs are hostile input: each way git could be abused has a row here."""

from __future__ import annotations

from pathlib import Path

import pytest

from checkout.repo_url import MAX_URL_CHARS, redact, source_for_repository, validate_repo_url
from fondation.errors import InvalidRepositoryURL, PermanentError

GITHUB = frozenset({"github.com"})
SECRET = "s3cr3tTOKENvalue"

# (raw URL, a phrase the refusal must contain). None of these depends on allow_local.
HOSTILE = [
    pytest.param("http://github.com/o/r", "scheme 'http' is not allowed", id="plain http"),
    pytest.param("HTTP://github.com/o/r", "scheme 'http' is not allowed", id="upper-case http"),
    pytest.param("ssh://git@github.com/o/r", "scheme 'ssh'", id="ssh url"),
    pytest.param("ssh://-oProxyCommand=touch%20pwned/o/r", "scheme 'ssh'", id="ssh proxy command"),
    pytest.param("ssh://-oProxyCommand=touch pwned", "whitespace", id="ssh proxy with space"),
    pytest.param("git@github.com:o/r.git", "ssh address", id="scp-like ssh"),
    pytest.param(f"git:{SECRET}@github.com:o/r.git", "ssh address", id="scp-like with password"),
    pytest.param("github.com:o/r", "ssh address", id="scp-like without user"),
    pytest.param("https:github.com/o/r", "ssh address", id="https without slashes"),
    pytest.param("https:/github.com/o/r", "ssh address", id="https with one slash"),
    pytest.param("git://github.com/o/r", "scheme 'git'", id="git protocol"),
    pytest.param("ftp://github.com/o/r", "scheme 'ftp'", id="ftp"),
    pytest.param("ext::sh", "'ext::' is git's remote-helper syntax", id="ext transport"),
    pytest.param("ext::sh -c touch% pwned", "whitespace", id="ext transport with command"),
    pytest.param("fd::17", "'fd::'", id="fd transport"),
    pytest.param("fd::17/o/r", "'fd::'", id="fd transport with path"),
    pytest.param("remote-https::https://github.com/o/r", "remote-helper", id="helper transport"),
    pytest.param("::https://github.com/o/r", "remote-helper", id="empty transport"),
    pytest.param("--upload-pack=touch%20pwned", "starts with '-'", id="upload-pack option"),
    pytest.param("--upload-pack=touch pwned", "whitespace", id="upload-pack with space"),
    pytest.param("-u", "starts with '-'", id="short option"),
    pytest.param("--config=core.sshCommand=x", "starts with '-'", id="config option"),
    pytest.param("https://github.com/o/r x", "whitespace", id="space"),
    pytest.param("https://github.com/o/r\tx", "whitespace", id="tab"),
    pytest.param("https://github.com/o/r\n", "whitespace", id="trailing newline"),
    pytest.param(" https://github.com/o/r", "whitespace", id="leading space"),
    pytest.param("https://github.com/o/r\x00", "control character", id="NUL"),
    pytest.param("https://github.com/o/r\x7f", "control character", id="DEL"),
    pytest.param("https://github.com/o/r\x1b[2J", "control character", id="escape sequence"),
    pytest.param("https://github.com/o/\u202er", "control character", id="right-to-left mark"),
    pytest.param("https://git\u200bhub.com/o/r", "control character", id="zero-width space"),
    pytest.param("https://github.com/o/\u00a0r", "whitespace", id="no-break space"),
    pytest.param("https://github.com/o/" + "r" * MAX_URL_CHARS, "too long", id="long url"),
    pytest.param("", "empty", id="empty"),
    pytest.param("https://github\u0435.com/o/r", "not in the allowlist", id="cyrillic e"),
    pytest.param(
        "https://\uff47\uff49\uff54\uff48\uff55\uff42.\uff43\uff4f\uff4d/o/r",
        "imitate 'github.com'",
        id="fullwidth letters",
    ),
    pytest.param("https://github\u3002com/o/r", "imitate 'github.com'", id="ideographic dot"),
    pytest.param("https://GITHUB\u0130.com/o/r", "not in the allowlist", id="dotted capital I"),
    pytest.param("https://xn--github-8of.com/o/r", "not in the allowlist", id="punycode host"),
    pytest.param("https://xn--/o/r", "not a valid host name", id="broken punycode"),
    pytest.param("https://github.com:443/o/r", "port", id="port 443"),
    pytest.param("https://github.com:22/o/r", "port", id="port 22"),
    pytest.param("https://github.com@evil.com/x", "host 'evil.com' is not in", id="user trick"),
    pytest.param(f"https://u:{SECRET}@evil.com/x", "host 'evil.com' is not in", id="creds evil"),
    pytest.param(f"https://{SECRET}@github.com@evil.com/o/r", "more than one '@'", id="two @"),
    pytest.param("https://evil.com/o/r", "host 'evil.com' is not in the allowlist", id="evil"),
    pytest.param("https://github.com.evil.com/o/r", "not in the allowlist", id="suffix host"),
    pytest.param("https://sub.github.com/o/r", "not in the allowlist", id="subdomain"),
    pytest.param("https://github.com./o/r", "not a valid host name", id="trailing dot"),
    pytest.param("https://-github.com/o/r", "not a valid host name", id="label dash"),
    pytest.param("https://gith_ub.com/o/r", "not a valid host name", id="underscore"),
    pytest.param("https://[::1]/o/r", "IP-literal", id="ipv6"),
    pytest.param("https://127.0.0.1/o/r", "not in the allowlist", id="ipv4"),
    pytest.param("https://git%68ub.com/o/r", "percent-encoding", id="encoded host"),
    pytest.param("https:///o/r", "no host", id="no host"),
    pytest.param("https://:@/o/r", "no host", id="empty userinfo no host"),
    pytest.param("https://github.com/o/r?x=1", "query strings", id="query"),
    pytest.param(f"https://github.com/o/r?access_token={SECRET}", "query", id="token query"),
    pytest.param("https://github.com/o/r#readme", "fragments", id="fragment"),
    pytest.param("https://github.com\\@evil.com/o/r", "backslash", id="backslash"),
    pytest.param("https://github.com", "no repository path", id="no path"),
    pytest.param("https://github.com/", "no repository path", id="root path"),
    pytest.param("https://github.com/o/../../etc", "path segment '..'", id="dot dot"),
    pytest.param("https://github.com/o/./r", "path segment '.'", id="dot"),
    pytest.param("https://github.com/o/%2e%2e", "path segment", id="encoded dot dot"),
    pytest.param("https://github.com//o/r", "path segment ''", id="empty segment"),
    pytest.param("https://github.com/o/r@main", "path segment", id="at in path"),
    pytest.param("https://github.com/o/r\u00e9", "path segment", id="non-ascii path"),
]


@pytest.mark.parametrize("allow_local", [False, True])
@pytest.mark.parametrize(("raw", "reason"), HOSTILE)
def test_hostile_urls_are_refused_with_a_reason(raw: str, reason: str, allow_local: bool) -> None:
    with pytest.raises(InvalidRepositoryURL) as refused:
        validate_repo_url(raw, allowed_hosts=GITHUB, allow_local=allow_local)
    message = str(refused.value)
    assert message.startswith("repository URL refused: ")
    assert reason in message
    assert SECRET not in message


def test_a_refusal_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError):
        validate_repo_url("http://github.com/o/r", allowed_hosts=GITHUB, allow_local=False)


def test_the_allowlist_is_named_in_the_refusal() -> None:
    hosts = frozenset({"github.com", "gitlab.example.org"})
    with pytest.raises(InvalidRepositoryURL) as refused:
        validate_repo_url("https://evil.com/o/r", allowed_hosts=hosts, allow_local=False)
    assert str(refused.value) == (
        "repository URL refused: host 'evil.com' is not in the allowlist"
        " (github.com, gitlab.example.org)"
    )


def test_a_look_alike_host_is_shown_with_its_disguise_escaped() -> None:
    with pytest.raises(InvalidRepositoryURL) as refused:
        validate_repo_url("https://github\u0435.com/o/r", allowed_hosts=GITHUB, allow_local=False)
    assert "'xn--github-8of.com' (shown as 'github\\u0435.com')" in str(refused.value)


ACCEPTED = [
    pytest.param("https://github.com/o/r", GITHUB, "https://github.com/o/r", id="plain"),
    pytest.param(
        "https://github.com/octo-org/hello_world.git",
        GITHUB,
        "https://github.com/octo-org/hello_world.git",
        id="dot git",
    ),
    pytest.param(
        "HTTPS://GitHub.COM/Octo/Repo", GITHUB, "https://github.com/Octo/Repo", id="upper case"
    ),
    pytest.param("https://github.com/o/r/", GITHUB, "https://github.com/o/r", id="trailing /"),
    pytest.param(
        f"https://x-access-token:{SECRET}@github.com/o/r.git",
        GITHUB,
        "https://github.com/o/r.git",
        id="user and token",
    ),
    pytest.param(f"https://{SECRET}@github.com/o/r", GITHUB, "https://github.com/o/r", id="token"),
    pytest.param("https://@github.com/o/r", GITHUB, "https://github.com/o/r", id="empty user"),
    pytest.param(
        "https://gitlab.example.org/group/sub/repo.git",
        frozenset({"github.com", "gitlab.example.org"}),
        "https://gitlab.example.org/group/sub/repo.git",
        id="second host with subgroups",
    ),
    pytest.param(
        "https://github.com/o/r", frozenset({" GitHub.com "}), "https://github.com/o/r", id="list"
    ),
    pytest.param(
        "https://b\u00fccher.example/o/r",
        frozenset({"b\u00fccher.example"}),
        "https://xn--bcher-kva.example/o/r",
        id="allowed international host",
    ),
    pytest.param(
        "https://xn--bcher-kva.example/o/r",
        frozenset({"b\u00fccher.example"}),
        "https://xn--bcher-kva.example/o/r",
        id="allowed international host in punycode",
    ),
    pytest.param(
        "https://B\u00dcCHER.example/o/r",
        frozenset({"xn--bcher-kva.example"}),
        "https://xn--bcher-kva.example/o/r",
        id="allowed international host in capitals",
    ),
]


@pytest.mark.parametrize(("raw", "hosts", "url"), ACCEPTED)
def test_https_urls_on_allowed_hosts_are_accepted_without_credentials(
    raw: str, hosts: frozenset[str], url: str
) -> None:
    source = validate_repo_url(raw, allowed_hosts=hosts, allow_local=False)
    assert source.kind == "https"
    assert source.url == url
    assert source.display == url
    assert SECRET not in repr(source)


# --- local repositories ---------------------------------------------------------------


@pytest.fixture
def local_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    return repo


def test_local_paths_are_refused_unless_local_repositories_are_allowed(local_repo: Path) -> None:
    for raw in [str(local_repo), local_repo.as_uri()]:
        with pytest.raises(InvalidRepositoryURL, match="not allowed"):
            validate_repo_url(raw, allowed_hosts=GITHUB, allow_local=False)


def test_a_local_path_is_resolved_to_an_absolute_path(
    local_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(local_repo.parent)
    source = validate_repo_url("./repo/", allowed_hosts=GITHUB, allow_local=True)
    assert source.kind == "local"
    assert source.url == str(local_repo.resolve())
    assert source.display == source.url


def test_a_file_url_names_a_local_repository(local_repo: Path) -> None:
    for raw in [local_repo.as_uri(), f"file://localhost{local_repo}"]:
        source = validate_repo_url(raw, allowed_hosts=GITHUB, allow_local=True)
        assert source.url == str(local_repo.resolve())


def test_a_bare_repository_is_a_local_repository(tmp_path: Path) -> None:
    (tmp_path / "bare.git" / "objects").mkdir(parents=True)
    (tmp_path / "bare.git" / "HEAD").write_text("ref: refs/heads/main\n")
    source = validate_repo_url(str(tmp_path / "bare.git"), allowed_hosts=GITHUB, allow_local=True)
    assert source.kind == "local"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("file://evil.com/tmp/repo", "must name a local path", id="file host"),
        pytest.param("file://localhost", "must name a local path", id="file no path"),
        pytest.param("file:///tmp/repo?x=1", "query", id="file query"),
        pytest.param("file:///tmp/re%00po", "control character", id="file encoded NUL"),
        pytest.param("file:///tmp/re%20po", "whitespace", id="file encoded space"),
        pytest.param("-repo", "starts with '-'", id="dash path"),
        pytest.param("file:///does/not/exist", "does not exist", id="file missing"),
        pytest.param("/does/not/exist", "does not exist", id="missing"),
        pytest.param("ext::repo", "remote-helper", id="helper path"),
    ],
)
def test_bad_local_sources_are_refused_even_when_local_is_allowed(
    raw: str, reason: str, local_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(local_repo.parent)
    (local_repo.parent / "-repo" / ".git").mkdir(parents=True)
    with pytest.raises(InvalidRepositoryURL) as refused:
        validate_repo_url(raw, allowed_hosts=GITHUB, allow_local=True)
    assert reason in str(refused.value)


def test_a_folder_that_is_not_a_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRepositoryURL, match="is not a git repository"):
        validate_repo_url(str(tmp_path), allowed_hosts=GITHUB, allow_local=True)


def test_a_file_is_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidRepositoryURL, match="is not a directory"):
        validate_repo_url(str(tmp_path / "notes.txt"), allowed_hosts=GITHUB, allow_local=True)


def test_a_dash_path_is_accepted_once_it_is_written_as_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "-repo" / ".git").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    source = validate_repo_url("./-repo", allowed_hosts=GITHUB, allow_local=True)
    assert source.url == str(tmp_path.resolve() / "-repo")  # absolute: git cannot read an option


# --- redact -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            f"fatal: unable to access 'https://user:{SECRET}@github.com/o/r/'",
            "fatal: unable to access 'https://***@github.com/o/r/'",
            id="userinfo",
        ),
        pytest.param(
            f"https://u:p@ss{SECRET}@github.com/o/r",
            "https://***@github.com/o/r",
            id="password holding @",
        ),
        pytest.param(
            f"GET /o/r?access_token={SECRET}&ref=main&private_token={SECRET}#x",
            "GET /o/r?access_token=***&ref=main&private_token=***#x",
            id="token parameters",
        ),
        pytest.param(
            f"Authorization: Basic {SECRET}==", "Authorization: Basic ***", id="basic header"
        ),
        pytest.param(
            f"authorization: bearer {SECRET}", "authorization: bearer ***", id="bearer header"
        ),
        pytest.param("token ghp_" + "a" * 36 + " used", "token *** used", id="github token"),
        pytest.param("github_pat_" + "A1_" * 10, "***", id="fine-grained github token"),
        pytest.param("glpat-" + "x" * 20, "***", id="gitlab token"),
        pytest.param(
            "fatal: repository 'https://github.com/o/r/' not found",
            "fatal: repository 'https://github.com/o/r/' not found",
            id="nothing to remove",
        ),
        pytest.param("git@github.com:o/r.git", "git@github.com:o/r.git", id="ssh user only"),
    ],
)
def test_redact_removes_credentials_and_keeps_the_rest(text: str, expected: str) -> None:
    assert redact(text) == expected


# --- source_for_repository ----------------------------------------------------------------


@pytest.mark.parametrize("clone_url", [None, ""])
def test_a_repository_without_clone_url_is_cloned_from_github(clone_url: str | None) -> None:
    source = source_for_repository(
        "octocat/Hello-World", clone_url, allowed_hosts=GITHUB, allow_local=False
    )
    assert source.url == "https://github.com/octocat/Hello-World.git"


def test_a_clone_url_takes_precedence_over_the_full_name() -> None:
    hosts = frozenset({"gitlab.example.org"})
    source = source_for_repository(
        "anything", "https://gitlab.example.org/g/r.git", allowed_hosts=hosts, allow_local=False
    )
    assert source.url == "https://gitlab.example.org/g/r.git"


def test_a_hostile_clone_url_is_refused() -> None:
    with pytest.raises(InvalidRepositoryURL, match="remote-helper"):
        source_for_repository("o/r", "ext::sh", allowed_hosts=GITHUB, allow_local=True)


@pytest.mark.parametrize(
    "full_name",
    [
        "octocat",
        "a/b/c",
        "../etc",
        "o/..",
        "o/.",
        "-o/r",
        "o r/x",
        "o/r?x=1",
        "o/r#x",
        "",
        "/r",
        "o/",
        "oct\u043ecat/r",
        "o/r\n",
        "o/" + "r" * 101,
        "a" * 40 + "/r",
        "o:x/r",
        "o/r@evil.com",
    ],
)
def test_a_malformed_full_name_is_refused(full_name: str) -> None:
    with pytest.raises(InvalidRepositoryURL, match="is not of the form owner/repo"):
        source_for_repository(full_name, None, allowed_hosts=GITHUB, allow_local=False)


def test_a_full_name_needs_github_in_the_allowlist() -> None:
    hosts = frozenset({"gitlab.example.org"})
    with pytest.raises(InvalidRepositoryURL, match=r"host 'github\.com' is not in the allowlist"):
        source_for_repository("o/r", None, allowed_hosts=hosts, allow_local=False)
