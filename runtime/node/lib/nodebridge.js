'use strict';
// Host side of the Node-compatible layer (lib/compat/crypto.js, lib/compat/zlib.js):
// crypto operations and brotli that have no pure-JS home inside the isolate. Every input
// is size-capped; slow work (pbkdf2, scrypt, key generation, brotli) runs on libuv's
// thread pool so it never blocks the host's event loop (the isolate waits for it through
// applySyncPromise). Errors travel back as data ({error}) so they keep Node's codes.
const crypto = require('crypto');
const { promisify } = require('util');

const { config } = require('./limits');

const LIMITS = {
  bytes: config.cryptoMaxBytes, // per operation, all inputs together
  pbkdf2Work: config.pbkdf2MaxIterations, // iterations x output blocks
  scryptMaxMem: 64 * 1024 * 1024,
  rsaMaxBits: 4096,
  zlibBytes: config.zlibMaxBytes, // brotli input and output
};

class Refused extends Error {
  constructor(message, code) { super(message); this.code = code || 'ERR_OUT_OF_RANGE'; this.name = 'RangeError'; }
}

function budget() {
  let total = 0;
  return (s) => {
    if (s == null) return null;
    total += Math.floor(String(s).length * 3 / 4);
    if (total > LIMITS.bytes) throw new Refused(`crypto input over the ${LIMITS.bytes} byte limit of functions`);
    return Buffer.from(String(s), 'base64');
  };
}

// {key|keyB64|jwk|secret, format, type, passphraseB64, ...} -> argument for Node's key APIs
function keyArg(spec, take, kind) {
  if (!spec || typeof spec !== 'object') throw new TypeError('invalid key');
  if (spec.secret !== undefined) return crypto.createSecretKey(take(spec.secret));
  const o = {};
  if (spec.format === 'jwk') { o.key = spec.jwk; o.format = 'jwk'; } else {
    o.key = spec.keyB64 !== undefined ? take(spec.keyB64) : String(spec.key);
    if (spec.key !== undefined) take(Buffer.from(String(spec.key)).toString('base64'));
    o.format = spec.format || 'pem';
  }
  for (const k of ['type', 'encoding', 'padding', 'saltLength', 'dsaEncoding', 'oaepHash']) if (spec[k] !== undefined) o[k] = spec[k];
  if (spec.passphraseB64 !== undefined) o.passphrase = take(spec.passphraseB64);
  if (spec.oaepLabelB64 !== undefined) o.oaepLabel = take(spec.oaepLabelB64);
  if (kind === 'private') return crypto.createPrivateKey(o);
  if (kind === 'public') return crypto.createPublicKey(o);
  return o;
}

function withOpts(key, spec) {
  const o = { key };
  for (const k of ['padding', 'saltLength', 'dsaEncoding', 'oaepHash']) if (spec[k] !== undefined) o[k] = spec[k];
  if (spec.oaepLabelB64 !== undefined) o.oaepLabel = Buffer.from(spec.oaepLabelB64, 'base64');
  return o;
}

function describe(k) {
  const info = { type: k.type, asymmetricKeyType: k.asymmetricKeyType, details: {} };
  const d = k.asymmetricKeyDetails || {};
  for (const f of Object.keys(d)) info.details[f] = typeof d[f] === 'bigint' ? Number(d[f]) : d[f];
  info.pem = k.type === 'private' ? k.export({ format: 'pem', type: 'pkcs8' }) : k.export({ format: 'pem', type: 'spki' });
  return info;
}

function exported(k, options, take) {
  const o = Object.assign({}, options);
  if (o.passphraseB64 !== undefined) { o.passphrase = take(o.passphraseB64); delete o.passphraseB64; }
  if (o.passphrase !== undefined && !Buffer.isBuffer(o.passphrase)) o.passphrase = String(o.passphrase);
  if (o.format === 'jwk') return { jwk: k.export(o) };
  const v = k.export(Object.assign({ format: 'pem', type: k.type === 'private' ? 'pkcs8' : 'spki' }, o));
  return typeof v === 'string' ? { pem: v } : { der: v.toString('base64') };
}

