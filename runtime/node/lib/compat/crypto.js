'use strict';
// Node's `crypto`: the shim's hashing (createHash, createHmac, random*) plus signatures,
// ciphers, key objects, key derivation and key generation, computed on the host by
// lib/modules.js (inputs capped there). Cheap operations use a synchronous bridge; slow ones
// (pbkdf2, scrypt, key generation) run on the host's thread pool while this isolate waits,
// so they never block the host's event loop.
const { Buffer } = require('buffer');
const host = require('./host');

const base = host.crypto;

const CONSTANTS = Object.freeze(Object.assign({}, __SB_CRYPTO_CONSTANTS__));

function argType(name) {
  const e = new TypeError(`The "${name}" argument must be of type string or an instance of Buffer, TypedArray, or DataView.`);
  e.code = 'ERR_INVALID_ARG_TYPE';
  return e;
}
function bytes(data, enc, name) {
  if (typeof data === 'string') return Buffer.from(data, enc || 'utf8');
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw argType(name || 'data');
}
const b64 = (data, enc, name) => bytes(data, enc, name).toString('base64');
const out = (b64str, enc) => {
  const buf = Buffer.from(b64str, 'base64');
  return enc && enc !== 'buffer' ? buf.toString(enc) : buf;
};

// One host crypto operation, synchronous for the caller; errors come back as data so they
// keep Node's codes. It waits for a fair turn on the host (host work of the call, paced and
// budgeted: lib/hostwork.js); where the isolate is entered synchronously (a bundle's top
// level) the direct bridge serves, counted in the same budget.
function call(op, spec) {
  const json = JSON.stringify(spec);
  let raw;
  try {
    raw = host.callAsyncBridge('cryptoTurn', [op, json]);
  } catch (e) {
    if (!/synchronous|default thread|applySyncPromise/i.test(String(e && e.message))) throw e;
    raw = host.bridges.crypto(op, json);
  }
  const reply = JSON.parse(raw);
  if (reply.error) throw rebuild(reply.error);
  return reply.value;
}
function callSlow(op, spec) {
  const reply = JSON.parse(host.callAsyncBridge('cryptoSlow', [op, JSON.stringify(spec)]));
  if (reply.error) throw rebuild(reply.error);
  return reply.value;
}
function rebuild(err) {
  const C = { TypeError, RangeError }[err.name] || Error;
  const e = new C(err.message);
  if (err.code) e.code = err.code;
  if (err.reason) e.reason = err.reason;
  if (err.library) e.library = err.library;
  return e;
}

// ---- keys ------------------------------------------------------------------------------
class KeyObject {
  constructor(type, info) {
    if (type !== 'secret' && type !== 'public' && type !== 'private') {
      const e = new TypeError(`The argument 'type' is invalid. Received '${type}'`);
      e.code = 'ERR_INVALID_ARG_VALUE';
      throw e;
    }
    Object.defineProperty(this, '_type', { value: type });
    Object.defineProperty(this, '_info', { value: info });
  }
  get type() { return this._type; }
  get asymmetricKeyType() { return this._type === 'secret' ? undefined : this._info.asymmetricKeyType; }
  get asymmetricKeyDetails() { return this._type === 'secret' ? undefined : Object.assign({}, this._info.details); }
  get symmetricKeySize() { return this._type === 'secret' ? Buffer.from(this._info.secret, 'base64').length : undefined; }
  export(options) {
    if (this._type === 'secret') {
      if (options && options.format === 'jwk') return { kty: 'oct', k: Buffer.from(this._info.secret, 'base64').toString('base64url') };
      return Buffer.from(this._info.secret, 'base64');
    }
    const r = call('export', { key: this._info.pem, keyType: this._type, options: options || {} });
    if (r.jwk) return r.jwk;
    return r.pem !== undefined ? r.pem : Buffer.from(r.der, 'base64');
  }
  equals(other) {
    if (!(other instanceof KeyObject) || other._type !== this._type) return false;
    if (this._type === 'secret') return this._info.secret === other._info.secret;
    return this._info.pem === other._info.pem;
  }
  static from() { throw host.notSupported('KeyObject.from()', 'no WebCrypto CryptoKey in functions'); }
}

