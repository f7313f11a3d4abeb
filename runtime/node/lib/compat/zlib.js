'use strict';
// Node's `zlib`: deflate/inflate/gzip/gunzip/raw/unzip in pure JS (pako, inside the
// isolate: its CPU and memory count against the function's own limits), brotli through a
// host bridge (Node's zlib on the host's thread pool, input and output capped there).
const pako = require('pako');
const { Transform } = require('stream');
const { Buffer } = require('buffer');
const host = require('./host');

const constants = Object.freeze(Object.assign({}, __SB_ZLIB_CONSTANTS__));
const codes = {
  Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2,
  Z_DATA_ERROR: -3, Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6,
};
for (const k of Object.keys(codes)) codes[codes[k]] = k;

const toBuf = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
function toBytes(data, name) {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const e = new TypeError(`The "${name || 'buffer'}" argument must be of type string or an instance of Buffer, TypedArray, DataView, or ArrayBuffer.`);
  e.code = 'ERR_INVALID_ARG_TYPE';
  throw e;
}

function zlibError(status, msg) {
  const e = new Error(msg || codes[status] || 'zlib error');
  e.errno = status;
  e.code = codes[status] || 'Z_DATA_ERROR';
  return e;
}

// mode -> pako engine options
const MODES = {
  deflate: { cls: 'Deflate', opts: {} },
  inflate: { cls: 'Inflate', opts: {} },
  gzip: { cls: 'Deflate', opts: { gzip: true } },
  gunzip: { cls: 'Inflate', opts: { windowBits: 15 + 16 } },
  deflateRaw: { cls: 'Deflate', opts: { raw: true } },
  inflateRaw: { cls: 'Inflate', opts: { raw: true } },
  unzip: { cls: 'Inflate', opts: { windowBits: 15 + 32 } },
};

function engineOptions(mode, opts) {
  const o = Object.assign({ chunkSize: 16 * 1024 }, MODES[mode].opts);
  if (opts) {
    for (const k of ['level', 'memLevel', 'strategy', 'chunkSize']) if (opts[k] !== undefined) o[k] = opts[k];
    // pako adds the gzip offset itself when `gzip` is set; inflate takes it in windowBits.
    if (opts.windowBits !== undefined) {
      const wb = opts.windowBits;
      o.windowBits = mode === 'gunzip' ? wb + 16 : mode === 'unzip' ? wb + 32 : wb;
    }
    if (opts.dictionary !== undefined) o.dictionary = toBytes(opts.dictionary, 'dictionary');
  }
  return o;
}

// Feeds `input` through a fresh engine; returns the output chunks.
function runEngine(mode, input, opts, finish) {
  const eng = new pako[MODES[mode].cls](engineOptions(mode, opts));
  const chunks = [];
  let total = 0;
  const max = opts && opts.maxOutputLength ? opts.maxOutputLength : Infinity;
  eng.onData = (c) => {
    total += c.length;
    if (total > max) {
      const e = new RangeError(`Cannot create a Buffer larger than ${max} bytes`);
      e.code = 'ERR_BUFFER_TOO_LARGE';
      throw e;
    }
    chunks.push(c);
  };
  const flush = finish === undefined ? constants.Z_FINISH : finish;
  eng.push(input, flush);
  if (eng.err) throw zlibError(eng.err, eng.msg);
  if (MODES[mode].cls === 'Inflate' && flush === constants.Z_FINISH && !eng.ended) throw zlibError(-5, 'unexpected end of file');
  return chunks;
}

function concat(chunks) {
  if (chunks.length === 1) return toBuf(chunks[0]);
  return Buffer.concat(chunks.map(toBuf));
}

// ---- brotli (host bridge) ----------------------------------------------------------------
function brotli(op, data, opts) {
  const input = Buffer.from(toBytes(data));
  const params = {};
  if (opts && opts.params) for (const k of Object.keys(opts.params)) params[k] = Number(opts.params[k]);
  const spec = JSON.stringify({ params, maxOutputLength: (opts && opts.maxOutputLength) || 0 });
  let out;
  try {
    out = host.callAsyncBridge('brotli', [op, input.toString('base64'), spec]);
  } catch (e) {
    const err = new Error(String(e && e.message));
    if (e && e.code) err.code = e.code;
    if (/Unexpected|corrupt|Decompression failed/i.test(err.message)) err.code = err.code || 'ERR__ERROR_FORMAT_PADDING_1';
    throw err;
  }
  return Buffer.from(out, 'base64');
}

