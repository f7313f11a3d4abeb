'use strict';
// Socket pools per function instance: one instance's hung requests do not hold up another's,
// fetches in flight and open sockets stay within the per-instance and host-wide bounds.
const test = require('node:test');
const assert = require('node:assert');
const { Egress, EgressPolicy } = require('../lib/egress');
const { recordingServer, until, sleep } = require('./helpers/egress-servers');

const LOOPBACK = new EgressPolicy('127.0.0.1');
const opts = (poolKey, signal) => ({ poolKey, signal, deadline: Date.now() + 60e3, defaultTimeoutMs: 30e3, maxBytes: 1 << 20 });
const get = (egress, url, poolKey, signal) => egress.fetch({ url, method: 'GET', headers: [] }, opts(poolKey, signal));
const outcome = (p) => p.then((r) => ({ ok: r }), (e) => ({ err: e }));

let srv;
test.beforeEach(async () => { srv = await recordingServer(); });
test.afterEach(async () => { await srv.close(); });

test('hung requests of two instances do not delay a third instance, and each is capped', async () => {
  const egress = new Egress({ policy: LOOPBACK, perInstance: 3, total: 7 });
  const hung = new AbortController();
  const stuck = [];
  for (const key of ['A', 'C']) for (let i = 0; i < 6; i++) stuck.push(outcome(get(egress, srv.url(`/hang-${key}`), key, hung.signal)));
  await until(() => srv.seen('/hang-A') === 3 && srv.seen('/hang-C') === 3);
  await sleep(100);
  assert.strictEqual(srv.seen('/hang-A'), 3, 'instance A has at most perInstance requests in flight');
  assert.strictEqual(srv.seen('/hang-C'), 3);
  const t0 = Date.now();
  const b = await get(egress, srv.url('/fast'), 'B');
  assert.strictEqual(b.text, 'ok');
  assert.ok(Date.now() - t0 < 2000, 'B is served while A and C hang');
  hung.abort();
  for (const r of await Promise.all(stuck)) assert.strictEqual(r.err.type, 'aborted');
  assert.strictEqual(srv.seen('/hang-A') + srv.seen('/hang-C'), 6, 'the queued ones never went out');
  egress.close();
});

test('the host-wide cap holds requests beyond it until others finish', async () => {
  const egress = new Egress({ policy: LOOPBACK, perInstance: 2, total: 3 });
  const a = outcome(get(egress, srv.url('/hang'), 'A'));
  const a2 = outcome(get(egress, srv.url('/hang'), 'A'));
  const c = outcome(get(egress, srv.url('/hang'), 'C'));
  await until(() => srv.seen('/hang') === 3);
  const waiting = new AbortController();
  const b = outcome(get(egress, srv.url('/fast'), 'B', waiting.signal));
  await sleep(200);
  assert.strictEqual(srv.seen('/fast'), 0, 'over the total cap: B waits');
  srv.release();
  assert.strictEqual((await b).ok.text, 'ok');
  for (const r of await Promise.all([a, a2, c])) assert.strictEqual(r.ok.text, 'late');
  egress.close();
});

test('idle keep-alive sockets count toward the caps and give way to new requests', async () => {
  const other = await recordingServer();
  const egress = new Egress({ policy: LOOPBACK, perInstance: 2, total: 3 });
  await Promise.all([get(egress, srv.url('/fast'), 'A'), get(egress, srv.url('/fast'), 'A')]);
  assert.strictEqual(srv.open(), 2, 'two keep-alive sockets stay open');
  await Promise.all([get(egress, other.url('/fast'), 'A'), get(egress, other.url('/fast'), 'A')]);
  await until(() => srv.open() === 0, 2000, 'the idle sockets of the first origin to close');
  assert.strictEqual(other.open(), 2);
  // Host-wide: B's request closes one of A's idle sockets (3 = total).
  await Promise.all([get(egress, srv.url('/fast'), 'B'), get(egress, srv.url('/fast'), 'B')]);
  await until(() => srv.open() + other.open() <= 3, 2000, 'open sockets within the host-wide cap');
  // A socket kept alive is reused: sequential requests of one instance use one connection.
  const before = other.connections.length;
  for (let i = 0; i < 3; i++) await get(egress, other.url('/fast'), 'A');
  assert.ok(other.connections.length - before <= 1);
  await other.close();
  egress.close();
});

test('pools unused for poolIdleMs are closed with their sockets', async () => {
  const egress = new Egress({ policy: LOOPBACK, poolIdleMs: 200 });
  await get(egress, srv.url('/fast'), 'A');
  assert.strictEqual(egress.pools.size, 1);
  egress.sweep();
  assert.strictEqual(egress.pools.size, 1, 'recently used');
  await sleep(250);
  egress.sweep();
  assert.strictEqual(egress.pools.size, 0);
  await until(() => srv.open() === 0, 2000, 'the pool socket to close');
  egress.close();
});
