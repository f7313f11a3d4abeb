'use strict';
// When a call ends its fetches stop at every stage: waiting for a socket slot, DNS (injected
// slow resolver and the real c-ares one against a silent name server), waiting for the
// response, reading the body, between redirect hops. Nothing reaches the network afterwards.
const test = require('node:test');
const assert = require('node:assert');
const { Egress, EgressPolicy } = require('../lib/egress');
const { systemResolver } = require('../lib/egress-dns');
const { recordingServer, dnsServer, until, sleep } = require('./helpers/egress-servers');

const LOOPBACK = new EgressPolicy('127.0.0.1');
const opts = (signal, extra = {}) => Object.assign({ poolKey: 'fn', signal, deadline: Date.now() + 60e3, defaultTimeoutMs: 30e3, maxBytes: 1 << 20 }, extra);
const get = (egress, url, o) => egress.fetch({ url, method: 'GET', headers: [] }, o);
const outcome = (p) => p.then((r) => ({ ok: r }), (e) => ({ err: e }));

// A resolver that answers `addrs` after `ms` and records when it was asked and answered.
function slowResolver(ms, addrs = ['127.0.0.1']) {
  const log = { asked: 0, answered: 0 };
  const resolve = (hostname) => {
    log.asked++;
    return sleep(ms).then(() => { log.answered++; return addrs; });
  };
  return { resolve, log };
}

let srv;
test.beforeEach(async () => { srv = await recordingServer(); });
test.afterEach(async () => { await srv.close(); });

test('aborted before it starts: rejected, nothing connects', async () => {
  const egress = new Egress({ policy: LOOPBACK });
  const ac = new AbortController();
  ac.abort();
  const r = await outcome(get(egress, srv.url('/fast'), opts(ac.signal)));
  assert.strictEqual(r.err.type, 'aborted');
  assert.match(r.err.message, /aborted: the invocation ended/);
  await sleep(100);
  assert.strictEqual(srv.connections.length, 0);
  egress.close();
});

test('a lookup in flight when the call ends is never followed by a connect', async () => {
  const dns = slowResolver(400);
  const egress = new Egress({ policy: LOOPBACK, resolve: dns.resolve });
  const ac = new AbortController();
  const pending = outcome(get(egress, `http://slow.invalid:${srv.port}/fast`, opts(ac.signal)));
  await until(() => dns.log.asked === 1);
  ac.abort();
  const r = await pending;
  assert.strictEqual(r.err.type, 'aborted');
  assert.strictEqual(dns.log.answered, 0, 'the fetch settles at the abort, not when the lookup returns');
  await until(() => dns.log.answered === 1);
  await sleep(200);
  assert.strictEqual(srv.connections.length, 0);
  egress.close();
});

test('c-ares: cancelling stops the query, no retransmission reaches the name server', async () => {
  const ns = await dnsServer({ 'silent.test': 'silent' });
  const egress = new Egress({ policy: LOOPBACK, resolve: systemResolver({ servers: [ns.server], timeoutMs: 100, tries: 5 }) });
  const ac = new AbortController();
  const pending = outcome(get(egress, `http://silent.test:${srv.port}/fast`, opts(ac.signal)));
  await until(() => ns.queries.length >= 2, 3000, 'the A and AAAA queries');
  ac.abort();
  const atAbort = ns.queries.length;
  assert.strictEqual((await pending).err.type, 'aborted');
  await sleep(800); // well past several 100 ms retry timeouts
  assert.strictEqual(ns.queries.length, atAbort, 'no query may be sent after the call ended');
  // Without cancellation the same resolver retries (so the check above can fail).
  const control = outcome(get(egress, `http://silent.test:${srv.port}/fast`, opts(null, { deadline: Date.now() + 700 })));
  const r = await control;
  assert.strictEqual(r.err.type, 'request-timeout');
  assert.ok(ns.queries.length - atAbort > 2, 'the resolver retransmits while a lookup is live');
  await ns.close();
  egress.close();
});

test('a fetch waiting for a socket slot when the call ends never connects', async () => {
  const egress = new Egress({ policy: LOOPBACK, perInstance: 1 });
  const first = new AbortController();
  const second = new AbortController();
  const holder = outcome(get(egress, srv.url('/hang'), opts(first.signal)));
  await until(() => srv.seen('/hang') === 1);
  const queued = outcome(get(egress, srv.url('/queued'), opts(second.signal)));
  await sleep(50);
  second.abort();
  assert.strictEqual((await queued).err.type, 'aborted');
  srv.release();
  assert.strictEqual((await holder).ok.text, 'late');
  const after = await get(egress, srv.url('/fast'), opts(null));
  assert.strictEqual(after.status, 200, 'the slot of the aborted waiter was not leaked');
  assert.strictEqual(srv.seen('/queued'), 0);
  egress.close();
});

test('waiting for the response, reading the body: the connection is closed at the abort', async () => {
  const egress = new Egress({ policy: LOOPBACK });
  for (const path of ['/hang', '/partial']) {
    const ac = new AbortController();
    const pending = outcome(get(egress, srv.url(path), opts(ac.signal)));
    await until(() => srv.seen(path) === 1);
    await sleep(50);
    ac.abort();
    assert.strictEqual((await pending).err.type, 'aborted');
    await until(() => srv.open() === 0, 2000, `the ${path} connection to close`);
  }
  egress.close();
});

test('a redirect whose next hop is still resolving when the call ends is not followed', async () => {
  const dns = slowResolver(300);
  const egress = new Egress({ policy: LOOPBACK, resolve: dns.resolve });
  const ac = new AbortController();
  const next = `http://next.invalid:${srv.port}/next`;
  const pending = outcome(get(egress, srv.url(`/redirect?to=${encodeURIComponent(next)}`), opts(ac.signal)));
  await until(() => dns.log.asked === 1);
  ac.abort();
  assert.strictEqual((await pending).err.type, 'aborted');
  await until(() => dns.log.answered === 1);
  await sleep(200);
  assert.strictEqual(srv.seen('/redirect'), 1);
  assert.strictEqual(srv.seen('/next'), 0);
  egress.close();
});

test('the fetch timeout stops a slow lookup too, with node-fetch\'s timeout error', async () => {
  const dns = slowResolver(1500);
  const egress = new Egress({ policy: LOOPBACK, resolve: dns.resolve });
  const r = await outcome(egress.fetch({ url: `http://slow.invalid:${srv.port}/fast`, method: 'GET', headers: [], timeout: 100 }, opts(null)));
  assert.strictEqual(r.err.type, 'request-timeout');
  assert.match(r.err.message, /^network timeout at: http:\/\/slow\.invalid:\d+\/fast$/);
  assert.strictEqual(dns.log.answered, 0);
  egress.close();
});
