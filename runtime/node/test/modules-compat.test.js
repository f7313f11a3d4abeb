'use strict';
// The Node-compatible layer inside the isolate (lib/compat): Buffer encodings, zlib, the
// http/https client over the host fetch bridge, crypto additions, loading rules.
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const zlib = require('zlib');
const { startHost, startVendor } = require('./support/host');

let host;
let vendor;
test.before(async () => {
  host = startHost();
  vendor = await startVendor((req) => {
    if (req.url.startsWith('/gz')) return { body: zlib.gzipSync('compressed body'), headers: { 'content-encoding': 'gzip', 'content-type': 'text/plain' } };
    if (req.url.startsWith('/bin')) return { body: Buffer.from([0, 255, 128, 7]), headers: { 'content-type': 'application/octet-stream', 'set-cookie': ['a=1', 'b=2'] } };
    if (req.url.startsWith('/redirect')) return { status: 302, headers: { location: '/elsewhere' }, body: '' };
    if (req.url.startsWith('/slow')) return null;
    return { body: { ok: true, path: req.url } };
  });
  await host.ready;
});
test.after(async () => { host.stop(); await vendor.close(); });

const ok = (r) => { assert.strictEqual(r.status, 'success', JSON.stringify(r.error)); return r.returned; };

test('a plain function loads none of the layer; a library name loads it without exposing require', async () => {
  const plain = ok(await host.run("async function onTrack() { return ['__sb' + 'Node', 'ht' + 'tps', 'A' + 'WS'].map((k) => typeof globalThis[k]) }"));
  assert.deepStrictEqual(plain, ['undefined', 'undefined', 'undefined']);
  const withLib = ok(await host.run(`async function onTrack() {
    return [typeof https.request, typeof require, typeof process, typeof module, Object.keys(globalThis).filter((k) => k.startsWith('__sb'))] }`));
  assert.deepStrictEqual(withLib, ['function', 'undefined', 'undefined', 'undefined', []]);
});

test('Buffer: every Node encoding, base64url included, round trips as in Node', async () => {
  const input = 'héllo wörld ✓ ~?>';
  const encs = ['utf8', 'utf-8', 'hex', 'base64', 'base64url', 'latin1', 'binary', 'ascii', 'ucs2', 'ucs-2', 'utf16le', 'utf-16le'];
  const got = ok(await host.run(`async function onTrack() {
    const s = ${JSON.stringify(input)};
    const out = {};
    for (const e of ${JSON.stringify(encs)}) {
      const enc = Buffer.from(s).toString(e);
      out[e] = { enc, back: Buffer.from(enc, e).toString('hex'), len: Buffer.byteLength(enc, e), isEnc: Buffer.isEncoding(e) };
    }
    const b = Buffer.alloc(8);
    b.write('_-8', 'base64url');
    out.write = b.toString('hex');
    out.fill = Buffer.alloc(4, 'AQI', 'base64url').toString('hex');
    out.includes = Buffer.from([1, 2, 3]).includes('AgM', 'base64url');
    return out;
  }`));
  for (const e of encs) {
    const enc = Buffer.from(input).toString(e);
    assert.deepStrictEqual(got[e], { enc, back: Buffer.from(enc, e).toString('hex'), len: Buffer.byteLength(enc, e), isEnc: true }, e);
  }
  const b = Buffer.alloc(8);
  b.write('_-8', 'base64url');
  assert.strictEqual(got.write, b.toString('hex'));
  assert.strictEqual(got.fill, Buffer.alloc(4, 'AQI', 'base64url').toString('hex'));
  assert.strictEqual(got.includes, true);
});

