'use strict';
// Fetches the host answers itself (lib/answers.js): the standing inspector rule and a call's
// own rules; what is captured, what is answered, and that nothing else skips the egress policy.
const test = require('node:test');
const assert = require('node:assert');
const { startHost, startVendor } = require('./support/host');
const { FetchAnswers, compileRules } = require('../lib/answers');

const INSPECTOR = 'http://127.0.0.1:9/inspect/';
const RULES = JSON.stringify([{ prefix: INSPECTOR, tag: 'inspector', status: 200, body: '{"ok":true}' }]);

let host;
let vendor;
test.before(async () => {
  // Loopback is not allowed: only a rule's answer can make a fetch to 127.0.0.1 succeed.
  host = startHost({ FUNCTIONS_EGRESS_ALLOW: '', FUNCTIONS_FETCH_ANSWERS: RULES });
  vendor = await startVendor();
  await host.ready;
});
test.after(async () => { host.stop(); await vendor.close(); });

const POST = `async function onTrack(event, settings) {
  const r = await fetch(settings.url, { method: 'POST', headers: { Authorization: 'Basic ' + btoa('key:'), 'Content-Type': 'application/json' },
    body: JSON.stringify({ event: event.event }) });
  return [r.status, await r.text()];
}`;

const run = (code, payload, settings, extra = {}) => host.call(Object.assign({
  op: 'run', kind: 'destination', code, payload: JSON.stringify(payload), settings: JSON.stringify(settings), instance_key: null, timeout_ms: 3000,
}, extra));

test('a fetch under the inspector prefix is answered by the host and captured as sent', async () => {
  const reply = await run(POST, { type: 'track', event: 'Order Completed' }, { url: `${INSPECTOR}tok123/collect?x=1` });
  assert.strictEqual(reply.result.status, 'success', JSON.stringify(reply.result.error));
  assert.deepStrictEqual(reply.result.returned, [200, '{"ok":true}']);
  assert.strictEqual(reply.captured.length, 1);
  const c = reply.captured[0];
  assert.strictEqual(c.tag, 'inspector');
  assert.strictEqual(c.method, 'POST');
  assert.strictEqual(c.url, `${INSPECTOR}tok123/collect?x=1`);
  const headers = Object.fromEntries(c.headers);
  assert.strictEqual(headers.authorization, `Basic ${Buffer.from('key:').toString('base64')}`);
  assert.strictEqual(headers['content-type'], 'application/json');
  assert.strictEqual(headers['user-agent'].split('/')[0], 'node-fetch'); // what node-fetch would send
  assert.strictEqual(c.body, '{"event":"Order Completed"}');
  assert.strictEqual(c.size, 27);
  assert.strictEqual(c.truncated, false);
  assert.deepStrictEqual(reply.requests.map((r) => [r.method, r.status, r.answered]), [['POST', 200, 'inspector']]);
});

test('everything else on that origin still meets the egress policy', async () => {
  for (const url of ['http://127.0.0.1:9/inspector/tok', 'http://127.0.0.1:9/admin/', 'http://127.0.0.1:9/inspect', 'http://localhost:9/inspect/t']) {
    const reply = await run(POST, { type: 'track', event: 'E' }, { url });
    assert.strictEqual(reply.result.status, 'error', url);
    assert.match(reply.result.error.message, /egress denied|ENOTFOUND|EAI_AGAIN/, url);
    assert.deepStrictEqual(reply.captured, [], url);
  }
  // Dot segments are resolved before matching: they cannot leave the prefix.
  const dots = await run(POST, { type: 'track', event: 'E' }, { url: 'http://127.0.0.1:9/inspect/../admin/' });
  assert.strictEqual(dots.result.status, 'error');
  assert.deepStrictEqual(dots.captured, []);
});

