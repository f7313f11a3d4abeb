'use strict';
// The Node-compatible layer's operations on libuv's thread pool (pbkdf2, scrypt, key
// generation, brotli) hold at most half of it across all functions (lib/nodebridge.js), so
// fetch decompression and allowed-name lookups always find a thread.
const test = require('node:test');
const assert = require('node:assert');
const bridge = require('../lib/nodebridge');
const { HostWork } = require('../lib/hostwork');
const { config } = require('../lib/limits');

const b64 = (s) => Buffer.from(s).toString('base64');
const PBKDF2 = JSON.stringify({ password: b64('password'), salt: b64('salt'), iterations: 60000, keylen: 32, digest: 'sha256' });

test('slow operations of all calls share half of the thread pool', async () => {
  const hostWork = new HostWork(config);
  bridge.pool.peak = 0;
  const ops = [];
  for (let i = 0; i < 6; i++) {
    const call = {}; // six functions, one operation in flight each
    ops.push(bridge.pacedBridges(hostWork, () => call).cryptoSlow('pbkdf2', PBKDF2));
  }
  const results = (await Promise.all(ops)).map((r) => JSON.parse(r));
  assert.ok(results.every((r) => typeof r.value === 'string' && r.value.length === 44), JSON.stringify(results[0]));
  assert.strictEqual(bridge.pool.peak, bridge.POOL_SHARE);
  assert.strictEqual(bridge.pool.active, 0);
  assert.strictEqual(bridge.pool.waiting.length, 0);
});

test('an operation whose call ended while it waited for the pool is not run', async () => {
  const hostWork = new HostWork(config);
  const busy = [];
  for (let i = 0; i < bridge.POOL_SHARE; i++) {
    const call = {};
    busy.push(bridge.pacedBridges(hostWork, () => call).cryptoSlow('pbkdf2', PBKDF2));
  }
  let current = {};
  const late = bridge.pacedBridges(hostWork, () => current).cryptoSlow('pbkdf2', PBKDF2);
  await new Promise((r) => setImmediate(r));
  current = null; // its call ended (deadline): the isolate no longer waits for it
  const r = JSON.parse(await late);
  assert.match(r.error.message, /invocation ended/);
  await Promise.all(busy);
  assert.strictEqual(bridge.pool.active, 0);
});
