"""A local HTTP server standing in for a vendor's API (AWS, Stripe, Twilio, ...) in tests.

Records every request (method, path, lower-cased headers, raw body) and answers with a
per-path reply, so a test can check what a library running in the sandbox actually sent.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    """One request as the vendor received it."""

    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


def _reply_for(path: str, headers: dict) -> tuple[int, dict, bytes]:
    if headers.get("x-amz-target"):
        return 200, {"content-type": "application/x-amz-json-1.1"}, b'{"SequenceNumber":"1","ShardId":"s"}'
    if path.startswith("/s3/"):
        return 200, {"etag": '"e1"'}, b""
    if path.startswith("/v1/customers"):
        return 200, {}, b'{"id":"cus_1","object":"customer"}'
    if "/Messages.json" in path:
        return 201, {}, b'{"sid":"SM1","status":"queued"}'
    if path == "/v3/mail/send":
        return 202, {}, b""
    return 200, {}, b'{"ok":true}'


@dataclass
class Vendor:
    """The running server: `url`, `port`, and `seen` (requests in arrival order)."""

    server: ThreadingHTTPServer
    seen: list = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def start_vendor() -> Vendor:
    seen: list = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _handle(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen.append(Seen(self.command, self.path, headers, body))
            status, extra, out = _reply_for(self.path, headers)
            self.send_response(status)
            self.send_header("content-type", extra.pop("content-type", "application/json"))
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Vendor(server, seen)