test("a call's own rules answer first; a pattern can take every URL (dry run)", async () => {
  const answers = [{ pattern: 'https://api.example.com/*', status: 201, body: '{"id":7}', tag: 'dry-run' }, { pattern: '*', status: 200, body: '{}', tag: 'dry-run' }];
  const code = `async function onTrack(event, settings) {
    const a = await fetch('https://api.example.com/v1/things', { method: 'PUT', body: 'x' });
    const b = await fetch('${vendor.url}/never');
    const c = await fetch('${INSPECTOR}tok/also');
    return [a.status, await a.json(), b.status, c.status];
  }`;
  const reply = await run(code, { type: 'track' }, {}, { answers });
  assert.strictEqual(reply.result.status, 'success', JSON.stringify(reply.result.error));
  assert.deepStrictEqual(reply.result.returned, [201, { id: 7 }, 200, 200]);
  assert.deepStrictEqual(reply.captured.map((c) => [c.tag, c.method, c.body]), [['dry-run', 'PUT', 'x'], ['dry-run', 'GET', ''], ['dry-run', 'GET', '']]);
  assert.strictEqual(vendor.requests.length, 0); // nothing reached the network
});

test('run_batch keeps each event its own captures; the fetch limit counts answered fetches', async () => {
  const reply = await host.call({
    op: 'run_batch', kind: 'destination', code: POST, count: 2, instance_key: 'i1:1', timeout_ms: 3000,
    payload: JSON.stringify([{ type: 'track', event: 'A' }, { type: 'track', event: 'B' }]), settings: JSON.stringify({ url: `${INSPECTOR}t/` }),
  });
  assert.deepStrictEqual(reply.results.map((r) => r.captured.map((c) => c.body)), [['{"event":"A"}'], ['{"event":"B"}']]);
  const many = await run(`async function onTrack() { for (let i = 0; i < 60; i++) await fetch('${INSPECTOR}t/' + i); }`, { type: 'track' }, {});
  assert.strictEqual(many.result.status, 'error');
  assert.match(many.result.error.message, /fetch limit reached/);
  assert.strictEqual(many.captured.length, 50);
});

test('the Node http client is answered the same way; large and binary bodies are capped', async () => {
  const code = `async function onTrack() {
    await new Promise((resolve, reject) => {
      const req = https.request('https://platform.test/inspect/t/raw', { method: 'POST', headers: { 'X-Api-Key': 'k1' } }, (res) => { res.on('data', () => {}); res.on('end', resolve); });
      req.on('error', reject);
      req.end('raw body');
    });
    await fetch('${INSPECTOR}t/big', { method: 'POST', body: 'x' + 'é'.repeat(40000) });
    await fetch('${INSPECTOR}t/bin', { method: 'POST', body: new Uint8Array([0, 255, 128]) });
  }`;
  const reply = await run(code, { type: 'track' }, {}, { answers: [{ prefix: 'https://platform.test/inspect/', tag: 'inspector' }] });
  assert.strictEqual(reply.result.status, 'success', JSON.stringify(reply.result.error));
  const [raw, big, bin] = reply.captured;
  assert.deepStrictEqual([raw.method, raw.url, raw.body, Object.fromEntries(raw.headers)['x-api-key']], ['POST', 'https://platform.test/inspect/t/raw', 'raw body', 'k1']);
  assert.strictEqual(big.size, 80001);
  assert.strictEqual(big.truncated, true);
  assert.strictEqual(big.bodyEnc, 'utf8');
  assert.strictEqual(big.body, 'x' + 'é'.repeat(32767)); // cut at a character boundary
  assert.deepStrictEqual([bin.bodyEnc, bin.body], ['base64', Buffer.from([0, 255, 128]).toString('base64')]);
});

test('rules: prefixes match origin and path; malformed rules are ignored', () => {
  const a = new FetchAnswers(compileRules([{ prefix: 'http://platform.test/inspect/' }, { prefix: 'not a url' }, { nothing: 1 }, null]));
  assert.strictEqual(a.standing.length, 1);
  assert.ok(a.match('http://platform.test:80/inspect/x'));
  assert.ok(a.match('HTTP://PLATFORM.test/inspect/x?y'));
  assert.strictEqual(a.match('https://platform.test/inspect/x'), null);
  assert.strictEqual(a.match('http://platform.test.evil/inspect/x'), null);
  assert.strictEqual(a.match('http://user@platform.test:81/inspect/x'), null);
  assert.strictEqual(a.match('ftp://platform.test/inspect/x'), null);
  assert.strictEqual(a.match('nonsense'), null);
});
