"""Egress fairness and cancellation through the real sandbox host (no Django, no DB).

A local HTTP server records every request and holds /hang requests open, watching for the
client to go away, so the tests see what actually reaches the network.
"""

import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runtime.sandbox import Sandbox, SandboxLimits, SandboxRequest

FIRE = """async function onTrack(e, s) {
  // s.paths: one fetch per path, started in order; s.end: how the call ends once s.wait ms passed
  const pending = s.paths.map((p, i) => fetch(s.base + p + '?i=' + i).then(r => r.text(), err => err.type));
  if (s.wait) await new Promise(r => setTimeout(r, s.wait));
  if (s.end === 'return') return 'left ' + pending.length + ' fetches behind';
  if (s.end === 'throw') throw new Error('failed with fetches in flight');
  if (s.end === 'hang') await new Promise(() => {});
  return (await Promise.all(pending)).join(',');
}"""


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.paths: list[str] = []
        self.arrived: dict[str, float] = {}  # path -> when it was last requested
        self.gone: list[float] = []  # when a held client disconnected
        self.release = threading.Event()

    def seen(self, path: str) -> int:
        with self.lock:
            return sum(1 for p in self.paths if p == path)


def _client_gone(conn: socket.socket) -> bool:
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


@pytest.fixture()
def server():
    rec = Recorder()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            path = self.path.split("?")[0]
            with rec.lock:
                rec.paths.append(path)
                rec.arrived[path] = time.monotonic()
            if path.startswith("/hang"):
                if path == "/hang-partial":
                    self.send_response(200)
                    self.send_header("content-length", "1000")
                    self.end_headers()
                    self.wfile.write(b"x" * 10)
                    self.wfile.flush()
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and not rec.release.wait(0.02):
                    if _client_gone(self.connection):
                        with rec.lock:
                            rec.gone.append(time.monotonic())
                        self.close_connection = True
                        return
            if path == "/hang-partial":
                return
            body = b"ok"
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        request_queue_size = 256
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    rec.base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield rec
    rec.release.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def sb():
    s = Sandbox(egress_allow="127.0.0.1")
    yield s
    s.close()


def req(settings, key, timeout_ms=5000):
    return SandboxRequest(
        code=FIRE,
        kind="destination",
        payload={"type": "track", "event": "E"},
        settings=settings,
        instance_key=key,
        timeout_ms=timeout_ms,
    )


def healthy_within_100ms(sb):
    r = sb.run(req({"paths": []}, "healthy"))
    assert r.status == "success" and r.duration_ms < 100, (r.status, r.duration_ms)


def test_hung_instances_do_not_starve_another_instance(sb, server):
    sb.run(req({"paths": []}, "healthy"))  # warm
    hostile = {"base": server.base, "paths": ["/hang"] * 50, "end": "hang"}
    calm = {"base": server.base, "paths": ["/fast"], "wait": 300}
    # Two instances each start 50 requests that hang (100 in all, more than the old shared
    # pool's 64 sockets per origin); a third instance fetches once they are stuck.
    a1, a2, b = sb.run_many([req(hostile, "A1", 3000), req(hostile, "A2", 3000), req(calm, "B", 5000)])
    assert b.status == "success" and b.returned == "ok", (b.error, b.requests)
    assert b.requests[0]["status"] == 200 and b.requests[0]["duration_ms"] < 2000
    assert a1.error["type"] == "Timeout" and a2.error["type"] == "Timeout"
    # Each hostile instance had at most its pool's 16 requests on the network; the other 34
    # were waiting for a slot when its call ended, and never go out, even once slots free up.
    assert server.seen("/hang") == 32
    server.release.set()
    time.sleep(0.5)
    assert server.seen("/hang") == 32
    healthy_within_100ms(sb)


@pytest.mark.parametrize("end", ["return", "throw", "hang"])
def test_fetches_a_call_leaves_behind_are_cancelled(server, end):
    with Sandbox(egress_allow="127.0.0.1", limits=SandboxLimits(fetch_sockets_per_instance=2)) as s:
        s.run(req({"paths": []}, "healthy"))  # warm
        # Two requests take the instance's two slots and hang; three more wait for a slot.
        leave = {"base": server.base, "paths": ["/hang", "/hang", "/late", "/late", "/late"]}
        r = s.run(req(dict(leave, wait=200, end=end), "A", 1000))
        expected = {"return": "success", "throw": "error", "hang": "error"}[end]
        assert r.status == expected, r.error
        if end == "hang":
            assert r.error["type"] == "Timeout"
        # The call is over: the host closes the two held connections...
        deadline = time.monotonic() + 3
        while len(server.gone) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(server.gone) == 2
        assert server.seen("/hang") == 2
        # (at a timeout the fetches' own timer, clamped to the call deadline, may fire first)
        for t in r.requests:
            assert t["status"] is None
            assert t["error"] == "cancelled: the invocation ended" or (
                end == "hang" and t["error"].startswith("network timeout at: ")
            ), t
        assert len(r.requests) == 5
        # ...its slots are free for the instance's next call...
        ok = s.run(req({"base": server.base, "paths": ["/fast"]}, "A"))
        assert ok.returned == "ok", (ok.error, ok.requests)
        # ...and the three that were waiting never reach the server.
        server.release.set()
        time.sleep(0.3)
        assert server.seen("/late") == 0
        healthy_within_100ms(s)


BATCH = """async function onTrack(e, s) {
  if (e.event === 'first') { fetch(s.base + '/hang').catch(() => {}); await new Promise(r => setTimeout(r, 200)); return 'left one behind'; }
  await new Promise(r => setTimeout(r, 300));
  return (await fetch(s.base + '/fast')).text();
}"""


def test_run_batch_cancels_an_events_fetches_when_that_event_ends(sb, server):
    events = [{"type": "track", "event": "first"}, {"type": "track", "event": "second"}]
    first, second = sb.run_batch(
        SandboxRequest(
            code=BATCH, kind="destination", payload=events, settings={"base": server.base}, instance_key="K"
        )
    )
    assert first.status == "success" and second.returned == "ok", (first.error, second.error)
    assert first.requests[0]["error"] == "cancelled: the invocation ended"
    assert second.requests[0]["status"] == 200
    # the first event's connection closed when it ended, before the second event's request
    assert len(server.gone) == 1 and server.gone[0] < server.arrived["/fast"]