test('zlib: sync, callback and stream forms round trip and read what Node wrote', async () => {
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(50);
  const fromNode = {
    gzip: zlib.gzipSync(text).toString('base64'),
    deflate: zlib.deflateSync(text).toString('base64'),
    deflateRaw: zlib.deflateRawSync(text).toString('base64'),
    brotli: zlib.brotliCompressSync(text).toString('base64'),
  };
  const r = ok(await host.run(`async function onTrack() {
    const text = ${JSON.stringify(text)};
    const n = ${JSON.stringify(fromNode)};
    const p = (fn, x) => new Promise((res, rej) => fn(x, (e, v) => (e ? rej(e) : res(v))));
    const out = {};
    out.gunzip = zlib.gunzipSync(Buffer.from(n.gzip, 'base64')).toString() === text;
    out.inflate = zlib.inflateSync(Buffer.from(n.deflate, 'base64')).toString() === text;
    out.inflateRaw = zlib.inflateRawSync(Buffer.from(n.deflateRaw, 'base64')).toString() === text;
    out.unzip = zlib.unzipSync(Buffer.from(n.gzip, 'base64')).toString() === text;
    out.brotli = zlib.brotliDecompressSync(Buffer.from(n.brotli, 'base64')).toString() === text;
    out.asyncGzip = (await p(zlib.gunzip, await p(zlib.gzip, text))).toString() === text;
    out.asyncDeflate = (await p(zlib.inflate, await p(zlib.deflate, text))).toString() === text;
    out.asyncBrotli = (await p(zlib.brotliDecompress, await p(zlib.brotliCompress, text))).toString() === text;
    out.awaited = (await zlib.zlib.inflate(await zlib.zlib.deflate(text))).toString() === text;
    out.mine = { gzip: zlib.gzipSync(text).toString('base64'), deflate: zlib.deflateSync(text, { level: 9 }).toString('base64'),
      raw: zlib.deflateRawSync(text).toString('base64'), br: zlib.brotliCompressSync(text).toString('base64') };
    out.stream = await new Promise((res, rej) => {
      const gz = zlib.createGzip(); const gunz = zlib.createGunzip(); const parts = [];
      gunz.on('data', (c) => parts.push(c)); gunz.on('end', () => res(Buffer.concat(parts).toString() === text)); gunz.on('error', rej);
      gz.pipe(gunz); gz.write(text.slice(0, 100)); gz.end(text.slice(100));
    });
    out.bad = (() => { try { zlib.gunzipSync(Buffer.from('not gzip')); } catch (e) { return [e.code, e.errno, e.message]; } })();
    out.crc = zlib.crc32('hello');
    out.self = zlib.zlib === zlib && typeof zlib.constants.Z_BEST_COMPRESSION;
    return out;
  }`));
  for (const k of ['gunzip', 'inflate', 'inflateRaw', 'unzip', 'brotli', 'asyncGzip', 'asyncDeflate', 'asyncBrotli', 'awaited', 'stream']) assert.strictEqual(r[k], true, k);
  assert.strictEqual(zlib.gunzipSync(Buffer.from(r.mine.gzip, 'base64')).toString(), text);
  assert.strictEqual(zlib.inflateSync(Buffer.from(r.mine.deflate, 'base64')).toString(), text);
  assert.strictEqual(zlib.inflateRawSync(Buffer.from(r.mine.raw, 'base64')).toString(), text);
  assert.strictEqual(zlib.brotliDecompressSync(Buffer.from(r.mine.br, 'base64')).toString(), text);
  assert.deepStrictEqual(r.bad, ['Z_DATA_ERROR', -3, 'incorrect header check']);
  assert.strictEqual(r.crc, 907060870);
  assert.strictEqual(r.self, 'number');
});

