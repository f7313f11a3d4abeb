'use strict';
// Drives the real host over its NDJSON protocol.
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { spawn } = require('child_process');

function startHost(extraEnv = {}) {
  const proc = spawn(process.execPath, ['--no-node-snapshot', path.join(__dirname, '..', 'host.js')], {
    cwd: path.join(__dirname, '..'), env: Object.assign({ PATH: process.env.PATH }, extraEnv), stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiters = new Map();
  let buf = '';
  let seq = 0;
  let readyResolve;
  const ready = new Promise((r) => { readyResolve = r; });
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (msg.ready) readyResolve();
      else if (waiters.has(msg.id)) { waiters.get(msg.id)(msg); waiters.delete(msg.id); }
    }
  });
  const call = (msg) => new Promise((resolve) => {
    const id = ++seq;
    waiters.set(id, resolve);
    proc.stdin.write(JSON.stringify(Object.assign({ id }, msg)) + '\n');
  });
  const run = (code, payload, opts = {}) => call({
    op: 'run', kind: opts.kind || 'destination', code, payload: JSON.stringify(payload), settings: JSON.stringify(opts.settings || {}),
    instance_key: opts.key || null, timeout_ms: opts.timeout || 2000,
  }).then((m) => m.result);
  const runBatch = (code, events, opts = {}) => call({
    op: 'run_batch', kind: opts.kind || 'destination', code, payload: JSON.stringify(events), settings: JSON.stringify(opts.settings || {}),
    instance_key: opts.key || null, timeout_ms: opts.timeout || 2000, count: events.length,
  });
  return { proc, ready, run, runBatch, call, stop: () => proc.kill() };
}

let host;
test.before(async () => { host = startHost(); await host.ready; });
test.after(() => host.stop());

test('escape probes', async () => {
  const r = await host.run(`async function onTrack(){ return [typeof require, typeof process, typeof module,
    this.constructor.constructor('return typeof process')(), typeof WebAssembly, typeof __sbInternals] }`, { type: 'track' });
  assert.deepStrictEqual(r.returned, ['undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined']);
});

test('dispatch: missing handler, unknown type, batch', async () => {
  assert.strictEqual((await host.run('async function onTrack(){}', { type: 'identify' })).error.type, 'EventNotSupported');
  const unknown = await host.run('async function onTrack(){ return 1 }', { type: 'bogus' });
  assert.strictEqual(unknown.status, 'success');
  assert.strictEqual(unknown.returned, null);
  assert.deepStrictEqual((await host.run('async function onBatch(e){ return e.length }', [{}, {}])).returned, 2);
});

test('Segment emitter projection and validation', async () => {
  const r = await host.run(`async function onRequest(){ Segment.page({ anonymousId: 'a', name: 'Home', email: 'x', properties: { p: 0 }, context: null }) }`, { body: {} }, { kind: 'source' });
  assert.deepStrictEqual(r.events, [{ anonymousId: 'a', name: 'Home', properties: { p: 0 }, type: 'page' }]);
  const bad = await host.run(`async function onRequest(){ Segment.alias({ userId: 'u' }) }`, { body: {} }, { kind: 'source' });
  assert.strictEqual(bad.error.type, 'ValidationError');
});

test('request object: headers, default URL, text of object body', async () => {
  const r = await host.run(`async function onRequest(req){ return [req.headers.get('x-multi'), req.url.href, req.text()] }`,
    { body: { a: 1 }, headers: { 'X-Multi': ['1', '2'] }, query: { q: ['a', 'b'] } }, { kind: 'source' });
  assert.deepStrictEqual(r.returned, ['1, 2', 'https://fn.segmentapis.com/?q=a&q=b', '{"a":1}']);
});

test('cache shares concurrent loads', async () => {
  const r = await host.run(`let n = 0; async function onTrack(){ const f = async () => ++n;
    const v = await Promise.all([cache.load('k', 1000, f), cache.load('k', 1000, f)]); return [v, n] }`, { type: 'track' });
  assert.deepStrictEqual(r.returned, [[1, 1], 1]);
});

test('timeout after await disposes the isolate and the next call works', async () => {
  const code = `let calls = 0; async function onTrack(){ calls++; if (calls === 1) { await null; while (true) {} } return calls }`;
  const r = await host.run(code, { type: 'track' }, { key: 'spin', timeout: 200 });
  assert.strictEqual(r.error.type, 'Timeout');
  const again = await host.run(code, { type: 'track' }, { key: 'spin', timeout: 200 });
  assert.strictEqual(again.error.type, 'Timeout'); // rebuilt isolate: module state starts over
});

