'use strict';
// Node's `buffer` module: the npm `buffer` package (what the global `Buffer` has always
// been here) plus the encodings it lacks (`base64url`), patched at its few entry points.
const mod = require('buffer/');

const { Buffer } = mod;
const isB64url = (enc) => typeof enc === 'string' && enc.toLowerCase() === 'base64url';
const toBase64Url = (s) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

if (!Buffer.isEncoding('base64url')) {
  const origIsEncoding = Buffer.isEncoding;
  Buffer.isEncoding = function isEncoding(enc) { return isB64url(enc) || origIsEncoding(enc); };

  const origFrom = Buffer.from;
  Buffer.from = function from(value, encOrOffset, length) {
    if (typeof value === 'string' && isB64url(encOrOffset)) return origFrom.call(this, value, 'base64');
    return origFrom.call(this, value, encOrOffset, length);
  };

  const origByteLength = Buffer.byteLength;
  Buffer.byteLength = function byteLength(value, enc) {
    return origByteLength.call(this, value, isB64url(enc) ? 'base64' : enc);
  };

  const proto = Buffer.prototype;
  const origToString = proto.toString;
  proto.toString = function toString(enc, start, end) {
    if (isB64url(enc)) return toBase64Url(origToString.call(this, 'base64', start, end));
    return origToString.apply(this, arguments);
  };
  proto.toLocaleString = proto.toString;

  // write/fill/indexOf/lastIndexOf/includes take the encoding as their last string argument.
  const lastEncodingFixed = (fn) => function (...args) {
    for (let i = args.length - 1; i >= 1; i--) {
      if (typeof args[i] === 'string') {
        if (isB64url(args[i])) args[i] = 'base64';
        break;
      }
    }
    return fn.apply(this, args);
  };
  for (const name of ['write', 'fill', 'indexOf', 'lastIndexOf', 'includes']) proto[name] = lastEncodingFixed(proto[name]);
}

module.exports = mod;