test('http/https: the request reaches the server as sent, through the request trace', async () => {
  // Segment exposes `https` only; the http module (same client) is reached the way libraries do.
  const full = await host.runFull(`async function onTrack() {
    const refused = (() => { try { https.request('${vendor.url}/x'); } catch (e) { return e.code; } })();
    const res = await new Promise((resolve, reject) => {
      const req = __sbNode.require('http').request({ host: '127.0.0.1', port: ${vendor.port}, path: '/echo?a=1&b=%20', method: 'PUT',
        headers: { 'X-Custom': 'v1', 'Content-Type': 'application/octet-stream' }, auth: 'user:pass' }, (res) => {
        const parts = []; res.on('data', (c) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode, msg: res.statusMessage, ct: res.headers['content-type'], body: JSON.parse(Buffer.concat(parts)) }));
      });
      req.on('error', reject);
      req.write(Buffer.from([1, 2, 3]));
      req.end('tail');
    });
    return { refused, res };
  }`);
  const r = ok(full.result);
  assert.strictEqual(r.refused, 'ERR_INVALID_PROTOCOL');
  assert.deepStrictEqual(r.res, { status: 200, msg: 'OK', ct: 'application/json', body: { ok: true, path: '/echo?a=1&b=%20' } });
  const seen = vendor.requests.find((q) => q.url.startsWith('/echo'));
  assert.strictEqual(seen.method, 'PUT');
  assert.strictEqual(seen.headers['x-custom'], 'v1');
  assert.strictEqual(seen.headers.authorization, `Basic ${Buffer.from('user:pass').toString('base64')}`);
  assert.deepStrictEqual(seen.body, Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from('tail')]));
  // Node's http adds no user-agent/accept/accept-encoding: neither does the layer.
  assert.strictEqual(seen.headers['user-agent'], undefined);
  assert.strictEqual(seen.headers['accept-encoding'], undefined);
  assert.deepStrictEqual(full.requests.map((t) => [t.method, t.url, t.status]), [['PUT', `${vendor.url}/echo?a=1&b=%20`, 200]]);
});

test('http: binary and compressed bodies arrive untouched, redirects are not followed, repeated headers kept', async () => {
  const r = ok(await host.run(`async function onTrack() { // https, zlib
    const get = (path) => new Promise((resolve, reject) => {
      __sbNode.require('http').get('${vendor.url}' + path, (res) => {
        const parts = []; res.on('data', (c) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, raw: res.rawHeaders.length, body: Buffer.concat(parts) }));
      }).on('error', reject);
    });
    const gz = await get('/gz');
    const bin = await get('/bin');
    const red = await get('/redirect');
    return { gz: zlib.gunzipSync(gz.body).toString(), enc: gz.headers['content-encoding'], bin: bin.body.toString('hex'), cookies: bin.headers['set-cookie'],
      red: [red.status, red.headers.location] };
  }`));
  assert.deepStrictEqual(r, { gz: 'compressed body', enc: 'gzip', bin: '00ff8007', cookies: ['a=1', 'b=2'], red: [302, '/elsewhere'] });
});

test('http: private addresses are refused unless FUNCTIONS_EGRESS_ALLOW allows them', async () => {
  const strict = startHost({ FUNCTIONS_EGRESS_ALLOW: '' });
  await strict.ready;
  try {
    const full = await strict.runFull(`async function onTrack() {
      return new Promise((resolve) => {
        const req = https.request('https://127.0.0.1:${vendor.port}/private', (res) => resolve('answered ' + res.statusCode));
        req.on('error', (e) => resolve(e.code + ': ' + e.message));
        req.end();
      });
    }`);
    assert.match(ok(full.result), /^EGRESS_DENIED: .*egress denied/);
    assert.strictEqual(full.requests.length, 1);
    assert.match(full.requests[0].error, /egress denied/);
  } finally {
    strict.stop();
  }
});

test('http: setTimeout fires a timeout event the caller can abort on', async () => {
  const slow = await startVendor(() => null);
  slow.server.removeAllListeners('request');
  slow.server.on('request', () => {}); // never answers
  try {
    const r = ok(await host.run(`async function onTrack() { // https
      return new Promise((resolve) => {
        const req = __sbNode.require('http').request('${slow.url}/hang', () => resolve('answered'));
        req.setTimeout(50, () => { req.abort(); resolve('timeout'); });
        req.on('error', (e) => resolve('error ' + e.message));
        req.end();
      });
    }`, undefined, { timeout: 3000 }));
    assert.strictEqual(r, 'timeout');
  } finally {
    slow.server.closeAllConnections();
    await slow.close();
  }
});