function keyInput(key, wantPrivate) {
  if (key instanceof KeyObject) {
    return key._type === 'secret' ? { secret: key._info.secret } : { key: key._info.pem, format: 'pem', keyType: key._type };
  }
  if (typeof key === 'string') return { key, format: 'pem' };
  if (key instanceof Uint8Array || ArrayBuffer.isView(key) || key instanceof ArrayBuffer) return { keyB64: b64(key), format: 'pem' };
  if (key && typeof key === 'object') {
    const inner = key.key;
    const spec = {};
    for (const k of ['format', 'type', 'encoding', 'padding', 'saltLength', 'dsaEncoding', 'oaepHash']) if (key[k] !== undefined) spec[k] = key[k];
    if (key.passphrase !== undefined) spec.passphraseB64 = b64(key.passphrase);
    if (key.oaepLabel !== undefined) spec.oaepLabelB64 = b64(key.oaepLabel);
    if (inner instanceof KeyObject) return Object.assign(keyInput(inner, wantPrivate), spec);
    if (spec.format === 'jwk') spec.jwk = inner;
    else if (typeof inner === 'string') spec.key = inner;
    else if (inner != null) spec.keyB64 = b64(inner, undefined, 'key');
    else throw argType('key');
    if (!spec.format) spec.format = 'pem';
    return spec;
  }
  throw argType('key');
}

function makeKey(kind, key) {
  if (kind === 'secret') {
    const buf = key instanceof KeyObject ? Buffer.from(key._info.secret, 'base64') : bytes(key, typeof key === 'string' ? (arguments[2] || 'utf8') : undefined, 'key');
    return new KeyObject('secret', { secret: buf.toString('base64') });
  }
  const info = call('keyInfo', { kind, input: keyInput(key, kind === 'private') });
  return new KeyObject(info.type, info);
}

// ---- sign / verify ---------------------------------------------------------------------
class Sign {
  constructor(alg, verify) { this._alg = String(alg); this._parts = []; this._verify = verify; }
  update(data, enc) { this._parts.push(b64(data, enc)); return this; }
  sign(key, enc) {
    const r = call('sign', { alg: this._alg, parts: this._parts, key: keyInput(key, true) });
    return out(r, enc);
  }
  verify(key, signature, sigEnc) {
    return call('verify', { alg: this._alg, parts: this._parts, key: keyInput(key, false), signature: b64(signature, sigEnc, 'signature') });
  }
  write(data, enc) { this.update(data, enc); return true; }
  end(data, enc) { if (data != null) this.update(data, enc); }
}

// ---- ciphers: input is gathered and processed on final() --------------------------------
// update() returns an empty Buffer/string and final() everything: concatenated, the output
// is byte-for-byte what Node gives.
class Cipher {
  constructor(decipher, alg, key, iv, options) {
    this._spec = {
      decipher,
      alg: String(alg),
      key: key instanceof KeyObject ? key._info.secret : b64(key, undefined, 'key'),
      iv: iv == null ? null : b64(iv, undefined, 'iv'),
      authTagLength: options && options.authTagLength,
      parts: [],
      aad: null,
      autoPadding: true,
      authTag: null,
    };
    this._done = false;
    this._tag = null;
    this._outEnc = null;
  }
  update(data, inEnc, outEnc) {
    if (this._done) throw Object.assign(new Error('Unsupported state'), { code: 'ERR_CRYPTO_INVALID_STATE' });
    this._spec.parts.push(b64(data, inEnc));
    this._outEnc = outEnc || null;
    return outEnc && outEnc !== 'buffer' ? '' : Buffer.alloc(0);
  }
  final(outEnc) {
    if (this._done) throw Object.assign(new Error('Unsupported state'), { code: 'ERR_CRYPTO_INVALID_STATE' });
    this._done = true;
    const r = call('cipher', this._spec);
    this._tag = r.tag;
    return out(r.out, outEnc);
  }
  setAAD(aad, options) {
    this._spec.aad = b64(aad, undefined, 'buffer');
    if (options && options.plaintextLength !== undefined) this._spec.plaintextLength = options.plaintextLength;
    return this;
  }
  setAutoPadding(on) { this._spec.autoPadding = on !== false; return this; }
  setAuthTag(tag) { this._spec.authTag = b64(tag, undefined, 'buffer'); return this; }
  getAuthTag() {
    if (!this._tag) throw Object.assign(new Error('Invalid state for operation getAuthTag'), { code: 'ERR_CRYPTO_INVALID_STATE' });
    return Buffer.from(this._tag, 'base64');
  }
}