// ---- sync, callback and stream forms -------------------------------------------------------
const api = { constants, codes };
const syncImpl = {};
for (const mode of Object.keys(MODES)) {
  syncImpl[mode] = (data, opts) => concat(runEngine(mode, toBytes(data), opts, opts && opts.finishFlush));
}
syncImpl.brotliCompress = (data, opts) => brotli('compress', data, opts);
syncImpl.brotliDecompress = (data, opts) => brotli('decompress', data, opts);

function defer(fn) { Promise.resolve().then(fn); }

for (const mode of Object.keys(syncImpl)) {
  api[`${mode}Sync`] = function (data, opts) { return syncImpl[mode](data, opts); };
  // Without a callback the async forms return a promise: Segment documents `await`ing
  // zlib's inflate/deflate (Node itself would throw here).
  api[mode] = function (data, opts, cb) {
    if (typeof opts === 'function') { cb = opts; opts = {}; }
    if (typeof cb !== 'function') {
      return new Promise((resolve, reject) => api[mode](data, opts, (e, v) => (e ? reject(e) : resolve(v))));
    }
    let out;
    let err = null;
    try { out = syncImpl[mode](data, opts); } catch (e) { err = e; }
    defer(() => (err ? cb(err) : cb(null, out)));
  };
}

class ZlibBase extends Transform {
  constructor(mode, opts) {
    super(opts);
    this._mode = mode;
    this._opts = opts || {};
    this.bytesWritten = 0;
    this._closed = false;
    if (MODES[mode]) {
      this._eng = new pako[MODES[mode].cls](engineOptions(mode, opts));
      this._eng.onData = (c) => this.push(toBuf(c));
    } else {
      this._pending = [];
    }
  }
  _transform(chunk, enc, cb) {
    const bytes = toBytes(typeof chunk === 'string' ? Buffer.from(chunk, enc) : chunk);
    this.bytesWritten += bytes.length;
    if (!this._eng) { this._pending.push(Buffer.from(bytes)); cb(); return; }
    try {
      this._eng.push(bytes, constants.Z_NO_FLUSH);
      if (this._eng.err) throw zlibError(this._eng.err, this._eng.msg);
    } catch (e) { cb(e); return; }
    cb();
  }
  _flush(cb) {
    try {
      if (!this._eng) {
        this.push(syncImpl[this._mode](Buffer.concat(this._pending), this._opts));
      } else {
        this._eng.push(new Uint8Array(0), this._opts.finishFlush !== undefined ? this._opts.finishFlush : constants.Z_FINISH);
        if (this._eng.err) throw zlibError(this._eng.err, this._eng.msg);
      }
    } catch (e) { cb(e); return; }
    cb();
  }
  flush(kind, cb) {
    if (typeof kind === 'function') cb = kind;
    if (typeof cb === 'function') defer(cb);
  }
  params(level, strategy, cb) { if (typeof cb === 'function') defer(cb); }
  reset() {}
  close(cb) {
    this._closed = true;
    if (typeof cb === 'function') this.once('close', cb);
    this.destroy();
  }
}

const CLASSES = {
  Deflate: 'deflate', Inflate: 'inflate', Gzip: 'gzip', Gunzip: 'gunzip', DeflateRaw: 'deflateRaw',
  InflateRaw: 'inflateRaw', Unzip: 'unzip', BrotliCompress: 'brotliCompress', BrotliDecompress: 'brotliDecompress',
};
for (const [name, mode] of Object.entries(CLASSES)) {
  const C = { [name]: class extends ZlibBase { constructor(opts) { super(mode, opts); } } }[name];
  api[name] = C;
  api[`create${name}`] = (opts) => new C(opts);
}

// CRC-32 (zlib.crc32, Node >= 20.15)
let crcTable = null;
api.crc32 = function crc32(data, value) {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  const bytes = toBytes(data, 'data');
  let crc = (value >>> 0) ^ 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
};

Object.assign(api, Object.fromEntries(Object.entries(constants).filter(([k]) => k.startsWith('Z_'))));
// Segment documents the global as `zlib.zlib` (the old npm `zlib` wrapper); both work.
api.zlib = api;
module.exports = api;