test('crypto: signatures, ciphers and key derivation match Node', async () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const pub = publicKey.export({ type: 'spki', format: 'pem' });
  const key = crypto.randomBytes(32);
  const iv = crypto.randomBytes(16);
  const r = ok(await host.run(`async function onTrack(e, s) {
    const out = {};
    out.sig = crypto.createSign('RSA-SHA256').update('payload').sign(s.priv, 'base64');
    out.verifyOwn = crypto.createVerify('sha256').update('payload').verify(s.pub, out.sig, 'base64');
    out.verifyBad = crypto.createVerify('sha256').update('other').verify(s.pub, out.sig, 'base64');
    const c = crypto.createCipheriv('aes-256-cbc', Buffer.from(s.key, 'hex'), Buffer.from(s.iv, 'hex'));
    out.cbc = c.update('secret message', 'utf8', 'hex') + c.final('hex');
    const d = crypto.createDecipheriv('aes-256-cbc', Buffer.from(s.key, 'hex'), Buffer.from(s.iv, 'hex'));
    out.plain = d.update(out.cbc, 'hex', 'utf8') + d.final('utf8');
    out.badDecrypt = (() => { const x = crypto.createDecipheriv('aes-256-cbc', Buffer.alloc(32), Buffer.from(s.iv, 'hex'));
      try { x.update(out.cbc, 'hex'); x.final(); return 'no error'; } catch (err) { return err.message; } })();
    out.pbkdf2 = crypto.pbkdf2Sync('pw', 'salt', 5000, 32, 'sha512').toString('hex');
    out.scrypt = crypto.scryptSync('pw', 'salt', 16, { N: 1024 }).toString('hex');
    out.hkdf = Buffer.from(crypto.hkdfSync('sha256', 'ikm', 'salt', 'info', 16)).toString('hex');
    out.oaep = crypto.privateDecrypt(s.priv, crypto.publicEncrypt(s.pub, Buffer.from('rsa'))).toString();
    const ed = crypto.generateKeyPairSync('ed25519');
    out.ed = crypto.verify(null, Buffer.from('m'), ed.publicKey, crypto.sign(null, Buffer.from('m'), ed.privateKey));
    out.pubFromPriv = crypto.createPublicKey(s.priv).export({ type: 'spki', format: 'pem' }) === s.pub;
    out.tse = [crypto.timingSafeEqual(Buffer.from('abc'), Buffer.from('abc')), crypto.timingSafeEqual(Buffer.from('abc'), Buffer.from('abd'))];
    out.limit = (() => { try { crypto.pbkdf2Sync('pw', 'salt', 1e8, 64, 'sha512'); } catch (err) { return err.code; } })();
    return out;
  }`, undefined, { settings: { priv, pub, key: key.toString('hex'), iv: iv.toString('hex') } }));
  assert.ok(crypto.createVerify('RSA-SHA256').update('payload').verify(pub, r.sig, 'base64'));
  assert.strictEqual(r.verifyOwn, true);
  assert.strictEqual(r.verifyBad, false);
  const c = crypto.createCipheriv('aes-256-cbc', key, iv);
  assert.strictEqual(r.cbc, c.update('secret message', 'utf8', 'hex') + c.final('hex'));
  assert.strictEqual(r.plain, 'secret message');
  assert.match(r.badDecrypt, /bad decrypt/);
  assert.strictEqual(r.pbkdf2, crypto.pbkdf2Sync('pw', 'salt', 5000, 32, 'sha512').toString('hex'));
  assert.strictEqual(r.scrypt, crypto.scryptSync('pw', 'salt', 16, { N: 1024 }).toString('hex'));
  assert.strictEqual(r.hkdf, Buffer.from(crypto.hkdfSync('sha256', 'ikm', 'salt', 'info', 16)).toString('hex'));
  assert.strictEqual(r.oaep, 'rsa');
  assert.strictEqual(r.ed, true);
  assert.strictEqual(r.pubFromPriv, true);
  assert.deepStrictEqual(r.tse, [true, false]);
  assert.strictEqual(r.limit, 'ERR_OUT_OF_RANGE');
});

