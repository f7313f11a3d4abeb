'use strict';
// Containment on the real host with the default limits (docs/sandbox.md, "Limits"): timer
// floods, resizable buffers, memory kept across calls, and the crash record that names the
// call to charge. Each hostile call is followed by a healthy call of another instance.
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { spawn } = require('child_process');
const { load } = require('../lib/limits');

function startHost(extraEnv = {}) {
  const proc = spawn(process.execPath, ['--no-node-snapshot', path.join(__dirname, '..', 'host.js')], {
    cwd: path.join(__dirname, '..'), env: Object.assign({ PATH: process.env.PATH }, extraEnv), stdio: ['pipe', 'pipe', 'pipe'],
  });
  const waiters = new Map();
  let buf = '';
  let stderr = '';
  let seq = 0;
  let readyResolve;
  const ready = new Promise((r) => { readyResolve = r; });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal, stderr })));
  proc.stderr.on('data', (d) => { stderr += d; });
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
  const run = (code, key, payload = { type: 'track' }, timeoutMs = 5000) => new Promise((resolve) => {
    const id = ++seq;
    waiters.set(id, (m) => resolve(m.result));
    proc.stdin.write(JSON.stringify({ id, op: 'run', kind: 'destination', code, payload: JSON.stringify(payload), settings: '{}', instance_key: key, timeout_ms: timeoutMs }) + '\n');
  });
  return { proc, ready, run, exited, stop: () => proc.kill() };
}

async function healthy(host) {
  const t = Date.now();
  const r = await host.run("async function onTrack(){ return 'ok' }", 'healthy');
  assert.strictEqual(r.returned, 'ok');
  assert.ok(Date.now() - t < 100, `healthy call took ${Date.now() - t} ms`);
}

let host;
test.before(async () => { host = startHost(); await host.ready; });
test.after(() => host.stop());

test('an interval flood neither crashes the host nor outlives its call', async () => {
  const code = `let n = 0; async function onTrack(e){ if (e.read) return n;
    for (let i = 0; i < 99; i++) setInterval(() => { n++ }, 1);
    await new Promise((r) => setTimeout(r, 1500)); return n }`;
  const r = await host.run(code, 'flood');
  assert.strictEqual(r.status, 'success');
  assert.ok(r.returned > 0 && r.returned <= 99 * 155, String(r.returned)); // 10 ms minimum interval
  await new Promise((r2) => setTimeout(r2, 100));
  assert.strictEqual((await host.run(code, 'flood', { type: 'track', read: true })).returned, r.returned);
  await healthy(host);
});

test('timer caps throw to the caller', async () => {
  const r = await host.run('async function onTrack(){ for (let i = 0; i < 101; i++) setTimeout(() => {}, 1000) }', 'caps');
  assert.strictEqual(r.error.type, 'RangeError');
  assert.match(r.error.message, /at most 100 pending timers/);
  await healthy(host);
});

test('resizable ArrayBuffers are refused, fixed ones still work', async () => {
  const r = await host.run(`async function onTrack(){ const out = [];
    for (const C of [ArrayBuffer, new Uint8Array(1).buffer.constructor, class extends ArrayBuffer {}]) {
      try { new C(0, { maxByteLength: 2 ** 32 }); out.push('made') } catch (e) { out.push(e.name) } }
    const b = new ArrayBuffer(8); out.push(b.resizable, b instanceof ArrayBuffer, b.slice(2).byteLength); return out }`, 'rab');
  assert.deepStrictEqual(r.returned, ['RangeError', 'RangeError', 'RangeError', false, true, 6]);
  await healthy(host);
});

test('a big allocation that isolated-vm lets through fails the call with MemoryLimit', async () => {
  const r = await host.run("async function onTrack(){ return 'ab'.repeat(2 ** 28 - 64).indexOf('c') }", 'big-string');
  assert.strictEqual(r.error.type, 'MemoryLimit');
  await healthy(host);
});

// 30 s deadline: V8's fatal OOM takes ~2-3 s idle, 18 s at load average 20, and a deadline
// kill first means no abort at all, so no crash record to test (docs/sandbox.md, "Out of
// memory at the deadline"); the test's own timeout makes that a failure instead of a hang.
test('a fatal OOM aborts the host with a crash record naming the call', { timeout: 60000 }, async () => {
  const h = startHost();
  await h.ready;
  h.run('async function onTrack(){ const a = []; a.length = 1.2e8; for (let i = 0; i < 1.2e8; i++) a[i] = i; return a.length }', 'oom', { type: 'track' }, 30000);
  const { signal, stderr } = await h.exited;
  assert.strictEqual(signal, 'SIGABRT');
  const line = stderr.split('\n').find((l) => l.startsWith('SANDBOX_CRASH '));
  const record = JSON.parse(line.slice('SANDBOX_CRASH '.length));
  assert.strictEqual(record.reason, 'oom');
  assert.deepStrictEqual([record.culprit.id, record.culprit.instance_key], [1, 'oom']);
});

test('limits: defaults, overrides, and no unknown keys', () => {
  assert.strictEqual(load('').memoryMb, 128);
  assert.strictEqual(load('{"max_timers": 5}').maxTimers, 5);
  assert.throws(() => load('{"max_timer": 5}'), /unknown limit max_timer/);
  assert.throws(() => load('{"max_timers": -1}'), /non-negative/);
});
