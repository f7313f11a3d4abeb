'use strict';
// Work the host does for a call (the shim's crypto bridges: hashing, HMAC, randomBytes,
// randomUUID; the Node-compatible layer's sign/verify, ciphers, key objects, hkdf on the
// host's thread, and pbkdf2, scrypt, key generation and brotli on libuv's pool), kept fair
// to the other functions on the host:
//
// * sliced: a digest is fed to OpenSSL SLICE_CHARS characters at a time, one slice per
//   event-loop turn, so a 16 MB digest no longer holds the host's thread for ~35 ms;
// * paced: after a first burst (BURST_MS), a call's host work may use at most SHARE of
//   the wall time since the call began; past that, its next slice waits (its isolate waits
//   with it, in applySyncPromise, so a hashing loop stops taking a core);
// * budgeted: per call (a whole run_batch counts as one call) at most hostWorkMs of host
//   time and hostWorkBytes of input (UTF-8 or decoded bytes, not UTF-16 units); past
//   either the bridge throws RangeError to the function.
const crypto = require('crypto');

const SLICE_CHARS = 256 * 1024;
const SHARE = 0.25;
const BURST_MS = 20;
const ENCODINGS = new Set(['utf8', 'utf-8', 'hex', 'base64', 'base64url', 'latin1', 'binary', 'ascii', 'ucs2', 'ucs-2', 'utf16le', 'utf-16le']);
const DIGEST_ENCODINGS = new Set(['hex', 'base64', 'base64url', 'latin1', 'binary']);

class HostWork {
  constructor(config) {
    this.config = config;
  }

  // The per-call accounting, created on first use.
  static of(call) {
    if (!call.hostWork) call.hostWork = { started: process.hrtime.bigint(), ns: 0, bytes: 0 };
    return call.hostWork;
  }

  // Resolves when `call` may do its next slice of host work (after at least one turn of
  // the event loop); throws RangeError once the call has used its host time.
  async turn(call) {
    const w = this.spent(call);
    const elapsed = Number(process.hrtime.bigint() - w.started);
    const ahead = w.ns - (BURST_MS * 1e6 + elapsed * SHARE);
    if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(ahead / SHARE / 1e6)));
    else await new Promise((resolve) => setImmediate(resolve));
  }

  // The call's accounting; throws RangeError once the call has used its host time.
  spent(call) {
    const w = HostWork.of(call);
    if (w.ns > this.config.hostWorkMs * 1e6) {
      throw new RangeError(`host work limit reached: at most ${this.config.hostWorkMs} ms of crypto work per invocation`);
    }
    return w;
  }

  // An operation of the Node-compatible layer (lib/nodebridge.js, which caps each one) as
  // host work of `call`: `bytes` of input counted, run after a fair turn, its time counted
  // (wall time when fn runs on libuv's pool: the pool's threads are the host's CPU too).
  // `gate` (optional): waited for after the turn and before the clock starts, it resolves to
  // a release function called when fn is done (lib/nodebridge.js: a share of libuv's pool).
  async paced(call, bytes, fn, gate) {
    this.charge(call, bytes, Infinity, 'crypto input');
    await this.turn(call);
    const release = gate ? await gate() : null;
    const t0 = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      HostWork.of(call).ns += Number(process.hrtime.bigint() - t0);
      if (release) release();
    }
  }

  // The same where the isolate was entered synchronously (a bundle's top level, where no
  // turn can be waited for): not paced, but counted in the same budget.
  direct(call, bytes, fn) {
    if (!call) return fn();
    this.spent(call);
    this.charge(call, bytes, Infinity, 'crypto input');
    return this.timed(call, fn);
  }

  // Runs fn() as part of the call's host work (timed).
  timed(call, fn) {
    const t0 = process.hrtime.bigint();
    try {
      return fn();
    } finally {
      HostWork.of(call).ns += Number(process.hrtime.bigint() - t0);
    }
  }

  // Counts `bytes` of input against the per-operation and per-call byte limits.
  charge(call, bytes, opLimit, what) {
    if (bytes > opLimit) throw new RangeError(`${what} over limit (${opLimit} bytes)`);
    const w = HostWork.of(call);
    w.bytes += bytes;
    if (w.bytes > this.config.hostWorkBytes) {
      throw new RangeError(`host work limit reached: at most ${this.config.hostWorkBytes} bytes of crypto input per invocation`);
    }
  }

  // crypto.createHash / createHmac for the shim: parts are [string, encoding] pairs.
  async hash(call, alg, key, parts, outEnc) {
    const checked = checkParts(key ? [key, ...(parts || [])] : parts || []);
    const enc = String(outEnc).toLowerCase();
    if (!DIGEST_ENCODINGS.has(enc)) throw new TypeError(`Unsupported digest encoding: ${outEnc}`);
    this.charge(call, checked.bytes, this.config.hashMaxBytes, 'hash input');
    const items = checked.items;
    await this.turn(call);
    const h = this.timed(call, () => (key ? crypto.createHmac(String(alg), Buffer.from(items[0][0], items[0][1])) : crypto.createHash(String(alg))));
    let first = true;
    for (const [s, e] of key ? items.slice(1) : items) {
      for (const piece of slices(s, e)) {
        if (!first) await this.turn(call);
        first = false;
        this.timed(call, () => h.update(Buffer.from(piece, e)));
      }
    }
    return this.timed(call, () => h.digest(enc));
  }

  // The same digest at once, for the direct bridge (a bundle's top level, where no turn can be
  // waited for, or one of the few small operations of an invocation the shim sends directly):
  // not paced, but counted in the same budget.
  hashNow(call, alg, key, parts, outEnc) {
    if (!call) return hashSync(this.config, alg, key, parts, outEnc);
    this.spent(call);
    this.charge(call, checkParts(key ? [key, ...(parts || [])] : parts || []).bytes, this.config.hashMaxBytes, 'hash input');
    return this.timed(call, () => hashSync(this.config, alg, key, parts, outEnc));
  }

  randomNow(call, n) {
    n = checkRandomSize(n);
    if (!call) return randomSync(n);
    this.spent(call);
    this.charge(call, n, 65536, 'randomBytes size');
    return this.timed(call, () => randomSync(n));
  }

  async random(call, n) {
    n = checkRandomSize(n);
    this.charge(call, n, 65536, 'randomBytes size');
    await this.turn(call);
    return this.timed(call, () => crypto.randomBytes(n).toString('base64'));
  }

  async uuid(call) {
    await this.turn(call);
    return this.timed(call, () => crypto.randomUUID());
  }
}