const SYNC_OPS = {
  keyInfo(s, take) {
    let k;
    if (s.kind === 'private') k = keyArg(s.input, take, 'private');
    else {
      // createPublicKey also takes private key material (the public half is derived).
      try { k = keyArg(s.input, take, 'public'); } catch (e) {
        if (s.input && s.input.keyType === 'private') k = crypto.createPublicKey(keyArg(s.input, take, 'private'));
        else throw e;
      }
    }
    return describe(k);
  },
  export(s, take) {
    const k = s.keyType === 'private' ? crypto.createPrivateKey(s.key) : crypto.createPublicKey(s.key);
    return exported(k, s.options, take);
  },
  sign(s, take) {
    const signer = crypto.createSign(s.alg);
    for (const p of s.parts) signer.update(take(p));
    const key = keyArg(s.key, take, 'raw');
    return signer.sign(key).toString('base64');
  },
  verify(s, take) {
    const v = crypto.createVerify(s.alg);
    for (const p of s.parts) v.update(take(p));
    return v.verify(keyArg(s.key, take, 'raw'), take(s.signature));
  },
  oneShotSign(s, take) {
    const key = keyArg(s.key, take, 'private');
    return crypto.sign(s.alg, take(s.data), withOpts(key, s.key)).toString('base64');
  },
  oneShotVerify(s, take) {
    const k = keyArg(s.key, take, 'raw');
    return crypto.verify(s.alg, take(s.data), k, take(s.signature));
  },
  cipher(s, take) {
    const key = take(s.key);
    const iv = s.iv == null ? null : take(s.iv);
    const opts = s.authTagLength !== undefined ? { authTagLength: s.authTagLength } : undefined;
    const c = s.decipher ? crypto.createDecipheriv(s.alg, key, iv, opts) : crypto.createCipheriv(s.alg, key, iv, opts);
    if (!s.autoPadding) c.setAutoPadding(false);
    if (s.decipher && s.authTag) c.setAuthTag(take(s.authTag));
    if (s.aad) c.setAAD(take(s.aad), s.plaintextLength !== undefined ? { plaintextLength: s.plaintextLength } : undefined);
    const chunks = s.parts.map((p) => c.update(take(p)));
    chunks.push(c.final());
    const r = { out: Buffer.concat(chunks).toString('base64') };
    if (!s.decipher && /gcm|ccm|ocb|chacha20-poly1305/i.test(s.alg)) r.tag = c.getAuthTag().toString('base64');
    return r;
  },
  rsa(s, take) {
    const fn = crypto[s.op];
    if (!['publicEncrypt', 'privateDecrypt', 'privateEncrypt', 'publicDecrypt'].includes(s.op)) throw new TypeError('invalid operation');
    return fn(keyArg(s.key, take, 'raw'), take(s.data)).toString('base64');
  },
  hkdf(s, take) {
    const keylen = Number(s.keylen);
    if (!(keylen >= 0 && keylen <= 255 * 64)) throw new Refused('The value of "keylen" is out of range.');
    return Buffer.from(crypto.hkdfSync(s.digest, take(s.ikm), take(s.salt), take(s.info), keylen)).toString('base64');
  },
  list(s) {
    if (s.what === 'ciphers') return crypto.getCiphers();
    if (s.what === 'curves') return crypto.getCurves();
    return crypto.getHashes();
  },
};

