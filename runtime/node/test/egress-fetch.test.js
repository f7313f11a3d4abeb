'use strict';
// Egress.fetch against local servers: refused destinations never get a connection, redirects
// are re-checked, connections go to the checked address, DNS answers are all checked.
const test = require('node:test');
const assert = require('node:assert');
const { Egress, EgressPolicy } = require('../lib/egress');
const { systemResolver } = require('../lib/egress-dns');
const { recordingServer, dnsServer } = require('./helpers/egress-servers');

const OPTS = { poolKey: 'fn', deadline: Date.now() + 3600e3, defaultTimeoutMs: 5000, maxBytes: 1 << 20 };
const get = (egress, url, extra = {}) => egress.fetch(Object.assign({ url, method: 'GET', headers: [] }, extra), OPTS);

let srv;
let dnsSrv;
test.before(async () => {
  srv = await recordingServer();
  dnsSrv = await dnsServer({ 'svc.test': ['127.0.0.1'], 'mixed.test': ['93.184.216.34', '10.0.0.5'], 'silent.test': 'silent' });
});
test.after(async () => { await srv.close(); await dnsSrv.close(); });

test('IP literal spellings of loopback, wrapped forms, userinfo and trailing dots are refused before connecting', async () => {
  const egress = new Egress({ policy: new EgressPolicy(''), resolve: systemResolver({ servers: [dnsSrv.server] }) });
  const p = srv.port;
  const urls = [
    `http://127.0.0.1:${p}/fast`, `http://2130706433:${p}/fast`, `http://0x7f.1:${p}/fast`, `http://0x7f000001:${p}/fast`,
    `http://0177.0.0.1:${p}/fast`, `http://127.1:${p}/fast`, `http://0:${p}/fast`, `http://0.0.0.0:${p}/fast`,
    `http://127.0.0.1.:${p}/fast`, `http://a@127.0.0.1:${p}/fast`, `http://u:p@127.0.0.1:${p}/fast`,
    `http://\uff11\uff12\uff17.0.0.1:${p}/fast`, `http://127\u30020\u30020\u30021:${p}/fast`,
    `http://[::1]:${p}/fast`, `http://[::]:${p}/fast`, `http://[::ffff:127.0.0.1]:${p}/fast`, `http://[::ffff:7f00:1]:${p}/fast`,
    `http://[::ffff:0:7f00:1]:${p}/fast`, `http://[::127.0.0.1]:${p}/fast`, `http://[64:ff9b::7f00:1]:${p}/fast`,
    `http://[2002:7f00:1::1]:${p}/fast`, `http://[2001:0:7f00:1::1]:${p}/fast`, `http://[fe80::1%25lo]:${p}/fast`,
    `http://localhost:${p}/fast`, `http://LOCALHOST.:${p}/fast`, `http://api.localhost:${p}/fast`,
  ];
  for (const url of urls) {
    const err = await get(egress, url).then(() => null, (e) => e);
    assert.ok(err, `${url} should be refused`);
    assert.ok(['EGRESS_DENIED', 'EINVAL'].includes(err.code), `${url}: ${err.code} ${err.message}`);
    if (err.code === 'EGRESS_DENIED') assert.match(err.message, /^request to .* failed, reason: egress denied: /);
  }
  assert.strictEqual(srv.connections.length, 0, 'no refused URL may reach the server');
  egress.close();
});

test('each redirect hop is checked: private addresses and non-HTTP schemes are refused', async () => {
  const egress = new Egress({ policy: new EgressPolicy('127.0.0.1'), resolve: systemResolver({ servers: [dnsSrv.server] }) });
  const to = (target) => srv.url(`/redirect?to=${encodeURIComponent(target)}`);
  const cases = [
    ['http://10.0.0.1/', 'EGRESS_DENIED'], ['http://169.254.169.254/latest/meta-data/', 'EGRESS_DENIED'],
    [`http://[::ffff:127.0.0.2]:${srv.port}/fast`, 'EGRESS_DENIED'], [`http://mixed.test:${srv.port}/fast`, 'EGRESS_DENIED'],
    ['file:///etc/passwd', 'EPROTO'], ['data:text/plain,hi', 'EPROTO'], ['gopher://127.0.0.1/', 'EPROTO'],
  ];
  for (const [target, code] of cases) {
    const err = await get(egress, to(target)).then(() => null, (e) => e);
    assert.ok(err && err.code === code, `redirect to ${target}: ${err && err.message}`);
  }
  const ok = await get(egress, to(srv.url('/fast')));
  assert.strictEqual(ok.status, 200);
  assert.ok(ok.redirected);
  const loop = await get(egress, to(to(to(to(to(to(srv.url('/fast'))))))))
    .then(() => null, (e) => e);
  assert.strictEqual(loop.type, 'max-redirect');
  const manual = await get(egress, to('http://10.0.0.1/'), { redirect: 'manual' });
  assert.strictEqual(manual.status, 302);
  egress.close();
});

test('a host name is resolved once and the connection goes to the checked address (no rebinding)', async () => {
  const answers = [['127.0.0.1'], ['10.0.0.1']];
  const asked = [];
  const resolve = async (hostname) => { asked.push(hostname); return answers[Math.min(asked.length - 1, 1)]; };
  const egress = new Egress({ policy: new EgressPolicy('127.0.0.1'), resolve });
  const r = await get(egress, `http://rebind.invalid:${srv.port}/fast`);
  assert.strictEqual(r.status, 200);
  assert.deepStrictEqual(asked, ['rebind.invalid']);
  assert.strictEqual(srv.requests.at(-1).host, `rebind.invalid:${srv.port}`);
  const again = await get(egress, `http://rebind.invalid:${srv.port}/fast`).then(() => null, (e) => e);
  assert.strictEqual(again.code, 'EGRESS_DENIED');
  egress.close();
});

test('every resolved address is checked: a mix of public and private answers is refused', async () => {
  const before = srv.connections.length;
  const injected = new Egress({ policy: new EgressPolicy(''), resolve: async () => ['93.184.216.34', '127.0.0.1'] });
  const err = await get(injected, `http://mixed.invalid:${srv.port}/fast`).then(() => null, (e) => e);
  assert.strictEqual(err.code, 'EGRESS_DENIED');
  assert.match(err.message, /mixed\.invalid resolves to 127\.0\.0\.1/);
  const real = new Egress({ policy: new EgressPolicy(''), resolve: systemResolver({ servers: [dnsSrv.server] }) });
  const err2 = await get(real, `http://mixed.test:${srv.port}/fast`).then(() => null, (e) => e);
  assert.strictEqual(err2.code, 'EGRESS_DENIED');
  assert.match(err2.message, /10\.0\.0\.5/);
  assert.strictEqual(srv.connections.length, before);
  injected.close();
  real.close();
});

test('names resolve through the name server (c-ares); unknown names fail like getaddrinfo', async () => {
  const egress = new Egress({ policy: new EgressPolicy('127.0.0.1'), resolve: systemResolver({ servers: [dnsSrv.server] }) });
  const r = await get(egress, `http://svc.test:${srv.port}/fast`);
  assert.strictEqual(r.status, 200);
  assert.strictEqual(r.text, 'ok');
  const err = await get(egress, `http://nope.test:${srv.port}/fast`).then(() => null, (e) => e);
  assert.strictEqual(err.code, 'ENOTFOUND');
  assert.match(err.message, /reason: getaddrinfo ENOTFOUND nope\.test$/);
  assert.ok(dnsSrv.queries.some((q) => q.name === 'svc.test' && q.qtype === 1));
  egress.close();
});