// ---- key derivation / generation ---------------------------------------------------------
function checkCb(cb) {
  if (typeof cb !== 'function') {
    const e = new TypeError('The "callback" argument must be of type function');
    e.code = 'ERR_INVALID_ARG_TYPE';
    throw e;
  }
}
// Async forms: the work runs (off the host's event loop) after the current job, like Node.
function later(fn, cb) {
  Promise.resolve().then(() => {
    let v;
    try { v = fn(); } catch (e) { cb(e); return; }
    cb(null, v);
  });
}

function pbkdf2Sync(password, salt, iterations, keylen, digest) {
  return Buffer.from(callSlow('pbkdf2', { password: b64(password, undefined, 'password'), salt: b64(salt, undefined, 'salt'), iterations, keylen, digest: digest === undefined ? 'sha1' : digest }), 'base64');
}
function scryptSync(password, salt, keylen, options) {
  return Buffer.from(callSlow('scrypt', { password: b64(password, undefined, 'password'), salt: b64(salt, undefined, 'salt'), keylen, options: options || {} }), 'base64');
}
function hkdfSync(digest, ikm, salt, info, keylen) {
  const k = ikm instanceof KeyObject ? ikm._info.secret : b64(ikm, undefined, 'ikm');
  return Buffer.from(call('hkdf', { digest, ikm: k, salt: b64(salt, undefined, 'salt'), info: b64(info, undefined, 'info'), keylen }), 'base64').buffer;
}

function wrapPair(r) {
  const side = (x, type) => (x.pem !== undefined ? x.pem : x.der !== undefined ? Buffer.from(x.der, 'base64') : x.jwk ? x.jwk : new KeyObject(type, x.info));
  return { publicKey: side(r.publicKey, 'public'), privateKey: side(r.privateKey, 'private') };
}
function encodingSpec(e) {
  if (!e) return null;
  const s = Object.assign({}, e);
  if (e.passphrase !== undefined) { s.passphraseB64 = b64(e.passphrase); delete s.passphrase; }
  return s;
}
function generateKeyPairSync(type, options) {
  const o = Object.assign({}, options);
  const pub = encodingSpec(o.publicKeyEncoding);
  const priv = encodingSpec(o.privateKeyEncoding);
  delete o.publicKeyEncoding;
  delete o.privateKeyEncoding;
  if (o.publicExponent !== undefined) o.publicExponent = Number(o.publicExponent);
  return wrapPair(callSlow('generateKeyPair', { type, options: o, publicKeyEncoding: pub, privateKeyEncoding: priv }));
}
function generateKeySync(type, options) {
  const len = options && options.length;
  if (type !== 'hmac' && type !== 'aes') throw Object.assign(new TypeError(`The argument 'type' must be one of: 'hmac', 'aes'. Received '${type}'`), { code: 'ERR_INVALID_ARG_VALUE' });
  if (!(len > 0) || len % 8) throw Object.assign(new RangeError('The value of "options.length" is out of range.'), { code: 'ERR_OUT_OF_RANGE' });
  return new KeyObject('secret', { secret: base.randomBytes(len / 8).toString('base64') });
}

function rsa(op, defaultPadding) {
  return (key, buffer) => {
    const spec = keyInput(key, op.startsWith('private'));
    if (spec.padding === undefined) spec.padding = defaultPadding;
    return Buffer.from(call('rsa', { op, key: spec, data: b64(buffer, undefined, 'buffer') }), 'base64');
  };
}

