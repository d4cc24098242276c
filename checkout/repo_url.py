"""Validation of repository URLs, before any git command sees them.

A repository URL comes from a user, so it is hostile input: git treats some strings as
options (``--upload-pack=...``), some as programs to run (``ext::sh -c ...``) and some as
ssh hosts (``host:path``). Only two shapes are accepted:

* ``https://<host>/<path>`` where the host is exactly one of the allowed hosts, and
* a local directory holding a git repository (or a ``file://`` URL of one), only when
  local repositories are allowed (the embedded mode).

The accepted URL is rebuilt from the parts that were checked, so git never receives a
byte that the checks did not see.

Credentials written into an https URL (``https://user:token@host/...``) are accepted but
dropped: the only token git ever receives is ``settings.git_token``, passed through the
environment of the git process, so a token pasted into a URL is never stored in the job
store's artifacts, in ``.git/config`` or in logs. A private repository whose token came only
in the URL then fails to clone with an authentication error, which names the problem.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

from fondation.errors import InvalidRepositoryURL

MAX_URL_CHARS = 2048

_REFUSED = "repository URL refused"
# RFC 3986 scheme followed by "://".
_SCHEME_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# git's "<transport>::<address>" runs the program git-remote-<transport>.
_TRANSPORT_PREFIX = re.compile(r"^([A-Za-z0-9+._-]*)::")
_HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,38}$")
_REPO_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")

_CREDENTIAL_PARAM = (
    r"[A-Za-z0-9_.-]*(?:token|key|secret|password|passwd|pwd|auth|sig|signature|credential)"
    r"[A-Za-z0-9_.-]*"
)
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host -> scheme://***@host; greedy so a password holding '@'
    # is removed whole.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#]*@"), r"\1***@"),
    (re.compile(rf"(?i)([?&;]{_CREDENTIAL_PARAM}=)[^&#\s]*"), r"\1***"),
    (re.compile(r"(?i)(authorization:\s*(?:(?:basic|bearer|token)\s+)?)\S+"), r"\1***"),
    # Token formats of GitHub and GitLab, wherever they appear.
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), "***"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), "***"),
)


@dataclass(frozen=True)
class RepoSource:
    """A repository git may fetch: the result of the checks, never raw input."""

    kind: Literal["https", "local"]
    url: str  # what git is given: an https URL without credentials, or an absolute path
    display: str  # safe for logs and artifacts: never contains credentials


def redact(text: str) -> str:
    """Remove credentials (userinfo in URLs, token parameters, auth headers) from text."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def validate_repo_url(raw: str, *, allowed_hosts: frozenset[str], allow_local: bool) -> RepoSource:
    """Accept an https URL on an allowed host, or a local repository when allowed.

    Raises ``InvalidRepositoryURL`` naming the problem; the message never repeats
    credentials found in ``raw``.
    """
    _check_characters(raw, what="URL")
    transport = _TRANSPORT_PREFIX.match(raw)
    if transport:
        raise _refused(
            f"'{transport.group(1)}::' is git's remote-helper syntax, which runs a program"
        )
    scheme_url = _SCHEME_URL.match(raw)
    if scheme_url:
        scheme = scheme_url.group(1).lower()
        rest = raw[scheme_url.end() :]
        if scheme == "https":
            return _https_source(rest, allowed_hosts)
        if scheme == "file":
            return _file_url_source(rest, allow_local)
        raise _refused(f"scheme '{scheme}' is not allowed; use https://<host>/<owner>/<repo>")
    if ":" in raw.split("/", 1)[0]:
        # git reads "host:path" (a colon before any slash) as an ssh address.
        raise _refused("it looks like an ssh address (host:path); use https://")
    return _local_source(raw, allow_local)


def source_for_repository(
    full_name: str,
    clone_url: str | None,
    *,
    allowed_hosts: frozenset[str],
    allow_local: bool,
) -> RepoSource:
    """The source of a job store repositories row: its cloneUrl when set, else GitHub.

    An empty cloneUrl counts as absent, since store rows written by a form carry "" for
    "not given".
    """
    if clone_url:
        return validate_repo_url(clone_url, allowed_hosts=allowed_hosts, allow_local=allow_local)
    owner, slash, name = full_name.partition("/")
    if (
        not slash
        or not _OWNER.fullmatch(owner)
        or not _REPO_NAME.fullmatch(name)
        or name in {".", ".."}
    ):
        raise InvalidRepositoryURL(
            f"{_REFUSED}: repository name {_show(full_name)} is not of the form owner/repo"
        )
    return validate_repo_url(
        f"https://github.com/{owner}/{name}.git",
        allowed_hosts=allowed_hosts,
        allow_local=allow_local,
    )


# --- shapes -----------------------------------------------------------------------


def _https_source(rest: str, allowed_hosts: frozenset[str]) -> RepoSource:
    if "\\" in rest:
        # Browsers read '\' as '/', git does not: refuse rather than guess which host is meant.
        raise _refused("it contains a backslash")
    if "?" in rest or "#" in rest:
        raise _refused("query strings and fragments are not allowed")
    authority, _, path = rest.partition("/")
    host = _host_of(authority)
    allowed = _normalised_allowlist(allowed_hosts)
    if host not in allowed:
        listed = ", ".join(sorted(allowed)) or "empty"
        raise _refused(f"host {_show_host(host)} is not in the allowlist ({listed})")
    segments = path.split("/")
    if segments[-1] == "" and len(segments) > 1:
        segments.pop()  # one trailing slash, as in a URL copied from a browser
    if not segments or segments == [""]:
        raise _refused(f"no repository path after https://{host}/")
    for segment in segments:
        if not _PATH_SEGMENT.fullmatch(segment) or segment in {".", ".."}:
            raise _refused(
                f"path segment {_show(segment)} is not allowed "
                "(letters, digits and . _ ~ - only; no empty, '.' or '..' segments)"
            )
    url = f"https://{host}/{'/'.join(segments)}"
    return RepoSource(kind="https", url=url, display=url)


