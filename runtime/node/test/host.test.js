'use strict';
// Drives the real host over its NDJSON protocol.
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { spawn } = require('child_process');

function startHost() {
  const proc = spawn(process.execPath, ['--no-node-snapshot', path.join(__dirname, '..', 'host.js')], {
    cwd: path.join(__dirname, '..'), env: { PATH: process.env.PATH }, stdio: ['pipe', 'pipe', 'inherit'],
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
  return { proc, ready, run, call, stop: () => proc.kill() };
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
