"""The load side of bench/pipeline.py: the counting HTTP sink the destinations post to, and the
load processes that send Tracking API batches and webhooks on keep-alive connections."""

from __future__ import annotations

import http.client
import json
import resource
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# --- the sink: a separate process counting events and their end-to-end latency -------------


def sink_main(port: int, ready) -> None:
    seen: dict[str, float] = {}
    repeats = [0]  # deliveries of a messageId already seen
    extra: dict[str, int] = {}  # messageId -> deliveries after its first
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            now = time.time()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                for event in body if isinstance(body, list) else [body]:
                    t0 = (event.get("properties") or {}).get("t0")
                    if event["messageId"] in seen:
                        repeats[0] += 1
                        extra[event["messageId"]] = extra.get(event["messageId"], 0) + 1
                    seen.setdefault(event["messageId"], (now - t0) * 1000 if t0 else -1)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def do_GET(self):  # noqa: N802
            with lock:
                if self.path.startswith("/count/"):
                    prefix = self.path[len("/count/") :]
                    ids = [m for m in seen if m.startswith(prefix)]
                    self._answer({"count": len(ids), "repeats": sum(extra.get(m, 0) for m in ids)})
                    return
                if self.path == "/reset":
                    seen.clear()
                    repeats[0] = 0
                data = json.dumps(
                    {"count": len(seen), "latencies": list(seen.values())}
                    if self.path == "/stats"
                    else {"count": len(seen), "repeats": repeats[0]}
                ).encode()
            self._answer(data)

        def _answer(self, data) -> None:
            if isinstance(data, dict):
                data = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


def sink_get(port: int, path: str = "/count") -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    return json.loads(conn.getresponse().read())


# --- load: separate processes, each with a few threads on keep-alive connections -------------


def post_all(port: int, kind: str, spec: dict, numbers: list[int], results) -> None:
    # Each request is built right before it is sent, so its t0 is the send time.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ok = 0
    for n in numbers:
        path, body, headers = request_build(kind, spec, n)
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            ok += resp.status == 200
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    results.append(ok)


def load_main(port: int, kind: str, spec: dict, offset: int, count: int, threads: int, out) -> None:
    """Send `count` requests of `kind` (batch or webhook), split over `threads` threads."""
    numbers = list(range(offset, offset + count))
    results: list[int] = []
    workers = [
        threading.Thread(target=post_all, args=(port, kind, spec, numbers[t::threads], results))
        for t in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)  # this load process's CPU, for bench/cpu.py
    out.put((sum(results), usage.ru_utime + usage.ru_stime))


def request_build(kind: str, spec: dict, n: int, prefix: str = "b") -> tuple[str, bytes, dict]:
    t0 = time.time()
    if kind == "batch":
        batch = [
            {
                "type": "track",
                "event": "Bench",
                "userId": f"u{n}",
                "messageId": f"{prefix}-{n}-{i}",
                "properties": {"t0": t0},
            }
            for i in range(100)
        ]
        body = json.dumps({"batch": batch, "writeKey": spec["write_key"]}).encode()
        return "/v1/batch", body, {"Content-Type": "application/json"}
    body = json.dumps({"user": f"w{n}", "id": f"w-{n}", "t0": t0}).encode()
    return spec["hook_path"], body, {"Content-Type": "application/json"}
