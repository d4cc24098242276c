"""REDIS_URL, parsed once into where Redis is and how to reach it: one server
(``redis://``, ``rediss://``) or the Sentinels of a replicated deployment
(``sentinel://``), with the passwords and TLS options of each.

Every Redis client of ours (fondation/redis_client.py) and Celery's broker settings
(tasks/worker/broker.py) are built from this parsed address, never from the raw text, so
one URL means the same to redis-py and to kombu (whose own URL parsers differ: kombu
takes no ``master_name`` in a URL, and falls back to unverified TLS without
``ssl_cert_reqs``). The forms, documented for operators in compose/README.md::

    redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
    rediss://[[USER]:PASSWORD@]HOST[:PORT][/DB][?TLS options]
    sentinel://[[USER]:PASSWORD@]HOST[:PORT][;sentinel://HOST[:PORT]]...[/DB]
        ?master_name=NAME[&sentinel_username=U][&sentinel_password=P][&ssl=true&TLS options]

TLS options (redis-py's names): ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``,
``ssl_cert_reqs`` (``required``, the default, or ``optional``, ``none``),
``ssl_check_hostname`` (``true``, the default). In the Sentinel form the credentials
of the first entry, as in kombu, are the master's (and its replicas'); the Sentinels'
own come as ``sentinel_username`` / ``sentinel_password``; ``ssl=true`` speaks TLS, with
the same options, to the Sentinels and to the master. Special characters in a password
are percent-encoded (``;`` as ``%3B``, ``@`` as ``%40``, ``/`` as ``%2F``).

Error messages name what is wrong, never the URL: it may hold a password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from fondation.errors import ConfigError

DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379

CertReqs = Literal["required", "optional", "none"]
_CERT_REQS: tuple[CertReqs, ...] = ("required", "optional", "none")
_TLS_OPTIONS = (
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_cert_reqs",
    "ssl_check_hostname",
)
_SENTINEL_OPTIONS = ("master_name", "sentinel_username", "sentinel_password", "ssl")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
MASK = "***"


@dataclass(frozen=True)
class TlsOptions:
    """How to speak TLS to Redis: the certificate is verified unless told otherwise."""

    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    cert_reqs: CertReqs = "required"
    check_hostname: bool = True

    def redis_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``redis.Redis`` (``ssl=True`` included)."""
        return {
            "ssl": True,
            "ssl_ca_certs": self.ca_certs,
            "ssl_certfile": self.certfile,
            "ssl_keyfile": self.keyfile,
            "ssl_cert_reqs": self.cert_reqs,
            # redis-py refuses a hostname check without certificate verification.
            "ssl_check_hostname": self.check_hostname and self.cert_reqs != "none",
        }

    def query(self) -> list[tuple[str, str]]:
        pairs = [
            ("ssl_ca_certs", self.ca_certs),
            ("ssl_certfile", self.certfile),
            ("ssl_keyfile", self.keyfile),
        ]
        shown = [(k, v) for k, v in pairs if v is not None]
        shown.append(("ssl_cert_reqs", self.cert_reqs))
        if not self.check_hostname:
            shown.append(("ssl_check_hostname", "false"))
        return shown


@dataclass(frozen=True)
class RedisAddress:
    """One Redis server, or (``master_name`` set) the Sentinels that know the master."""

    nodes: tuple[tuple[str, int], ...]
    db: int = 0
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    tls: TlsOptions | None = None
    master_name: str | None = None
    sentinel_username: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def is_sentinel(self) -> bool:
        return self.master_name is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        """The passwords this address holds: what must appear in no log or page."""
        return tuple(p for p in (self.password, self.sentinel_password) if p)

    def redacted(self) -> str:
        """The URL with every password replaced by ``***``: safe to log or show."""
        user = quote(self.username or "", safe="")
        cred = f"{user}:{MASK}@" if self.password else (f"{user}@" if user else "")
        if not self.is_sentinel:
            scheme = "rediss" if self.tls else "redis"
            host, port = self.nodes[0]
            query = self.tls.query() if self.tls else []
            return f"{scheme}://{cred}{netloc(host, port)}/{self.db}{_query(query)}"
        entries = [f"sentinel://{netloc(h, p)}" for h, p in self.nodes]
        entries[0] = f"sentinel://{cred}{netloc(*self.nodes[0])}"
        query = [("master_name", self.master_name or "")]
        if self.sentinel_username:
            query.append(("sentinel_username", self.sentinel_username))
        if self.sentinel_password:
            query.append(("sentinel_password", MASK))
        if self.tls:
            query += [("ssl", "true"), *self.tls.query()]
        return ";".join(entries) + f"/{self.db}{_query(query)}"


def parse_redis_url(url: str) -> RedisAddress:
    """Parse REDIS_URL. Raises ``ConfigError`` naming the problem (never the URL)."""
    text = url.strip()
    scheme, sep, _ = text.partition("://")
    if not sep:
        raise ConfigError("REDIS_URL: not a URL; expected redis://, rediss:// or sentinel://")
    if scheme in ("redis", "rediss"):
        return _parse_direct(text, tls=scheme == "rediss")
    if scheme == "sentinel":
        return _parse_sentinel(text)
    raise ConfigError(
        f"REDIS_URL: unsupported scheme {scheme!r}; expected redis://, rediss:// or sentinel://"
    )


