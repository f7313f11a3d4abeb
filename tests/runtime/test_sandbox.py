"""Tests of runtime/sandbox/ against the real Node sandbox host (no Django, no DB)."""

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runtime.sandbox import Sandbox, SandboxRequest

# Fills an array (dictionary elements) past what V8 can grow even with isolated-vm's extra headroom: V8's
# fatal out-of-memory error, which aborts the whole host. (A sparse `new Array(3e8).fill(0)`
# on Node 24 is a long fill that never checks for termination instead.)
FATAL_OOM = (
    "async function onTrack(){ const a = []; a.length = 1.2e8;"
    " for (let i = 0; i < 1.2e8; i++) a[i] = i; return a.length }"
)


@pytest.fixture(scope="module")
def sb():
    s = Sandbox(egress_allow="")
    yield s
    s.close()


@pytest.fixture(scope="module")
def local_server():
    seen = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _reply(self):
            n = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(n).decode() if n else ""
            seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            if self.path.startswith("/redirect-meta"):
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                return
            if self.path.startswith("/redirect-private"):
                self.send_response(307)
                self.send_header("Location", "http://10.0.0.1/")
                self.end_headers()
                return
            if self.path.startswith("/fail"):
                self.send_response(503)
                self.end_headers()
                return
            out = json.dumps({"ok": True, "path": self.path}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = _reply

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1], seen
    srv.shutdown()


@pytest.fixture(scope="module")
def sb_local():
    s = Sandbox(egress_allow="127.0.0.1")
    yield s
    s.close()


def run(sb, code, kind="destination", payload=None, settings=None, key=None, timeout_ms=5000):
    return sb.run(
        SandboxRequest(
            code=code,
            kind=kind,
            payload=payload if payload is not None else {"type": "track", "event": "E"},
            settings=settings or {},
            instance_key=key,
            timeout_ms=timeout_ms,
        )
    )


def healthy(sb):
    r = run(sb, "async function onTrack(e){ return 'alive:' + e.event }")
    assert r.status == "success" and r.returned == "alive:E"


SOURCE_TEMPLATE = """
/**
 * @param {FunctionRequest} request
 * @param {FunctionSettings} settings
 */
async function onRequest(request, settings) {
  const body = request.json();
  Segment.identify({ userId: body.userId, traits: { email: body.email, plan: '' } });
  Segment.track({ event: body.event, userId: body.userId, properties: body.properties, extra: 'dropped' });
  Segment.set({ collection: 'users', id: body.userId, properties: { n: 1 } });
  return request.headers.get('x-signature') + '|' + request.url.searchParams.get('b');
}
"""

DEST_TEMPLATE = """
async function onTrack(event, settings) {
  const endpoint = settings.endpoint;
  let response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${btoa(settings.apiKey + ':')}`,
        'Content-Type': 'application/json'
      },
      body: JSON.stringify(event)
    });
  } catch (error) {
    throw new RetryError(error.message);
  }
  if (response.status >= 500 || response.status === 429) {
    throw new RetryError(`Failed with ${response.status}`);
  }
  return await response.json();
}
async function onIdentify(event, settings) { throw new EventNotSupported('identify is not supported'); }
async function onGroup(event, settings) { throw new EventNotSupported('group is not supported'); }
"""


# ---- functional ---------------------------------------------------------------------------


def test_source_template_emits_spec_events(sb):
    payload = {
        "body": {"userId": "u1", "email": "a@b.c", "event": "Signed Up", "properties": {"p": 1}},
        "headers": {"X-Signature": ["abc"]},
        "query": {"b": "tok"},
    }
    r = run(sb, SOURCE_TEMPLATE, kind="source", payload=payload)
    assert r.status == "success", r.error
    assert r.returned == "abc|tok"
    assert r.events == [
        {"userId": "u1", "traits": {"email": "a@b.c", "plan": ""}, "type": "identify"},
        {"userId": "u1", "event": "Signed Up", "properties": {"p": 1}, "type": "track"},
    ]
    assert r.objects == [{"collection": "users", "id": "u1", "properties": {"n": 1}}]


