"""The health view on :8080: /health (JSON checks, 200 or 503), /metrics (Prometheus text
for scrapers, JSON for everyone else) and / (the dashboard page).

Served from a thread of the bridge with the standard library's HTTP server: no secret is
ever placed in a response (tokens and credentials are not part of any record we render).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge import claude_fleet
from bridge.status import HealthReport, collect_health, dashboard_state, metrics_json

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, bridge: Any, host: str, port: int, flower_url: str | None = None) -> None:
        self.bridge = bridge
        self.flower_url = flower_url
        claude_fleet.register_collector(bridge.metrics.registry, bridge.redis, bridge.clock_ms)
        handler = _make_handler(self)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="health", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def health(self) -> HealthReport:
        return collect_health(self.bridge)


def _make_handler(server: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("health view: " + format, *args)

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, data: Any) -> None:
            self._send(code, json.dumps(data, indent=1).encode(), "application/json")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                if path == "/health":
                    report = server.health()
                    self._json(200 if report.ok else 503, report.as_dict())
                elif path == "/metrics":
                    self._metrics()
                elif path == "/api/state":
                    self._json(200, dashboard_state(server.bridge, server.flower_url))
                elif path in {"/", "/index.html"}:
                    from bridge.dashboard import PAGE

                    self._send(200, PAGE.encode(), "text/html; charset=utf-8")
                else:
                    self._json(404, {"error": f"no such page: {path}"})
            except Exception as exc:
                log.exception("health view failed")
                self._json(500, {"error": type(exc).__name__})

        def _metrics(self) -> None:
            registry = server.bridge.metrics.registry
            if wants_prometheus_text(self.headers.get("Accept", "")):
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            else:
                self._json(200, metrics_json(registry))

    return Handler


def wants_prometheus_text(accept: str) -> bool:
    """Text for clients that ask for Prometheus' formats by name (every scraper does),
    JSON for the rest: a plain ``curl`` sends ``Accept: */*``, and the runbook pipes it
    into ``jq``."""
    media = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(media & {"text/plain", "application/openmetrics-text"})