def _parse_direct(text: str, *, tls: bool) -> RedisAddress:
    parts = _split(text)
    options = _options(parts.query)
    unknown = set(options) - set(_TLS_OPTIONS)
    if unknown:
        raise ConfigError(f"REDIS_URL: unknown parameter(s) {sorted(unknown)}")
    if options and not tls:
        raise ConfigError("REDIS_URL: TLS options need the rediss:// scheme")
    return RedisAddress(
        nodes=((_host(parts.hostname), _port(parts, DEFAULT_PORT)),),
        db=_db(parts.path),
        username=parts.username or None,
        password=parts.password,
        tls=_tls(options) if tls else None,
    )


def _parse_sentinel(text: str) -> RedisAddress:
    entries = [e.strip() for e in text.split(";")]
    nodes: list[tuple[str, int]] = []
    for i, entry in enumerate(entries):
        if not entry.startswith("sentinel://"):
            raise ConfigError(
                f"REDIS_URL: Sentinel entry {i + 1} does not start with sentinel://"
                " (entries are separated by ';'; percent-encode a ';' in a password)"
            )
        parts = _split(entry)
        if i > 0 and (parts.username or parts.password is not None):
            raise ConfigError(
                "REDIS_URL: credentials go on the first sentinel:// entry only"
                " (they are the master's; the Sentinels' are sentinel_password)"
            )
        if i < len(entries) - 1 and (parts.path not in ("", "/") or parts.query):
            raise ConfigError(
                "REDIS_URL: the database and the options go after the last sentinel:// entry"
            )
        nodes.append((_host(parts.hostname), _port(parts, DEFAULT_SENTINEL_PORT)))
    first, last = _split(entries[0]), _split(entries[-1])
    options = _options(last.query)
    unknown = set(options) - set(_TLS_OPTIONS) - set(_SENTINEL_OPTIONS)
    if unknown:
        raise ConfigError(f"REDIS_URL: unknown parameter(s) {sorted(unknown)}")
    master_name = options.pop("master_name", "")
    if not master_name:
        raise ConfigError("REDIS_URL: a sentinel:// URL needs ?master_name=NAME")
    tls = _bool("ssl", options.pop("ssl", "false"))
    if not tls and set(options) & set(_TLS_OPTIONS):
        raise ConfigError("REDIS_URL: TLS options of a sentinel:// URL need ssl=true")
    return RedisAddress(
        nodes=tuple(nodes),
        db=_db(last.path),
        username=first.username or None,
        password=first.password,
        tls=_tls(options) if tls else None,
        master_name=master_name,
        sentinel_username=options.get("sentinel_username") or None,
        sentinel_password=options.get("sentinel_password") or None,
    )


@dataclass(frozen=True)
class _Parts:
    hostname: str | None
    port: int | None
    username: str | None
    password: str | None
    path: str
    query: str


def _split(entry: str) -> _Parts:
    split = urlsplit(entry)
    if split.fragment:
        raise ConfigError("REDIS_URL: a '#' must be percent-encoded (%23)")
    try:
        port = split.port
    except ValueError:
        raise ConfigError("REDIS_URL: a port is not a number between 0 and 65535") from None
    return _Parts(
        hostname=split.hostname,
        port=port,
        # urlsplit leaves the percent-encoding in; redis-py and kombu both decode it.
        username=_unquote(split.username),
        password=_unquote(split.password),
        path=split.path,
        query=split.query,
    )


def _unquote(value: str | None) -> str | None:
    return None if value is None else unquote(value)


def _options(query: str) -> dict[str, str]:
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    options: dict[str, str] = {}
    for key, value in pairs:
        if key in options:
            raise ConfigError(f"REDIS_URL: parameter {key!r} given twice")
        options[key] = value
    return options


def _tls(options: dict[str, str]) -> TlsOptions:
    reqs = options.get("ssl_cert_reqs", "required").lower()
    if reqs not in _CERT_REQS:
        raise ConfigError("REDIS_URL: ssl_cert_reqs must be required, optional or none")
    return TlsOptions(
        ca_certs=options.get("ssl_ca_certs") or None,
        certfile=options.get("ssl_certfile") or None,
        keyfile=options.get("ssl_keyfile") or None,
        cert_reqs=reqs,
        check_hostname=_bool("ssl_check_hostname", options.get("ssl_check_hostname", "true")),
    )


def _bool(name: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"REDIS_URL: {name} must be true or false")


def _host(hostname: str | None) -> str:
    if not hostname:
        raise ConfigError("REDIS_URL: a host is missing")
    return hostname


def _port(parts: _Parts, default: int) -> int:
    return default if parts.port is None else parts.port


def _db(path: str) -> int:
    number = path.strip("/")
    if not number:
        return 0
    if not number.isdigit():
        raise ConfigError("REDIS_URL: the database (the path) must be a number, as /0")
    return int(number)


def netloc(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _query(pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return ""
    return "?" + "&".join(f"{k}={quote(v, safe='/*')}" for k, v in pairs)