test('check reports syntax error position and handlers', async () => {
  const bad = await host.call({ op: 'check', kind: 'destination', code: '\n\nfunction onTrack( {' });
  assert.strictEqual(bad.check.ok, false);
  assert.strictEqual(bad.check.error.line, 3);
  const good = await host.call({ op: 'check', kind: 'destination', code: 'onTrack = () => 1; const onBatch = () => 2' });
  assert.deepStrictEqual(good.check.handlers, ['onTrack', 'onBatch']);
});

// ---- run_batch ------------------------------------------------------------------------
const BATCH_CODE = `let n = 0;
async function onTrack(e) { n++; console.log('track', e.i, n); if (e.retry) throw new RetryError('later ' + e.i); return { i: e.i, n } }
async function onIdentify(e) { console.info('identify', e.i); if (e.drop) throw new DropEvent('dropped ' + e.i); e.traits = { seen: true }; return e }`;

test('run_batch: per-event results in order, mixed types, errors and logs per event', async () => {
  const events = [
    { type: 'track', i: 0 }, { type: 'identify', i: 1 }, { type: 'page', i: 2 }, { type: 'bogus', i: 3 },
    { type: 'track', i: 4, retry: true }, { type: 'identify', i: 5, drop: true }, { type: 'track', i: 6 }, [1, 2],
  ];
  const m = await host.runBatch(BATCH_CODE, events, { kind: 'insert_destination', key: 'batch-a' });
  const rs = m.results.map((x) => x.result);
  assert.strictEqual(rs.length, events.length);
  assert.deepStrictEqual(rs[0].returned, { i: 0, n: 1 });
  assert.deepStrictEqual(rs[1].returned, { type: 'identify', i: 1, traits: { seen: true } });
  assert.strictEqual(rs[2].error.type, 'EventNotSupported');
  assert.strictEqual(rs[3].status, 'success');
  assert.strictEqual(rs[3].returned, null);
  assert.strictEqual(rs[4].error.type, 'RetryError');
  assert.strictEqual(rs[4].error.message, 'later 4');
  assert.strictEqual(rs[5].error.type, 'DropEvent');
  assert.deepStrictEqual(rs[6].returned, { i: 6, n: 3 }); // module state carries on across events
  assert.strictEqual(rs[7].status, 'success'); // an array element is not an event: no-op, never onBatch
  assert.deepStrictEqual(rs.map((r) => r.logs.map((l) => l.message)),
    [['track 0 1'], ['identify 1'], [], [], ['track 4 2'], ['identify 5'], ['track 6 3'], []]);
  for (const x of m.results) assert.ok(x.duration_ms >= 0 && x.cpu_ms >= 0);
  // the warm instance keeps its state for the next batch
  const again = await host.runBatch(BATCH_CODE, [{ type: 'track', i: 7 }], { kind: 'insert_destination', key: 'batch-a' });
  assert.deepStrictEqual(again.results[0].result.returned, { i: 7, n: 4 });
  assert.deepStrictEqual((await host.runBatch(BATCH_CODE, [])).results, []);
});

test('run_batch: the log cap applies per event', async () => {
  const m = await host.runBatch('async function onTrack(e){ for (let i = 0; i < e.n; i++) console.log(i) }',
    [{ type: 'track', n: 250 }, { type: 'track', n: 3 }, { type: 'track', n: 200 }]);
  const lens = m.results.map((x) => x.result.logs.length);
  assert.deepStrictEqual(lens, [201, 3, 200]);
  assert.match(m.results[0].result.logs[200].message, /50 log lines dropped/);
});

