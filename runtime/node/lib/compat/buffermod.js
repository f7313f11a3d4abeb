'use strict';
// Node's `buffer` module inside the `node` bundle and every library bundle: the global
// Buffer (the `buffer` bundle, loaded first), so libraries and user code share one class.
const host = require('./host');

const B = host.Buffer;
const kMaxLength = 2 ** 32 - 1;
function isUtf8(input) {
  const b = B.from(input.buffer || input, input.byteOffset || 0, input.byteLength);
  for (let i = 0; i < b.length;) {
    const c = b[i];
    const n = c < 0x80 ? 1 : (c & 0xe0) === 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) === 0xe0 ? 3 : (c & 0xf8) === 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!n || i + n > b.length) return false;
    for (let k = 1; k < n; k++) if ((b[i + k] & 0xc0) !== 0x80) return false;
    i += n;
  }
  return true;
}

module.exports = {
  Buffer: B,
  SlowBuffer: B,
  kMaxLength,
  kStringMaxLength: 2 ** 29 - 24,
  constants: { MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: 2 ** 29 - 24 },
  INSPECT_MAX_BYTES: 50,
  isUtf8,
  isAscii: (input) => B.from(input.buffer || input, input.byteOffset || 0, input.byteLength).every((c) => c < 0x80),
  atob: host.global.atob,
  btoa: host.global.btoa,
  transcode(source, from, to) { return B.from(B.from(source).toString(from), to); },
};
