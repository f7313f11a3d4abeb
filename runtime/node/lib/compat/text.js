'use strict';
// TextEncoder / TextDecoder (WHATWG Encoding, UTF-8 plus the single-byte and UTF-16
// labels Buffer knows): V8 alone has neither, and SDKs reach for them through `util`.
const { Buffer } = require('buffer');

class TextEncoder {
  get encoding() { return 'utf-8'; }
  encode(input = '') {
    const b = Buffer.from(String(input), 'utf8');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  encodeInto(src, dest) {
    const b = this.encode(src);
    // Never split a character: back off to the last full sequence that fits.
    let n = Math.min(b.length, dest.length);
    while (n > 0 && n < b.length && (b[n] & 0xc0) === 0x80) n--;
    dest.set(b.subarray(0, n));
    const read = Buffer.from(b.subarray(0, n)).toString('utf8').length;
    return { read, written: n };
  }
}

const LABELS = {
  'utf-8': 'utf8', utf8: 'utf8', 'unicode-1-1-utf-8': 'utf8',
  'utf-16le': 'utf16le', 'utf-16': 'utf16le',
  latin1: 'latin1', 'iso-8859-1': 'latin1', 'windows-1252': 'latin1', ascii: 'latin1', 'us-ascii': 'latin1',
};

class TextDecoder {
  constructor(label = 'utf-8', options = {}) {
    const enc = LABELS[String(label).trim().toLowerCase()];
    if (!enc) {
      const e = new RangeError(`The "${label}" encoding is not supported`);
      e.code = 'ERR_ENCODING_NOT_SUPPORTED';
      throw e;
    }
    this._enc = enc;
    this._fatal = !!options.fatal;
    this._ignoreBOM = !!options.ignoreBOM;
    this._pending = null;
  }
  get encoding() { return { utf8: 'utf-8', utf16le: 'utf-16le', latin1: 'windows-1252' }[this._enc]; }
  get fatal() { return this._fatal; }
  get ignoreBOM() { return this._ignoreBOM; }
  decode(input, options = {}) {
    let b = input == null ? Buffer.alloc(0)
      : input instanceof ArrayBuffer ? Buffer.from(input)
        : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (this._pending) { b = Buffer.concat([this._pending, b]); this._pending = null; }
    if (options.stream && this._enc === 'utf8') {
      // keep an incomplete trailing sequence for the next call
      let i = b.length - 1;
      let back = 0;
      while (i >= 0 && back < 3 && (b[i] & 0xc0) === 0x80) { i--; back++; }
      if (i >= 0) {
        const lead = b[i];
        const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (need > back + 1) { this._pending = Buffer.from(b.subarray(i)); b = b.subarray(0, i); }
      }
    }
    if (this._fatal && this._enc === 'utf8' && !validUtf8(b)) {
      const e = new TypeError('The encoded data was not valid for encoding utf-8');
      e.code = 'ERR_ENCODING_INVALID_ENCODED_DATA';
      throw e;
    }
    let s = b.toString(this._enc);
    if (!this._ignoreBOM && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    return s;
  }
}

function validUtf8(b) {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    const n = c < 0x80 ? 1 : (c & 0xe0) === 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) === 0xe0 ? 3 : (c & 0xf8) === 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!n || i + n > b.length) return false;
    for (let k = 1; k < n; k++) if ((b[i + k] & 0xc0) !== 0x80) return false;
    i += n;
  }
  return true;
}

module.exports = { TextEncoder, TextDecoder };
