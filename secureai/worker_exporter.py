"""A worker's ``/metrics``: a small HTTP server on a background thread of ``manage.py run_worker``.

Workers have no users to sign in, so the only key is the METRICS_TOKEN bearer token, and the
exporter refuses to start without one: an open port would hand the metrics to anyone who can
reach it. It binds to loopback unless told otherwise (WORKER_METRICS_ADDRESS). Like a server's
/metrics, each scrape runs the readiness checks first: a worker writes to the database and
publishes through the channel layer, so ``secureai_ready`` says whether it can.
"""

import json
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import urlparse

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from prometheus_client import MetricsHandler

from .health import check_readiness
from .metrics_access import metrics_token_matches

METRICS_PATH = "/metrics"


class TokenMetricsHandler(MetricsHandler):
    """Prometheus's handler of the process's registry, behind the bearer-token check."""

    def do_GET(self) -> None:
        if urlparse(self.path).path != METRICS_PATH:
            self.refuse(404, "not_found", f"Only {METRICS_PATH} is served here.")
        elif not metrics_token_matches(self.headers.get("Authorization")):
            self.refuse(401, "not_authenticated", "Send the metrics token as Authorization: Bearer <token>.")
        else:
            try:
                async_to_sync(check_readiness)()
            finally:
                connections.close_all()  # opened by this request's own thread, which ends with it
            super().do_GET()

    def refuse(self, status: int, code: str, detail: str) -> None:
        body = json.dumps({"code": code, "detail": detail}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="metrics"')
        self.end_headers()
        self.wfile.write(body)


def start_worker_exporter(*, address: str, port: int) -> ThreadingHTTPServer:
    """Serve this process's metrics on ``address:port`` until ``shutdown()``; needs METRICS_TOKEN."""
    if not settings.METRICS_TOKEN:
        raise ImproperlyConfigured("WORKER_METRICS_PORT needs METRICS_TOKEN: a worker serves its metrics only to it.")
    server = ThreadingHTTPServer((address, port), TokenMetricsHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-exporter", daemon=True).start()
    return server