def _host_of(authority: str) -> str:
    """The normalised host of an authority; user information is dropped."""
    userinfo, _, host = authority.rpartition("@")
    if "@" in userinfo:
        raise _refused("it contains more than one '@' before the path")
    if not host:
        raise _refused("it has no host")
    if host.startswith("["):
        raise _refused("IP-literal hosts are not allowed")
    if ":" in host:
        raise _refused("a port is not allowed in the host")
    if "%" in host:
        raise _refused("percent-encoding is not allowed in the host")
    return _normalised_host(host)


def _normalised_host(raw_host: str) -> str:
    """Lower-case, IDNA (punycode) form; refuses hosts that only look like another."""
    lowered = raw_host.lower()
    if lowered.isascii():
        ascii_host = lowered
    else:
        try:
            ascii_host = lowered.encode("idna").decode("ascii")
            round_trip = ascii_host.encode("ascii").decode("idna")
        except UnicodeError:
            raise _refused(
                f"host {_show(raw_host)} is not a valid internationalised name"
            ) from None
        if round_trip != lowered:
            # IDNA maps look-alikes (fullwidth letters, ideographic dots, ...) onto plain
            # ones; a host written with them is a disguise, never a typo.
            raise _refused(f"host {_show(raw_host)} uses characters that imitate '{ascii_host}'")
    if not all(_HOST_LABEL.fullmatch(label) for label in ascii_host.split(".")):
        raise _refused(f"host {_show_host(ascii_host)} is not a valid host name")
    return ascii_host


def _normalised_allowlist(hosts: Iterable[str]) -> frozenset[str]:
    out = set()
    for host in hosts:
        name = host.strip().lower()
        if not name.isascii():
            try:
                name = name.encode("idna").decode("ascii")
            except UnicodeError:
                continue  # an allowlist entry no URL can match
        out.add(name)
    return frozenset(out)


def _file_url_source(rest: str, allow_local: bool) -> RepoSource:
    if not allow_local:
        raise _refused("file:// URLs are local repositories, which are not allowed here")
    if "?" in rest or "#" in rest:
        raise _refused("query strings and fragments are not allowed")
    host, slash, path = rest.partition("/")
    if host not in {"", "localhost"} or not slash:
        raise _refused("a file:// URL must name a local path (file:///path)")
    decoded = unquote("/" + path)
    _check_characters(decoded, what="path")
    return _local_source(decoded, allow_local)


def _local_source(raw_path: str, allow_local: bool) -> RepoSource:
    if not allow_local:
        raise _refused(
            "only https://<host>/<owner>/<repo> URLs are accepted "
            "(local repositories are not allowed here)"
        )
    try:
        path = Path(raw_path).resolve(strict=True)
    except (OSError, RuntimeError):
        raise _refused(f"local path {_show(raw_path)} does not exist") from None
    if not path.is_dir():
        raise _refused(f"local path {_show(str(path))} is not a directory")
    if not _holds_git_repository(path):
        raise _refused(f"local path {_show(str(path))} is not a git repository")
    return RepoSource(kind="local", url=str(path), display=str(path))


def _holds_git_repository(path: Path) -> bool:
    dot_git = path / ".git"
    if dot_git.is_dir() or dot_git.is_file():  # a file: a worktree's or submodule's gitfile
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir()  # a bare repository


# --- helpers ----------------------------------------------------------------------


def _check_characters(raw: str, *, what: str) -> None:
    if not isinstance(raw, str):  # callers pass decoded JSON, which may be anything
        raise InvalidRepositoryURL(f"{_REFUSED}: expected a string, got {type(raw).__name__}")
    if not raw:
        raise _refused(f"the {what} is empty")
    if len(raw) > MAX_URL_CHARS:
        raise _refused(f"the {what} is too long ({len(raw)} characters, at most {MAX_URL_CHARS})")
    for char in raw:
        # Categories C* (controls, NUL, invisible format marks such as U+202E) and Z*
        # (every kind of space): none belongs in a URL, and each can hide what git sees.
        if unicodedata.category(char)[0] in "CZ":
            raise _refused(f"the {what} contains whitespace or a control character")
    if raw.startswith("-"):
        raise _refused(f"the {what} starts with '-', which git would read as an option")


def _refused(reason: str) -> InvalidRepositoryURL:
    return InvalidRepositoryURL(f"{_REFUSED}: {reason}")


def _show(text: str, limit: int = 80) -> str:
    """Quote user input for a message: redacted, shortened, non-ASCII escaped."""
    text = redact(text)
    if len(text) > limit:
        text = text[:limit] + "..."
    return ascii(text)


def _show_host(ascii_host: str) -> str:
    """A host as written and, for punycode, as it would look in a browser."""
    if "xn--" not in ascii_host:
        return _show(ascii_host)
    try:
        unicode_host = ascii_host.encode("ascii").decode("idna")
    except UnicodeError:
        return _show(ascii_host)
    return f"{_show(ascii_host)} (shown as {_show(unicode_host)})"