function randomFillSync(buf, offset, size) {
  const u = bytes(buf);
  offset = offset || 0;
  size = size === undefined ? u.length - offset : size;
  const r = base.randomBytes(size);
  u.set(r, offset);
  return buf;
}

const api = Object.assign({}, base, {
  constants: CONSTANTS,
  KeyObject,
  createSecretKey: (key, enc) => makeKey('secret', key, enc),
  createPublicKey: (key) => makeKey('public', key),
  createPrivateKey: (key) => makeKey('private', key),
  createSign: (alg) => new Sign(alg, false),
  createVerify: (alg) => new Sign(alg, true),
  sign(alg, data, key, cb) {
    const r = call('oneShotSign', { alg: alg == null ? null : String(alg), data: b64(data), key: keyInput(key, true) });
    const sig = Buffer.from(r, 'base64');
    if (typeof cb === 'function') { later(() => sig, cb); return undefined; }
    return sig;
  },
  verify(alg, data, key, signature, cb) {
    const ok = call('oneShotVerify', { alg: alg == null ? null : String(alg), data: b64(data), key: keyInput(key, false), signature: b64(signature, undefined, 'signature') });
    if (typeof cb === 'function') { later(() => ok, cb); return undefined; }
    return ok;
  },
  createCipheriv: (alg, key, iv, options) => new Cipher(false, alg, key, iv, options),
  createDecipheriv: (alg, key, iv, options) => new Cipher(true, alg, key, iv, options),
  createCipher() { throw host.notSupported('crypto.createCipher()', 'removed from Node; use createCipheriv'); },
  createDecipher() { throw host.notSupported('crypto.createDecipher()', 'removed from Node; use createDecipheriv'); },
  pbkdf2Sync,
  pbkdf2(password, salt, iterations, keylen, digest, cb) {
    if (typeof digest === 'function') { cb = digest; digest = undefined; }
    checkCb(cb);
    later(() => pbkdf2Sync(password, salt, iterations, keylen, digest), cb);
  },
  scryptSync,
  scrypt(password, salt, keylen, options, cb) {
    if (typeof options === 'function') { cb = options; options = undefined; }
    checkCb(cb);
    later(() => scryptSync(password, salt, keylen, options), cb);
  },
  hkdfSync,
  hkdf(digest, ikm, salt, info, keylen, cb) { checkCb(cb); later(() => hkdfSync(digest, ikm, salt, info, keylen), cb); },
  generateKeyPairSync,
  generateKeyPair(type, options, cb) {
    if (typeof options === 'function') { cb = options; options = undefined; }
    checkCb(cb);
    Promise.resolve().then(() => {
      let pair;
      try { pair = generateKeyPairSync(type, options); } catch (e) { cb(e); return; }
      cb(null, pair.publicKey, pair.privateKey);
    });
  },
  generateKeySync,
  generateKey(type, options, cb) { checkCb(cb); later(() => generateKeySync(type, options), cb); },
  publicEncrypt: rsa('publicEncrypt', CONSTANTS.RSA_PKCS1_OAEP_PADDING),
  privateDecrypt: rsa('privateDecrypt', CONSTANTS.RSA_PKCS1_OAEP_PADDING),
  privateEncrypt: rsa('privateEncrypt', CONSTANTS.RSA_PKCS1_PADDING),
  publicDecrypt: rsa('publicDecrypt', CONSTANTS.RSA_PKCS1_PADDING),
  randomFillSync,
  randomFill(buf, offset, size, cb) {
    if (typeof offset === 'function') { cb = offset; offset = 0; size = undefined; } else if (typeof size === 'function') { cb = size; size = undefined; }
    checkCb(cb);
    later(() => randomFillSync(buf, offset, size), cb);
  },
  getCiphers: () => call('list', { what: 'ciphers' }),
  getCurves: () => call('list', { what: 'curves' }),
  getHashes: () => call('list', { what: 'hashes' }),
  getFips: () => 0,
  setFips() {},
  Sign,
  Verify: Sign,
  Cipheriv: Cipher,
  Decipheriv: Cipher,
  webcrypto: undefined,
  subtle: undefined,
});

module.exports = api;