const pbkdf2 = promisify(crypto.pbkdf2);
const scrypt = promisify(crypto.scrypt);
const generateKeyPair = promisify(crypto.generateKeyPair);
const HASH_BYTES = { md5: 16, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

const SLOW_OPS = {
  async pbkdf2(s, take) {
    const iterations = Number(s.iterations);
    const keylen = Number(s.keylen);
    const blocks = Math.max(1, Math.ceil(keylen / (HASH_BYTES[String(s.digest).toLowerCase().replace('-', '')] || 32)));
    if (Number.isInteger(iterations) && iterations > 0 && iterations * blocks > LIMITS.pbkdf2Work) {
      throw new Refused(`pbkdf2 work (iterations x output blocks = ${iterations * blocks}) over the limit of functions (${LIMITS.pbkdf2Work})`);
    }
    return (await pbkdf2(take(s.password), take(s.salt), iterations, keylen, s.digest)).toString('base64');
  },
  async scrypt(s, take) {
    const o = Object.assign({}, s.options);
    const maxmem = Math.min(Number(o.maxmem) || 32 * 1024 * 1024, LIMITS.scryptMaxMem);
    o.maxmem = maxmem;
    return (await scrypt(take(s.password), take(s.salt), Number(s.keylen), o)).toString('base64');
  },
  async generateKeyPair(s, take) {
    const type = String(s.type);
    const o = Object.assign({}, s.options);
    if (!['rsa', 'rsa-pss', 'ec', 'ed25519', 'ed448', 'x25519', 'x448'].includes(type)) {
      throw new Refused(`generateKeyPair('${type}') is not available in functions`, 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM');
    }
    if ((type === 'rsa' || type === 'rsa-pss') && !(o.modulusLength > 0 && o.modulusLength <= LIMITS.rsaMaxBits)) {
      throw new Refused(`modulusLength must be at most ${LIMITS.rsaMaxBits} in functions`);
    }
    const { publicKey, privateKey } = await generateKeyPair(type, o);
    const side = (k, enc) => (enc ? exported(k, enc, take) : { info: describe(k) });
    return { publicKey: side(publicKey, s.publicKeyEncoding), privateKey: side(privateKey, s.privateKeyEncoding) };
  },
};

function errorData(e) {
  return JSON.stringify({ error: { name: e && e.name, message: String((e && e.message) || e), code: e && e.code, reason: e && e.reason, library: e && e.library } });
}

// A spec is JSON of base64 inputs: refuse one that cannot fit the byte cap before parsing it.
function checkSpecSize(specJson) {
  if (typeof specJson !== 'string' || specJson.length > LIMITS.bytes * 1.4 + 65536) {
    throw new Refused(`crypto input over the ${LIMITS.bytes} byte limit of functions`);
  }
}

function cryptoSync(op, specJson) {
  try {
    checkSpecSize(specJson);
    const fn = Object.prototype.hasOwnProperty.call(SYNC_OPS, op) ? SYNC_OPS[op] : null;
    if (!fn) throw new TypeError(`unknown crypto operation ${op}`);
    return JSON.stringify({ value: fn(JSON.parse(specJson), budget()) });
  } catch (e) {
    return errorData(e);
  }
}

async function cryptoSlow(op, specJson) {
  try {
    checkSpecSize(specJson);
    const fn = Object.prototype.hasOwnProperty.call(SLOW_OPS, op) ? SLOW_OPS[op] : null;
    if (!fn) throw new TypeError(`unknown crypto operation ${op}`);
    return JSON.stringify({ value: await fn(JSON.parse(specJson), budget()) });
  } catch (e) {
    return errorData(e);
  }
}

// zlib is loaded on first use (it is slow to load without Node's startup snapshot).
const brotliCompress = (input, opts) => promisify(require('zlib').brotliCompress)(input, opts);
const brotliDecompress = (input, opts) => promisify(require('zlib').brotliDecompress)(input, opts);
async function brotli(op, b64, specJson) {
  if (typeof b64 !== 'string' || b64.length > Math.ceil(LIMITS.zlibBytes / 3) * 4 || String(specJson).length > 65536) {
    throw new RangeError(`brotli input over the ${LIMITS.zlibBytes} byte limit of functions`);
  }
  const input = Buffer.from(b64, 'base64');
  const spec = JSON.parse(specJson);
  const max = spec.maxOutputLength > 0 ? Math.min(spec.maxOutputLength, LIMITS.zlibBytes) : LIMITS.zlibBytes;
  const opts = { params: spec.params || {}, maxOutputLength: max };
  const out = op === 'compress' ? await brotliCompress(input, opts) : await brotliDecompress(input, opts);
  return out.toString('base64');
}

// Bytes of input of a bridge call, as counted in the call's host-work budget: its base64
// inputs (the JSON around them is small next to them).
function inputBytes(args) {
  let n = 0;
  for (const a of args) if (typeof a === 'string') n += a.length;
  return Math.floor(n * 3 / 4);
}

// libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default) also decompresses fetch responses
// and resolves the operator's allowed names: the slow operations of all functions together
// (pbkdf2, scrypt, key generation, brotli) may hold at most half of it. Each isolate has at
// most one of them in flight anyway (it waits for it), and fetches in flight are capped per
// instance (fetch_sockets_per_instance).
const POOL_SHARE = Math.max(1, Math.floor((Number(process.env.UV_THREADPOOL_SIZE) || 4) / 2));
const pool = { active: 0, peak: 0, waiting: [] };

// Waits for a share of the pool; resolves to its release function, which hands the slot to
// the next waiter (so no newcomer can take it in between).
async function poolSlot() {
  if (pool.active < POOL_SHARE) pool.active++;
  else await new Promise((resolve) => pool.waiting.push(resolve));
  pool.peak = Math.max(pool.peak, pool.active);
  return () => {
    const next = pool.waiting.shift();
    if (next) next();
    else pool.active--;
  };
}

// The bridges as host work of the call in progress (lib/hostwork.js): paced, timed and
// budgeted per call like the shim's hashing. `current()` is the call in progress or null.
// A refusal (budget spent) reaches the function as a RangeError, as the operation's own
// errors do. Operations on the thread pool also wait for their share of it (POOL_SHARE).
function pacedBridges(hostWork, current) {
  const paced = (fn, asData, onPool) => async (...args) => {
    try {
      const call = current();
      if (!call) throw new Error('no invocation in progress');
      // Its call may have ended while it waited for the pool (deadline, isolate disposed).
      const gate = onPool ? async () => {
        const release = await poolSlot();
        if (current() !== call) { release(); throw new Error('the invocation ended'); }
        return release;
      } : null;
      return await hostWork.paced(call, inputBytes(args), () => fn(...args), gate);
    } catch (e) {
      if (asData) return errorData(e);
      throw e;
    }
  };
  const direct = (op, specJson) => {
    try {
      return hostWork.direct(current(), inputBytes([specJson]), () => cryptoSync(op, specJson));
    } catch (e) {
      return errorData(e);
    }
  };
  return { crypto: paced(cryptoSync, true), cryptoDirect: direct, cryptoSlow: paced(cryptoSlow, true, true), brotli: paced(brotli, false, true) };
}

// The bridges without any accounting: for the build step's scratch isolates (lib/precache.js),
// which run library bundles and no user code.
const UNPACED = { crypto: cryptoSync, cryptoDirect: cryptoSync, cryptoSlow, brotli };

module.exports = { cryptoSync, cryptoSlow, brotli, pacedBridges, UNPACED, LIMITS, POOL_SHARE, pool };