test('run_batch: a timeout mid-batch keeps finished events; the rest get Timeout', async () => {
  const code = `async function onTrack(e){ console.log('ev', e.i); if (e.spin) { await null; while (true) {} } return e.i }`;
  const events = [{ type: 'track', i: 0 }, { type: 'track', i: 1 }, { type: 'track', i: 2, spin: true }, { type: 'track', i: 3 }];
  const t = Date.now();
  const m = await host.runBatch(code, events, { key: 'batch-spin', timeout: 200 });
  assert.ok(Date.now() - t < 1500);
  const rs = m.results.map((x) => x.result);
  assert.deepStrictEqual(rs.slice(0, 2).map((r) => [r.status, r.returned, r.logs[0].message]), [['success', 0, 'ev 0'], ['success', 1, 'ev 1']]);
  assert.strictEqual(rs[2].error.type, 'Timeout');
  assert.match(rs[2].error.message, /timed out after 200 ms/);
  assert.strictEqual(rs[3].error.type, 'Timeout');
  assert.match(rs[3].error.message, /^Not run/);
  assert.ok(m.results[2].duration_ms >= 190);
  // the isolate is rebuilt for the next call
  const next = await host.runBatch(code, [{ type: 'track', i: 9 }], { key: 'batch-spin', timeout: 200 });
  assert.strictEqual(next.results[0].result.returned, 9);
});

test('run_batch: whole-batch deadline', async () => {
  // Each event waits 100 ms (< timeout 400 ms), so no event times out on its own, but the
  // batch deadline (400 + 6 * allowance 10 = 460 ms) stops the batch: events 0-2 finish
  // well before it; event 5 never starts and is reported "Not run" as Timeout.
  const h = startHost({ SANDBOX_LIMITS: JSON.stringify({ batch_event_allowance_ms: 10 }) });
  await h.ready;
  try {
    const code = `async function onTrack(e){ await new Promise((r) => setTimeout(r, 100)); return e.i }`;
    const m = await h.runBatch(code, [0, 1, 2, 3, 4, 5].map((i) => ({ type: 'track', i })), { key: 'slow', timeout: 400 });
    const rs = m.results.map((x) => x.result);
    assert.deepStrictEqual(rs.slice(0, 3).map((r) => r.returned), [0, 1, 2]);
    assert.strictEqual(rs[5].error.type, 'Timeout');
    assert.ok(rs.slice(3).some((r) => /batch deadline of 460 ms/.test(r.error && r.error.message)), JSON.stringify(rs));
  } finally { h.stop(); }
});

test('run_batch: fetch trace and fetch cap per event', async () => {
  const http = require('http');
  const srv = http.createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ path: req.url })); });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  const h = startHost({ FUNCTIONS_EGRESS_ALLOW: '127.0.0.1', SANDBOX_LIMITS: JSON.stringify({ fetch_max_calls: 2 }) });
  await h.ready;
  try {
    const code = `async function onTrack(e, s){ const out = [];
      for (let k = 0; k < e.n; k++) { try { out.push((await (await fetch(s.base + '/e' + e.i + '/' + k)).json()).path) } catch (err) { out.push(err.message) } }
      return out }`;
    const m = await h.runBatch(code, [{ type: 'track', i: 0, n: 3 }, { type: 'track', i: 1, n: 0 }, { type: 'track', i: 2, n: 2 }],
      { settings: { base: `http://127.0.0.1:${port}` } });
    const rs = m.results;
    assert.deepStrictEqual(rs[0].result.returned.slice(0, 2), ['/e0/0', '/e0/1']);
    assert.match(rs[0].result.returned[2], /fetch limit reached/);
    assert.deepStrictEqual(rs[2].result.returned, ['/e2/0', '/e2/1']); // the cap counts per event
    assert.deepStrictEqual(rs.map((x) => x.requests.map((q) => [q.url.replace(/^.*:\d+/, ''), q.status])),
      [[['/e0/0', 200], ['/e0/1', 200], ['/e0/2', null]], [], [['/e2/0', 200], ['/e2/1', 200]]]);
  } finally { h.stop(); srv.close(); }
});

test('run_batch: invalid requests and build errors apply to every event', async () => {
  const bad = await host.runBatch('function onTrack( {', [{ type: 'track' }, { type: 'track' }]);
  assert.deepStrictEqual(bad.results.map((x) => x.result.error.type), ['SyntaxError', 'SyntaxError']);
  const src = await host.runBatch('async function onRequest(){}', [{}], { kind: 'source' });
  assert.strictEqual(src.results[0].result.error.type, 'InvalidRequest');
  const wrongCount = await host.call({ op: 'run_batch', kind: 'destination', code: 'async function onTrack(){}', payload: '[{}]', settings: '{}', count: 2, timeout_ms: 500 });
  assert.deepStrictEqual(wrongCount.results.map((x) => x.result.error.type), ['TypeError', 'TypeError']);
});