def test_source_validation_error_discards_events(sb):
    code = "async function onRequest(req){ Segment.track({event:'ok', userId:'u'}); Segment.track({event:'x'}); }"
    r = run(sb, code, kind="source", payload={"body": {}})
    assert r.status == "error"
    assert r.error["type"] == "ValidationError"
    assert "One of userId,anonymousId is required" in r.error["message"]
    assert r.events == []


def test_request_text_json_await_and_form(sb):
    code = """async function onRequest(req){
      const a = req.json(); const b = await req.json(); const t = req.text();
      return {same: a === b, t, q: req.url.searchParams.getAll('x'), ct: req.headers.get('CONTENT-TYPE')}
    }"""
    r = run(
        sb,
        code,
        kind="source",
        payload={
            "body": '{"k":1}',
            "headers": {"content-type": "application/json"},
            "query": {"x": ["1", "2"]},
        },
    )
    assert r.returned == {"same": True, "t": '{"k":1}', "q": ["1", "2"], "ct": "application/json"}
    form = "async function onRequest(req){ return req.json() }"
    r = run(
        sb,
        form,
        kind="source",
        payload={"body": "a=1&b=2&a=3", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    )
    assert r.returned == {"a": ["1", "3"], "b": "2"}


def test_sloppy_mode_implicit_globals_and_process_guard(sb):
    code = """
    counter = 5;
    try { if (process?.env.NODE_DEV === 'TEST') module.exports = {} } catch (e) {}
    onTrack = async function (event) { undeclared = counter + 1; return undeclared };
    """
    r = run(sb, code)
    assert r.status == "success", r.error
    assert r.returned == 6


def test_module_state_per_instance_key(sb):
    code = "let n = 0; async function onTrack(){ n += 1; return n }"
    assert [run(sb, code, key="inst-a").returned for _ in range(3)] == [1, 2, 3]
    assert run(sb, code, key="inst-b").returned == 1
    assert run(sb, code, key="inst-a").returned == 4
    assert run(sb, code).returned == 1
    assert run(sb, code).returned == 1


def test_crypto_matches_python(sb):
    code = """async function onTrack(e, s){ return {
      md5: crypto.createHash('md5').update(e.event).digest('hex'),
      sha: crypto.createHmac('sha256', s.secret).update(e.event, 'utf8').digest('base64'),
      buf: crypto.createHash('sha1').update('x').digest().length,
      uuid: crypto.randomUUID().length, rnd: crypto.randomBytes(8).length } }"""
    r = run(sb, code, settings={"secret": "k"})
    assert r.returned["md5"] == hashlib.md5(b"E").hexdigest()
    assert r.returned["sha"] == base64.b64encode(hmac.new(b"k", b"E", hashlib.sha256).digest()).decode()
    assert r.returned["buf"] == 20 and r.returned["uuid"] == 36 and r.returned["rnd"] == 8


def test_libraries(sb):
    code = """async function onTrack(e){
      const parsed = await xml2js.parseStringPromise('<a><b>1</b></a>');
      return { l: _.snakeCase('helloWorld'), m: moment.tz('2020-01-01T12:00:00Z', 'Europe/Paris').format('HH:mm'),
               u: uuidv5('url', 'http://example.com'), u2: uuidv5.uuidv5 === uuidv5, x: parsed.a.b[0],
               xml: xml({ a: 'b' }), b64: Buffer.from('hi').toString('base64'), at: atob(btoa('é')) } }"""
    r = run(sb, code)
    assert r.status == "success", r.error
    import uuid

    assert r.returned == {
        "l": "hello_world",
        "m": "13:00",
        "u": str(uuid.uuid5(uuid.NAMESPACE_URL, "http://example.com")),
        "u2": True,
        "x": "1",
        "xml": "<a>b</a>",
        "b64": "aGk=",
        "at": "é",
    }


def test_cache_ttl_and_shared_load(sb):
    code = """
    let calls = 0;
    async function onTrack(e) {
      const f = async () => { calls++; await new Promise(r => setTimeout(r, 20)); return calls };
      const [a, b] = await Promise.all([cache.load('k', 60000, f), cache.load('k', 60000, f)]);
      const c = await cache.load('t', 0, f);
      await new Promise(r => setTimeout(r, 5));
      const d = await cache.load('t', 0, f);
      cache.delete('k');
      const g = await cache.load('k', -1, f);
      return [a, b, c, d, g, calls];
    }"""
    r = run(sb, code)
    assert r.status == "success", r.error
    assert r.returned == [1, 1, 2, 3, 4, 4]


def test_batch_insert_drop_and_dispatch(sb):
    batch = "async function onBatch(events){ return events.map(e => e.event) }"
    assert run(
        sb, batch, payload=[{"type": "track", "event": "a"}, {"type": "track", "event": "b"}]
    ).returned == ["a", "b"]
    r = run(sb, "async function onTrack(){}", payload=[{"type": "track"}])
    assert r.error["type"] == "EventNotSupported"
    ins = "async function onTrack(e){ e.properties = {x: 1}; return e }\nasync function onIdentify(){ throw new DropEvent('no') }"
    r = run(sb, ins, kind="insert_destination")
    assert r.returned == {"type": "track", "event": "E", "properties": {"x": 1}}
    r = run(sb, ins, kind="insert_source", payload={"type": "identify"})
    assert r.status == "error" and r.error["type"] == "DropEvent"
    r = run(sb, ins, payload={"type": "page"})
    assert r.error["type"] == "EventNotSupported"
    r = run(sb, ins, payload={"type": "weird"})
    assert r.status == "success" and r.returned is None


def test_destination_template_fetch_local(sb_local, local_server):
    port, seen = local_server
    r = run(
        sb_local,
        DEST_TEMPLATE,
        settings={"apiKey": "sk", "endpoint": f"http://127.0.0.1:{port}/hook?api_key=secret&x=1"},
    )
    assert r.status == "success", r.error
    assert r.returned["ok"] is True
    assert seen[-1]["headers"]["authorization"] == "Basic " + base64.b64encode(b"sk:").decode()
    assert json.loads(seen[-1]["body"])["event"] == "E"
    assert r.requests[0]["method"] == "POST" and r.requests[0]["status"] == 200
    assert "secret" not in r.requests[0]["url"] and "x=1" in r.requests[0]["url"]
    r = run(sb_local, DEST_TEMPLATE, settings={"apiKey": "sk", "endpoint": f"http://127.0.0.1:{port}/fail"})
    assert r.error["type"] == "RetryError" and "503" in r.error["message"]
    r = run(sb_local, DEST_TEMPLATE, payload={"type": "identify"})
    assert r.error["type"] == "EventNotSupported"


def test_check(sb):
    c = sb.check("var a = 1;\nfunction onTrack( {\n", "destination")
    assert not c.ok and c.error["type"] == "SyntaxError" and c.error["line"] in (2, 3)
    c = sb.check("async function onTrack(){}", "source")
    assert not c.ok and c.error["type"] == "MissingHandler" and "onRequest" in c.error["message"]
    c = sb.check("onTrack = async () => 1; async function onBatch(){}", "destination")
    assert c.ok and set(c.handlers) == {"onTrack", "onBatch"}


# ---- security -------------------------------------------------------------------------------


def test_escape_probes(sb):
    code = """async function onTrack(){
      let viaCtor; try { viaCtor = this.constructor.constructor('return typeof process')() } catch (e) { viaCtor = 'threw' }
      let viaFetch; try { viaFetch = fetch.constructor('return typeof process')() } catch (e) { viaFetch = 'threw' }
      const names = Object.getOwnPropertyNames(globalThis).filter(n => /^(ivm|Reference|ExternalCopy|Callback|__sb.*|_ivm.*)$/.test(n) || (typeof globalThis[n] === 'object' && globalThis[n] !== null && typeof globalThis[n].deref === 'function'));
      return { viaCtor, viaFetch, names, r: typeof require, p: typeof process, m: typeof module, ex: typeof exports,
               wasm: typeof WebAssembly, sab: typeof SharedArrayBuffer, win: window === globalThis }
    }"""
    r = run(sb, code)
    assert r.returned == {
        "viaCtor": "undefined",
        "viaFetch": "undefined",
        "names": [],
        "r": "undefined",
        "p": "undefined",
        "m": "undefined",
        "ex": "undefined",
        "wasm": "undefined",
        "sab": "undefined",
        "win": True,
    }
    healthy(sb)


def test_prototype_pollution_isolated(sb):
    run(sb, "Object.prototype.polluted = 'yes'; async function onTrack(){ return 1 }", key="polluter")
    r = run(sb, "async function onTrack(){ return ({}).polluted === undefined }", key="victim")
    assert r.returned is True


def test_hijacking_dispatcher_globals_is_harmless(sb):
    code = (
        "globalThis.__sbInternals = 1; JSON.stringify = () => 'x'; async function onTrack(){ return {a: 1} }"
    )
    r = run(sb, code)
    assert r.status == "success" and r.returned == {"a": 1}


@pytest.mark.parametrize(
    "body",
    [
        "while (true) {}",
        "await new Promise(r => setTimeout(r, 5)); while (true) {}",
        "await new Promise(() => {});",
    ],
)
def test_timeouts(sb, body):
    r = run(sb, f"async function onTrack(){{ {body} }}", key="spinner", timeout_ms=300)
    assert r.status == "error" and r.error["type"] == "Timeout"
    healthy(sb)
    assert (
        run(sb, "async function onTrack(){ return 'rebuilt' }", key="spinner", timeout_ms=300).returned
        == "rebuilt"
    )


def test_gradual_memory_growth(sb):
    code = "async function onTrack(){ const a = []; while (true) a.push(new Array(1e5).fill(1.5)); }"
    r = run(sb, code, timeout_ms=20000)
    assert r.status == "error" and r.error["type"] == "MemoryLimit"
    healthy(sb)


def test_huge_allocation_crash_is_contained(sb):
    healthy(sb)
    pid_before = sb.pid
    crash = SandboxRequest(
        code=FATAL_OOM,
        kind="destination",
        payload={"type": "track"},
        settings={},
        instance_key="crasher",
    )
    ok = SandboxRequest(
        code="async function onTrack(){ await new Promise(r => setTimeout(r, 200)); return 'fine' }",
        kind="destination",
        payload={"type": "track"},
        settings={},
        instance_key="bystander",
    )
    res_ok, res_crash = sb.run_many([ok, crash])
    # The default 5 s deadline: V8's fatal error (the host restarts, the call is charged) or,
    # on a loaded box, the deadline while the isolate is still filling memory: MemoryLimit.
    assert res_crash.status == "error" and res_crash.error["type"] == "MemoryLimit"
    assert res_crash.error.get("attributed") is (sb.pid != pid_before)
    assert res_ok.status == "success" and res_ok.returned == "fine"
    healthy(sb)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]:9/",
        "http://localhost:9/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://0x7f000001:9/",
        "file:///etc/passwd",
    ],
)
def test_egress_denied_by_default(sb, url):
    code = """async function onTrack(e, s){ try { await fetch(s.url); return 'reached' } catch (err) { return err.message } }"""
    r = run(sb, code, settings={"url": url})
    assert r.status == "success"
    assert r.returned != "reached"
    if url.startswith("http"):
        assert "egress denied" in r.returned
        assert r.requests[0]["status"] is None and "egress denied" in r.requests[0]["error"]
    healthy(sb)


@pytest.mark.parametrize("path", ["/redirect-meta", "/redirect-private"])
def test_redirect_to_private_denied(sb_local, local_server, path):
    port, _ = local_server
    code = """async function onTrack(e, s){ try { await fetch(s.url); return 'reached' } catch (err) { return err.message } }"""
    r = run(sb_local, code, settings={"url": f"http://127.0.0.1:{port}{path}"})
    assert "egress denied" in r.returned


def test_payload_limits(sb):
    deep = {}
    cur = deep
    for _ in range(150):
        cur["a"] = {}
        cur = cur["a"]
    r = run(sb, "async function onTrack(){}", payload={"type": "track", "d": deep})
    assert r.error["type"] == "PayloadTooDeep"
    healthy(sb)


def test_logs_captured_and_capped(sb):
    r = run(
        sb,
        "async function onTrack(){ console.log('a', {b: 1}); console.error('x'.repeat(5000)); for (let i = 0; i < 300; i++) console.info(i) }",
    )
    assert r.logs[0]["level"] == "log" and r.logs[0]["message"] == "a { b: 1 }"
    assert r.logs[1]["level"] == "error" and len(r.logs[1]["message"]) < 2100
    assert len(r.logs) == 201 and "dropped" in r.logs[-1]["message"]