test('AWS service clients load on first use, AWS stays complete for dynamic names', async () => {
  const r = ok(await host.run(`async function onTrack(e, s) {
    // Named in the code: loaded with the build. Reached by a computed name: loaded on first use.
    const named = Object.getOwnPropertyDescriptor(AWS, 'Kinesis').get === undefined;
    const before = Object.getOwnPropertyDescriptor(AWS, s.service).get !== undefined;
    const Dyn = AWS[s.service];
    const after = Object.getOwnPropertyDescriptor(AWS, s.service).get === undefined;
    const k = new AWS.Kinesis({ region: 'us-east-1', accessKeyId: 'a', secretAccessKey: 'b' });
    return [named, before, after, typeof k.putRecord, typeof new Dyn({ region: 'eu-west-1' }).sendMessage, typeof AWS.DynamoDB.DocumentClient];
  }`, undefined, { settings: { service: 'SQS' } }));
  assert.deepStrictEqual(r, [true, true, true, 'function', 'function', 'function']);
});

test('gRPC-only Google clients fail with ModuleNotSupported naming the module', async () => {
  const r = await host.run('async function onTrack() { const { PubSub } = google.cloud.pubsub; return new PubSub() }');
  assert.strictEqual(r.status, 'error');
  assert.strictEqual(r.error.type, 'ModuleNotSupported');
  assert.match(r.error.message, /google\.cloud\.pubsub \(@google-cloud\/pubsub\)/);
  const fsUse = await host.run("async function onTrack() { return https && __sbNode.require('net').connect(80, 'example.com') }");
  assert.strictEqual(fsUse.error.type, 'ModuleNotSupported');
  assert.match(fsUse.error.message, /net\.connect\(\)/);
});

test('limits hold with a library loaded: the memory limit and the deadline', async () => {
  const mem = await host.run(`async function onTrack() { const s3 = new AWS.S3({ region: 'us-east-1' }); const a = []; for (;;) a.push(new Array(1e5).fill(1.5)); }`);
  assert.strictEqual(mem.error.type, 'MemoryLimit');
  const slow = await host.run("async function onTrack() { stripe('sk_x'); await new Promise((r) => setTimeout(r, 10000)); }", undefined, { timeout: 300 });
  assert.strictEqual(slow.error.type, 'Timeout');
  const after = await host.run('async function onTrack() { return 1 }');
  assert.strictEqual(after.returned, 1);
});

test('a spin inside library code is stopped by the CPU deadline; lazy loads are limited to library parts', async () => {
  const spin = await host.run("async function onTrack() { const s3 = new AWS.S3({ region: 'us-east-1' }); for (;;) {} }", undefined, { timeout: 300 });
  assert.strictEqual(spin.error.type, 'Timeout');
  const r = ok(await host.run(`async function onTrack() {
    const tryLoad = (b) => { try { __sbNode.load(b); return 'loaded'; } catch (e) { return e.name + ': ' + e.message; } };
    return [typeof AWS, tryLoad('twi' + 'lio'), tryLoad('../host'), tryLoad('aws-sqs')];
  }`));
  assert.strictEqual(r[0], 'object');
  assert.match(r[1], /^ModuleNotSupported: .*not a bundle loaded on first use/);
  assert.match(r[2], /^ModuleNotSupported: /);
  assert.strictEqual(r[3], 'loaded');
  const after = await host.run('async function onTrack() { return 1 }');
  assert.strictEqual(after.returned, 1);
});

test('check: a function using libraries passes on a fresh host; build-time code caches are used', async () => {
  const fresh = startHost();
  await fresh.ready;
  try {
    const code = 'async function onTrack() { return typeof twilio + typeof hubspotlib + typeof jsforce + typeof AWS.S3 }';
    const c = await fresh.call({ op: 'check', kind: 'destination', code });
    assert.deepStrictEqual(c.check, { ok: true, error: null, handlers: ['onTrack'] });
    const r = await fresh.run(code);
    assert.strictEqual(r.returned, 'functionobjectobjectfunction');
  } finally {
    fresh.stop();
  }
  const fs = require('fs');
  const path = require('path');
  for (const b of ['node', 'stripe', 'twilio', 'aws', 'aws-s3']) assert.ok(fs.statSync(path.join(__dirname, '..', 'dist', 'cache', `${b}.bin`)).size > 1000, b);
});