function checkRandomSize(n) {
  n = Number(n);
  if (!Number.isInteger(n) || n < 0 || n > 65536) throw new RangeError('The value of "size" is out of range (0..65536)');
  return n;
}

// Validates [string, encoding] pairs; their total size in bytes as hashed.
function checkParts(parts) {
  let bytes = 0;
  const items = [];
  for (const p of parts) {
    if (!Array.isArray(p) || typeof p[0] !== 'string') throw new TypeError('invalid data');
    const enc = String(p[1] || 'utf8').toLowerCase();
    if (!ENCODINGS.has(enc)) throw new TypeError(`Unknown encoding: ${p[1]}`);
    bytes += Buffer.byteLength(p[0], enc);
    items.push([p[0], enc]);
  }
  return { bytes, items };
}

// A string cut into pieces that decode independently: never inside a surrogate pair
// (utf8), a byte (hex) or a base64 quantum. Base64 with anything but the alphabet (spaces,
// padding before the end) goes whole, as its quanta cannot be found by position.
function* slices(s, enc) {
  if (s.length <= SLICE_CHARS || ((enc === 'base64' || enc === 'base64url') && /[^A-Za-z0-9+/_-]/.test(s.replace(/=+$/, '')))) {
    yield s;
    return;
  }
  for (let at = 0; at < s.length;) {
    let end = Math.min(s.length, at + SLICE_CHARS);
    if (end < s.length) {
      const c = s.charCodeAt(end - 1);
      if ((enc === 'utf8' || enc === 'utf-8') && c >= 0xd800 && c <= 0xdbff) end--;
    }
    yield s.slice(at, end);
    at = end;
  }
}

// The same operations run synchronously: for a bundle's top level, entered from the host's
// thread, where waiting for a turn is not possible. Same per-operation limits.
function hashSync(config, alg, key, parts, outEnc) {
  const checked = checkParts(key ? [key, ...(parts || [])] : parts || []);
  if (checked.bytes > config.hashMaxBytes) throw new RangeError(`hash input over limit (${config.hashMaxBytes} bytes)`);
  const enc = String(outEnc).toLowerCase();
  if (!DIGEST_ENCODINGS.has(enc)) throw new TypeError(`Unsupported digest encoding: ${outEnc}`);
  const items = checked.items;
  const h = key ? crypto.createHmac(String(alg), Buffer.from(items[0][0], items[0][1])) : crypto.createHash(String(alg));
  for (const [s, e] of key ? items.slice(1) : items) h.update(Buffer.from(s, e));
  return h.digest(enc);
}

function randomSync(n) {
  return crypto.randomBytes(checkRandomSize(n)).toString('base64');
}

module.exports = { HostWork, hashSync, randomSync, SLICE_CHARS, SHARE, BURST_MS };
