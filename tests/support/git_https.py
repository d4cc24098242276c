"""A private git host for tests: real ``git http-backend`` behind HTTPS on a loopback
address, answering 401 to any request without the one token it accepts.

Repository URLs may not carry a port, so the server listens on 443 of an address of its
own in 127.0.0.0/8 (binding 443 needs root, which tests here have). Its certificate is
made for that address; git trusts it through ``GIT_SSL_CAINFO``.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import random
import shutil
import ssl
import subprocess
import threading
from collections.abc import Generator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class PrivateGitHost:
    address: str
    root: Path  # the served repositories: <root>/<owner>/<name>.git
    ca_file: Path
    token: str
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # method, path, authed

    def url(self, full_name: str) -> str:
        return f"https://{self.address}/{full_name}.git"

    def publish(self, work_tree: Path, full_name: str) -> None:
        """Serve the repository at ``work_tree`` as ``full_name``."""
        bare = self.root / f"{full_name}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "clone", "-q", "--bare", str(work_tree), str(bare)],
            check=True,
            capture_output=True,
            timeout=60,
        )

    @property
    def authorized(self) -> int:
        return sum(1 for _, _, ok in self.requests if ok)


def _certificate(address: str, folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)])
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
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _handler(host: PrivateGitHost) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"x-access-token:{host.token}".encode()).decode()
    backend = [shutil.which("git") or "git", "http-backend"]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass  # the test reads host.requests instead

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            ok = self.headers.get("Authorization") == expected
            path, _, query = self.path.partition("?")
            host.requests.append((self.command, path, ok))
            if not ok:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                "PATH": os.environ.get("PATH", ""),
                "GIT_PROJECT_ROOT": str(host.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "REMOTE_USER": "x-access-token",
            }
            done = subprocess.run(
                backend, check=False, input=body, env=env, capture_output=True, timeout=60
            )
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def serve_private_git(folder: Path, token: str) -> Generator[PrivateGitHost, None, None]:
    """A running host for the duration of the generator (use as a fixture body).

    Raises PermissionError when port 443 cannot be bound (not root)."""
    folder.mkdir(parents=True, exist_ok=True)
    address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    cert_file, key_file = _certificate(address, folder)
    host = PrivateGitHost(address, folder / "repos", cert_file, token)
    host.root.mkdir()
    server = ThreadingHTTPServer((address, 443), _handler(host))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
